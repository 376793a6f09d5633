// SPDX-License-Identifier: GPL-2.0

//! Page-cache folios being read (`struct folio`), and the
//! `address_space_operations` that read them.

use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use kernel::ffi::c_int;

use kernel::bindings;
use kernel::error::from_result;
use kernel::prelude::*;

use super::{FileSystem, Inode, Tables, PAGE_SIZE};
use crate::helpers as c;

impl<T: FileSystem> Tables<T> {
    const AOPS: bindings::address_space_operations = bindings::address_space_operations {
        read_folio: Some(read_folio_callback::<T>),
        readahead: Some(readahead_callback::<T>),
        // SAFETY: All-zero is valid for this struct of optional function pointers.
        ..unsafe { core::mem::zeroed() }
    };

    /// A static reference: the constant is promoted to static storage (this would
    /// not compile if it could not be), which C only reads.
    pub(super) fn aops() -> &'static bindings::address_space_operations {
        &Self::AOPS
    }
}

/// A locked page-cache folio being read; ends the read (as a failure, unless
/// [`LockedFolio::end_read`] said otherwise) and unlocks it on drop.
///
/// # Invariants
///
/// The pointer is a valid, locked folio whose lock we own.
pub(crate) struct LockedFolio(NonNull<bindings::folio>);

impl LockedFolio {
    /// Byte position of the folio in its file.
    pub(crate) fn pos(&self) -> u64 {
        // SAFETY: The folio is valid by the type invariant.
        unsafe { c::rerofs_folio_pos(self.0.as_ptr()) }.max(0) as u64
    }

    /// Size of the folio in bytes (a multiple of the page size).
    pub(crate) fn size(&self) -> usize {
        // SAFETY: The folio is valid by the type invariant.
        unsafe { c::rerofs_folio_size(self.0.as_ptr()) }
    }

    /// Runs `f` on page `index` of the folio, mapped.
    pub(crate) fn with_page<R>(
        &mut self,
        index: usize,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R> {
        let offset = index.checked_mul(PAGE_SIZE).ok_or(EINVAL)?;
        if offset >= self.size() {
            return Err(EINVAL);
        }
        // SAFETY: `offset` is inside the folio, which is valid and locked by us.
        let addr = unsafe { c::rerofs_kmap_local_folio(self.0.as_ptr(), offset) };
        // SAFETY: `kmap_local_folio` maps the whole page at a page-aligned offset; we hold
        // the folio lock, so no one else writes the page while it is not uptodate.
        let page = unsafe { core::slice::from_raw_parts_mut(addr.cast::<u8>(), PAGE_SIZE) };
        let r = f(page);
        // SAFETY: `addr` came from `kmap_local_folio` above and is unmapped once.
        unsafe { c::rerofs_kunmap_local(addr) };
        Ok(r)
    }

    /// Marks the folio uptodate (on success) and unlocks it.
    pub(crate) fn end_read(self, success: bool) {
        let this = ManuallyDrop::new(self);
        // SAFETY: We own the lock (type invariant) and give it up here.
        unsafe { c::rerofs_folio_end_read(this.0.as_ptr(), success) };
    }
}

impl Drop for LockedFolio {
    fn drop(&mut self) {
        // SAFETY: We own the lock (type invariant); the read failed.
        unsafe { c::rerofs_folio_end_read(self.0.as_ptr(), false) };
    }
}

unsafe extern "C" fn read_folio_callback<T: FileSystem>(
    _file: *mut bindings::file,
    folio: *mut bindings::folio,
) -> c_int {
    let Some(folio) = NonNull::new(folio) else {
        return EINVAL.to_errno();
    };
    // SAFETY: C passes a locked folio of the mapping of an inode of our type; the
    // inode outlives the call.
    let inode = unsafe { Inode::<T>::from_raw(c::rerofs_folio_inode(folio.as_ptr())) };
    // INVARIANT: the folio is locked and `read_folio` must unlock it: that is now ours.
    let folio = LockedFolio(folio);
    from_result(|| {
        T::read_folio(inode, folio)?;
        Ok(0)
    })
}

unsafe extern "C" fn readahead_callback<T: FileSystem>(rac: *mut bindings::readahead_control) {
    // SAFETY: C passes a valid readahead control of the mapping of an inode of our
    // type; the inode outlives the call.
    let inode = unsafe { Inode::<T>::from_raw(c::rerofs_readahead_inode(rac)) };
    // SAFETY: `rac` is valid for the whole callback; `readahead_folio` returns each
    // folio of the batch locked, its lock ours to release (its reference is not).
    while let Some(folio) = NonNull::new(unsafe { c::rerofs_readahead_folio(rac) }) {
        // INVARIANT: the folio is locked and we own the lock.
        let folio = LockedFolio(folio);
        // A failed folio is left not uptodate; `read_folio` retries it and reports.
        let _ = T::read_folio(inode, folio);
    }
}
