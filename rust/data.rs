// SPDX-License-Identifier: GPL-2.0

//! Reading file data (`fs/erofs/data.c`): mapping file ranges to runs on a device
//! with the format crate's one extent mapper (`format::map`, as `erofs_map_blocks`
//! and `erofs_map_dev` do), the page cache's `read_folio`/`readahead` (one
//! backing-file read per contiguous run of a batch, straight into the folios, then
//! each block verified and decrypted). Directories are read through their own
//! page cache with the same `read_folio` (`dir::with_dir_block`).

use kernel::prelude::*;

use crate::format::error::Error as FormatError;
use crate::format::inode::Layout;
use crate::format::map::{map, Extent, MapContext, MetaRead, Place};
use crate::format::{BLOCK_BITS, BLOCK_SIZE};
use crate::inode::InodeInfo;
use crate::report::{format_error, rerofs_err_ratelimited};
use crate::sb::SbInfo;
use crate::verity::Blob;
use crate::vfs::{FolioBatch, LockedFolio, MAX_BATCH, PAGE_SIZE};
use crate::Inode;

const BS: u64 = BLOCK_SIZE as u64;

/// Why mapping failed: damaged metadata (reported with the inode) or a failed
/// metadata read (already reported).
enum MapError {
    Format(FormatError),
    Read(Error),
}

impl From<FormatError> for MapError {
    fn from(e: FormatError) -> Self {
        Self::Format(e)
    }
}

/// The mapper's metadata reads: the image's verified metadata.
struct Meta<'a>(&'a SbInfo);

impl MetaRead for Meta<'_> {
    type Error = MapError;

    fn read_meta(&mut self, pos: u64, buf: &mut [u8]) -> core::result::Result<(), MapError> {
        self.0
            .read_meta(pos, buf, "chunk table entry")
            .map_err(MapError::Read)
    }
}

/// The longest contiguous run of file bytes `pos..pos + len` of `ii` starting at
/// `pos` (`None` at or beyond EOF).
fn map_extent(sbi: &SbInfo, ii: &InodeInfo, pos: u64, len: u64) -> Result<Option<Extent>> {
    let ctx = MapContext {
        image_blocks: sbi.disk.blocks,
        device_id_mask: sbi.disk.device_id_mask(),
        flat: false,
        slots: &sbi.devices[..],
    };
    map(&mut Meta(sbi), &ctx, &ii.disk, ii.pos, pos, len).map_err(|e| match e {
        MapError::Format(f) => format_error(sbi, ii.disk.nid, &f),
        MapError::Read(e) => e,
    })
}

/// Where the bytes of an extent come from.
enum Source<'a> {
    /// Zeros (a hole).
    Zeros,
    /// The extent's bytes at byte `pos` of `file` (device `device`); `encrypted`:
    /// every block is decrypted as (device, block) after it is verified.
    Read {
        file: &'a Blob,
        device: u16,
        pos: u64,
        encrypted: bool,
    },
}

/// Resolves extent `e` of `ii` to a blob, checking that it lies inside its device.
fn source<'a>(sbi: &'a SbInfo, ii: &InodeInfo, e: &Extent) -> Result<Source<'a>> {
    let chunked = matches!(ii.disk.layout, Layout::ChunkBased(_));
    let corrupt = |what, v| format_error(sbi, ii.disk.nid, &FormatError::Corrupted(what, v));
    let (device, pos) = match e.place {
        Place::Hole => return Ok(Source::Zeros),
        Place::Inline { pos } => (0, pos),
        Place::Device { device, pos } => (device, pos),
    };
    // In an encrypted image every byte of regular file data is in an encrypted
    // chunk of a data blob: plaintext file data in the metadata blob is refused.
    if sbi.crypt.is_some() && ii.is_regular() && !chunked {
        return Err(corrupt("file data outside the encrypted chunks", e.start));
    }
    let (file, blocks) = sbi.device(device).ok_or(EINVAL)?;
    if let Place::Device { .. } = e.place {
        let last = pos
            .checked_add(e.len.saturating_sub(1))
            .ok_or_else(|| corrupt("chunk address", pos))?
            >> BLOCK_BITS;
        if last >= blocks {
            return Err(corrupt("chunk block beyond its device", last));
        }
    }
    Ok(Source::Read {
        file,
        device,
        pos,
        encrypted: sbi.crypt.is_some() && chunked,
    })
}

/// Checks (when `verify`: not yet checked) and decrypts (when `encrypted`) whole
/// block `blk` of `device` read into `out`, then clears what lies past the `len`
/// file bytes of the block. Nothing unverified or undecrypted is left in `out`
/// on failure.
#[allow(clippy::too_many_arguments)]
fn finish_block(
    sbi: &SbInfo,
    file: &Blob,
    device: u16,
    blk: u64,
    verify: bool,
    encrypted: bool,
    len: usize,
    out: &mut [u8],
) -> Result {
    let r = (|| {
        if verify {
            file.verify_block(sbi.name(), blk, out)?;
        }
        // Decrypted only once verified (XTS is malleable).
        if encrypted {
            let crypt = sbi.crypt.as_ref().ok_or(EINVAL)?;
            crypt.decrypt_block(sbi, device, blk, out)?;
        }
        out.get_mut(len..).ok_or(EINVAL)?.fill(0);
        Ok(())
    })();
    if r.is_err() {
        out.fill(0);
    }
    r
}

/// Fills `out` (one block) with file block `index` of `ii`, zero-padded past EOF.
/// Returns the number of file bytes in the block (0 for holes and beyond EOF is
/// fine: the caller knows the file size).
fn read_block(sbi: &SbInfo, ii: &InodeInfo, index: u64, out: &mut [u8]) -> Result<usize> {
    let start = index.checked_mul(BS).ok_or(EINVAL)?;
    let Some(e) = map_extent(sbi, ii, start, out.len() as u64)? else {
        out.fill(0);
        return Ok(0);
    };
    // Runs end at block boundaries or at EOF (chunks and inline tails are
    // block-aligned): an extent ending inside the block is damage.
    let len = e.len as usize;
    if len < out.len() && e.end() < ii.disk.size {
        return Err(format_error(
            sbi,
            ii.disk.nid,
            &FormatError::Corrupted("extent ending inside a block", e.end()),
        ));
    }
    match source(sbi, ii, &e)? {
        Source::Zeros => {
            out.fill(0);
            Ok(len)
        }
        Source::Read {
            file,
            device,
            pos,
            encrypted,
        } => {
            let log = |e: &Error| {
                rerofs_err_ratelimited!(
                    sbi,
                    "nid {}: reading {} bytes at {} failed: {:?}",
                    ii.disk.nid,
                    len,
                    pos,
                    e
                );
            };
            // A verified blob is checked in whole blocks: read the whole block in
            // place (no bounce copy) and clear what lies past EOF afterwards.
            if file.is_verified() && pos % BS == 0 && out.len() == BLOCK_SIZE {
                // `read_exact_at` verified it (and is where a missing block of a
                // lazily pulled blob is asked for).
                file.read_exact_at(sbi.name(), pos, out).inspect_err(log)?;
                finish_block(sbi, file, device, pos / BS, false, encrypted, len, out)?;
            } else if encrypted {
                // An encrypted block is only ever read whole and verified.
                return Err(EINVAL);
            } else {
                let (data, rest) = out.split_at_mut_checked(len).ok_or(EINVAL)?;
                file.read_exact_at(sbi.name(), pos, data).inspect_err(log)?;
                rest.fill(0);
            }
            Ok(len)
        }
    }
}

/// Fills every page of `folio` block by block with [`read_block`] (folios that
/// are not one block, inline tails) and ends its read.
fn read_folio_blocks(sbi: &SbInfo, ii: &InodeInfo, mut folio: LockedFolio) -> Result {
    let first = folio.pos() / BS;
    for i in 0..folio.size() / PAGE_SIZE {
        folio.with_page(i, |page| read_block(sbi, ii, first + i as u64, page))??;
    }
    folio.end_read(true);
    Ok(())
}

/// Ends the read of folio `i` of `batch`: uptodate if `r` is `Ok`.
fn end(batch: &mut FolioBatch, i: usize, r: &Result) {
    if let Some(f) = batch.take(i) {
        f.end_read(r.is_ok());
    }
}

/// Runs of at least this many blocks, read directly or from a verified blob, are
/// read asynchronously and finished on the read workqueue, in two halves (two
/// CPUs), while the reader goes on.
const PARALLEL_MIN_BLOCKS: usize = 8;

/// With `io=direct`, runs of at least this many blocks (128 KiB: the long runs of
/// a sequential stream) bypass the blob's page cache; shorter ones (a small file
/// read whole) stay buffered, so that the backing file's readahead brings the
/// files that follow in the blob, which a tree walk reads next. Measured (bench
/// tree-read, 5,000 kernel source files): with direct I/O from 8 blocks on, a
/// verified walk read 387 files/s, buffered 510.
const DIRECT_MIN_BLOCKS: usize = 32;

/// A run read into its folios (or part of one), to be finished block by block:
/// what [`finish_run`] needs on a worker (owned: the run outlives `readahead`).
#[derive(Clone, Copy)]
pub(crate) struct RunInfo {
    /// The file's inode number, for messages.
    nid: u64,
    device: u16,
    /// Device block of the run's first folio.
    first_blk: u64,
    encrypted: bool,
    /// File bytes in the run, and bytes the read had to bring.
    file_bytes: usize,
    want: usize,
    /// The first folio handled here is the run's folio number `j0`.
    j0: usize,
}

impl RunInfo {
    /// Reports a failed read (rate-limited).
    fn log_read_error(&self, sbi: &SbInfo, got: &Result<usize>) {
        if let Err(err) = got {
            rerofs_err_ratelimited!(
                sbi,
                "nid {}: reading the blocks from {} of device {} failed: {:?}",
                self.nid,
                self.first_blk + self.j0 as u64,
                self.device,
                err
            );
        }
    }

    /// Verifies (and decrypts) the folios `slots`, the run's folios from number
    /// `j0` on, in place, given `got`, the bytes of the run read (from its
    /// start); a folio that fails is cleared. Records each folio's result in
    /// `res`; ends no folio.
    fn finish(
        &self,
        sbi: &SbInfo,
        file: &Blob,
        slots: &mut [Option<LockedFolio>],
        res: &mut [Result],
        got: Result<usize>,
    ) {
        for (n, (slot, r)) in slots.iter_mut().zip(res.iter_mut()).enumerate() {
            let j = self.j0 + n;
            let at = j * BLOCK_SIZE;
            // File bytes in this block, and bytes the read had to bring into it.
            let len = core::cmp::min(BLOCK_SIZE, self.file_bytes.saturating_sub(at));
            let need = core::cmp::min(BLOCK_SIZE, self.want.saturating_sub(at));
            let blk = self.first_blk + j as u64;
            let Some(f) = slot.as_mut() else {
                *r = Err(EINVAL);
                continue;
            };
            *r = match &got {
                Err(err) => Err(*err),
                Ok(got) if *got < at + need => Err(EIO),
                Ok(_) => f
                    .with_page(0, |p| {
                        finish_block(sbi, file, self.device, blk, true, self.encrypted, len, p)
                    })
                    .and_then(|r| r),
            };
            if r.is_err() {
                let _ = f.with_page(0, |p| p.fill(0));
            }
        }
    }

    /// Finishes the folios `slots` (`got`: bytes of the run read, from its
    /// start) and ends each one's read; returns the first error.
    fn finish_and_end(
        &self,
        sbi: &SbInfo,
        file: &Blob,
        slots: &mut [Option<LockedFolio>],
        got: Result<usize>,
    ) -> Result {
        let mut res = [Ok(()); MAX_BATCH];
        let Some(res) = res.get_mut(..slots.len()) else {
            // More folios than a batch holds: cannot happen; they fail as dropped.
            return Err(EINVAL);
        };
        self.finish(sbi, file, slots, res, got);
        let mut first_err = Ok(());
        for (slot, r) in slots.iter_mut().zip(res.iter()) {
            if let Some(f) = slot.take() {
                f.end_read(r.is_ok());
            }
            if first_err.is_ok() {
                first_err = *r;
            }
        }
        first_err
    }
}

/// [`crate::vfs::FileSystem::finish_run`]: finishes, on a worker, folios of a run
/// that [`read_run`] read asynchronously (`read`: bytes read from the part's
/// start), and ends them.
pub(crate) fn finish_run(
    inode: &Inode,
    slots: &mut [Option<LockedFolio>],
    info: RunInfo,
    read: Result<usize>,
) {
    let sbi = inode.sb().info();
    let got = read.map(|n| n + info.j0 * BLOCK_SIZE);
    info.log_read_error(sbi, &got);
    // (No such device cannot happen: the run was read from it. The folios left
    // fail as they are dropped.)
    if let Some((file, _)) = sbi.device(info.device) {
        let _ = info.finish_and_end(sbi, file, slots, got);
    }
}

/// Finishes the folios `range` of `batch` here (`info.j0` is the run's number of
/// the first; `got`: bytes of the run read, from its start) and ends them;
/// returns the first error.
fn finish_here(
    sbi: &SbInfo,
    file: &Blob,
    batch: &mut FolioBatch,
    range: core::ops::Range<usize>,
    info: &RunInfo,
    got: Result<usize>,
) -> Result {
    match batch.slots_mut(range) {
        Some(slots) => info.finish_and_end(sbi, file, slots, got),
        None => Err(EINVAL),
    }
}

/// Reads the run of `batch` that starts at folio `i` and ends each folio of it.
/// Returns how many folios it consumed (at least one) and the first error.
fn read_run(
    inode: &Inode,
    sbi: &SbInfo,
    ii: &InodeInfo,
    batch: &mut FolioBatch,
    i: usize,
) -> (usize, Result) {
    let Some(first) = batch.get(i) else {
        return (1, Err(EINVAL));
    };
    if first.size() != BLOCK_SIZE || PAGE_SIZE != BLOCK_SIZE {
        let r = match batch.take(i) {
            Some(f) => read_folio_blocks(sbi, ii, f),
            None => Err(EINVAL),
        };
        return (1, r);
    }
    // The following one-block folios that continue the file range.
    let pos = first.pos();
    let mut m = 1usize;
    while batch
        .get(i + m)
        .is_some_and(|f| f.size() == BLOCK_SIZE && f.pos() == pos + m as u64 * BS)
    {
        m += 1;
    }
    let fail = |batch: &mut FolioBatch, e: Error| {
        let r = Err(e);
        end(batch, i, &r);
        (1, r)
    };
    let e = match map_extent(sbi, ii, pos, m as u64 * BS) {
        Err(e) => return fail(batch, e),
        Ok(None) => {
            // Beyond EOF: zeros.
            let r = batch.get_mut(i).ok_or(EINVAL).and_then(|f| {
                f.with_page(0, |p| p.fill(0))?;
                Ok(())
            });
            end(batch, i, &r);
            return (1, r);
        }
        Ok(Some(e)) => e,
    };
    // Folios of the run: every block the extent touches.
    let k = core::cmp::min(e.len.div_ceil(BS) as usize, m);
    let src = match source(sbi, ii, &e) {
        Err(e) => return fail(batch, e),
        Ok(s) => s,
    };
    let (file, device, dpos, encrypted) = match src {
        Source::Zeros => {
            let mut first_err = Ok(());
            for j in i..i + k {
                let r = batch.get_mut(j).ok_or(EINVAL).and_then(|f| {
                    f.with_page(0, |p| p.fill(0))?;
                    Ok(())
                });
                end(batch, j, &r);
                if first_err.is_ok() {
                    first_err = r;
                }
            }
            return (k, first_err);
        }
        Source::Read {
            file,
            device,
            pos,
            encrypted,
        } => (file, device, pos, encrypted),
    };
    if dpos % BS != 0 || matches!(e.place, Place::Inline { .. }) {
        // The inline tail (or a run not on a block boundary): block by block.
        let r = match batch.take(i) {
            Some(f) => read_folio_blocks(sbi, ii, f),
            None => Err(EINVAL),
        };
        return (1, r);
    }
    if encrypted && !file.is_verified() {
        // An encrypted block is only ever read whole and verified.
        return fail(batch, EINVAL);
    }
    // A verified blob is read (and checked) in whole blocks; an unverified one
    // only up to EOF, the rest of the last block cleared.
    let file_bytes = e.len as usize;
    let want = if file.is_verified() {
        k * BLOCK_SIZE
    } else {
        file_bytes
    };
    let info = RunInfo {
        nid: ii.disk.nid,
        device,
        first_blk: dpos / BS,
        encrypted,
        file_bytes,
        want,
        j0: 0,
    };
    if let Err(err) = file.check_run(sbi.name(), dpos, want) {
        let r = finish_here(sbi, file, batch, i..i + k, &info, Err(err));
        return (k, r);
    }
    // Short runs (small files) are read buffered: the backing file's own
    // readahead then brings the files that follow in the blob too, which a
    // tree walk reads next; long runs (io=direct) are read around it.
    let direct = k >= DIRECT_MIN_BLOCKS && sbi.direct_io();
    // A run of PARALLEL_MIN_BLOCKS or more is read in two parts (its halves, so
    // that two CPUs verify them), each asynchronously where the backing file
    // allows (direct I/O) and finished on the read workqueue: this reader goes on
    // (to the next readahead's I/O) meanwhile. That only pays when the read is
    // direct (in flight meanwhile) or its blocks are to be verified (on two
    // CPUs): a buffered read of an unverified blob is done by the time it would
    // be handed over, and the hop to a worker and back is all it would add.
    // A shorter run (a small file: the hop would cost more than it saves), an
    // unverified buffered one and a part that cannot be handed over are read
    // and finished here.
    let asynchronous = k >= PARALLEL_MIN_BLOCKS && (direct || file.is_verified());
    let h = if asynchronous { k / 2 } else { k };
    let mut first_err = Ok(());
    for (range, j0) in [(i..i + h, 0), (i + h..i + k, h)] {
        if range.is_empty() {
            continue;
        }
        let at = j0 * BLOCK_SIZE;
        let end = core::cmp::min(want, (j0 + range.len()) * BLOCK_SIZE);
        let len = end.saturating_sub(at);
        let part = RunInfo { j0, ..info };
        let pos = dpos + at as u64;
        let started = if asynchronous {
            crate::vfs::read_async(
                inode,
                batch,
                range.clone(),
                &file.file,
                pos,
                len,
                direct,
                part,
            )
        } else {
            Err(part)
        };
        let r = match started {
            Ok(()) => Ok(()),
            Err(part) => {
                let got = file
                    .read_into_folios(sbi.name(), pos, batch, range.clone(), len, direct)
                    .map(|n| n + at);
                part.log_read_error(sbi, &got);
                finish_here(sbi, file, batch, range, &part, got)
            }
        };
        if first_err.is_ok() {
            first_err = r;
        }
    }
    (k.max(1), first_err)
}

/// `read_folio`: fills the folio block by block (one block is one backing-file
/// read straight into the page, verified through `Blob::read_exact_at`, then
/// decrypted) and ends its read. It is also the retry of a folio that failed in
/// a readahead batch, so it reports what failed.
pub(crate) fn read_folio(inode: &Inode, folio: LockedFolio) -> Result {
    let sbi = inode.sb().info();
    let ii = inode.info()?;
    read_folio_blocks(sbi, ii, folio)
}

/// `readahead`: reads each contiguous run of the batch with one backing-file read
/// straight into its folios, then verifies (and decrypts) each block; a block
/// that fails fails only its folio (`read_folio` retries it and reports).
pub(crate) fn readahead(inode: &Inode, batch: &mut FolioBatch) {
    let sbi = inode.sb().info();
    let Ok(ii) = inode.info() else {
        // The folios left in the batch fail.
        return;
    };
    let mut i = 0;
    while i < batch.len() {
        let (n, _) = read_run(inode, sbi, ii, batch, i);
        i += n;
    }
}
