// SPDX-License-Identifier: GPL-2.0
//! A whole image mounted and walked with `rerofs_format::walk`, the kernel
//! module's calls in its order: superblock, verity trailer and tree checks,
//! device table and blobs, long prefixes, root inode, then readdir, lookup, iget,
//! listxattr/getxattr and every file block of the tree (bounded).
//!
//! Input: the metadata blob followed by its data blobs in slot order (see
//! `rerofs_format_fuzz::split`). Byte 0 (padding EROFS never reads) holds flags:
//! bit 0 mounts with `verity=off`, bit 1 keeps a wrong superblock checksum, bit 2
//! keeps stale Merkle trees; by default the harness makes them right again after
//! a mutation, so that mutations reach the parsers behind them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rerofs_format_fuzz::run_image(data);
});
