// SPDX-License-Identifier: GPL-2.0
//! The superblock: `SuperBlock::parse` of a first block and every position it
//! derives (inodes, device slots, long prefixes, shared xattrs), the checksum,
//! and the error messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rerofs_format::superblock::{checksum, device_id_mask, SuperBlock};
use rerofs_format_fuzz::{show, Fields};

fuzz_target!(|data: &[u8]| {
    let _ = checksum(data);
    match SuperBlock::parse(data) {
        Err(e) => {
            show(&e);
        }
        Ok(sb) => {
            let mut f = Fields(data);
            let _ = sb.inode_pos(f.u64());
            let _ = sb.inode_pos(sb.root_nid);
            let _ = sb.image_bytes();
            let _ = sb.device_id_mask();
            let _ = device_id_mask(f.u16());
            let _ = sb.devt_pos();
            for i in 0..sb.extra_devices.min(300) {
                let _ = sb.device_slot_pos(i);
            }
            let _ = sb.device_slot_pos(u16::MAX);
            let _ = sb.xattr_prefix_pos();
            let _ = sb.has_xattr_filter();
            let _ = sb.shared_xattr_pos(u32::MAX);
            let _ = sb.shared_xattr_pos(f.u32());
        }
    }
});
