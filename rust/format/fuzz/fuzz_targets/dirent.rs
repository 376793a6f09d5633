// SPDX-License-Identifier: GPL-2.0
//! Directory blocks: `DirBlock::new`, every entry as `readdir` reads them, and the
//! binary search of `lookup` for every name found (and one more from the input).
//! Input: a directory block's valid bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rerofs_format::dir::DirBlock;
use rerofs_format_fuzz::show;

fuzz_target!(|data: &[u8]| {
    let d = match DirBlock::new(data) {
        Ok(d) => d,
        Err(e) => {
            show(&e);
            return;
        }
    };
    let _ = d.is_empty();
    for i in 0..=d.len() {
        match d.get(i) {
            Ok(e) => {
                if let Ok(Ok(j)) = d.search(e.name) {
                    assert!(d.get(j).is_ok_and(|f| f.name == e.name));
                }
            }
            Err(e) => {
                show(&e);
            }
        }
    }
    let _ = d.search(&data[data.len().saturating_sub(8)..]);
    let _ = d.search(b"");
});
