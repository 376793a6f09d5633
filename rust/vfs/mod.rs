// SPDX-License-Identifier: GPL-2.0

//! The VFS layer: safe types over `kernel::bindings` for what a read-only file
//! system needs, generic over the file system (in the shape of Wedson Almeida
//! Filho's Rust VFS abstractions RFC, as tarfs uses them). Linux 6.12 has none.
//!
//! A file system implements [`FileSystem`]: its per-super-block and per-inode data
//! types and its operations. The C operation tables and their `extern "C"`
//! callbacks live here, built per file system type, and dispatch through the
//! trait; nothing here names a type of the file system's logic. The arrows point
//! one way: logic -> `vfs` -> `kernel::bindings` (and the C helpers).
//!
//! Each file owns one kernel object:
//!
//! - `registration.rs`: the `file_system_type` and the fs_context callbacks,
//! - `options.rs`: the mount options the C `parse_param` collected,
//! - `super_block.rs`: `struct super_block` and `super_operations`,
//! - `inode.rs`: `struct inode`, references to it and `inode_operations`,
//! - `dir.rs`: the directory emitter (`dir_context`) and directory `file_operations`,
//! - `folio.rs`: locked page-cache folios and `address_space_operations`,
//! - `file.rs`: the backing file (`struct file`) an image is read from,
//! - `xattr.rs`: the xattr handlers' callbacks,
//! - `seq_file.rs`: `show_options`'s `seq_file`,
//! - `cache.rs`: a private page cache (an anonymous inode's mapping),
//! - `work.rs`: the read workqueue (where readahead's runs are finished).
//!
//! All of the module's `unsafe` code is in this folder and in the binding files
//! that are not VFS (`crypto.rs`, `pkcs7.rs`, `params.rs`, `ratelimit.rs`).

use core::marker::PhantomData;

use kernel::bindings;
use kernel::prelude::*;
use kernel::str::CStr;

mod cache;
mod dir;
mod file;
mod folio;
mod inode;
pub(crate) mod ondemand;
mod options;
mod registration;
mod seq_file;
mod super_block;
mod work;
mod xattr;

pub(crate) use cache::BlockCache;
pub(crate) use dir::DirEmitter;
pub(crate) use file::BackingFile;
pub(crate) use folio::{read_async, CachedPage, FolioBatch, LockedFolio, MAX_BATCH};
pub(crate) use inode::{iget_locked, Got, Inode, InodeParams, InodeRef, InodeType};
pub(crate) use options::{RawOptions, IO_BUFFERED, VERITY_OFF, VERITY_REQUIRE};
pub(crate) use registration::Registration;
pub(crate) use seq_file::SeqFile;
pub(crate) use super_block::{NewSuperBlock, StatFs, SuperBlock, SuperParams, MAX_STACK_DEPTH};
pub(crate) use work::ReadQueue;
pub(crate) use xattr::may_list_trusted;

/// Page size; the file system block size must equal it.
pub(crate) const PAGE_SIZE: usize = 4096;
const _: () = assert!(PAGE_SIZE == bindings::PAGE_SIZE as usize);

/// A read-only file system: its data types and operations. The layer calls these
/// from the C operation tables it builds for the type.
///
/// Symlinks are read through the page cache ([`FileSystem::read_folio`] and the
/// kernel's `page_get_link`), so there is no `get_link` of its own.
pub(crate) trait FileSystem: Sized + 'static {
    /// What the file system keeps per super block (`s_fs_info`).
    type Data: Send + Sync;
    /// What the file system keeps per inode (`i_private`).
    type INodeData: Send + Sync;

    /// The name of the file system type (`-t NAME`).
    const NAME: &'static CStr;
    /// The name of the slab cache the per-inode data comes from (`/proc/slabinfo`).
    const INODE_CACHE_NAME: &'static CStr;

    /// Sets up `sb` for the image at `source` with the mount options `opts`.
    fn fill_super(
        sb: NewSuperBlock<Self>,
        source: &CStr,
        opts: &RawOptions<'_>,
        silent: bool,
    ) -> Result;

    /// Checks a remount with the options `opts`.
    fn reconfigure(sb: &SuperBlock<Self>, opts: &RawOptions<'_>) -> Result;

    /// Called in `kill_sb` before the super block is shut down: drop what must
    /// not be alive then (inodes of the super block held by the data).
    fn before_shutdown(data: &Self::Data);

    /// What `statfs` reports.
    fn statfs(sb: &SuperBlock<Self>) -> StatFs;

    /// Appends the file system's own options to `/proc/mounts`.
    fn show_options(sb: &SuperBlock<Self>, m: &mut SeqFile);

    /// Finds `name` in `dir`; `None` for a negative entry.
    fn lookup(dir: &Inode<Self>, name: &[u8]) -> Result<Option<InodeRef<Self>>>;

    /// Emits the entries of `dir` from the emitter's position on.
    fn readdir(dir: &Inode<Self>, emitter: &mut DirEmitter<'_>) -> Result;

    /// Fills `folio` of `inode` and ends the read.
    fn read_folio(inode: &Inode<Self>, folio: LockedFolio) -> Result;

    /// Reads the folios of one readahead batch (consecutive, in file order) and
    /// ends each one's read (now, or later through [`read_async`]); folios left
    /// in the batch fail.
    fn readahead(inode: &Inode<Self>, batch: &mut FolioBatch);

    /// What [`read_async`] carries to [`FileSystem::finish_run`].
    type RunCtx: Send + 'static;

    /// Finishes, on a worker of the read workqueue, the folios of `inode` that
    /// [`read_async`] read (in file order; `read`: the read's result, bytes from
    /// the first folio's start), ending each one's read; folios left in
    /// `folios` fail.
    fn finish_run(
        inode: &Inode<Self>,
        folios: &mut [Option<LockedFolio>],
        ctx: Self::RunCtx,
        read: Result<usize>,
    );

    /// `getxattr` of name index `index` and name suffix `name`; `out == None`
    /// probes the size.
    fn xattr_get(
        inode: &Inode<Self>,
        index: u8,
        name: &[u8],
        out: Option<&mut [u8]>,
    ) -> Result<usize>;

    /// `listxattr` into `out` (NUL-terminated names); `out == None` probes the size.
    fn xattr_list(inode: &Inode<Self>, out: Option<&mut [u8]>) -> Result<usize>;
}

/// The C operation tables of file system `T`, built at compile time. A reference
/// to one of its constants is promoted to static storage, which C only reads.
struct Tables<T>(PhantomData<T>);
