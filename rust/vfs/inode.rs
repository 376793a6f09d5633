// SPDX-License-Identifier: GPL-2.0

//! Inodes (`struct inode`): views, owned references, new inodes to fill in, the
//! inode cache, and the `inode_operations` tables.

use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::Deref;
use core::ptr::{self, NonNull};
use kernel::ffi::c_uint;

use kernel::bindings;
use kernel::prelude::*;
use kernel::types::Opaque;

use super::{FileSystem, SuperBlock, Tables};
use crate::helpers as c;

impl<T: FileSystem> Tables<T> {
    /// Directories.
    const DIR_IOPS: bindings::inode_operations = bindings::inode_operations {
        lookup: Some(lookup_callback::<T>),
        listxattr: Some(super::xattr::listxattr_callback::<T>),
        get_inode_acl: Some(c::rerofs_get_inode_acl),
        // SAFETY: All-zero is valid for this struct of optional function pointers.
        ..unsafe { core::mem::zeroed() }
    };

    /// Regular files and special files.
    const FILE_IOPS: bindings::inode_operations = bindings::inode_operations {
        listxattr: Some(super::xattr::listxattr_callback::<T>),
        get_inode_acl: Some(c::rerofs_get_inode_acl),
        // SAFETY: All-zero is valid for this struct of optional function pointers.
        ..unsafe { core::mem::zeroed() }
    };

    /// Symlinks: the target is read through the page cache.
    const SYMLINK_IOPS: bindings::inode_operations = bindings::inode_operations {
        get_link: Some(bindings::page_get_link),
        listxattr: Some(super::xattr::listxattr_callback::<T>),
        get_inode_acl: Some(c::rerofs_get_inode_acl),
        // SAFETY: All-zero is valid for this struct of optional function pointers.
        ..unsafe { core::mem::zeroed() }
    };

    /// Static references to the tables: the constants are promoted to static
    /// storage (this would not compile if they could not be), which C only reads.
    fn dir_iops() -> &'static bindings::inode_operations {
        &Self::DIR_IOPS
    }

    /// See [`Tables::dir_iops`].
    fn file_iops() -> &'static bindings::inode_operations {
        &Self::FILE_IOPS
    }

    /// See [`Tables::dir_iops`].
    fn symlink_iops() -> &'static bindings::inode_operations {
        &Self::SYMLINK_IOPS
    }
}

/// A view of an inode of file system `T`.
///
/// # Invariants
///
/// The inode is valid for the lifetime of the reference and belongs to a super
/// block of type `T` (so [`SuperBlock`]'s invariant holds for `i_sb`); its
/// `i_private` is null or a valid `T::INodeData`.
#[repr(transparent)]
pub(crate) struct Inode<T: FileSystem>(Opaque<bindings::inode>, PhantomData<T>);

impl<T: FileSystem> Inode<T> {
    /// # Safety
    ///
    /// `inode` must be a valid inode of a super block of type `T` whose
    /// `i_private` is null or set by [`NewInode::init`], alive for `'a`.
    pub(super) unsafe fn from_raw<'a>(inode: *mut bindings::inode) -> &'a Self {
        // SAFETY: `Inode` is a transparent wrapper; the caller guarantees validity
        // for `'a`.
        unsafe { &*inode.cast::<Self>() }
    }

    /// The C inode.
    pub(super) fn as_ptr(&self) -> *mut bindings::inode {
        self.0.get()
    }

    /// The super block the inode belongs to.
    pub(crate) fn sb(&self) -> &SuperBlock<T> {
        // SAFETY: By the type invariant, `i_sb` is a super block of type `T` with
        // its data set, which outlives its inodes.
        unsafe { SuperBlock::from_raw((*self.0.get()).i_sb) }
    }

    /// The file system's data of the inode, or `EIO` for an inode that failed to
    /// load.
    pub(crate) fn info(&self) -> Result<&T::INodeData> {
        // SAFETY: The inode is valid by the type invariant.
        let p = unsafe { (*self.0.get()).i_private };
        // SAFETY: By the type invariant `i_private` is null or a valid
        // `T::INodeData`, freed only when the inode is evicted (after every
        // reference, and so `self`, is gone).
        unsafe { p.cast::<T::INodeData>().as_ref() }.ok_or(EIO)
    }
}

/// An owned reference to an inode; `iput` on drop.
///
/// # Invariants
///
/// The pointer is a valid inode of file system `T` (as [`Inode`] says) on which
/// we hold one reference.
pub(crate) struct InodeRef<T: FileSystem>(NonNull<bindings::inode>, PhantomData<T>);

impl<T: FileSystem> InodeRef<T> {
    /// Gives up the reference to the caller (C).
    pub(super) fn into_raw(self) -> *mut bindings::inode {
        ManuallyDrop::new(self).0.as_ptr()
    }
}

impl<T: FileSystem> Deref for InodeRef<T> {
    type Target = Inode<T>;

    fn deref(&self) -> &Inode<T> {
        // SAFETY: By the type invariant the inode is valid while we hold the
        // reference, which lives as long as `self`.
        unsafe { Inode::from_raw(self.0.as_ptr()) }
    }
}

impl<T: FileSystem> Drop for InodeRef<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own one reference.
        unsafe { bindings::iput(self.0.as_ptr()) };
    }
}

/// A new, locked (`I_NEW`) inode to be filled in; `iget_failed` on drop.
///
/// # Invariants
///
/// The pointer is a valid `I_NEW` inode of a super block of type `T`, with a
/// null `i_private`, on which we hold one reference.
pub(crate) struct NewInode<T: FileSystem>(NonNull<bindings::inode>, PhantomData<T>);

/// The result of [`iget_locked`].
pub(crate) enum Got<T: FileSystem> {
    /// The inode was in the cache, already filled in.
    Cached(InodeRef<T>),
    /// A new inode that the caller must fill in.
    New(NewInode<T>),
}

/// Looks up inode `ino` in the inode cache of `sb`, or allocates a new one.
pub(crate) fn iget_locked<T: FileSystem>(sb: &SuperBlock<T>, ino: u64) -> Result<Got<T>> {
    let ino = usize::try_from(ino).map_err(|_| EINVAL)?;
    // SAFETY: `sb` is a valid super block by its type invariant.
    let p = unsafe { bindings::iget_locked(sb.as_ptr(), ino) };
    let p = NonNull::new(p).ok_or(ENOMEM)?;
    // SAFETY: `iget_locked` returned a valid inode with a reference we now own.
    let state = unsafe { (*p.as_ptr()).i_state };
    if state & bindings::I_NEW != 0 {
        // INVARIANT: an `I_NEW` inode of `sb` from `iget_locked`, with our reference
        // (a new inode's `i_private` is null).
        Ok(Got::New(NewInode(p, PhantomData)))
    } else {
        // INVARIANT: a cached inode of `sb`, filled in by `NewInode::init`, with
        // our reference.
        Ok(Got::Cached(InodeRef(p, PhantomData)))
    }
}

/// Which operation tables an inode gets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum InodeType {
    /// Regular file.
    Regular,
    /// Directory.
    Directory,
    /// Symbolic link (target read through the page cache).
    Symlink,
    /// Device, FIFO or socket, with the device number `(major, minor)`.
    Special(u32, u32),
}

/// What `stat` shows of an inode.
pub(crate) struct InodeParams {
    /// Kind and operations.
    pub(crate) typ: InodeType,
    /// Mode bits, file type included.
    pub(crate) mode: u16,
    /// Owner.
    pub(crate) uid: u32,
    /// Group.
    pub(crate) gid: u32,
    /// Link count.
    pub(crate) nlink: u32,
    /// Size in bytes.
    pub(crate) size: i64,
    /// Size in 512-byte units.
    pub(crate) blocks: u64,
    /// Time (atime, mtime and ctime alike), seconds.
    pub(crate) time_sec: i64,
    /// Nanoseconds of the time.
    pub(crate) time_nsec: u32,
}

impl<T: FileSystem> NewInode<T> {
    /// Fills in the inode, gives it `info` (moved into an object of the type's
    /// per-inode slab cache), and unlocks it. `ENOMEM` if that object cannot be
    /// allocated: the inode is then marked bad and dropped.
    pub(crate) fn init(self, params: &InodeParams, info: T::INodeData) -> Result<InodeRef<T>> {
        let info = info_into_raw::<T>(info)?;
        let this = ManuallyDrop::new(self);
        let inode = this.0.as_ptr();
        // SAFETY: By the type invariant the inode is `I_NEW`: no one else looks at it
        // until `unlock_new_inode`, so writing its fields is race-free; the
        // operation tables are promoted constants (static storage).
        unsafe {
            let i = &mut *inode;
            i.i_mode = params.mode;
            i.i_uid.val = params.uid;
            i.i_gid.val = params.gid;
            i.i_size = params.size;
            i.i_blocks = params.blocks;
            i.i_atime_sec = params.time_sec;
            i.i_mtime_sec = params.time_sec;
            i.i_ctime_sec = params.time_sec;
            i.i_atime_nsec = params.time_nsec;
            i.i_mtime_nsec = params.time_nsec;
            i.i_ctime_nsec = params.time_nsec;
            i.i_private = info.cast();
            bindings::set_nlink(inode, params.nlink);
            (*i.i_mapping).a_ops = Tables::<T>::aops();
            match params.typ {
                InodeType::Regular => {
                    i.i_op = Tables::<T>::file_iops();
                    i.__bindgen_anon_3.i_fop = ptr::addr_of!(bindings::generic_ro_fops);
                }
                InodeType::Directory => {
                    i.i_op = Tables::<T>::dir_iops();
                    i.__bindgen_anon_3.i_fop = Tables::<T>::dir_fops();
                }
                InodeType::Symlink => {
                    i.i_op = Tables::<T>::symlink_iops();
                    bindings::inode_nohighmem(inode);
                }
                InodeType::Special(major, minor) => {
                    let dev = (major << 20) | minor;
                    i.i_op = Tables::<T>::file_iops();
                    bindings::init_special_inode(inode, params.mode, dev);
                }
            }
            bindings::unlock_new_inode(inode);
        }
        // INVARIANT: the reference `NewInode` held passes to the `InodeRef`; the
        // inode is filled in and its `i_private` a valid `T::INodeData`.
        Ok(InodeRef(this.0, PhantomData))
    }
}

/// Moves `info` into a new object of the per-inode data cache; `ENOMEM` if none
/// can be allocated.
fn info_into_raw<T: FileSystem>(info: T::INodeData) -> Result<*mut T::INodeData> {
    let cache = super::registration::info_cache();
    if cache.is_null() {
        return Err(EINVAL);
    }
    // SAFETY: `cache` is the live cache `Registration::new::<T>` made for objects of
    // `T::INodeData`'s size and alignment (the type is registered: we are filling
    // in one of its inodes).
    let p = unsafe { bindings::kmem_cache_alloc_noprof(cache, bindings::GFP_KERNEL) };
    let p = p.cast::<T::INodeData>();
    if p.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: `p` is a new object of the cache: valid for a write of a
    // `T::INodeData` and aligned for it; nothing else refers to it.
    unsafe { p.write(info) };
    Ok(p)
}

/// Drops and frees per-inode data made by [`info_into_raw`].
///
/// # Safety
///
/// `p` came from `info_into_raw::<T>` and nothing refers to it any more.
unsafe fn info_free<T: FileSystem>(p: *mut T::INodeData) {
    // SAFETY: By the safety requirement `p` is a valid `T::INodeData` we own.
    unsafe { ptr::drop_in_place(p) };
    // SAFETY: `p` is an object of the cache, its value dropped just above; the
    // cache outlives every inode of the type (it is destroyed after the type is
    // unregistered and its mounts are gone).
    unsafe { bindings::kmem_cache_free(super::registration::info_cache(), p.cast()) };
}

impl<T: FileSystem> Drop for NewInode<T> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this is an `I_NEW` inode we hold a reference
        // on; `iget_failed` marks it bad, unlocks it and drops the reference.
        unsafe { bindings::iget_failed(self.0.as_ptr()) };
    }
}

pub(super) unsafe extern "C" fn evict_inode_callback<T: FileSystem>(inode: *mut bindings::inode) {
    // SAFETY: C passes a valid inode of a super block of type `T` being evicted;
    // nothing else uses it any more.
    let info = unsafe {
        bindings::truncate_inode_pages_final(&mut (*inode).i_data);
        bindings::clear_inode(inode);
        core::mem::replace(&mut (*inode).i_private, ptr::null_mut())
    };
    if !info.is_null() {
        // SAFETY: A non-null `i_private` came from `info_into_raw` in
        // `NewInode::init`, and the evicted inode no longer refers to it.
        unsafe { info_free::<T>(info.cast()) };
    }
}

unsafe extern "C" fn lookup_callback<T: FileSystem>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    _flags: c_uint,
) -> *mut bindings::dentry {
    // SAFETY: C passes a valid directory inode of our type, locked for the lookup.
    let dir = unsafe { Inode::<T>::from_raw(dir) };
    let mut len = 0u32;
    // SAFETY: `dentry` is valid; its name is stable while the parent is locked.
    let name = unsafe { c::rerofs_dentry_name(dentry, &mut len) };
    // SAFETY: The name is `len` bytes at `name`, stable while the parent is locked,
    // which lasts the whole callback.
    let name = unsafe { core::slice::from_raw_parts(name, len as usize) };
    let inode = match T::lookup(dir, name) {
        Ok(Some(inode)) => inode.into_raw(),
        Ok(None) => ptr::null_mut(),
        Err(e) => return e.to_ptr(),
    };
    // SAFETY: `d_splice_alias` takes over the inode reference (or a null inode for a
    // negative dentry); `dentry` is valid for the call.
    unsafe { bindings::d_splice_alias(inode, dentry) }
}
