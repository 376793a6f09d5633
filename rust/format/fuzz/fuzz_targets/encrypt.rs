// SPDX-License-Identifier: GPL-2.0
//! The encryption structures (`format::encrypt`): the header (every position it
//! gives inside the image, aligned), device records and their block-map
//! positions, key table entries and the data unit of a block, the key check;
//! each parsed value written back parses to itself. What the kernel's
//! `crypt.rs` does with them, in its order: header, records, then for a block
//! its map entry position, the entry position and the entry.
//! Input: image size (le64), a block number (le64), an entry index (le32), a
//! device (le16), then the metadata blob's first bytes (header at 1152), whose
//! bytes from 4096 on also serve as device records, entries and a trailer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rerofs_format::encrypt::{
    DevRecord, Entry, Header, KeyCheck, DEVREC_SIZE, ENTRY_SIZE, HEADER_POS, HEADER_SIZE,
    KEY_CHECK_POS, KEY_CHECK_SIZE, MAP_ENTRY_SIZE,
};
use rerofs_format::BLOCK_SIZE;
use rerofs_format_fuzz::{show, Fields};

fuzz_target!(|data: &[u8]| {
    let mut f = Fields(data);
    let image = f.u64();
    let blk = f.u64();
    let idx = f.u32();
    let device = f.u16();
    let meta = f.rest();
    match Header::parse(meta, image) {
        Ok(h) => {
            let mut again = vec![0u8; HEADER_POS as usize + HEADER_SIZE];
            again[HEADER_POS as usize..].copy_from_slice(&h.to_bytes());
            assert_eq!(Header::parse(&again, image).ok(), Some(h));
            assert!(h.devrec_pos % DEVREC_SIZE as u64 == 0);
            assert!(h.entries_pos % BLOCK_SIZE as u64 == 0);
            assert!(h.entries <= u64::from(u32::MAX));
            if let Some(p) = h.devrec_pos(device) {
                assert!(p + DEVREC_SIZE as u64 <= image);
            }
            if let Some(p) = h.entry_pos(idx) {
                assert!(p + ENTRY_SIZE as u64 <= image);
            }
        }
        Err(e) => {
            show(&e);
        }
    }
    let rest = meta.get(BLOCK_SIZE..).unwrap_or(&[]);
    for raw in rest.chunks(DEVREC_SIZE).take(64) {
        match DevRecord::parse(raw, image) {
            Ok(r) => {
                assert_eq!(DevRecord::parse(&r.to_bytes(), image).ok(), Some(r));
                if let Some(p) = r.map_entry_pos(blk) {
                    assert!(p % MAP_ENTRY_SIZE as u64 == 0);
                    assert!(p + MAP_ENTRY_SIZE as u64 <= image);
                }
            }
            Err(e) => {
                show(&e);
            }
        }
    }
    for raw in rest.chunks(ENTRY_SIZE).take(32) {
        match Entry::parse(raw) {
            Ok(e) => {
                assert_eq!(Entry::parse(&e.to_bytes()).ok(), Some(e));
                assert!(e.device != 0 && e.blocks != 0);
                if let Some(u) = e.unit_of(blk) {
                    assert!(u < u64::from(e.blocks));
                    assert_eq!(u64::from(e.startblk) + u, blk);
                }
            }
            Err(e) => {
                show(&e);
            }
        }
    }
    let _ = KeyCheck::present(rest);
    match KeyCheck::parse(rest) {
        Ok(k) => {
            let mut t = vec![0u8; KEY_CHECK_POS + KEY_CHECK_SIZE];
            t[KEY_CHECK_POS..].copy_from_slice(&k.to_bytes());
            assert!(KeyCheck::present(&t));
            assert_eq!(KeyCheck::parse(&t).ok(), Some(k));
        }
        Err(e) => {
            show(&e);
        }
    }
});
