// SPDX-License-Identifier: GPL-2.0

//! rerofs: a read-only file system for EROFS-format images, in Rust.
//!
//! This is the crate root (Kbuild needs it named differently from the module).
//! `vfs.rs` is the only place with `unsafe` code; the other modules are safe Rust,
//! one per concern as in `fs/erofs/`. The on-disk format is the `format` crate under
//! `rust/format/`, shared with the userspace tools.

use kernel::prelude::*;

#[path = "format/src/lib.rs"]
#[allow(unreachable_pub, dead_code)]
mod format;

mod data;
mod dir;
mod inode;
mod namei;
mod sb;
mod trust;
mod verity;
mod vfs;
mod xattr;

module! {
    type: Rerofs,
    name: "rerofs",
    author: "rerofs developers",
    description: "Read-only EROFS-format file system with in-band verification (Rust)",
    license: "GPL",
}

struct Rerofs {
    // Dropped in declaration order: unregister first, then free the transform and
    // put the `.rerofs` keyring.
    _registration: vfs::Registration,
    _crypto: vfs::Crypto,
}

impl kernel::Module for Rerofs {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let crypto = vfs::Crypto::new()?;
        let registration = vfs::Registration::new(module)?;
        pr_info!("registered file system type rerofs\n");
        Ok(Rerofs {
            _registration: registration,
            _crypto: crypto,
        })
    }
}
