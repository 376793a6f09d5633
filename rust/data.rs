// SPDX-License-Identifier: GPL-2.0

//! Reading file data (`fs/erofs/data.c`): mapping a file block to a device block
//! through the flat layouts or the chunk table and device table, the page cache's
//! `read_folio`/`readahead`, and whole-block reads for directories.

use kernel::prelude::*;

use crate::format::devtable::map_dev;
use crate::format::inode::{parse_chunk_entry, ChunkMapping, Layout, Mapping, CHUNK_INDEX_SIZE};
use crate::format::{block_pos, BLOCK_SIZE};
use crate::inode::InodeInfo;
use crate::report::{format_error, rerofs_err_ratelimited};
use crate::sb::SbInfo;
use crate::verity::Blob;
use crate::vfs::{LockedFolio, PAGE_SIZE};
use crate::Inode;

/// Where the bytes of one file block come from.
enum Source<'a> {
    /// `len` bytes of zeros (a hole, or nothing at all beyond EOF).
    Zeros,
    /// `len` bytes at byte `pos` of `file`; `unit`: the (device, block) to
    /// decrypt it as, in an encrypted image.
    Read {
        file: &'a Blob,
        pos: u64,
        len: usize,
        unit: Option<(u16, u64)>,
    },
}

/// Maps file block `index` of a chunk-based inode (`erofs_map_blocks` for
/// `CHUNK_BASED`, then `erofs_map_dev`).
fn locate_chunked<'a>(sbi: &'a SbInfo, ii: &InodeInfo, index: u64) -> Result<Source<'a>> {
    let d = &ii.disk;
    let nid = d.nid;
    let Some(info) = d.chunk_info() else {
        return Err(EINVAL);
    };
    if index >= d.nblocks() {
        return Ok(Source::Zeros);
    }
    let pos = d
        .chunk_entry_pos(ii.pos, info.chunk_of_block(index))
        .map_err(|e| format_error(sbi, nid, &e))?;
    let mut raw = [0u8; CHUNK_INDEX_SIZE];
    let entry = raw.get_mut(..info.entry_size()).ok_or(EINVAL)?;
    sbi.read_meta(pos, entry, "chunk table entry")?;
    let addr = parse_chunk_entry(entry, &info, sbi.disk.device_id_mask())
        .map_err(|e| format_error(sbi, nid, &e))?;
    match d
        .map_chunked(index, addr)
        .map_err(|e| format_error(sbi, nid, &e))?
    {
        None | Some(ChunkMapping::Hole { .. }) => Ok(Source::Zeros),
        Some(ChunkMapping::Mapped {
            device_id,
            chunk_blk,
            block_in_chunk,
            len,
        }) => {
            let at = map_dev(device_id, chunk_blk, false, &sbi.devices)
                .map_err(|e| format_error(sbi, nid, &e))?
                .add(block_in_chunk)
                .ok_or_else(|| {
                    format_error(
                        sbi,
                        nid,
                        &crate::format::Error::Corrupted("chunk block", index),
                    )
                })?;
            let (file, blocks) = sbi.device(at.device).ok_or(EINVAL)?;
            if at.blk >= blocks {
                return Err(format_error(
                    sbi,
                    nid,
                    &crate::format::Error::Corrupted("chunk block beyond its device", at.blk),
                ));
            }
            Ok(Source::Read {
                file,
                pos: at.blk << crate::format::BLOCK_BITS,
                len,
                unit: sbi.crypt.as_ref().map(|_| (at.device, at.blk)),
            })
        }
    }
}

/// Maps file block `index` of `ii` to where its bytes are.
fn locate<'a>(sbi: &'a SbInfo, ii: &InodeInfo, index: u64) -> Result<Source<'a>> {
    if let Layout::ChunkBased(_) = ii.disk.layout {
        return locate_chunked(sbi, ii, index);
    }
    let source = match ii.map(sbi, index)? {
        None => Source::Zeros,
        Some(Mapping::Block { blk, len }) => Source::Read {
            file: &sbi.file,
            pos: block_pos(blk),
            len,
            unit: None,
        },
        Some(Mapping::Inline { pos, len }) => Source::Read {
            file: &sbi.file,
            pos,
            len,
            unit: None,
        },
    };
    // In an encrypted image every byte of regular file data is in an encrypted
    // chunk of a data blob: plaintext file data in the metadata blob is refused.
    if sbi.crypt.is_some() && ii.is_regular() && matches!(source, Source::Read { .. }) {
        return Err(format_error(
            sbi,
            ii.disk.nid,
            &crate::format::Error::Corrupted("file data outside the encrypted chunks", index),
        ));
    }
    Ok(source)
}

/// Fills `out` (one block) with file block `index` of `ii`, zero-padded past EOF.
/// Returns the number of file bytes in the block (0 for holes and beyond EOF is
/// fine: the caller knows the file size).
pub(crate) fn read_block(
    sbi: &SbInfo,
    ii: &InodeInfo,
    index: u64,
    out: &mut [u8],
) -> Result<usize> {
    match locate(sbi, ii, index)? {
        Source::Zeros => {
            out.fill(0);
            let start = index.saturating_mul(BLOCK_SIZE as u64);
            Ok(core::cmp::min(ii.disk.size.saturating_sub(start), out.len() as u64) as usize)
        }
        Source::Read {
            file,
            pos,
            len,
            unit,
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
            if file.is_verified() && pos % BLOCK_SIZE as u64 == 0 && out.len() == BLOCK_SIZE {
                file.read_exact_at(sbi.name(), pos, out).inspect_err(log)?;
                // Decrypted only once verified (XTS is malleable).
                if let (Some((device, blk)), Some(crypt)) = (unit, &sbi.crypt) {
                    if let Err(e) = crypt.decrypt_block(sbi, device, blk, out) {
                        out.fill(0);
                        return Err(e);
                    }
                }
                out.get_mut(len..).ok_or(EINVAL)?.fill(0);
            } else if unit.is_some() {
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

/// `read_folio`: fills every block of the folio and marks it uptodate.
pub(crate) fn read_folio(inode: &Inode, mut folio: LockedFolio) -> Result {
    let sbi = inode.sb().info();
    let ii = inode.info()?;
    let first = folio.pos() / BLOCK_SIZE as u64;
    for i in 0..folio.size() / PAGE_SIZE {
        folio.with_page(i, |page| read_block(sbi, ii, first + i as u64, page))??;
    }
    folio.end_read(true);
    Ok(())
}
