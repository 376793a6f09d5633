// SPDX-License-Identifier: GPL-2.0

//! Super blocks (`struct super_block`): one being set up by `fill_super`, and the
//! view of a mounted one; `super_operations`.

use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::ffi::c_int;

use kernel::bindings;
use kernel::prelude::*;
use kernel::types::Opaque;

use super::{FileSystem, InodeRef, SeqFile, Tables, PAGE_SIZE};
use crate::helpers as c;

/// `FILESYSTEM_MAX_STACK_DEPTH`: how many file systems may be stacked on each other
/// (each read recurses once per layer through `kernel_read`).
pub(crate) const MAX_STACK_DEPTH: i32 = bindings::FILESYSTEM_MAX_STACK_DEPTH as i32;

impl<T: FileSystem> Tables<T> {
    const SUPER_OPS: bindings::super_operations = bindings::super_operations {
        statfs: Some(statfs_callback::<T>),
        show_options: Some(show_options_callback::<T>),
        evict_inode: Some(super::inode::evict_inode_callback::<T>),
        // SAFETY: All-zero is valid for this struct of optional function pointers.
        ..unsafe { core::mem::zeroed() }
    };

    /// A static reference: the constant is promoted to static storage (this would
    /// not compile if it could not be), which C only reads.
    fn super_ops() -> &'static bindings::super_operations {
        &Self::SUPER_OPS
    }
}

/// A super block being set up by `fill_super`.
///
/// # Invariants
///
/// The pointer is a valid super block of type `T`, not yet visible to anyone else,
/// whose `s_fs_info` is null.
pub(crate) struct NewSuperBlock<T: FileSystem>(NonNull<bindings::super_block>, PhantomData<T>);

/// Parameters of a super block.
pub(crate) struct SuperParams {
    /// `s_magic`, also statfs's `f_type`.
    pub(crate) magic: u32,
    /// `s_stack_depth`: one more than the deepest file system the image or a blob
    /// is read from (at most [`MAX_STACK_DEPTH`]).
    pub(crate) stack_depth: i32,
}

impl<T: FileSystem> NewSuperBlock<T> {
    /// # Safety
    ///
    /// `sb` must be null or a new super block of type `T` that the caller owns
    /// until `fill_super` returns, with a null `s_fs_info`.
    pub(super) unsafe fn from_raw(sb: *mut bindings::super_block) -> Result<Self> {
        // INVARIANT: the caller's guarantee, for a non-null `sb`.
        Ok(Self(NonNull::new(sb).ok_or(EINVAL)?, PhantomData))
    }

    /// The raw super block, for the other files of the layer.
    pub(super) fn as_ptr(&self) -> *mut bindings::super_block {
        self.0.as_ptr()
    }

    /// Makes the super block read-only, `PAGE_SIZE`-blocked, and hands it `info`,
    /// which it owns from now on (freed by `kill_sb`).
    pub(crate) fn init(self, params: &SuperParams, info: KBox<T::Data>) -> InitSuperBlock<T> {
        let sb = self.0.as_ptr();
        // SAFETY: By the type invariant `sb` is valid and exclusively ours, so its
        // fields may be written; the operation table is a promoted constant.
        unsafe {
            c::rerofs_sb_set_readonly(sb);
            c::rerofs_sb_set_xattr(sb);
            (*sb).s_magic = params.magic as _;
            (*sb).s_stack_depth = params.stack_depth;
            (*sb).s_blocksize = PAGE_SIZE as _;
            (*sb).s_blocksize_bits = PAGE_SIZE.trailing_zeros() as _;
            (*sb).s_op = Tables::<T>::super_ops();
            (*sb).s_fs_info = KBox::into_raw(info).cast();
        }
        // INVARIANT: `s_fs_info` is now a valid `T::Data`.
        InitSuperBlock(self.0, PhantomData)
    }
}

/// A super block with its data installed, waiting for its root.
///
/// # Invariants
///
/// The pointer is a valid super block of type `T`, still owned by `fill_super`,
/// whose `s_fs_info` is a valid `T::Data`.
pub(crate) struct InitSuperBlock<T: FileSystem>(NonNull<bindings::super_block>, PhantomData<T>);

impl<T: FileSystem> InitSuperBlock<T> {
    /// The super block view.
    pub(crate) fn sb(&self) -> &SuperBlock<T> {
        // SAFETY: By the type invariant the super block is valid with its data set,
        // for as long as `self`.
        unsafe { SuperBlock::from_raw(self.0.as_ptr()) }
    }

    /// Makes `root` the root directory.
    pub(crate) fn set_root(self, root: InodeRef<T>) -> Result {
        // SAFETY: `d_make_root` takes over the inode reference (and drops it on failure).
        let dentry = unsafe { bindings::d_make_root(root.into_raw()) };
        if dentry.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: The super block is still exclusively ours (type invariant).
        unsafe { (*self.0.as_ptr()).s_root = dentry };
        Ok(())
    }
}

/// A view of a super block of type `T`.
///
/// # Invariants
///
/// The super block is valid for the lifetime of the reference and its `s_fs_info`
/// is a valid `T::Data`.
#[repr(transparent)]
pub(crate) struct SuperBlock<T: FileSystem>(Opaque<bindings::super_block>, PhantomData<T>);

impl<T: FileSystem> SuperBlock<T> {
    /// # Safety
    ///
    /// `sb` must be a valid super block of type `T` whose `s_fs_info` is set,
    /// alive for `'a`.
    pub(super) unsafe fn from_raw<'a>(sb: *mut bindings::super_block) -> &'a Self {
        // SAFETY: `SuperBlock` is a transparent wrapper; the caller guarantees
        // validity for `'a`.
        unsafe { &*sb.cast::<Self>() }
    }

    /// The raw super block, for the other files of the layer.
    pub(super) fn as_ptr(&self) -> *mut bindings::super_block {
        self.0.get()
    }

    /// The file system's data.
    pub(crate) fn info(&self) -> &T::Data {
        // SAFETY: By the type invariant `s_fs_info` points to a valid `T::Data`
        // that lives as long as the super block.
        unsafe { &*(*self.0.get()).s_fs_info.cast::<T::Data>() }
    }
}

/// What `statfs` reports.
pub(crate) struct StatFs {
    /// File system magic.
    pub(crate) magic: u32,
    /// Total blocks.
    pub(crate) blocks: u64,
    /// Total inodes.
    pub(crate) files: u64,
    /// File system id.
    pub(crate) fsid: [u32; 2],
}

unsafe extern "C" fn statfs_callback<T: FileSystem>(
    dentry: *mut bindings::dentry,
    buf: *mut bindings::kstatfs,
) -> c_int {
    // SAFETY: C passes a valid dentry of a mounted super block of type `T`, whose
    // `s_fs_info` is set, alive for the call.
    let sb = unsafe { SuperBlock::<T>::from_raw((*dentry).d_sb) };
    let st = T::statfs(sb);
    // SAFETY: `buf` is the valid kstatfs C passed us, ours to fill for the call.
    unsafe { c::rerofs_fill_statfs(buf, st.magic, st.blocks, st.files, st.fsid[0], st.fsid[1]) };
    0
}

unsafe extern "C" fn show_options_callback<T: FileSystem>(
    m: *mut bindings::seq_file,
    root: *mut bindings::dentry,
) -> c_int {
    // SAFETY: `m` is null or the seq_file being filled, valid for the call.
    let Some(mut m) = (unsafe { SeqFile::from_raw(m) }) else {
        return 0;
    };
    // SAFETY: C passes the root dentry of a mounted super block of type `T`, whose
    // `s_fs_info` is set, alive for the call.
    let sb = unsafe { SuperBlock::<T>::from_raw((*root).d_sb) };
    T::show_options(sb, &mut m);
    0
}
