// SPDX-License-Identifier: GPL-2.0
// Integration-test code: compiled only by `cargo test`, as if under #[cfg(test)].

//! Fuzz smoke test without cargo-fuzz: thousands of pseudo-random mutations of the
//! metadata blocks of real images, each run through every parser and a full walk.
//! Parsers may fail, never panic.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{mkfs, scratch, small_tree, Image, Rng};
use rerofs_format::devtable::{map_dev, DeviceSlot};
use rerofs_format::dir::DirBlock;
use rerofs_format::inode::{parse_chunk_entry, ChunkAddr, ChunkInfo, Inode};
use rerofs_format::map::{map, MapContext};
use rerofs_format::superblock::{checksum, SuperBlock};
use rerofs_format::verity::Hasher;
use rerofs_format::walk::{Limits, Walk};
use rerofs_format::xattr::{
    parse_long_prefix_at, Entry, InlineXattrs, LongPrefixTable, NoLongPrefixes,
};
use rerofs_format::{BLOCK_SIZE, SUPER_OFFSET};

/// Mutations per image.
const ROUNDS: u64 = 2500;

/// Bounds of the whole-image walk per mutation.
const WALK_LIMITS: Limits = Limits {
    max_depth: 16,
    max_inodes: 256,
    max_blocks: 1024,
    max_lookups: 512,
    max_xattrs: 512,
    max_seen: 0,
};

/// The walk here never verifies (verity images are the fuzz targets' part).
struct NoHash;

impl Hasher for NoHash {
    type Error = rerofs_format::Error;
    fn sha256(&self, _: &[u8]) -> Result<[u8; 32], Self::Error> {
        Err(rerofs_format::Error::Corrupted("no hash here", 0))
    }
}

/// Runs every parser over `blk` (a mutated block) at many offsets.
fn parse_everything(blk: &[u8], sb: &SuperBlock, rng: &mut Rng) {
    for off in (0..blk.len()).step_by(32) {
        if let Ok(ino) = Inode::parse(&blk[off..], off as u64, sb) {
            let _ = ino.xattr_pos(u64::MAX - rng.below(100));
            let _ = ino.chunk_count();
            let ipos = rng.next();
            let _ = ino.chunk_table_pos(ipos);
            let n = rng.below(1 << 20);
            let _ = ino.chunk_entry_pos(ipos, n);
            let _ = ino.chunk_entry_pos_for_block(ipos, rng.next());
            let addr = ChunkAddr::Mapped {
                device_id: rng.next() as u16,
                blk: rng.next() as u32,
            };
            let _ = ino.map_chunked(rng.next() >> rng.below(64), addr);
            let _ = ino.map_chunked(rng.below(64), ChunkAddr::Hole);
            let _ = ino.map_flat(rng.next(), rng.below(1 << 10), rng.next() as u32);
            let _ = ino.rdev();
            // The extent mapper, with the mutated block as the metadata it reads.
            let ctx = MapContext::<DeviceSlot> {
                image_blocks: rng.next() as u32,
                device_id_mask: rng.next() as u16,
                flat: rng.below(2) == 0,
                slots: &[],
            };
            let mut pos = rng.below(ino.size.max(1));
            for _ in 0..4 {
                let ipos = rng.below(blk.len() as u64);
                match map(
                    &mut &blk[..],
                    &ctx,
                    &ino,
                    ipos,
                    pos,
                    rng.next() >> rng.below(64),
                ) {
                    Ok(Some(e)) => {
                        assert!(e.start == pos && e.len >= 1 && e.end() <= ino.size);
                        pos = e.end();
                    }
                    _ => break,
                }
            }
        }
    }
    if let Ok(d) = DirBlock::new(blk) {
        for i in 0..d.len() + 1 {
            if let Ok(e) = d.get(i) {
                let _ = d.search(e.name);
            }
        }
        let _ = d.search(b"somename");
    }
    // A sample of the 4-byte aligned offsets (all of them is too slow for thousands
    // of rounds), always including the block start.
    for k in 0..256 {
        let off = if k == 0 {
            0
        } else {
            4 * rng.below(blk.len() as u64 / 4) as usize
        };
        let rest = &blk[off..];
        let _ = Entry::parse(rest);
        let _ = parse_long_prefix_at(blk, off);
        let info = ChunkInfo::parse(rng.next() as u32 & 0x3F).unwrap();
        let _ = parse_chunk_entry(rest, &info, rng.next() as u16);
        let len = rng.below(rest.len() as u64 + 1) as usize;
        if let Ok(x) = InlineXattrs::parse(&rest[..len]) {
            let _ = x.shared_ids().count();
            let _ = x.shared_id(rng.below(300) as usize);
            let _ = x.filter_excludes(rng.next() as u8, &rest[..len.min(20)]);
            for e in x.entries().flatten() {
                let _ = e.full_name(&NoLongPrefixes);
                let _ = e.matches(b"user.x", &NoLongPrefixes);
            }
        }
    }
    let count = rng.next() as u8;
    let start = rng.below(blk.len() as u64) as usize;
    if let Ok(t) = LongPrefixTable::parse(&blk[start..], count) {
        for p in t.iter() {
            let _ = p.infix.len();
        }
        let _ = t.get(rng.next() as u8);
    }
    let mut slots = vec![];
    for off in (0..blk.len()).step_by(128) {
        if let Ok(s) = DeviceSlot::parse(&blk[off..]) {
            let _ = s.tag();
            slots.push(s);
        }
    }
    for _ in 0..8 {
        let _ = map_dev(
            rng.next() as u16 & 7,
            rng.next() as u32,
            rng.next() & 1 == 0,
            &slots,
        );
    }
}

fn mutate(img: &[u8], meta: &[u64], rng: &mut Rng) -> (Vec<u8>, usize) {
    let mut m = img.to_vec();
    let blk = meta[rng.below(meta.len() as u64) as usize] as usize;
    for _ in 0..1 + rng.below(4) {
        let pos = if rng.below(10) == 0 {
            rng.below(m.len() as u64) as usize
        } else {
            blk * BLOCK_SIZE + rng.below(BLOCK_SIZE as u64) as usize
        };
        let Some(b) = m.get_mut(pos) else { continue };
        *b = match rng.below(6) {
            0 => *b ^ (1 << rng.below(8)),
            1 => 0,
            2 => 0xFF,
            3 => rng.next() as u8,
            4 => b.wrapping_add(1),
            _ => b.wrapping_sub(1),
        };
    }
    // Keep the superblock checksum right most of the time, so that the mutations
    // reach past the superblock check.
    if rng.below(4) != 0 {
        let c = checksum(&m).unwrap();
        m[SUPER_OFFSET + 4..SUPER_OFFSET + 8].copy_from_slice(&c.to_le_bytes());
    }
    (m, blk)
}

fn fuzz(name: &str, opts: &[&str], blob: bool, seed: u64) {
    let dir = scratch(&format!("fuzz-{name}"));
    let src = dir.join("src");
    small_tree(&src);
    let img_path = dir.join("image");
    let blob_path = dir.join("blob");
    let mut opts: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
    if blob {
        opts.push(format!("--blobdev={}", blob_path.display()));
    }
    mkfs(&src, &img_path, &opts);
    let img = std::fs::read(&img_path).unwrap();
    let blobs = if blob {
        vec![std::fs::read(&blob_path).unwrap()]
    } else {
        vec![]
    };
    let clean = Image::open(img.clone(), blobs.clone()).unwrap();
    clean.walk().unwrap();
    let mut meta: Vec<u64> = clean.stats.borrow().meta_blocks.iter().copied().collect();
    meta.sort();
    let sb = clean.sb.clone();
    let mut rng = Rng(seed);
    let (mut opened, mut walked) = (0, 0);
    for round in 0..ROUNDS {
        let state = rng.0;
        let (m, blk) = mutate(&img, &meta, &mut rng);
        let r = catch_unwind(AssertUnwindSafe(|| {
            let block = &m[blk * BLOCK_SIZE..(blk + 1) * BLOCK_SIZE];
            parse_everything(block, &sb, &mut Rng(state | 1));
            let _ = SuperBlock::parse(&m);
            // The kernel's calls in its order (the `image` fuzz target's walk).
            let refs: Vec<&[u8]> = blobs.iter().map(|b| &b[..]).collect();
            if let Ok(mut w) = Walk::mount(&m, &refs, false, &NoHash, WALK_LIMITS) {
                w.walk();
            }
            if let Ok(mut image) = Image::open(m.clone(), blobs.clone()) {
                image.max_read = 1 << 20;
                opened += 1;
                if image.walk().is_ok() {
                    walked += 1;
                }
            }
        }));
        if r.is_err() {
            let _ = std::fs::write(dir.join("crash.erofs"), &m);
            panic!("{name}: round {round} (rng state {state:#x}) panicked; image in {dir:?}");
        }
    }
    eprintln!("{name}: {ROUNDS} mutations, {opened} opened, {walked} walked cleanly");
    // The mutations must reach the walk, not die at the superblock.
    assert!(opened > ROUNDS / 2, "{name}: only {opened} images opened");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fuzz_flat_image() {
    fuzz("flat", &[], false, 0x9E37_79B9_7F4A_7C15);
}

#[test]
fn fuzz_extended_inodes() {
    fuzz(
        "extended",
        &["-Eforce-inode-extended"],
        false,
        0xD1B5_4A32_D192_ED03,
    );
}

#[test]
fn fuzz_block_map_image() {
    fuzz(
        "blockmap",
        &["--chunksize=4096"],
        false,
        0x8CB9_2BA7_2F3D_8DD7,
    );
}

#[test]
fn fuzz_blob_image() {
    fuzz("blob", &["--chunksize=8192"], true, 0xA076_1D64_78BD_642F);
}
