// SPDX-License-Identifier: GPL-2.0
//! Verity: the trailer's descriptor and signature, the tree geometry of the
//! descriptor's data size and of any size, every hash block position the block
//! check walks through, and digest parsing. Input: a size (le64), a block index
//! (le64), then the trailer block.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rerofs_format::verity::{
    hash_slot, parse_hex_digest, signed_message, Descriptor, Geometry, MAX_LEVELS,
};
use rerofs_format_fuzz::{show, Fields, Sha};

fn geometry(size: u64, index: u64) {
    let g = match Geometry::new(size) {
        Ok(g) => g,
        Err(e) => {
            show(&e);
            return;
        }
    };
    assert!(g.levels <= MAX_LEVELS);
    let _ = (
        g.tree_blocks(),
        g.tree_pos(),
        g.trailer_pos(),
        g.blob_size(),
        g.data_blocks(),
    );
    // The block check's walk up the tree, from data block `index`.
    let mut i = index % g.data_blocks().max(1);
    for level in 0..g.levels {
        let (h, off) = hash_slot(i);
        assert!(off + 32 <= 4096);
        // The hash block of a data block exists, inside the tree.
        let tb = g.tree_block(level, h);
        let pos = g.hash_block_pos(level, h);
        assert!(tb.is_some_and(|tb| tb < g.tree_blocks()));
        assert!(pos.is_some_and(|pos| pos < g.trailer_pos()));
        i = h;
    }
    let _ = g.tree_block(g.levels, 0);
    let _ = g.hash_block_pos(index as usize % (MAX_LEVELS + 1), index);
}

fuzz_target!(|data: &[u8]| {
    let mut f = Fields(data);
    let size = f.u64();
    let index = f.u64();
    let trailer = f.rest();
    geometry(size, index);
    geometry(size & !4095, index);
    let _ = parse_hex_digest(trailer.get(..64).unwrap_or(trailer));
    match Descriptor::parse(trailer) {
        Ok(d) => {
            let _ = d.signature(trailer);
            let b = d.to_bytes(true);
            assert_eq!(Descriptor::parse(&b).map(|p| p.data_size), Ok(d.data_size));
            if let Ok(digest) = d.digest(&Sha) {
                let _ = signed_message(&digest);
            }
            geometry(d.data_size, index);
        }
        Err(e) => {
            show(&e);
        }
    }
});
