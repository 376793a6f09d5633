// SPDX-License-Identifier: GPL-2.0
//! Chunk tables: `ChunkInfo::parse` of a chunk format, then for file blocks of a
//! chunk-based inode the entry position, the entry parsed (block map or chunk
//! index, device id masked), and the block mapped. Input: chunk format (le32),
//! file size (le64), extra devices (le16), then the chunk table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rerofs_format::inode::{parse_chunk_entry, ChunkInfo, Inode, Layout, S_IFREG};
use rerofs_format::superblock::device_id_mask;
use rerofs_format_fuzz::{show, Fields};

fuzz_target!(|data: &[u8]| {
    let mut f = Fields(data);
    let format = f.u32();
    let size = f.u64() & (i64::MAX as u64);
    let mask = device_id_mask(f.u16());
    let table = f.rest();
    let info = match ChunkInfo::parse(format) {
        Ok(i) => i,
        Err(e) => {
            show(&e);
            return;
        }
    };
    let _ = (
        info.indexes(),
        info.blk_bits(),
        info.chunk_bits(),
        info.chunk_size(),
    );
    let ino = Inode {
        nid: 0,
        extended: true,
        layout: Layout::ChunkBased(info),
        xattr_icount: 0,
        mode: S_IFREG | 0o644,
        nlink: 1,
        size,
        raw_u: format,
        uid: 0,
        gid: 0,
        mtime: 0,
        mtime_nsec: 0,
    };
    // The table starts right after the 64-byte core at byte 64 of the image.
    let ipos = 0u64;
    let tpos = match ino.chunk_table_pos(ipos) {
        Ok(p) => p,
        Err(_) => return,
    };
    let n = ino.nblocks();
    let blocks = (0..64u64).chain((0..16).map(|k| n.saturating_sub(k + 1)));
    for index in blocks {
        let Ok(Some(epos)) = ino.chunk_entry_pos_for_block(ipos, index) else {
            continue;
        };
        let at = (epos - tpos) as usize;
        let Some(entry) = table.get(at..) else {
            continue;
        };
        match parse_chunk_entry(entry, &info, mask) {
            Ok(addr) => {
                let _ = ino.map_chunked(index, addr);
            }
            Err(e) => {
                show(&e);
            }
        }
    }
});
