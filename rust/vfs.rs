// SPDX-License-Identifier: GPL-2.0

//! The thin layer over `kernel::bindings` that holds all of rerofs's `unsafe` code.
//!
//! Linux 6.12 has no Rust VFS abstractions, so this file gives the rest of the module
//! small safe types in the shape of Wedson Almeida Filho's VFS RFC: a registration,
//! superblock and inode views, owned inode references, a directory emitter, a locked
//! folio and the backing image file. The C callbacks (operation tables) live here too
//! and turn raw pointers into those types before calling the safe logic in `sb.rs`,
//! `inode.rs`, `dir.rs`, `namei.rs` and `data.rs`.

use core::ffi::{c_char, c_int, c_uint, c_void};
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::Deref;
use core::ptr::{self, NonNull};

use kernel::bindings;
use kernel::error::{from_err_ptr, from_result, to_result};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::types::Opaque;

use crate::inode::InodeInfo;
use crate::sb::SbInfo;

/// Page size; rerofs requires it to equal the file system block size.
pub(crate) const PAGE_SIZE: usize = 4096;
const _: () = assert!(PAGE_SIZE == bindings::PAGE_SIZE as usize);
const _: () = assert!(PAGE_SIZE == crate::format::BLOCK_SIZE);

/// `EFSCORRUPTED`, the errno for a damaged image (`EUCLEAN`, as in ext4 and EROFS).
pub(crate) fn efscorrupted() -> Error {
    Error::from_errno(-(bindings::EUCLEAN as c_int))
}

/// Logs a "corrupted" message for `what` at byte `pos` of `image`, unless `limit`
/// says too many were printed lately, and returns `EFSCORRUPTED`.
pub(crate) fn efscorrupted_report(
    image: &kernel::str::BStr,
    limit: &RateLimit,
    what: &str,
    pos: u64,
) -> Error {
    if limit.allow() {
        pr_err!(
            "({}): {} at byte {} lies beyond the image\n",
            image,
            what,
            pos
        );
    }
    efscorrupted()
}

/// True when `e` is `ELOOP` (not among `kernel::error::code` in 6.12): a symlink
/// met where `O_NOFOLLOW` forbids one.
pub(crate) fn is_eloop(e: &Error) -> bool {
    e.to_errno() == -(bindings::ELOOP as c_int)
}

/// `EOPNOTSUPP` (not among `kernel::error::code` in 6.12).
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-(bindings::EOPNOTSUPP as c_int))
}

/// `ENODATA` (not among `kernel::error::code` in 6.12).
pub(crate) fn enodata() -> Error {
    Error::from_errno(-(bindings::ENODATA as c_int))
}

/// `EBADMSG` (not among `kernel::error::code` in 6.12): a digest does not match.
pub(crate) fn ebadmsg() -> Error {
    Error::from_errno(-(bindings::EBADMSG as c_int))
}

/// `ENAMETOOLONG` (not among `kernel::error::code` in 6.12).
pub(crate) fn enametoolong() -> Error {
    Error::from_errno(-(bindings::ENAMETOOLONG as c_int))
}

mod c {
    use core::ffi::{c_int, c_void};
    use kernel::bindings;

    // The bindings' `struct module` ends in a zero-sized `mod_arch_specific`, which the
    // lint flags even behind pointers; the helpers only pass pointers through.
    #[expect(improper_ctypes)]
    extern "C" {
        pub(super) fn rerofs_init_fs_context(fc: *mut bindings::fs_context) -> c_int;
        pub(super) fn rerofs_file_size(file: *mut bindings::file) -> bindings::loff_t;
        pub(super) fn rerofs_file_mode(file: *mut bindings::file) -> bindings::umode_t;
        pub(super) fn rerofs_file_stack_depth(file: *mut bindings::file) -> c_int;
        pub(super) fn rerofs_cache_new(sb: *mut bindings::super_block) -> *mut bindings::inode;
        pub(super) fn rerofs_cache_put(inode: *mut bindings::inode);
        pub(super) fn rerofs_cache_read(
            inode: *mut bindings::inode,
            index: core::ffi::c_ulong,
            off: usize,
            buf: *mut c_void,
            len: usize,
        ) -> c_int;
        pub(super) fn rerofs_cache_insert(
            inode: *mut bindings::inode,
            index: core::ffi::c_ulong,
            data: *const c_void,
        ) -> c_int;
        pub(super) fn rerofs_opts_verity_set(opts: *const c_void) -> bool;
        pub(super) fn rerofs_dentry_name(
            dentry: *const bindings::dentry,
            len: *mut u32,
        ) -> *const u8;
        pub(super) fn rerofs_folio_pos(folio: *mut c_void) -> bindings::loff_t;
        pub(super) fn rerofs_folio_size(folio: *mut c_void) -> usize;
        pub(super) fn rerofs_folio_inode(folio: *mut c_void) -> *mut bindings::inode;
        pub(super) fn rerofs_kmap_local_folio(folio: *mut c_void, offset: usize) -> *mut c_void;
        pub(super) fn rerofs_kunmap_local(addr: *const c_void);
        pub(super) fn rerofs_folio_end_read(folio: *mut c_void, success: bool);
        pub(super) fn rerofs_ratelimit_new() -> *mut c_void;
        pub(super) fn rerofs_ratelimit_free(rs: *mut c_void);
        pub(super) fn rerofs_ratelimit(rs: *mut c_void) -> bool;
        pub(super) fn rerofs_sb_set_xattr(sb: *mut bindings::super_block);
        pub(super) fn rerofs_may_list_trusted() -> bool;
        pub(super) fn rerofs_get_inode_acl(
            inode: *mut bindings::inode,
            typ: c_int,
            rcu: bool,
        ) -> *mut bindings::posix_acl;
        pub(super) fn rerofs_readahead_folio(rac: *mut bindings::readahead_control) -> *mut c_void;
        pub(super) fn rerofs_readahead_inode(
            rac: *mut bindings::readahead_control,
        ) -> *mut bindings::inode;
        pub(super) fn rerofs_opts_ndevices(opts: *const c_void) -> core::ffi::c_uint;
        pub(super) fn rerofs_opts_blobdir(opts: *const c_void) -> *const core::ffi::c_char;
        pub(super) fn rerofs_opts_digest(opts: *const c_void) -> *const core::ffi::c_char;
        pub(super) fn rerofs_opts_verity(opts: *const c_void) -> c_int;
        pub(super) fn rerofs_crypto_init() -> c_int;
        pub(super) fn rerofs_crypto_exit();
        pub(super) fn rerofs_sha256(data: *const c_void, len: usize, out: *mut u8) -> c_int;
        pub(super) fn rerofs_verify_pkcs7(
            msg: *const c_void,
            msg_len: usize,
            sig: *const c_void,
            sig_len: usize,
        ) -> c_int;
        pub(super) fn rerofs_keyring_init() -> c_int;
        pub(super) fn rerofs_keyring_exit();
        pub(super) fn rerofs_require_verity() -> bool;
        pub(super) fn rerofs_opts_device(
            opts: *const c_void,
            i: core::ffi::c_uint,
        ) -> *const core::ffi::c_char;
        pub(super) fn rerofs_seq_show_option(
            m: *mut bindings::seq_file,
            name: *const core::ffi::c_char,
            value: *const core::ffi::c_char,
        );
        pub(super) fn rerofs_sb_set_readonly(sb: *mut bindings::super_block);
        pub(super) fn rerofs_fill_statfs(
            buf: *mut bindings::kstatfs,
            magic: u32,
            blocks: u64,
            files: u64,
            fsid0: u32,
            fsid1: u32,
        );
    }
}

/// The rate limit of one mount's data-path messages (`struct ratelimit_state`).
///
/// # Invariants
///
/// The pointer came from `rerofs_ratelimit_new` and is freed only by `Drop`.
pub(crate) struct RateLimit(NonNull<c_void>);

// SAFETY: `__ratelimit` takes the state's own spinlock: it may be used and freed
// from any thread.
unsafe impl Send for RateLimit {}
// SAFETY: See above.
unsafe impl Sync for RateLimit {}

impl RateLimit {
    /// A new limit (the kernel's default interval and burst).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: No precondition; the helper allocates and initialises the state.
        let p = from_err_ptr(unsafe { c::rerofs_ratelimit_new() })?;
        // INVARIANT: a state from `rerofs_ratelimit_new`, ours to free.
        Ok(Self(NonNull::new(p).ok_or(ENOMEM)?))
    }

    /// True if a rate-limited message may be printed now (`__ratelimit`).
    pub(crate) fn allow(&self) -> bool {
        // SAFETY: The state is valid by the type invariant.
        unsafe { c::rerofs_ratelimit(self.0.as_ptr()) }
    }
}

impl Drop for RateLimit {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own the state and nothing uses it now.
        unsafe { c::rerofs_ratelimit_free(self.0.as_ptr()) };
    }
}

/// A C operations table in static storage, shared with C code that only reads it.
#[repr(transparent)]
struct Table<T>(T);

// SAFETY: The tables are never written after initialisation; C only reads them.
unsafe impl<T> Sync for Table<T> {}

// ---------------------------------------------------------------------------------
// Registration.

/// The file system type. It lives in static storage because lockdep requires the
/// lock class keys embedded in it to be static.
struct FsType(Opaque<bindings::file_system_type>);

// SAFETY: `FS_TYPE` is written only by `Registration::new` before it is registered
// (the module is initialised once), and only read afterwards.
unsafe impl Sync for FsType {}

static FS_TYPE: FsType = FsType(Opaque::uninit());

/// The registration of the `rerofs` file system type; unregisters it on drop.
pub(crate) struct Registration(());

impl Registration {
    /// Fills in and registers the `rerofs` file system type.
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let t = FS_TYPE.0.get();
        // SAFETY: `t` points to static storage that nothing else accesses until it is
        // registered below; an all-zero `file_system_type` is a valid value.
        unsafe {
            t.write(core::mem::zeroed());
            (*t).name = c"rerofs".as_ptr().cast();
            (*t).owner = module.as_ptr();
            (*t).init_fs_context = Some(c::rerofs_init_fs_context);
            (*t).kill_sb = Some(kill_sb_callback);
        }
        // SAFETY: `t` is initialised and static, so it outlives the registration.
        to_result(unsafe { bindings::register_filesystem(t) })?;
        Ok(Self(()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: The type was registered by `Registration::new`.
        unsafe { bindings::unregister_filesystem(FS_TYPE.0.get()) };
    }
}

unsafe extern "C" fn kill_sb_callback(sb: *mut bindings::super_block) {
    // SAFETY: C passes a superblock of our type that is being torn down; its
    // `s_fs_info` is null or a valid `SbInfo` (see `NewSuperBlock::init`), and no
    // read can be in flight any more.
    let info = unsafe { (*sb).s_fs_info };
    if !info.is_null() {
        // SAFETY: See above.
        crate::sb::before_shutdown(unsafe { &*info.cast::<SbInfo>() });
    }
    // SAFETY: C passes a superblock of our type that is being torn down.
    unsafe { bindings::kill_anon_super(sb) };
    // SAFETY: `sb` is still valid memory until this callback returns; `s_fs_info` is
    // either null or the pointer `InitSuperBlock::new` made with `KBox::into_raw`, and
    // no inode or callback can use it any more.
    let info = unsafe { (*sb).s_fs_info };
    if !info.is_null() {
        // SAFETY: See above: we own the box and nothing else refers to it.
        drop(unsafe { KBox::from_raw(info.cast::<SbInfo>()) });
    }
}

#[no_mangle]
unsafe extern "C" fn rerofs_reconfigure(
    sb: *mut bindings::super_block,
    opts: *const c_void,
) -> c_int {
    from_result(|| {
        // SAFETY: C passes the mounted superblock being reconfigured (it has a root,
        // so `fill_super` succeeded and `s_fs_info` is a valid `SbInfo`), alive for
        // the call.
        let sb = unsafe { SuperBlock::from_raw(sb) };
        // INVARIANT: `opts` is the fs_context's option block, alive for the call.
        let opts = MountOptions(NonNull::new(opts.cast_mut()).ok_or(EINVAL)?, PhantomData);
        crate::sb::reconfigure(sb, &opts)?;
        Ok(0)
    })
}

#[no_mangle]
unsafe extern "C" fn rerofs_fill_super(
    sb: *mut bindings::super_block,
    source: *const c_char,
    opts: *const c_void,
    silent: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: The C caller checked `source` is non-null; it is the NUL-terminated
        // source string of the fs_context, alive for the whole call.
        let source = unsafe { CStr::from_char_ptr(source.cast()) };
        // INVARIANT: `sb` is a new superblock that fill_super owns until it returns.
        let new = NewSuperBlock(NonNull::new(sb).ok_or(EINVAL)?);
        // INVARIANT: `opts` is the fs_context's option block, alive for the call.
        let opts = MountOptions(NonNull::new(opts.cast_mut()).ok_or(EINVAL)?, PhantomData);
        crate::sb::fill_super(new, source, &opts, silent != 0)?;
        Ok(0)
    })
}

/// The mount options collected by the C `parse_param` (`struct rerofs_mount_opts`).
///
/// # Invariants
///
/// The pointer is the fs_context's option block, valid for `'a`.
pub(crate) struct MountOptions<'a>(NonNull<c_void>, PhantomData<&'a ()>);

impl<'a> MountOptions<'a> {
    /// Number of `device=` options.
    pub(crate) fn device_count(&self) -> usize {
        // SAFETY: The option block is valid by the type invariant.
        unsafe { c::rerofs_opts_ndevices(self.0.as_ptr()) as usize }
    }

    /// The `blobdir=` directory, if given.
    pub(crate) fn blobdir(&self) -> Option<&'a CStr> {
        // SAFETY: The option block is valid by the type invariant.
        let p = unsafe { c::rerofs_opts_blobdir(self.0.as_ptr()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: The string is NUL terminated and owned by the option block (`'a`).
        Some(unsafe { CStr::from_char_ptr(p.cast()) })
    }

    /// The `digest=` value, if given.
    pub(crate) fn digest(&self) -> Option<&'a CStr> {
        // SAFETY: The option block is valid by the type invariant.
        let p = unsafe { c::rerofs_opts_digest(self.0.as_ptr()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: The string is NUL terminated and owned by the option block (`'a`).
        Some(unsafe { CStr::from_char_ptr(p.cast()) })
    }

    /// The `verity=` mode (`on` when not given).
    pub(crate) fn verity(&self) -> VerityMode {
        // SAFETY: The option block is valid by the type invariant.
        match unsafe { c::rerofs_opts_verity(self.0.as_ptr()) } {
            1 => VerityMode::Off,
            2 => VerityMode::Require,
            _ => VerityMode::On,
        }
    }

    /// True when `verity=` was given (a remount must then not change it).
    pub(crate) fn verity_given(&self) -> bool {
        // SAFETY: The option block is valid by the type invariant.
        unsafe { c::rerofs_opts_verity_set(self.0.as_ptr()) }
    }

    /// The `i`-th `device=` path.
    pub(crate) fn device(&self, i: usize) -> Option<&'a CStr> {
        let i = core::ffi::c_uint::try_from(i).ok()?;
        // SAFETY: The option block is valid by the type invariant.
        let p = unsafe { c::rerofs_opts_device(self.0.as_ptr(), i) };
        if p.is_null() {
            return None;
        }
        // SAFETY: The string is NUL terminated and owned by the option block (`'a`).
        Some(unsafe { CStr::from_char_ptr(p.cast()) })
    }
}

/// The `verity=` mount option (`RERO_VERITY_*` in `rerofs_helpers.h`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum VerityMode {
    /// Verify when the image has trees (the default).
    On,
    /// Never verify.
    Off,
    /// Refuse images without trees or without established trust.
    Require,
}

// ---------------------------------------------------------------------------------
// Crypto: SHA-256 and PKCS#7 signatures through the kernel's crypto and keys code.

/// The module's SHA-256 transform and its `.rerofs` keyring; freed on drop
/// (module exit).
pub(crate) struct Crypto(());

impl Crypto {
    /// Allocates the module's `sha256` transform and creates the `.rerofs`
    /// keyring (restricted as the `keyring_restrict` module parameter says).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Called once from module init; the helper sets its static pointer.
        to_result(unsafe { c::rerofs_crypto_init() })?;
        // SAFETY: Called once from module init; the helper sets its static pointer.
        if let Err(e) = to_result(unsafe { c::rerofs_keyring_init() }) {
            // SAFETY: Module init failed: nothing can use the transform any more.
            unsafe { c::rerofs_crypto_exit() };
            return Err(e);
        }
        Ok(Self(()))
    }
}

impl Drop for Crypto {
    fn drop(&mut self) {
        // SAFETY: Module exit: no mount (and so no hashing or signature check) is
        // left.
        unsafe {
            c::rerofs_keyring_exit();
            c::rerofs_crypto_exit();
        }
    }
}

/// SHA-256 of `data` through the crypto API.
pub(crate) fn sha256(data: &[u8]) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    // SAFETY: `data` is readable for its length and `out` writable for 32 bytes,
    // the SHA-256 digest size the helper writes.
    to_result(unsafe { c::rerofs_sha256(data.as_ptr().cast(), data.len(), out.as_mut_ptr()) })?;
    Ok(out)
}

/// Checks the PKCS#7 detached signature `sig` of `msg` against the certificates
/// of the `.rerofs` keyring (`verify_pkcs7_signature`); never against the system
/// trusted keyrings. See [`pkcs7_error_reason`] for what its errors mean.
pub(crate) fn verify_pkcs7(msg: &[u8], sig: &[u8]) -> Result {
    // SAFETY: Both buffers are readable for their lengths for the whole call.
    to_result(unsafe {
        c::rerofs_verify_pkcs7(
            msg.as_ptr().cast(),
            msg.len(),
            sig.as_ptr().cast(),
            sig.len(),
        )
    })
}

/// What an error of [`verify_pkcs7`] means, for messages (errnos print as numbers
/// in kernels without `CONFIG_SYMBOLIC_ERRNAME`).
pub(crate) fn pkcs7_error_reason(e: Error) -> &'static str {
    match u32::try_from(-e.to_errno()).unwrap_or(0) {
        bindings::ENOKEY => "its signer's certificate is not in the .rerofs keyring (ENOKEY)",
        bindings::EKEYREJECTED => {
            "the signature does not match the image (EKEYREJECTED): not a rerofs image signature of this image"
        }
        bindings::EBADMSG => "the signature is malformed (EBADMSG)",
        bindings::ENOPKG | bindings::ELIBBAD => {
            "the signature uses an algorithm the kernel does not support (ENOPKG)"
        }
        _ => "the signature check failed",
    }
}

/// The `require_verity` module parameter: every mount behaves as `verity=require`.
pub(crate) fn require_verity() -> bool {
    // SAFETY: The helper only reads a module parameter (a `bool`).
    unsafe { c::rerofs_require_verity() }
}

// ---------------------------------------------------------------------------------
// The cache of verified blocks (hash blocks, metadata blocks read in part).

/// The verified-block cache of one mount: the page cache of a private anonymous
/// inode (see `rerofs_cache_new` in `rerofs_helpers.c`). Blocks are keyed by a
/// 64-bit index of the caller's choosing; reclaim may drop any block at any time.
///
/// # Invariants
///
/// The pointer is null (released) or an inode of our superblock from
/// `rerofs_cache_new` on which we hold the one reference.
pub(crate) struct BlockCache(core::sync::atomic::AtomicPtr<bindings::inode>);

impl BlockCache {
    /// A new, empty cache for the superblock being set up.
    pub(crate) fn new(sb: &NewSuperBlock) -> Result<Self> {
        // SAFETY: `sb` is a valid superblock being set up (type invariant of
        // `NewSuperBlock`); `new_inode` may be called on it.
        let inode = from_err_ptr(unsafe { c::rerofs_cache_new(sb.0.as_ptr()) })?;
        // INVARIANT: `rerofs_cache_new` returned an inode with one reference, ours.
        Ok(Self(core::sync::atomic::AtomicPtr::new(inode)))
    }

    /// Copies `buf.len()` bytes at `off` of block `index` into `buf`; false when
    /// the block is not cached (never was, was reclaimed, or the cache is released).
    pub(crate) fn read(&self, index: u64, off: usize, buf: &mut [u8]) -> bool {
        let inode = self.0.load(core::sync::atomic::Ordering::Acquire);
        if inode.is_null() || off > PAGE_SIZE || buf.len() > PAGE_SIZE - off {
            return false;
        }
        let Some(index) = core::ffi::c_ulong::try_from(index).ok() else {
            return false;
        };
        // SAFETY: `inode` is our cache inode (type invariant; it is only released by
        // `release`, which runs when no read can be in flight); `buf` is writable for
        // `buf.len()` bytes and `off + buf.len() <= PAGE_SIZE` was checked.
        unsafe { c::rerofs_cache_read(inode, index, off, buf.as_mut_ptr().cast(), buf.len()) == 0 }
    }

    /// Caches a copy of `block` (verified by the caller) as block `index`.
    pub(crate) fn insert(&self, index: u64, block: &[u8; PAGE_SIZE]) -> Result {
        let inode = self.0.load(core::sync::atomic::Ordering::Acquire);
        if inode.is_null() {
            return Ok(());
        }
        let index = core::ffi::c_ulong::try_from(index).map_err(|_| EINVAL)?;
        // SAFETY: As in `read`; `block` is `PAGE_SIZE` readable bytes.
        to_result(unsafe { c::rerofs_cache_insert(inode, index, block.as_ptr().cast()) })
    }

    /// Drops every cached block and the inode. Called before the superblock is
    /// shut down (an inode still held then would be a busy inode at umount).
    pub(crate) fn release(&self) {
        let inode = self
            .0
            .swap(ptr::null_mut(), core::sync::atomic::Ordering::AcqRel);
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

/// A `seq_file` being filled by `show_options`.
pub(crate) struct SeqFile(NonNull<bindings::seq_file>);

impl SeqFile {
    /// Appends `,name=value` with the value escaped (`seq_show_option`).
    pub(crate) fn show_option(&mut self, name: &CStr, value: &CStr) {
        // SAFETY: The seq_file is valid for the callback; both strings are NUL terminated.
        unsafe {
            c::rerofs_seq_show_option(
                self.0.as_ptr(),
                name.as_char_ptr().cast(),
                value.as_char_ptr().cast(),
            )
        };
    }
}

// ---------------------------------------------------------------------------------
// Superblocks.

/// A superblock being set up by `fill_super`.
///
/// # Invariants
///
/// The pointer is a valid superblock of our type, not yet visible to anyone else.
pub(crate) struct NewSuperBlock(NonNull<bindings::super_block>);

/// Parameters of a superblock.
pub(crate) struct SuperParams {
    /// `s_magic`, also statfs's `f_type`.
    pub(crate) magic: u32,
    /// `s_stack_depth`: one more than the deepest file system the image or a blob
    /// is read from (at most [`MAX_STACK_DEPTH`]).
    pub(crate) stack_depth: i32,
}

/// `FILESYSTEM_MAX_STACK_DEPTH`: how many file systems may be stacked on each other
/// (each read recurses once per layer through `kernel_read`).
pub(crate) const MAX_STACK_DEPTH: i32 = bindings::FILESYSTEM_MAX_STACK_DEPTH as i32;

impl NewSuperBlock {
    /// Makes the superblock read-only, 4 KiB-blocked, and hands it `info`, which it
    /// owns from now on (freed by `kill_sb`).
    pub(crate) fn init(self, params: &SuperParams, info: KBox<SbInfo>) -> InitSuperBlock {
        let sb = self.0.as_ptr();
        // SAFETY: By the type invariant `sb` is valid and exclusively ours.
        unsafe {
            c::rerofs_sb_set_readonly(sb);
            c::rerofs_sb_set_xattr(sb);
            (*sb).s_magic = params.magic as _;
            (*sb).s_stack_depth = params.stack_depth;
            (*sb).s_blocksize = PAGE_SIZE as _;
            (*sb).s_blocksize_bits = crate::format::BLOCK_BITS;
            (*sb).s_op = &SUPER_OPS.0;
            // INVARIANT: from here on `s_fs_info` is a valid `SbInfo` (see `SuperBlock`).
            (*sb).s_fs_info = KBox::into_raw(info).cast();
        }
        InitSuperBlock(self.0)
    }
}

/// A superblock with its private data installed, waiting for its root.
pub(crate) struct InitSuperBlock(NonNull<bindings::super_block>);

impl InitSuperBlock {
    /// The superblock view.
    pub(crate) fn sb(&self) -> &SuperBlock {
        // SAFETY: `s_fs_info` was set by `NewSuperBlock::init`.
        unsafe { SuperBlock::from_raw(self.0.as_ptr()) }
    }

    /// Makes `root` the root directory.
    pub(crate) fn set_root(self, root: InodeRef) -> Result {
        // SAFETY: `d_make_root` takes over the inode reference (and drops it on failure).
        let dentry = unsafe { bindings::d_make_root(root.into_raw()) };
        if dentry.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: The superblock is still exclusively ours (fill_super runs).
        unsafe { (*self.0.as_ptr()).s_root = dentry };
        Ok(())
    }
}

/// A view of a rerofs superblock.
///
/// # Invariants
///
/// The superblock is valid for the lifetime of the reference and its `s_fs_info` is
/// a valid [`SbInfo`].
#[repr(transparent)]
pub(crate) struct SuperBlock(Opaque<bindings::super_block>);

impl SuperBlock {
    /// # Safety
    ///
    /// `sb` must be a valid rerofs superblock whose `s_fs_info` is set, alive for `'a`.
    unsafe fn from_raw<'a>(sb: *mut bindings::super_block) -> &'a Self {
        // SAFETY: `SuperBlock` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*sb.cast::<Self>() }
    }

    /// The file system's private data.
    pub(crate) fn info(&self) -> &SbInfo {
        // SAFETY: By the type invariant `s_fs_info` points to a valid `SbInfo` that
        // lives as long as the superblock.
        unsafe { &*(*self.0.get()).s_fs_info.cast::<SbInfo>() }
    }
}

// ---------------------------------------------------------------------------------
// Inodes.

/// A view of a rerofs inode.
///
/// # Invariants
///
/// The inode is valid for the lifetime of the reference and belongs to a rerofs
/// superblock (so [`SuperBlock`]'s invariant holds for `i_sb`).
#[repr(transparent)]
pub(crate) struct Inode(Opaque<bindings::inode>);

impl Inode {
    /// # Safety
    ///
    /// `inode` must be a valid rerofs inode, alive for `'a`.
    unsafe fn from_raw<'a>(inode: *mut bindings::inode) -> &'a Self {
        // SAFETY: `Inode` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*inode.cast::<Self>() }
    }

    /// The superblock the inode belongs to.
    pub(crate) fn sb(&self) -> &SuperBlock {
        // SAFETY: By the type invariant, `i_sb` is a rerofs superblock outliving us.
        unsafe { SuperBlock::from_raw((*self.0.get()).i_sb) }
    }

    /// The rerofs data of the inode, or `EIO` for an inode that failed to load.
    pub(crate) fn info(&self) -> Result<&InodeInfo> {
        // SAFETY: `i_private` is null or was set by `NewInode::init` from a box that is
        // freed only when the inode is evicted.
        let p = unsafe { (*self.0.get()).i_private };
        // SAFETY: See above.
        unsafe { p.cast::<InodeInfo>().as_ref() }.ok_or(EIO)
    }
}

/// An owned reference to an inode; `iput` on drop.
///
/// # Invariants
///
/// The pointer is a valid rerofs inode on which we hold one reference.
pub(crate) struct InodeRef(NonNull<bindings::inode>);

impl InodeRef {
    /// Gives up the reference to the caller (C).
    fn into_raw(self) -> *mut bindings::inode {
        ManuallyDrop::new(self).0.as_ptr()
    }
}

impl Deref for InodeRef {
    type Target = Inode;

    fn deref(&self) -> &Inode {
        // SAFETY: By the type invariant the inode is valid while we hold the reference.
        unsafe { Inode::from_raw(self.0.as_ptr()) }
    }
}

impl Drop for InodeRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own one reference.
        unsafe { bindings::iput(self.0.as_ptr()) };
    }
}

/// A new, locked (`I_NEW`) inode to be filled in; `iget_failed` on drop.
///
/// # Invariants
///
/// The pointer is a valid `I_NEW` rerofs inode on which we hold one reference.
pub(crate) struct NewInode(NonNull<bindings::inode>);

/// The result of [`iget_locked`].
pub(crate) enum Got {
    /// The inode was in the cache, already filled in.
    Cached(InodeRef),
    /// A new inode that the caller must fill in.
    New(NewInode),
}

/// Looks up inode `ino` in the inode cache of `sb`, or allocates a new one.
pub(crate) fn iget_locked(sb: &SuperBlock, ino: u64) -> Result<Got> {
    let ino = usize::try_from(ino).map_err(|_| EINVAL)?;
    // SAFETY: `sb` is a valid superblock by its type invariant.
    let p = unsafe { bindings::iget_locked(sb.0.get(), ino) };
    let p = NonNull::new(p).ok_or(ENOMEM)?;
    // SAFETY: `iget_locked` returned a valid inode with a reference we now own.
    let state = unsafe { (*p.as_ptr()).i_state };
    if state & bindings::I_NEW != 0 {
        // INVARIANT: an `I_NEW` inode from `iget_locked`, with our reference.
        Ok(Got::New(NewInode(p)))
    } else {
        // INVARIANT: a cached, initialised inode, with our reference.
        Ok(Got::Cached(InodeRef(p)))
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

impl NewInode {
    /// Fills in the inode, gives it `info`, and unlocks it.
    pub(crate) fn init(self, params: &InodeParams, info: KBox<InodeInfo>) -> InodeRef {
        let this = ManuallyDrop::new(self);
        let inode = this.0.as_ptr();
        // SAFETY: By the type invariant the inode is `I_NEW`: no one else looks at it
        // until `unlock_new_inode`, so writing its fields is race-free.
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
            i.i_private = KBox::into_raw(info).cast();
            bindings::set_nlink(inode, params.nlink);
            (*i.i_mapping).a_ops = &AOPS.0;
            match params.typ {
                InodeType::Regular => {
                    i.i_op = &FILE_IOPS.0;
                    i.__bindgen_anon_3.i_fop = ptr::addr_of!(bindings::generic_ro_fops);
                }
                InodeType::Directory => {
                    i.i_op = &DIR_IOPS.0;
                    i.__bindgen_anon_3.i_fop = &DIR_FOPS.0;
                }
                InodeType::Symlink => {
                    i.i_op = &SYMLINK_IOPS.0;
                    bindings::inode_nohighmem(inode);
                }
                InodeType::Special(major, minor) => {
                    let dev = (major << 20) | minor;
                    i.i_op = &FILE_IOPS.0;
                    bindings::init_special_inode(inode, params.mode, dev);
                }
            }
            bindings::unlock_new_inode(inode);
        }
        // INVARIANT: the reference `NewInode` held passes to the `InodeRef`.
        InodeRef(this.0)
    }
}

impl Drop for NewInode {
    fn drop(&mut self) {
        // SAFETY: By the type invariant this is an `I_NEW` inode we hold a reference
        // on; `iget_failed` marks it bad, unlocks it and drops the reference.
        unsafe { bindings::iget_failed(self.0.as_ptr()) };
    }
}

// ---------------------------------------------------------------------------------
// The backing image.

/// The image file (regular file or block device) a superblock reads from.
///
/// # Invariants
///
/// The pointer is a file we opened and hold a reference on.
pub(crate) struct BackingFile(NonNull<bindings::file>);

// SAFETY: A `struct file` reference may be used and released from any thread.
unsafe impl Send for BackingFile {}
// SAFETY: `kernel_read` with a caller-owned position may run concurrently.
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
        // SAFETY: `path` is NUL terminated.
        let f = from_err_ptr(unsafe { bindings::filp_open(path.as_char_ptr().cast(), flags, 0) })?;
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

impl Drop for BackingFile {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own a reference to the file.
        unsafe { bindings::fput(self.0.as_ptr()) };
    }
}

// ---------------------------------------------------------------------------------
// Directories.

/// The `dir_context` of a `readdir` call.
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
        // SAFETY: `actor` is the VFS callback of this context (what `dir_emit` calls);
        // `name` is valid for `len` bytes for the duration of the call.
        unsafe { actor(self.0, name.as_ptr().cast(), len, pos, ino, dtype) }
    }
}

// ---------------------------------------------------------------------------------
// Folios.

/// A locked page-cache folio passed to `read_folio`; ends the read (as a failure,
/// unless [`LockedFolio::end_read`] said otherwise) and unlocks it on drop.
///
/// # Invariants
///
/// The pointer is a valid, locked folio whose lock we own.
pub(crate) struct LockedFolio(NonNull<c_void>);

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

// ---------------------------------------------------------------------------------
// Operation tables and their callbacks.

static SUPER_OPS: Table<bindings::super_operations> = Table(bindings::super_operations {
    statfs: Some(statfs_callback),
    show_options: Some(show_options_callback),
    evict_inode: Some(evict_inode_callback),
    // SAFETY: All-zero is valid for this struct of optional function pointers.
    ..unsafe { core::mem::zeroed() }
});

static DIR_IOPS: Table<bindings::inode_operations> = Table(bindings::inode_operations {
    lookup: Some(lookup_callback),
    listxattr: Some(listxattr_callback),
    get_inode_acl: Some(c::rerofs_get_inode_acl),
    // SAFETY: All-zero is valid for this struct of optional function pointers.
    ..unsafe { core::mem::zeroed() }
});

/// Regular files and special files.
static FILE_IOPS: Table<bindings::inode_operations> = Table(bindings::inode_operations {
    listxattr: Some(listxattr_callback),
    get_inode_acl: Some(c::rerofs_get_inode_acl),
    // SAFETY: All-zero is valid for this struct of optional function pointers.
    ..unsafe { core::mem::zeroed() }
});

/// Symlinks: the target is read through the page cache.
static SYMLINK_IOPS: Table<bindings::inode_operations> = Table(bindings::inode_operations {
    get_link: Some(bindings::page_get_link),
    listxattr: Some(listxattr_callback),
    get_inode_acl: Some(c::rerofs_get_inode_acl),
    // SAFETY: All-zero is valid for this struct of optional function pointers.
    ..unsafe { core::mem::zeroed() }
});

static DIR_FOPS: Table<bindings::file_operations> = Table(bindings::file_operations {
    llseek: Some(bindings::generic_file_llseek),
    read: Some(bindings::generic_read_dir),
    iterate_shared: Some(iterate_shared_callback),
    // SAFETY: All-zero is valid for this struct of optional function pointers.
    ..unsafe { core::mem::zeroed() }
});

static AOPS: Table<bindings::address_space_operations> =
    Table(bindings::address_space_operations {
        read_folio: Some(read_folio_callback),
        readahead: Some(readahead_callback),
        // SAFETY: All-zero is valid for this struct of optional function pointers.
        ..unsafe { core::mem::zeroed() }
    });

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

unsafe extern "C" fn statfs_callback(
    dentry: *mut bindings::dentry,
    buf: *mut bindings::kstatfs,
) -> c_int {
    // SAFETY: C passes a valid dentry of a rerofs superblock.
    let sb = unsafe { SuperBlock::from_raw((*dentry).d_sb) };
    let st = crate::sb::statfs(sb);
    // SAFETY: `buf` is the valid kstatfs C passed us.
    unsafe { c::rerofs_fill_statfs(buf, st.magic, st.blocks, st.files, st.fsid[0], st.fsid[1]) };
    0
}

unsafe extern "C" fn show_options_callback(
    m: *mut bindings::seq_file,
    root: *mut bindings::dentry,
) -> c_int {
    let Some(m) = NonNull::new(m) else {
        return 0;
    };
    // SAFETY: C passes the root dentry of a mounted rerofs superblock.
    let sb = unsafe { SuperBlock::from_raw((*root).d_sb) };
    crate::sb::show_options(sb, &mut SeqFile(m));
    0
}

unsafe extern "C" fn evict_inode_callback(inode: *mut bindings::inode) {
    // SAFETY: C passes a valid inode being evicted; nothing else uses it any more.
    unsafe {
        bindings::truncate_inode_pages_final(&mut (*inode).i_data);
        bindings::clear_inode(inode);
        let info = (*inode).i_private;
        (*inode).i_private = ptr::null_mut();
        if !info.is_null() {
            // SAFETY: `i_private` came from `KBox::into_raw` in `NewInode::init`.
            drop(KBox::from_raw(info.cast::<InodeInfo>()));
        }
    }
}

unsafe extern "C" fn lookup_callback(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    _flags: c_uint,
) -> *mut bindings::dentry {
    // SAFETY: C passes a valid rerofs directory inode, locked for the lookup.
    let dir = unsafe { Inode::from_raw(dir) };
    let mut len = 0u32;
    // SAFETY: `dentry` is valid; its name is stable while the parent is locked.
    let name = unsafe { c::rerofs_dentry_name(dentry, &mut len) };
    // SAFETY: The name has `len` bytes (see above).
    let name = unsafe { core::slice::from_raw_parts(name, len as usize) };
    let inode = match crate::namei::lookup(dir, name) {
        Ok(Some(inode)) => inode.into_raw(),
        Ok(None) => ptr::null_mut(),
        Err(e) => return e.to_ptr(),
    };
    // SAFETY: `d_splice_alias` takes over the inode reference (or a null inode for a
    // negative dentry).
    unsafe { bindings::d_splice_alias(inode, dentry) }
}

unsafe extern "C" fn iterate_shared_callback(
    file: *mut bindings::file,
    ctx: *mut bindings::dir_context,
) -> c_int {
    // SAFETY: C passes an open rerofs directory and its dir_context, ours for the call.
    let (dir, ctx) = unsafe { (Inode::from_raw((*file).f_inode), &mut *ctx) };
    from_result(|| {
        crate::dir::readdir(dir, &mut DirEmitter(ctx))?;
        Ok(0)
    })
}

unsafe extern "C" fn read_folio_callback(
    _file: *mut bindings::file,
    folio: *mut bindings::folio,
) -> c_int {
    let folio = folio.cast::<c_void>();
    // SAFETY: C passes a locked folio of a rerofs inode's mapping.
    let inode = unsafe { Inode::from_raw(c::rerofs_folio_inode(folio)) };
    let Some(folio) = NonNull::new(folio) else {
        return EINVAL.to_errno();
    };
    // INVARIANT: the folio is locked and `read_folio` must unlock it: that is now ours.
    let folio = LockedFolio(folio);
    from_result(|| {
        crate::data::read_folio(inode, folio)?;
        Ok(0)
    })
}

unsafe extern "C" fn readahead_callback(rac: *mut bindings::readahead_control) {
    // SAFETY: C passes a valid readahead control of a rerofs inode's mapping.
    let inode = unsafe { Inode::from_raw(c::rerofs_readahead_inode(rac)) };
    // SAFETY: `rac` is valid for the whole callback; `readahead_folio` returns each
    // folio of the batch locked, its lock ours to release (its reference is not).
    while let Some(folio) = NonNull::new(unsafe { c::rerofs_readahead_folio(rac) }) {
        // INVARIANT: the folio is locked and we own the lock.
        let folio = LockedFolio(folio);
        // A failed folio is left not uptodate; `read_folio` retries it and reports.
        let _ = crate::data::read_folio(inode, folio);
    }
}

// ---------------------------------------------------------------------------------
// Extended attributes.

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
        // SAFETY: The caller guarantees `buf` is writable for `size` bytes.
        Some(unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), size) })
    }
}

#[no_mangle]
unsafe extern "C" fn rerofs_getxattr(
    inode: *mut bindings::inode,
    index: c_int,
    name: *const c_char,
    buffer: *mut c_void,
    size: usize,
) -> c_int {
    // SAFETY: The C handlers pass a valid rerofs inode and the NUL-terminated name
    // suffix, alive for the call.
    let (inode, name) = unsafe { (Inode::from_raw(inode), CStr::from_char_ptr(name.cast())) };
    // SAFETY: The VFS gives a buffer of `size` bytes (or a size probe).
    let out = unsafe { out_buffer(buffer, size) };
    let Ok(index) = u8::try_from(index) else {
        return EINVAL.to_errno();
    };
    match crate::xattr::get(inode, index, name.as_bytes(), out) {
        Ok(n) => c_int::try_from(n).unwrap_or(c_int::MAX),
        Err(e) => e.to_errno(),
    }
}

unsafe extern "C" fn listxattr_callback(
    dentry: *mut bindings::dentry,
    buffer: *mut u8,
    size: usize,
) -> isize {
    // SAFETY: The VFS passes a positive dentry of a rerofs inode.
    let inode = unsafe { Inode::from_raw((*dentry).d_inode) };
    // SAFETY: The VFS gives a buffer of `size` bytes (or a size probe).
    let out = unsafe { out_buffer(buffer.cast(), size) };
    match crate::xattr::list(inode, out) {
        Ok(n) => isize::try_from(n).unwrap_or(isize::MAX),
        Err(e) => e.to_errno() as isize,
    }
}
