// SPDX-License-Identifier: GPL-2.0

//! The backing file (`struct file`): the image or a blob, a regular file or a
//! block device, read with `kernel_read`.

use core::ptr::NonNull;
use kernel::ffi::c_int;

use kernel::bindings;
use kernel::error::from_err_ptr;
use kernel::prelude::*;
use kernel::str::CStr;

use super::folio::{FolioBatch, MAX_BATCH};
use crate::helpers as c;

/// A file (regular file or block device) a super block reads from.
///
/// # Invariants
///
/// The pointer is a file we opened and hold a reference on.
pub(crate) struct BackingFile(NonNull<bindings::file>);

// SAFETY: A `struct file` reference may be used and released from any thread.
unsafe impl Send for BackingFile {}

impl BackingFile {
    /// The C file, for the helpers of this layer.
    pub(super) fn as_ptr(&self) -> *mut bindings::file {
        self.0.as_ptr()
    }
}
// SAFETY: `kernel_read` with a caller-owned position may run concurrently, and the
// other methods only read fields that do not change while the file is open.
unsafe impl Sync for BackingFile {}

impl BackingFile {
    /// Opens `path` read-only.
    pub(crate) fn open(path: &CStr) -> Result<Self> {
        Self::open_flags(path, bindings::O_RDONLY | bindings::O_LARGEFILE)
    }

    /// Opens a path the mounter named (`device=`): read-only and without blocking,
    /// so that a FIFO or a device that waits in `open` cannot hang the mount (the
    /// caller refuses anything but a regular file or block device right after).
    pub(crate) fn open_nonblock(path: &CStr) -> Result<Self> {
        Self::open_flags(
            path,
            bindings::O_RDONLY | bindings::O_LARGEFILE | bindings::O_NONBLOCK,
        )
    }

    /// Opens a blob named by an image inside the mounter's blob directory:
    /// read-only, without blocking and without following a symlink in the last
    /// component (the caller refuses anything but a regular file or block device).
    pub(crate) fn open_untrusted_name(path: &CStr) -> Result<Self> {
        Self::open_flags(
            path,
            bindings::O_RDONLY
                | bindings::O_LARGEFILE
                | bindings::O_NONBLOCK
                | bindings::O_NOFOLLOW,
        )
    }

    fn open_flags(path: &CStr, flags: u32) -> Result<Self> {
        let flags = flags as c_int;
        // SAFETY: `path` is NUL terminated and alive for the call.
        let f = from_err_ptr(unsafe { bindings::filp_open(path.as_char_ptr(), flags, 0) })?;
        // INVARIANT: `filp_open` returned a file with a reference we own.
        Ok(Self(NonNull::new(f).ok_or(ENOENT)?))
    }

    /// Size of the file or block device in bytes.
    pub(crate) fn size(&self) -> u64 {
        // SAFETY: The file is valid by the type invariant.
        let size = unsafe { c::rerofs_file_size(self.0.as_ptr()) };
        size.max(0) as u64
    }

    /// `s_stack_depth` of the file system the file lives on (0 for a block device
    /// or a file on a disk file system; 1 or more on a stacked one such as rerofs).
    pub(crate) fn stack_depth(&self) -> i32 {
        // SAFETY: The file is valid by the type invariant.
        unsafe { c::rerofs_file_stack_depth(self.0.as_ptr()) }
    }

    /// True for a regular file or a block device.
    pub(crate) fn is_file_or_bdev(&self) -> bool {
        // SAFETY: The file is valid by the type invariant.
        let mode = u32::from(unsafe { c::rerofs_file_mode(self.0.as_ptr()) }) & bindings::S_IFMT;
        mode == bindings::S_IFREG || mode == bindings::S_IFBLK
    }

    /// Starts reading `len` bytes at byte `pos` into the file's page cache without
    /// waiting for them, so that reads of many files' blocks overlap. A hint: a
    /// range past the end or an error starts nothing, and the later read reports
    /// what is wrong.
    pub(crate) fn prefetch(&self, pos: u64, len: u64) {
        let (Ok(pos), Ok(len)) = (
            bindings::loff_t::try_from(pos),
            bindings::loff_t::try_from(len),
        ) else {
            return;
        };
        // SAFETY: The file is valid by the type invariant; `vfs_fadvise` checks the
        // range and only starts reads.
        let _ = unsafe { c::rerofs_file_willneed(self.0.as_ptr(), pos, len) };
    }

    /// Reads exactly `buf.len()` bytes at byte `pos`; a short read is `EIO`.
    pub(crate) fn read_exact_at(&self, pos: u64, buf: &mut [u8]) -> Result {
        let mut done = 0;
        while done < buf.len() {
            let rest = buf.get_mut(done..).ok_or(EINVAL)?;
            let mut off = bindings::loff_t::try_from(pos + done as u64).map_err(|_| EINVAL)?;
            // SAFETY: The file is valid; `rest` is a writable buffer of `rest.len()` bytes.
            let n = unsafe {
                bindings::kernel_read(
                    self.0.as_ptr(),
                    rest.as_mut_ptr().cast(),
                    rest.len(),
                    &mut off,
                )
            };
            if n < 0 {
                return Err(Error::from_errno(n as c_int));
            }
            if n == 0 {
                return Err(EIO);
            }
            done += n as usize;
        }
        Ok(())
    }
}

impl BackingFile {
    /// Reads `len` bytes at byte `pos` straight into the whole folios `range` of
    /// `batch` (from the first one's start on), with one `vfs_iter_read` over a
    /// bvec iterator (more only after a short read), with direct I/O when `direct`
    /// and the file supports it (buffered otherwise). Returns the bytes read: fewer
    /// than `len` only at the end of the file.
    pub(crate) fn read_into_folios(
        &self,
        pos: u64,
        batch: &FolioBatch,
        range: core::ops::Range<usize>,
        len: usize,
        direct: bool,
    ) -> Result<usize> {
        let mut raw = [core::ptr::null_mut(); MAX_BATCH];
        let n = batch.raw(range, &mut raw)?;
        let off = bindings::loff_t::try_from(pos).map_err(|_| EINVAL)?;
        // SAFETY: The file is valid (type invariant); the first `n` entries of `raw`
        // are folios locked by us (the batch owns their locks and outlives the
        // call), not uptodate, so no one else reads or writes them; the helper
        // checks `len` against their sizes.
        let r = unsafe {
            c::rerofs_read_folios(
                self.0.as_ptr(),
                off,
                raw.as_mut_ptr(),
                n as u32,
                len,
                direct,
            )
        };
        if r < 0 {
            return Err(Error::from_errno(r as c_int));
        }
        Ok(r as usize)
    }
}

impl Drop for BackingFile {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own a reference to the file.
        unsafe { bindings::fput(self.0.as_ptr()) };
    }
}
