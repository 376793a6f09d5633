// SPDX-License-Identifier: GPL-2.0

//! In-band verification (`fs/verity/verify.c` in shape): every block read from a
//! blob with a Merkle tree is hashed and checked against the tree before it is
//! used. Hash blocks are read once, checked up to the first already-verified
//! ancestor (or the root hash), and kept in memory as verified.
//!
//! Verified hash blocks, and verified metadata blocks read in part, are kept in
//! the mount's [`BlockCache`] (a private page cache), not in the backing file's
//! page cache: whoever can write the backing file cannot change a block after it
//! was checked. The cache allocates nothing until a block is kept and reclaim may
//! drop any block (it is read and checked again when next needed), so what a
//! mount pins is bounded by memory pressure, not by the size a blob claims. A
//! block that fails is not kept, so the same read succeeds once the blob's bytes
//! are right (a blob still being downloaded).

use kernel::prelude::*;
use kernel::str::BStr;
use kernel::sync::Arc;

use crate::crypto::sha256;
use crate::errno::efscorrupted;
use crate::format::verity::{hash_slot, Descriptor, Geometry, Hasher, DIGEST_SIZE, MAX_LEVELS};
use crate::format::BLOCK_SIZE;
use crate::ondemand::Channel;
use crate::ratelimit::RateLimit;
use crate::report::rerofs_err;
use crate::vfs::{BackingFile, BlockCache, FolioBatch};

/// One block of bytes.
type Block = [u8; BLOCK_SIZE];

/// Cache keys: a verified hash block (tree block `n` of blob `id`) or a verified
/// data block read in part (block `n` of blob `id`): kind, then 16 bits of blob id,
/// then 32 bits of block (trees and data areas have fewer than 2^32 blocks).
fn cache_key(kind: u64, id: u16, n: u64) -> u64 {
    (kind << 48) | (u64::from(id) << 32) | (n & 0xffff_ffff)
}
const KIND_TREE: u64 = 0;
const KIND_DATA: u64 = 1;

/// SHA-256 through the kernel crypto API, for the format crate's descriptor code.
pub(crate) struct KernelSha;

impl Hasher for KernelSha {
    type Error = Error;

    fn sha256(&self, data: &[u8]) -> Result<[u8; DIGEST_SIZE]> {
        sha256(data)
    }
}

/// What all blobs of one mount share: the cache of verified blocks and the rate
/// limit of the mount's data-path messages.
pub(crate) struct MountShared {
    /// Verified hash blocks and blocks read in part, of every blob of the mount,
    /// and the metadata blocks of an unverified metadata blob.
    pub(crate) cache: BlockCache,
    /// Rate limit of the mount's messages on data paths.
    pub(crate) limit: RateLimit,
}

/// A blob's tree: its shape and its trusted root hash.
pub(crate) struct Tree {
    geo: Geometry,
    root: [u8; DIGEST_SIZE],
}

impl Tree {
    /// The tree of a blob whose descriptor is `desc` (already trusted).
    pub(crate) fn new(desc: &Descriptor) -> Result<Self> {
        let geo = Geometry::new(desc.data_size).map_err(|_| efscorrupted())?;
        Ok(Self {
            geo,
            root: desc.root_hash,
        })
    }
}

/// A blob (the metadata blob or a data blob): the opened file and, when it is
/// verified, its tree.
pub(crate) struct Blob {
    /// The opened file or block device.
    pub(crate) file: BackingFile,
    /// Device id (0: the metadata blob), for messages.
    id: u16,
    /// `None` when the blob is read unverified.
    tree: Option<Tree>,
    /// Where verified hash blocks and verified blocks read in part (inodes,
    /// directories, xattrs, chunk tables) are kept, so that they are hashed once
    /// while they stay cached. Whole-block reads (file data) are not kept here:
    /// the file's page cache holds those. `None` until [`Blob::attach_cache`].
    shared: Option<Arc<MountShared>>,
    /// With `ondemand`: the channel and the blob's fs-verity digest, to ask the
    /// daemon for blocks that do not verify.
    ondemand: Option<(Arc<Channel>, [u8; DIGEST_SIZE])>,
}

/// Allocates one zeroed block on the heap (4 KiB is too much for the stack).
fn new_block() -> Result<KBox<Block>> {
    KBox::init(kernel::init::zeroed(), GFP_KERNEL)
}

/// Calls `f(block, offset in the block, piece)` for the pieces of `buf` (bytes
/// from `pos` on) that each lie in one block, in order; stops at the first error.
fn by_block(
    pos: u64,
    buf: &mut [u8],
    mut f: impl FnMut(u64, usize, &mut [u8]) -> Result,
) -> Result {
    let bs = BLOCK_SIZE as u64;
    let mut done = 0usize;
    while done < buf.len() {
        let at = pos.checked_add(done as u64).ok_or(EINVAL)?;
        let in_blk = (at % bs) as usize;
        let n = core::cmp::min(BLOCK_SIZE - in_blk, buf.len() - done);
        f(at / bs, in_blk, buf.get_mut(done..done + n).ok_or(EINVAL)?)?;
        done += n;
    }
    Ok(())
}

impl Blob {
    /// A blob read as it is.
    pub(crate) fn unverified(file: BackingFile, id: u16) -> Self {
        Self {
            file,
            id,
            tree: None,
            shared: None,
            ondemand: None,
        }
    }

    /// A blob whose every block is checked against `tree`.
    pub(crate) fn verified(file: BackingFile, id: u16, tree: Tree) -> Self {
        Self {
            file,
            id,
            tree: Some(tree),
            shared: None,
            ondemand: None,
        }
    }

    /// Keeps this blob's verified blocks (and, unverified, the metadata blocks
    /// [`Self::read_meta_at`] reads) in the mount's cache, and limits its messages
    /// by the mount's rate limit, from now on.
    pub(crate) fn attach(&mut self, shared: &Arc<MountShared>) {
        self.shared = Some(shared.clone());
    }

    /// The mount's cache, once attached.
    fn cache(&self) -> Option<&BlockCache> {
        self.shared.as_deref().map(|s| &s.cache)
    }

    /// True if a data-path message may be printed now (always before `attach`).
    fn allow_message(&self) -> bool {
        self.shared.as_deref().map_or(true, |s| s.limit.allow())
    }

    /// Asks `chan` for blocks of this (verified) blob that do not verify;
    /// `digest` is the blob's fs-verity digest (its name for the daemon).
    pub(crate) fn set_ondemand(&mut self, chan: Arc<Channel>, digest: [u8; DIGEST_SIZE]) {
        if self.tree.is_some() {
            self.ondemand = Some((chan, digest));
        }
    }

    /// True when reads are verified.
    pub(crate) fn is_verified(&self) -> bool {
        self.tree.is_some()
    }

    /// Reads exactly `buf.len()` bytes at `pos`. On a verified blob every block
    /// touched is checked first, and nothing unverified is left in `buf`: a block
    /// that does not match fails the read with `EIO`. With `ondemand`, such a
    /// read asks the daemon for the range and, once it answers, is read and
    /// checked again (once).
    pub(crate) fn read_exact_at(&self, image: &BStr, pos: u64, buf: &mut [u8]) -> Result {
        // With a daemon to ask, a block that does not verify is expected (a
        // hole): only the read after the fetch reports a mismatch.
        let first = self.read_checked(image, pos, buf, self.ondemand.is_none());
        let (Err(e), Some((chan, digest)), Some(tree)) = (&first, &self.ondemand, &self.tree)
        else {
            return first;
        };
        if *e != EIO {
            return first;
        }
        let len = buf.len() as u64;
        if let Err(e) = chan.fetch(digest, pos, len, tree.geo.data_size) {
            if self.allow_message() {
                rerofs_err!(
                    image,
                    "blob {}: on-demand fetch of {} bytes at {} failed ({:?})",
                    self.id,
                    len,
                    pos,
                    e
                );
            }
            return Err(e);
        }
        self.read_checked(image, pos, buf, true)
    }

    /// Reads `buf.len()` metadata bytes at `pos` (inodes, xattrs, chunk table
    /// entries: parts of blocks), as [`Self::read_exact_at`] does. On an
    /// unverified blob the blocks also go through the mount's cache (a verified
    /// one keeps its blocks read in part there already), so a walk costs one
    /// backing-file read per metadata block, not one per access: on a backing
    /// file system without a page cache each of those would be a round trip.
    pub(crate) fn read_meta_at(&self, image: &BStr, pos: u64, buf: &mut [u8]) -> Result {
        let (None, Some(cache)) = (&self.tree, self.cache()) else {
            return self.read_exact_at(image, pos, buf);
        };
        let mut bounce: Option<KBox<Block>> = None;
        by_block(pos, buf, |blk, in_blk, dst| {
            let at = blk * BLOCK_SIZE as u64 + in_blk as u64;
            let key = cache_key(KIND_DATA, self.id, blk);
            if blk > u64::from(u32::MAX) {
                // Past what a key holds (a sparse image over 16 TiB): uncached.
                return self.file.read_exact_at(at, dst);
            }
            if cache.read(key, in_blk, dst) {
                return Ok(());
            }
            let b = match &mut bounce {
                Some(b) => b,
                None => bounce.insert(new_block()?),
            };
            if self
                .file
                .read_exact_at(at - in_blk as u64, &mut b[..])
                .is_err()
            {
                // No whole block there (an image not a whole number of blocks
                // long): read just the bytes asked for, uncached.
                return self.file.read_exact_at(at, dst);
            }
            dst.copy_from_slice(b.get(in_blk..in_blk + dst.len()).ok_or(EINVAL)?);
            // Not kept (no memory): read again next time.
            let _ = cache.insert(key, b);
            Ok(())
        })
    }

    /// [`Self::read_exact_at`] without fetching.
    /// A mismatch is reported unless `report` is false.
    fn read_checked(&self, image: &BStr, pos: u64, buf: &mut [u8], report: bool) -> Result {
        let Some(tree) = &self.tree else {
            return self.file.read_exact_at(pos, buf);
        };
        self.check_run(image, pos, buf.len())?;
        let mut bounce: Option<KBox<Block>> = None;
        by_block(pos, buf, |blk, in_blk, dst| {
            let start = blk * BLOCK_SIZE as u64;
            if dst.len() == BLOCK_SIZE {
                // A whole block: read it in place, then check it. Whatever fails,
                // no unverified byte is left in `dst`.
                let checked = self
                    .file
                    .read_exact_at(start, dst)
                    .and_then(|()| self.verify(image, tree, blk, dst, report));
                if checked.is_err() {
                    dst.fill(0);
                }
                return checked;
            }
            let key = cache_key(KIND_DATA, self.id, blk);
            if self.cache().is_some_and(|c| c.read(key, in_blk, dst)) {
                // Served from the cache of verified blocks.
                return Ok(());
            }
            let b = match &mut bounce {
                Some(b) => b,
                None => bounce.insert(new_block()?),
            };
            self.file.read_exact_at(start, &mut b[..])?;
            self.verify(image, tree, blk, &b[..], report)?;
            dst.copy_from_slice(b.get(in_blk..in_blk + dst.len()).ok_or(EINVAL)?);
            if let Some(cache) = self.cache() {
                // Not kept (no memory): read and checked again next time.
                let _ = cache.insert(key, b);
            }
            Ok(())
        })
    }

    /// Reads `len` bytes at `pos` straight into the whole folios `range` of
    /// `batch`, with one backing-file read, and returns the bytes read (fewer only
    /// at the end of the file). Nothing is checked here: on a verified blob the
    /// range must lie inside the verified data, and each whole block must then go
    /// through [`Blob::verify_block`] before it is used.
    pub(crate) fn read_into_folios(
        &self,
        image: &BStr,
        pos: u64,
        batch: &FolioBatch,
        range: core::ops::Range<usize>,
        len: usize,
        direct: bool,
    ) -> Result<usize> {
        self.check_run(image, pos, len)?;
        self.file.read_into_folios(pos, batch, range, len, direct)
    }

    /// Checks that `len` bytes at `pos` lie inside the verified data of a
    /// verified blob (always fine on an unverified one): `EFSCORRUPTED` if not.
    pub(crate) fn check_run(&self, image: &BStr, pos: u64, len: usize) -> Result {
        let Some(tree) = &self.tree else {
            return Ok(());
        };
        let end = pos.checked_add(len as u64).ok_or(EINVAL)?;
        if end > tree.geo.data_size {
            if self.allow_message() {
                rerofs_err!(
                    image,
                    "blob {}: read beyond the verified data at byte {}",
                    self.id,
                    pos
                );
            }
            return Err(efscorrupted());
        }
        Ok(())
    }

    /// Checks whole data block `blk` (its bytes: `data`, read by the caller)
    /// against the tree, walking up to the first cached ancestor; `EIO` if it does
    /// not match. Always succeeds on an unverified blob.
    pub(crate) fn verify_block(&self, image: &BStr, blk: u64, data: &[u8]) -> Result {
        let Some(tree) = &self.tree else {
            return Ok(());
        };
        if data.len() != BLOCK_SIZE {
            return Err(EINVAL);
        }
        // With a daemon to ask, a mismatch is expected (a hole): the folio's
        // retry through `read_folio` fetches it, and reports a real mismatch.
        self.verify(image, tree, blk, data, self.ondemand.is_none())
    }

    /// Checks data block `blk` (its bytes: `data`) against the tree; a mismatch
    /// is logged when `report` is set.
    fn verify(&self, image: &BStr, tree: &Tree, blk: u64, data: &[u8], report: bool) -> Result {
        let mut want = sha256(data)?;
        let geo = &tree.geo;
        // Hash blocks read on the way up, checked against the level below but not
        // yet anchored: kept once the walk reaches a verified block or the root.
        let mut pending: [Option<(u64, KBox<Block>)>; MAX_LEVELS] = Default::default();
        let mut anchored = geo.levels == 0 && want == tree.root;
        let mut index = blk;
        let mut failed_level = None;
        for level in 0..geo.levels {
            let (hidx, off) = hash_slot(index);
            let tb = geo.tree_block(level, hidx).ok_or(EINVAL)?;
            let mut cached = [0u8; DIGEST_SIZE];
            if let Some(cache) = self.cache() {
                if cache.read(cache_key(KIND_TREE, self.id, tb), off, &mut cached) {
                    anchored = cached == want;
                    if !anchored {
                        failed_level = Some(level);
                    }
                    break;
                }
            }
            let mut hb = new_block()?;
            let hpos = geo.hash_block_pos(level, hidx).ok_or(EINVAL)?;
            self.file.read_exact_at(hpos, &mut hb[..])?;
            if hb.get(off..off + DIGEST_SIZE) != Some(&want[..]) {
                failed_level = Some(level);
                break;
            }
            want = sha256(&hb[..])?;
            if let Some(p) = pending.get_mut(level) {
                *p = Some((tb, hb));
            }
            index = hidx;
            if level + 1 == geo.levels {
                anchored = want == tree.root;
            }
        }
        if !anchored {
            if report && self.allow_message() {
                match failed_level {
                    Some(l) => rerofs_err!(
                        image,
                        "blob {} block {}: hash mismatch at tree level {}",
                        self.id,
                        blk,
                        l
                    ),
                    None => {
                        rerofs_err!(image, "blob {} block {}: root hash mismatch", self.id, blk)
                    }
                }
            }
            return Err(EIO);
        }
        if let Some(cache) = self.cache() {
            for (tb, hb) in pending.into_iter().flatten() {
                // Not kept (no memory): read and checked again next time.
                let _ = cache.insert(cache_key(KIND_TREE, self.id, tb), &hb);
            }
        }
        Ok(())
    }
}
