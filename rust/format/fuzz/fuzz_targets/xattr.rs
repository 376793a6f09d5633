// SPDX-License-Identifier: GPL-2.0
//! Inline xattr regions with long prefixes: `InlineXattrs::parse`, the shared
//! ids, every entry with its full name resolved through a long prefix table,
//! `getxattr`-style matching and the name filter, and shared entries parsed from
//! the table's bytes. Input: prefix count (u8), region length (le16), the
//! region, then the long prefix table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rerofs_format::xattr::{
    filter_bit, split_name, Entry, EntryHeader, InlineXattrs, LongPrefixTable, NoLongPrefixes,
};
use rerofs_format_fuzz::{show, Fields};

fuzz_target!(|data: &[u8]| {
    let mut f = Fields(data);
    let count = f.u8();
    let len = usize::from(f.u16());
    let region = f.bytes(len);
    let table = f.rest();
    let long = LongPrefixTable::parse(table, count);
    let x = match InlineXattrs::parse(region) {
        Ok(x) => x,
        Err(e) => {
            show(&e);
            return;
        }
    };
    let _ = (x.name_filter(), x.shared_count(), x.shared_id(usize::MAX));
    for (i, id) in x.shared_ids().enumerate() {
        assert_eq!(x.shared_id(i), Some(id));
        // A shared entry somewhere in the table bytes.
        if let Some(at) = table.get((id as usize) % (table.len() + 1)..) {
            if let Ok(h) = EntryHeader::parse(at) {
                let _ = (h.size(), h.unpadded_size());
            }
            let _ = Entry::parse(at);
        }
    }
    for e in x.entries() {
        let e = match e {
            Ok(e) => e,
            Err(e) => {
                show(&e);
                break;
            }
        };
        let names = [
            e.full_name(&NoLongPrefixes),
            long.as_ref().ok().and_then(|t| e.full_name(t)),
        ];
        for n in names.into_iter().flatten() {
            let mut buf = vec![0u8; n.len()];
            assert_eq!(n.write_to(&mut buf), Some(n.len()));
            assert!(n.eq_bytes(&buf));
            let _ = n.write_to(&mut buf[..n.len() / 2]);
            if let Ok(t) = &long {
                assert!(e.matches(&buf, t));
                if let Some((index, suffix)) = split_name(&buf) {
                    let _ = e.matches_index(index, suffix, t);
                    let _ = x.filter_excludes(index, suffix);
                    let _ = filter_bit(index, suffix);
                }
            }
        }
        let _ = e.matches_index(e.name_index, e.suffix, &NoLongPrefixes);
    }
});
