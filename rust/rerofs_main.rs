// SPDX-License-Identifier: GPL-2.0

//! rerofs: a read-only file system for EROFS-format images, in Rust.
//!
//! This is the crate root (Kbuild needs it named differently from the module).
//! The layers, arrows pointing down only:
//!
//! - the logic, safe Rust, one file per concern as in `fs/erofs/`: `sb.rs`
//!   (mounting), `options.rs`, `trust.rs`, `inode.rs`, `dir.rs`, `namei.rs`,
//!   `data.rs`, `xattr.rs`, `verity.rs`, `report.rs` (messages), `errno.rs`; and
//!   this file, which says which function implements each VFS operation;
//! - `vfs/`, the VFS layer, generic over the file system ([`vfs::FileSystem`]),
//!   and the binding files that are not VFS (`crypto.rs`, `pkcs7.rs`,
//!   `params.rs`, `ratelimit.rs`): the only `unsafe` code;
//! - `kernel::bindings` and the C helpers (`rerofs_helpers.c`, declared by
//!   `helpers.rs`, generated from `rerofs_helpers.h`).
//!
//! The on-disk format is the `format` crate under `rust/format/`, shared with the
//! userspace tools.

use kernel::c_str;
use kernel::prelude::*;
use kernel::str::CStr;

#[path = "format/src/lib.rs"]
#[allow(unreachable_pub, dead_code)]
mod format;

mod crypt;
mod crypto;
mod data;
mod dir;
mod errno;
mod helpers;
mod inode;
mod namei;
mod ondemand;
mod options;
mod params;
mod pkcs7;
mod ratelimit;
mod report;
mod sb;
mod trust;
mod verity;
mod vfs;
mod xattr;

const _: () = assert!(vfs::PAGE_SIZE == format::BLOCK_SIZE);

module! {
    type: Rerofs,
    name: "rerofs",
    author: "rerofs developers",
    description: "Read-only EROFS-format file system with in-band verification (Rust)",
    license: "GPL",
}

/// The rerofs file system type: its data types and operations for the VFS layer.
pub(crate) struct RerofsFs;

/// A rerofs super block.
pub(crate) type SuperBlock = vfs::SuperBlock<RerofsFs>;
/// A rerofs inode.
pub(crate) type Inode = vfs::Inode<RerofsFs>;
/// An owned reference to a rerofs inode.
pub(crate) type InodeRef = vfs::InodeRef<RerofsFs>;

impl vfs::FileSystem for RerofsFs {
    type Data = sb::SbInfo;
    type INodeData = inode::InodeInfo;

    const NAME: &'static CStr = c_str!("rerofs");
    const INODE_CACHE_NAME: &'static CStr = c_str!("rerofs_inode_info");

    fn fill_super(
        sb: vfs::NewSuperBlock<Self>,
        source: &CStr,
        opts: &vfs::RawOptions<'_>,
        silent: bool,
    ) -> Result {
        sb::fill_super(sb, source, opts, silent)
    }

    fn reconfigure(sb: &SuperBlock, opts: &vfs::RawOptions<'_>) -> Result {
        sb::reconfigure(sb, opts)
    }

    fn before_shutdown(data: &sb::SbInfo) {
        sb::before_shutdown(data)
    }

    fn statfs(sb: &SuperBlock) -> vfs::StatFs {
        sb::statfs(sb)
    }

    fn show_options(sb: &SuperBlock, m: &mut vfs::SeqFile) {
        sb::show_options(sb, m)
    }

    fn lookup(dir: &Inode, name: &[u8]) -> Result<Option<InodeRef>> {
        namei::lookup(dir, name)
    }

    fn readdir(dir: &Inode, emitter: &mut vfs::DirEmitter<'_>) -> Result {
        dir::readdir(dir, emitter)
    }

    fn read_folio(inode: &Inode, folio: vfs::LockedFolio) -> Result {
        data::read_folio(inode, folio)
    }

    fn readahead(inode: &Inode, batch: &mut vfs::FolioBatch) {
        data::readahead(inode, batch)
    }

    type RunCtx = data::RunInfo;

    fn finish_run(
        inode: &Inode,
        folios: &mut [Option<vfs::LockedFolio>],
        ctx: data::RunInfo,
        read: Result<usize>,
    ) {
        data::finish_run(inode, folios, ctx, read)
    }

    fn xattr_get(inode: &Inode, index: u8, name: &[u8], out: Option<&mut [u8]>) -> Result<usize> {
        xattr::get(inode, index, name, out)
    }

    fn xattr_list(inode: &Inode, out: Option<&mut [u8]>) -> Result<usize> {
        xattr::list(inode, out)
    }
}

struct Rerofs {
    // Dropped in declaration order: unregister first, then the on-demand
    // device, then put the `.rerofs` keyring, free the transform, and destroy
    // the read workqueue.
    _registration: vfs::Registration<RerofsFs>,
    _ondemand: vfs::ondemand::Device<ondemand::Channel>,
    _keyring: pkcs7::Keyring,
    _crypto: crypto::Crypto,
    _read_queue: vfs::ReadQueue,
}

impl kernel::Module for Rerofs {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let read_queue = vfs::ReadQueue::new()?;
        let crypto = crypto::Crypto::new()?;
        let keyring = pkcs7::Keyring::new()?;
        let ondemand = vfs::ondemand::Device::register(ondemand::Channel::new()?)?;
        let registration = vfs::Registration::new(module)?;
        pr_info!("registered file system type rerofs\n");
        Ok(Rerofs {
            _registration: registration,
            _ondemand: ondemand,
            _keyring: keyring,
            _crypto: crypto,
            _read_queue: read_queue,
        })
    }
}
