// SPDX-License-Identifier: GPL-2.0

//! The file system type (`struct file_system_type`), its registration, and the
//! callbacks the C fs_context glue (`rerofs_helpers.c`) makes into Rust.

use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::ffi::{c_char, c_int};

use kernel::bindings;
use kernel::error::{from_result, to_result};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::Opaque;

use super::{FileSystem, NewSuperBlock, RawOptions, SuperBlock, Tables};
use crate::helpers as c;

/// The file system type. It lives in static storage because lockdep requires the
/// lock class keys embedded in it to be static; so does the C glue's table of
/// Rust callbacks: a module registers one file system type.
///
/// # Invariants
///
/// Written only by [`Registration::new`] before the type is registered; only read
/// (by C) while it is registered.
struct FsType(Opaque<bindings::file_system_type>);

// SAFETY: `FS_TYPE` is written only by `Registration::new` before it is registered
// (the module is initialised once), and only read afterwards.
unsafe impl Sync for FsType {}

static FS_TYPE: FsType = FsType(Opaque::uninit());

/// The slab cache of the registered type's per-inode data
/// ([`FileSystem::INodeData`]), made by [`Registration::new`] before the type is
/// registered and destroyed after it is unregistered: non-null while any inode
/// of the type can exist.
static INFO_CACHE: AtomicPtr<bindings::kmem_cache> = AtomicPtr::new(ptr::null_mut());

/// The slab cache of the registered type's per-inode data (see [`INFO_CACHE`]).
pub(super) fn info_cache() -> *mut bindings::kmem_cache {
    INFO_CACHE.load(Ordering::Acquire)
}

impl<T: FileSystem> Tables<T> {
    /// The Rust callbacks of the C fs_context glue and xattr handlers.
    const VFS_OPS: c::rerofs_vfs_ops = c::rerofs_vfs_ops {
        fill_super: Some(fill_super_callback::<T>),
        reconfigure: Some(reconfigure_callback::<T>),
        getxattr: Some(super::xattr::getxattr_callback::<T>),
    };

    /// A static reference: the constant is promoted to static storage (this would
    /// not compile if it could not be), which C only reads.
    fn vfs_ops() -> &'static c::rerofs_vfs_ops {
        &Self::VFS_OPS
    }
}

/// The registration of file system type `T`; unregisters it on drop.
///
/// # Invariants
///
/// While a value exists, `FS_TYPE` is registered with `T`'s callbacks.
pub(crate) struct Registration<T: FileSystem>(PhantomData<T>);

impl<T: FileSystem> Registration<T> {
    /// Fills in and registers the file system type `T`.
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let size = u32::try_from(core::mem::size_of::<T::INodeData>()).map_err(|_| EINVAL)?;
        let align = u32::try_from(core::mem::align_of::<T::INodeData>()).map_err(|_| EINVAL)?;
        // SAFETY: The name is a static C string (the cache keeps the pointer).
        let cache =
            unsafe { c::rerofs_info_cache_create(T::INODE_CACHE_NAME.as_char_ptr(), size, align) };
        if cache.is_null() {
            return Err(ENOMEM);
        }
        INFO_CACHE.store(cache, Ordering::Release);
        let t = FS_TYPE.0.get();
        // SAFETY: `t` points to static storage that nothing else accesses until it is
        // registered below; an all-zero `file_system_type` is a valid value.
        unsafe {
            t.write(core::mem::zeroed());
            (*t).name = T::NAME.as_char_ptr().cast();
            (*t).owner = module.as_ptr();
            (*t).init_fs_context = Some(c::rerofs_init_fs_context);
            (*t).kill_sb = Some(kill_sb_callback::<T>);
        }
        // SAFETY: The table is in static storage; C reads it only while the type
        // is registered or a mount of it is alive.
        unsafe { c::rerofs_set_vfs_ops(Tables::<T>::vfs_ops()) };
        // SAFETY: `t` is initialised and static, so it outlives the registration.
        if let Err(e) = to_result(unsafe { bindings::register_filesystem(t) }) {
            destroy_info_cache();
            return Err(e);
        }
        // INVARIANT: the type was registered just above.
        Ok(Self(PhantomData))
    }
}

impl<T: FileSystem> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: The type was registered by `Registration::new` (type invariant).
        unsafe { bindings::unregister_filesystem(FS_TYPE.0.get()) };
        // SAFETY: The type is unregistered and the module is going away, so no
        // mount of it is left to call back into Rust.
        unsafe { c::rerofs_set_vfs_ops(ptr::null()) };
        destroy_info_cache();
    }
}

/// Destroys the per-inode data cache once the type is unregistered (or failed to
/// register): no mount of it is left (a mount holds the module), and a mount's
/// inodes are all evicted, their data freed, before its `kill_sb` returns.
fn destroy_info_cache() {
    let cache = INFO_CACHE.swap(ptr::null_mut(), Ordering::AcqRel);
    if !cache.is_null() {
        // SAFETY: `cache` came from `rerofs_info_cache_create` and, as said above,
        // holds no object and is used by no one any more.
        unsafe { bindings::kmem_cache_destroy(cache) };
    }
}

unsafe extern "C" fn kill_sb_callback<T: FileSystem>(sb: *mut bindings::super_block) {
    // SAFETY: C passes a super block of our type that is being torn down: it is
    // valid, and its `s_fs_info` is null or a valid `T::Data` (set by
    // `NewSuperBlock::init`) that no read can use any more.
    let info = unsafe { (*sb).s_fs_info }.cast::<T::Data>();
    // SAFETY: `info` is null or a valid `T::Data` (as just said), alive until freed
    // at the end of this callback.
    if let Some(data) = unsafe { info.as_ref() } {
        T::before_shutdown(data);
    }
    // SAFETY: C passes a super block of our type that is being torn down.
    unsafe { bindings::kill_anon_super(sb) };
    if !info.is_null() {
        // SAFETY: `info` is the pointer `NewSuperBlock::init` made with
        // `KBox::into_raw`; the super block is shut down, so no inode or callback
        // can use it any more and we own the box.
        drop(unsafe { KBox::from_raw(info) });
    }
}

unsafe extern "C" fn fill_super_callback<T: FileSystem>(
    sb: *mut bindings::super_block,
    source: *const c_char,
    opts: *mut c::rerofs_mount_opts,
    silent: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: The C caller checked `source` is non-null; it is the NUL-terminated
        // source string of the fs_context, alive for the whole call.
        let source = unsafe { CStr::from_char_ptr(source) };
        // SAFETY: `sb` is a new super block of our type that `fill_super` owns
        // until it returns.
        let new = unsafe { NewSuperBlock::<T>::from_raw(sb)? };
        // SAFETY: `opts` is the fs_context's option block, alive for the call.
        let opts = unsafe { RawOptions::from_raw(opts)? };
        T::fill_super(new, source, &opts, silent != 0)?;
        Ok(0)
    })
}

unsafe extern "C" fn reconfigure_callback<T: FileSystem>(
    sb: *mut bindings::super_block,
    opts: *mut c::rerofs_mount_opts,
) -> c_int {
    from_result(|| {
        let sb = NonNull::new(sb).ok_or(EINVAL)?;
        // SAFETY: C passes the mounted super block being reconfigured (it has a
        // root, so `fill_super` succeeded and `s_fs_info` is a valid `T::Data`),
        // alive for the call.
        let sb = unsafe { SuperBlock::<T>::from_raw(sb.as_ptr()) };
        // SAFETY: `opts` is the fs_context's option block, alive for the call.
        let opts = unsafe { RawOptions::from_raw(opts)? };
        T::reconfigure(sb, &opts)?;
        Ok(0)
    })
}
