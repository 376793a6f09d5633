// SPDX-License-Identifier: GPL-2.0
//! The device table: slots parsed, their tags (as names and as verity digests),
//! and chunk addresses resolved with `map_dev` (separate devices and flat).
//! Input: a count of (device id le16, block le32, offset le32) triples (u8),
//! the triples, then the slots (128 bytes each).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rerofs_format::devtable::{map_dev, DeviceSlot};
use rerofs_format::superblock::device_id_mask;
use rerofs_format::verity::parse_hex_digest;
use rerofs_format_fuzz::{show, Fields};

fuzz_target!(|data: &[u8]| {
    let mut f = Fields(data);
    let n = usize::from(f.u8() % 32);
    let addrs: Vec<(u16, u32, u32)> = (0..n).map(|_| (f.u16(), f.u32(), f.u32())).collect();
    let raw = f.rest();
    let mut slots = Vec::new();
    for s in raw.chunks(128).take(300) {
        match DeviceSlot::parse(s) {
            Ok(slot) => {
                let _ = parse_hex_digest(slot.tag());
                slots.push(slot);
            }
            Err(e) => {
                show(&e);
            }
        }
    }
    let mask = device_id_mask(slots.len() as u16);
    for (id, blk, off) in addrs {
        for flat in [false, true] {
            match map_dev(id & mask, blk, flat, &slots) {
                Ok(at) => {
                    assert!(at.device as usize <= slots.len());
                    let _ = at.add(off.into());
                    let _ = at.add(u64::MAX);
                }
                Err(e) => {
                    show(&e);
                }
            }
        }
    }
});
