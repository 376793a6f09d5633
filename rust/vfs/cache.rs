// SPDX-License-Identifier: GPL-2.0

//! A private page cache: the mapping of an anonymous inode of a super block (as
//! EROFS keeps its managed cache), holding blocks its user chose to keep.

use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::ffi::c_ulong;

use kernel::bindings;
use kernel::error::{from_err_ptr, to_result};
use kernel::prelude::*;

use super::{FileSystem, NewSuperBlock, PAGE_SIZE};
use crate::helpers as c;

/// A block cache of one mount: the page cache of a private anonymous inode (see
/// `rerofs_cache_new` in `rerofs_helpers.c`). Blocks are keyed by a 64-bit index of
/// the caller's choosing; reclaim may drop any block at any time.
///
/// # Invariants
///
/// The pointer is null (released) or an inode of the super block it was made for,
/// from `rerofs_cache_new`, on which we hold the one reference; it is released
/// (by [`BlockCache::release`]) before that super block is shut down.
pub(crate) struct BlockCache(AtomicPtr<bindings::inode>);

impl BlockCache {
    /// A new, empty cache for the super block being set up. The file system must
    /// call [`BlockCache::release`] from [`FileSystem::before_shutdown`].
    pub(crate) fn new<T: FileSystem>(sb: &NewSuperBlock<T>) -> Result<Self> {
        // SAFETY: `sb` is a valid super block being set up (type invariant of
        // `NewSuperBlock`); `new_inode` may be called on it.
        let inode = from_err_ptr(unsafe { c::rerofs_cache_new(sb.as_ptr()) })?;
        // INVARIANT: `rerofs_cache_new` returned an inode with one reference, ours.
        Ok(Self(AtomicPtr::new(inode)))
    }

    /// Copies `buf.len()` bytes at `off` of block `index` into `buf`; false when
    /// the block is not cached (never was, was reclaimed, or the cache is released).
    pub(crate) fn read(&self, index: u64, off: usize, buf: &mut [u8]) -> bool {
        let inode = self.0.load(Ordering::Acquire);
        if inode.is_null() || off > PAGE_SIZE || buf.len() > PAGE_SIZE - off {
            return false;
        }
        let Some(index) = c_ulong::try_from(index).ok() else {
            return false;
        };
        // SAFETY: `inode` is our cache inode (type invariant; it is only released by
        // `release`, which runs when no read can be in flight); `buf` is writable for
        // `buf.len()` bytes and `off + buf.len() <= PAGE_SIZE` was checked.
        unsafe { c::rerofs_cache_read(inode, index, off, buf.as_mut_ptr().cast(), buf.len()) == 0 }
    }

    /// Caches a copy of `block` as block `index`.
    pub(crate) fn insert(&self, index: u64, block: &[u8; PAGE_SIZE]) -> Result {
        let inode = self.0.load(Ordering::Acquire);
        if inode.is_null() {
            return Ok(());
        }
        let index = c_ulong::try_from(index).map_err(|_| EINVAL)?;
        // SAFETY: `inode` is our cache inode (type invariant; it is only released by
        // `release`, which runs when no insert can be in flight); `block` is
        // `PAGE_SIZE` readable bytes.
        to_result(unsafe { c::rerofs_cache_insert(inode, index, block.as_ptr().cast()) })
    }

    /// Drops every cached block and the inode. Called before the super block is
    /// shut down (an inode still held then would be a busy inode at umount).
    pub(crate) fn release(&self) {
        let inode = self.0.swap(ptr::null_mut(), Ordering::AcqRel);
        if !inode.is_null() {
            // SAFETY: We held the one reference (type invariant) and gave up the
            // pointer above, so nobody uses it after this.
            unsafe { c::rerofs_cache_put(inode) };
        }
    }
}

impl Drop for BlockCache {
    fn drop(&mut self) {
        self.release();
    }
}
