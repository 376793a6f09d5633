// SPDX-License-Identifier: GPL-2.0
//! The block mapper as `rust/data.rs` runs it: an inode (flat plain, flat inline
//! or chunk-based, compact or extended, parsed from the input) and every file
//! block mapped: flat blocks and inline tails against the image size, or the
//! chunk entry read from a table in the input, parsed and resolved through a
//! device table. Input: ipos (le64), image blocks (le32), slot count (u8), the
//! slots (12 bytes each: blocks le32, uniaddr le32, 4 bytes of tag), the inode
//! (64 bytes), then the chunk table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rerofs_format::devtable::{map_dev, DeviceSlot};
use rerofs_format::inode::{parse_chunk_entry, ChunkMapping, Inode, Layout, Mapping, COMPACT_SIZE};
use rerofs_format::superblock::device_id_mask;
use rerofs_format_fuzz::{show, superblock, Fields};

fuzz_target!(|data: &[u8]| {
    let mut f = Fields(data);
    let ipos = f.u64() & !31;
    let image_blocks = f.u32().max(1);
    let nslots = f.u8() % 16;
    let slots: Vec<DeviceSlot> = (0..nslots)
        .map(|_| {
            let blocks = f.u32();
            let uniaddr = f.u32();
            let mut tag = [0u8; 64];
            tag[..4].copy_from_slice(&f.array::<4>());
            DeviceSlot {
                tag,
                blocks,
                uniaddr,
                root_hash: [0; 32],
            }
        })
        .collect();
    let core = f.array::<64>();
    let table = f.rest();
    let Ok(sb) = superblock(image_blocks, nslots.into()) else {
        return;
    };
    let ino = match Inode::parse(&core, ipos / 32, &sb) {
        Ok(i) => i,
        Err(e) => {
            show(&e);
            return;
        }
    };
    let n = ino.nblocks();
    let indexes = (0..32u64).chain((0..8).map(|k| n.saturating_sub(k + 1)));
    for index in indexes {
        let Layout::ChunkBased(info) = ino.layout else {
            match ino.map_flat(ipos, index, image_blocks) {
                Ok(Some(Mapping::Block { blk, len })) => {
                    assert!(blk < image_blocks && len <= 4096 && len > 0);
                }
                Ok(Some(Mapping::Inline { pos, len })) => {
                    assert!(len <= 4096 && (pos % 4096) as usize + len <= 4096);
                    assert!(pos >= ipos + COMPACT_SIZE as u64);
                }
                Ok(None) => assert!(index >= n),
                Err(e) => {
                    show(&e);
                }
            }
            continue;
        };
        let epos = match ino.chunk_entry_pos_for_block(ipos, index) {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(e) => {
                show(&e);
                continue;
            }
        };
        let Ok(tpos) = ino.chunk_table_pos(ipos) else {
            continue;
        };
        let Some(entry) = table.get((epos - tpos) as usize..) else {
            continue;
        };
        let addr = match parse_chunk_entry(entry, &info, device_id_mask(nslots.into())) {
            Ok(a) => a,
            Err(_) => continue,
        };
        if let Ok(Some(ChunkMapping::Mapped {
            device_id,
            chunk_blk,
            block_in_chunk,
            len,
        })) = ino.map_chunked(index, addr)
        {
            assert!(len > 0 && len <= 4096);
            if let Ok(at) = map_dev(device_id, chunk_blk, false, &slots) {
                let _ = at.add(block_in_chunk);
            }
        }
    }
});
