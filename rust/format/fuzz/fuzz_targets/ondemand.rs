// SPDX-License-Identifier: GPL-2.0
//! The on-demand channel's wire format (`format::ondemand`): a request as the
//! daemon parses it, a completion as the kernel parses it (the daemon is not
//! trusted: whatever it writes must parse or be refused), each written back
//! parsing to itself, and the range a read asks for: inside the blob, whole
//! units but for the blob's end, covering the read.
//! Input: pos (le64), len (le64), blob size (le64), then a record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rerofs_format::ondemand::{request_range, Completion, Request, REQUEST_UNIT};
use rerofs_format_fuzz::Fields;

fuzz_target!(|data: &[u8]| {
    let mut f = Fields(data);
    let (pos, len, size) = (f.u64(), f.u64(), f.u64());
    let rec = f.rest();
    if let Ok(r) = Request::parse(rec) {
        assert_eq!(Request::parse(&r.to_bytes()).ok(), Some(r));
    }
    if let Ok(c) = Completion::parse(rec) {
        assert_eq!(Completion::parse(&c.to_bytes()).ok(), Some(c));
    }
    if let Some((start, n)) = request_range(pos, len, size) {
        assert!(n > 0);
        assert!(start <= pos && pos + len <= start + n);
        assert!(start + n <= size);
        assert_eq!(start % REQUEST_UNIT, 0);
        assert!((start + n) % REQUEST_UNIT == 0 || start + n == size);
    } else {
        assert!(len == 0 || pos.checked_add(len).is_none_or(|e| e > size));
    }
});
