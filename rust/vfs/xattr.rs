// SPDX-License-Identifier: GPL-2.0

//! Extended attributes: the callbacks of the C xattr handlers (`rerofs_helpers.c`:
//! `linux/xattr.h` is not in the 6.12 bindings) and `listxattr`.

use kernel::ffi::{c_char, c_int, c_void};

use kernel::bindings;
use kernel::str::CStr;

use super::{FileSystem, Inode};
use crate::helpers as c;

/// Whether `trusted.*` names may be listed to the caller (`CAP_SYS_ADMIN`).
pub(crate) fn may_list_trusted() -> bool {
    // SAFETY: `capable` only inspects the current task's credentials.
    unsafe { c::rerofs_may_list_trusted() }
}

/// Converts a C (buffer, size) pair into a slice; `size == 0` is a size probe.
///
/// # Safety
///
/// Unless `size` is 0 or `buf` is null, `buf` must be writable for `size` bytes for `'a`.
unsafe fn out_buffer<'a>(buf: *mut c_void, size: usize) -> Option<&'a mut [u8]> {
    if size == 0 || buf.is_null() {
        None
    } else {
        // SAFETY: The caller guarantees `buf` is writable for `size` bytes for `'a`.
        Some(unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), size) })
    }
}

/// The `get` of the C xattr handlers and of `rerofs_get_inode_acl`.
pub(super) unsafe extern "C" fn getxattr_callback<T: FileSystem>(
    inode: *mut bindings::inode,
    index: c_int,
    name: *const c_char,
    buffer: *mut c_void,
    size: usize,
) -> c_int {
    // SAFETY: The C handlers pass a valid inode of our type and the NUL-terminated
    // name suffix, both alive for the call.
    let (inode, name) = unsafe { (Inode::<T>::from_raw(inode), CStr::from_char_ptr(name)) };
    // SAFETY: The VFS gives a buffer of `size` bytes (or a size probe), ours for the
    // call.
    let out = unsafe { out_buffer(buffer, size) };
    let Ok(index) = u8::try_from(index) else {
        return kernel::error::code::EINVAL.to_errno();
    };
    match T::xattr_get(inode, index, name.as_bytes(), out) {
        Ok(n) => c_int::try_from(n).unwrap_or(c_int::MAX),
        Err(e) => e.to_errno(),
    }
}

pub(super) unsafe extern "C" fn listxattr_callback<T: FileSystem>(
    dentry: *mut bindings::dentry,
    buffer: *mut c_char,
    size: usize,
) -> isize {
    // SAFETY: The VFS passes a positive dentry of an inode of our type, valid for
    // the call.
    let inode = unsafe { Inode::<T>::from_raw((*dentry).d_inode) };
    // SAFETY: The VFS gives a buffer of `size` bytes (or a size probe), ours for the
    // call.
    let out = unsafe { out_buffer(buffer.cast(), size) };
    match T::xattr_list(inode, out) {
        Ok(n) => isize::try_from(n).unwrap_or(isize::MAX),
        Err(e) => e.to_errno() as isize,
    }
}
