// SPDX-License-Identifier: GPL-2.0
//! Inodes, compact (32 bytes) and extended (64 bytes): `Inode::parse` and every
//! method the kernel calls on one. Input: `ipos: le64` (the inode's byte
//! position), `image_blocks: le32`, `index: le32` (a file block), then the inode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rerofs_format::inode::{ChunkAddr, Inode};
use rerofs_format_fuzz::{show, superblock, Fields};

fuzz_target!(|data: &[u8]| {
    let mut f = Fields(data);
    let ipos = f.u64();
    let blocks = f.u32();
    let index = u64::from(f.u32());
    let raw = f.rest();
    let Ok(sb) = superblock(blocks, 0) else {
        return;
    };
    let ino = match Inode::parse(raw, ipos / 32, &sb) {
        Ok(i) => i,
        Err(e) => {
            show(&e);
            return;
        }
    };
    let _ = (ino.core_size(), ino.xattr_size(), ino.xattr_pos(ipos));
    let _ = (ino.kind(), ino.rdev(), ino.chunk_info());
    let n = ino.nblocks();
    for i in [0, index, n.saturating_sub(1), n, u64::MAX] {
        let _ = ino.map_flat(ipos, i, sb.blocks);
        let _ = ino.chunk_entry_pos_for_block(ipos, i);
        let _ = ino.map_chunked(i, ChunkAddr::Hole);
        let _ = ino.map_chunked(
            i,
            ChunkAddr::Mapped {
                device_id: 1,
                blk: u32::MAX,
            },
        );
        let _ = ino.chunk_entry_pos(ipos, i);
    }
    let _ = ino.chunk_count();
    let _ = ino.chunk_table_pos(ipos);
    if let Some(info) = ino.chunk_info() {
        let _ = (
            info.chunk_of_block(index),
            info.block_in_chunk(index),
            info.chunk_blocks(),
        );
    }
});
