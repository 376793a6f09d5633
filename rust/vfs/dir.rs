// SPDX-License-Identifier: GPL-2.0

//! Directories: the emitter of a `readdir` call (`struct dir_context`) and the
//! directory `file_operations`.

use kernel::ffi::c_int;

use kernel::bindings;
use kernel::error::from_result;

use super::{FileSystem, Inode, Tables};

impl<T: FileSystem> Tables<T> {
    const DIR_FOPS: bindings::file_operations = bindings::file_operations {
        llseek: Some(bindings::generic_file_llseek),
        read: Some(bindings::generic_read_dir),
        iterate_shared: Some(iterate_shared_callback::<T>),
        // SAFETY: All-zero is valid for this struct of optional function pointers.
        ..unsafe { core::mem::zeroed() }
    };

    /// A static reference: the constant is promoted to static storage (this would
    /// not compile if it could not be), which C only reads.
    pub(super) fn dir_fops() -> &'static bindings::file_operations {
        &Self::DIR_FOPS
    }
}

/// The `dir_context` of a `readdir` call.
///
/// # Invariants
///
/// The context is the one the VFS passed to `iterate_shared`, ours for the call:
/// its `actor` is the VFS's callback for it.
pub(crate) struct DirEmitter<'a>(&'a mut bindings::dir_context);

impl DirEmitter<'_> {
    /// The current position (a byte offset in the directory).
    pub(crate) fn pos(&self) -> i64 {
        self.0.pos
    }

    /// Moves the position.
    pub(crate) fn set_pos(&mut self, pos: i64) {
        self.0.pos = pos;
    }

    /// Emits one entry at the current position; false when the caller's buffer is full.
    pub(crate) fn emit(&mut self, name: &[u8], ino: u64, dtype: u32) -> bool {
        let Some(actor) = self.0.actor else {
            return false;
        };
        let Ok(len) = c_int::try_from(name.len()) else {
            return false;
        };
        let pos = self.0.pos;
        // SAFETY: `actor` is the VFS callback of this context (type invariant; what
        // `dir_emit` calls); `name` is valid for `len` bytes for the duration of the
        // call.
        unsafe { actor(self.0, name.as_ptr().cast(), len, pos, ino, dtype) }
    }
}

unsafe extern "C" fn iterate_shared_callback<T: FileSystem>(
    file: *mut bindings::file,
    ctx: *mut bindings::dir_context,
) -> c_int {
    // SAFETY: C passes an open directory of our type and its dir_context, both
    // valid and the context ours for the call.
    let (dir, ctx) = unsafe { (Inode::<T>::from_raw((*file).f_inode), &mut *ctx) };
    from_result(|| {
        // INVARIANT: `ctx` is the context the VFS passed us, ours for the call.
        T::readdir(dir, &mut DirEmitter(ctx))?;
        Ok(0)
    })
}
