// SPDX-License-Identifier: GPL-2.0

//! The rerofs on-disk format: the EROFS subset rerofs reads.
//!
//! This crate is the one definition of the format. The kernel module compiles these
//! same files in (see `rust/rerofs_main.rs`); the userspace tools depend on the crate.
//! It uses `core` only: every parser takes a byte slice, checks every offset and length
//! against it, and returns an [`Error`] instead of panicking.
//!
//! Layout references: `fs/erofs/erofs_fs.h` of Linux 6.12 and
//! `Documentation/filesystems/rerofs.rst` of this project.

#![cfg_attr(not(any(test, CONFIG_RUST)), no_std)]

// Serializers are for the image builder only; the kernel never writes.
#[cfg(not(CONFIG_RUST))]
pub mod build;
pub mod crc32c;
pub mod devtable;
pub mod dir;
pub mod encrypt;
pub mod error;
pub mod inode;
pub mod map;
pub mod ondemand;
pub mod superblock;
pub mod verity;
// The whole-image walk of the fuzz targets and tests (it allocates).
#[cfg(not(CONFIG_RUST))]
pub mod walk;
pub mod xattr;

mod bytes;

pub use error::Error;

/// The only block size rerofs supports (and the page size of the kernels it targets).
pub const BLOCK_SIZE: usize = 4096;
/// `log2(BLOCK_SIZE)`.
pub const BLOCK_BITS: u8 = 12;
/// Byte offset of the superblock in the image.
pub const SUPER_OFFSET: usize = 1024;
/// EROFS superblock magic (`EROFS_SUPER_MAGIC_V1`); also the `f_type` rerofs reports.
pub const SUPER_MAGIC: u32 = 0xE0F5_E1E2;
/// Longest name a directory entry may hold (`EROFS_NAME_LEN`).
pub const NAME_LEN: usize = 255;
/// Block address meaning "no block" (`EROFS_NULL_ADDR`).
pub const NULL_ADDR: u32 = u32::MAX;

/// Byte position of block `blk`.
pub const fn block_pos(blk: u32) -> u64 {
    (blk as u64) << BLOCK_BITS
}
