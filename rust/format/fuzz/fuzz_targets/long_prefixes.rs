// SPDX-License-Identifier: GPL-2.0
//! The long xattr name prefix table (`XATTR_PREFIXES`): `LongPrefixTable::parse`
//! with a count, iteration, lookup by number, and the record parser at every
//! offset. Input: count (u8), then the table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rerofs_format::xattr::{parse_long_prefix_at, LongPrefix, LongPrefixTable, LongPrefixes};
use rerofs_format_fuzz::{show, Fields};

fuzz_target!(|data: &[u8]| {
    let mut f = Fields(data);
    let count = f.u8();
    let table = f.rest();
    match LongPrefixTable::parse(table, count) {
        Ok(t) => {
            assert_eq!(t.len(), usize::from(count));
            let _ = t.is_empty();
            for (i, p) in t.iter().enumerate() {
                assert_eq!(t.get(i as u8), Some(p));
                assert_eq!(t.long_prefix(i as u8), Some(p));
            }
            assert!(t.get(count).is_none() || count == u8::MAX);
        }
        Err(e) => {
            show(&e);
        }
    }
    let mut off = 0;
    for _ in 0..64 {
        match parse_long_prefix_at(table, off) {
            Ok((_, next)) => off = next,
            Err(_) => break,
        }
    }
    let _ = LongPrefix::parse(table);
});
