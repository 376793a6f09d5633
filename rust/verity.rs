// SPDX-License-Identifier: GPL-2.0

//! In-band verification (`fs/verity/verify.c` in shape): every block read from a
//! blob with a Merkle tree is hashed and checked against the tree before it is
//! used. Hash blocks are read once, checked up to the first already-verified
//! ancestor (or the root hash), and kept in memory as verified.
//!
//! Verified hash blocks live in rerofs's own memory, not in the backing file's
//! page cache: whoever can write the backing file cannot change a block after it
//! was checked. A block that fails is not kept, so the same read succeeds once
//! the blob's bytes are right (a blob still being downloaded).

use kernel::prelude::*;
use kernel::str::BStr;

use crate::format::verity::{hash_slot, Descriptor, Geometry, Hasher, DIGEST_SIZE, MAX_LEVELS};
use crate::format::BLOCK_SIZE;
use crate::vfs::{self, BackingFile, OnceSlots};

/// One block of bytes.
type Block = [u8; BLOCK_SIZE];

/// Largest metadata blob (in blocks: 4 GiB) whose verified blocks are kept; a
/// larger one is verified on every read instead (the pointer array alone would
/// take 8 MiB per 4 GiB).
const META_CACHE_MAX_BLOCKS: u64 = 1 << 20;

/// SHA-256 through the kernel crypto API, for the format crate's descriptor code.
pub(crate) struct KernelSha;

impl Hasher for KernelSha {
    type Error = Error;

    fn sha256(&self, data: &[u8]) -> Result<[u8; DIGEST_SIZE]> {
        vfs::sha256(data)
    }
}

/// A blob's tree: its shape, its trusted root hash and the verified hash blocks.
pub(crate) struct Tree {
    geo: Geometry,
    root: [u8; DIGEST_SIZE],
    verified: OnceSlots<Block>,
}

impl Tree {
    /// The tree of a blob whose descriptor is `desc` (already trusted).
    pub(crate) fn new(desc: &Descriptor) -> Result<Self> {
        let geo = Geometry::new(desc.data_size).map_err(|_| vfs::efscorrupted())?;
        let n = usize::try_from(geo.tree_blocks()).map_err(|_| EINVAL)?;
        Ok(Self {
            geo,
            root: desc.root_hash,
            verified: OnceSlots::new(n)?,
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
    /// Verified blocks of the metadata blob read in part (inodes, directories,
    /// xattrs, chunk tables), kept so that they are hashed once. Whole-block reads
    /// (file data) are not kept here: the page cache holds those.
    meta_blocks: Option<OnceSlots<Block>>,
}

/// Allocates one zeroed block on the heap (4 KiB is too much for the stack).
fn new_block() -> Result<KBox<Block>> {
    KBox::init(kernel::init::zeroed(), GFP_KERNEL)
}

impl Blob {
    /// A blob read as it is.
    pub(crate) fn unverified(file: BackingFile, id: u16) -> Self {
        Self {
            file,
            id,
            tree: None,
            meta_blocks: None,
        }
    }

    /// A blob whose every block is checked against `tree`. The metadata blob (id
    /// 0) also keeps the blocks it reads in part.
    pub(crate) fn verified(file: BackingFile, id: u16, tree: Tree) -> Result<Self> {
        let meta_blocks = if id == 0 && tree.geo.data_blocks() <= META_CACHE_MAX_BLOCKS {
            let n = usize::try_from(tree.geo.data_blocks()).map_err(|_| EINVAL)?;
            Some(OnceSlots::new(n)?)
        } else {
            None
        };
        Ok(Self {
            file,
            id,
            tree: Some(tree),
            meta_blocks,
        })
    }

    /// True when reads are verified.
    pub(crate) fn is_verified(&self) -> bool {
        self.tree.is_some()
    }

    /// Reads exactly `buf.len()` bytes at `pos`. On a verified blob every block
    /// touched is checked first, and nothing unverified is left in `buf`: a block
    /// that does not match fails the read with `EIO`.
    pub(crate) fn read_exact_at(&self, image: &BStr, pos: u64, buf: &mut [u8]) -> Result {
        let Some(tree) = &self.tree else {
            return self.file.read_exact_at(pos, buf);
        };
        let end = pos.checked_add(buf.len() as u64).ok_or(EINVAL)?;
        if end > tree.geo.data_size {
            return Err(vfs::efscorrupted_report(
                image,
                "read beyond the verified data",
                pos,
            ));
        }
        let bs = BLOCK_SIZE as u64;
        let mut done = 0usize;
        let mut bounce: Option<KBox<Block>> = None;
        while done < buf.len() {
            let at = pos + done as u64;
            let blk = at / bs;
            let in_blk = (at % bs) as usize;
            let n = core::cmp::min(BLOCK_SIZE - in_blk, buf.len() - done);
            let dst = buf.get_mut(done..done + n).ok_or(EINVAL)?;
            if n == BLOCK_SIZE {
                // A whole block: read it in place, then check it.
                self.file.read_exact_at(blk * bs, dst)?;
                if let Err(e) = self.verify(image, tree, blk, dst) {
                    dst.fill(0);
                    return Err(e);
                }
            } else if let Some(cache) = &self.meta_blocks {
                let i = usize::try_from(blk).map_err(|_| EINVAL)?;
                let b = match cache.get(i) {
                    Some(b) => b,
                    None => {
                        let mut b = new_block()?;
                        self.file.read_exact_at(blk * bs, &mut b[..])?;
                        self.verify(image, tree, blk, &b[..])?;
                        cache.set(i, b)?
                    }
                };
                dst.copy_from_slice(b.get(in_blk..in_blk + n).ok_or(EINVAL)?);
            } else {
                let b = match &mut bounce {
                    Some(b) => b,
                    None => bounce.insert(new_block()?),
                };
                self.file.read_exact_at(blk * bs, &mut b[..])?;
                self.verify(image, tree, blk, &b[..])?;
                dst.copy_from_slice(b.get(in_blk..in_blk + n).ok_or(EINVAL)?);
            }
            done += n;
        }
        Ok(())
    }

    /// Checks data block `blk` (its bytes: `data`) against the tree.
    fn verify(&self, image: &BStr, tree: &Tree, blk: u64, data: &[u8]) -> Result {
        let mut want = vfs::sha256(data)?;
        let geo = &tree.geo;
        // Hash blocks read on the way up, checked against the level below but not
        // yet anchored: kept once the walk reaches a verified block or the root.
        let mut pending: [Option<(usize, KBox<Block>)>; MAX_LEVELS] = Default::default();
        let mut anchored = geo.levels == 0 && want == tree.root;
        let mut index = blk;
        let mut failed_level = None;
        for level in 0..geo.levels {
            let (hidx, off) = hash_slot(index);
            let tb = geo.tree_block(level, hidx).ok_or(EINVAL)?;
            let tb = usize::try_from(tb).map_err(|_| EINVAL)?;
            if let Some(hb) = tree.verified.get(tb) {
                anchored = hb.get(off..off + DIGEST_SIZE) == Some(&want[..]);
                if !anchored {
                    failed_level = Some(level);
                }
                break;
            }
            let mut hb = new_block()?;
            let hpos = geo.hash_block_pos(level, hidx).ok_or(EINVAL)?;
            self.file.read_exact_at(hpos, &mut hb[..])?;
            if hb.get(off..off + DIGEST_SIZE) != Some(&want[..]) {
                failed_level = Some(level);
                break;
            }
            want = vfs::sha256(&hb[..])?;
            if let Some(p) = pending.get_mut(level) {
                *p = Some((tb, hb));
            }
            index = hidx;
            if level + 1 == geo.levels {
                anchored = want == tree.root;
            }
        }
        if !anchored {
            if vfs::ratelimit() {
                match failed_level {
                    Some(l) => pr_err!(
                        "({}): blob {} block {}: hash mismatch at tree level {}\n",
                        image,
                        self.id,
                        blk,
                        l
                    ),
                    None => pr_err!(
                        "({}): blob {} block {}: root hash mismatch\n",
                        image,
                        self.id,
                        blk
                    ),
                }
            }
            return Err(EIO);
        }
        for (tb, hb) in pending.into_iter().flatten() {
            tree.verified.set(tb, hb)?;
        }
        Ok(())
    }
}
