// SPDX-License-Identifier: GPL-2.0

//! Shared code of the fuzz targets: a field reader for the targets' small input
//! headers, SHA-256, and the whole-image harness (split an input into the
//! metadata blob and its data blobs, make checksums and Merkle trees consistent
//! again after a mutation, mount and walk it as the kernel would).

use rerofs_format::superblock::{checksum, SuperBlock, COMPAT_SB_CHKSUM, INCOMPAT_DEVICE_TABLE};
use rerofs_format::verity::build::merkle_tree;
use rerofs_format::verity::{Descriptor, Geometry, Hasher, COMPAT_RERO_VERITY, DIGEST_SIZE};
use rerofs_format::walk::{Limits, Walk};
use rerofs_format::{Error, BLOCK_BITS, BLOCK_SIZE, SUPER_MAGIC, SUPER_OFFSET};
use sha2::Digest;

/// SHA-256 by the `sha2` crate.
pub struct Sha;

impl Hasher for Sha {
    type Error = Error;

    fn sha256(&self, data: &[u8]) -> Result<[u8; DIGEST_SIZE], Error> {
        Ok(sha2::Sha256::digest(data).into())
    }
}

/// Reads little-endian fields from the front of a fuzz input; past its end every
/// field reads as 0.
pub struct Fields<'a>(pub &'a [u8]);

impl<'a> Fields<'a> {
    /// The next `n` bytes (fewer at the end).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }

    /// The next `N` bytes as an array, zero padded.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        let b = self.bytes(N);
        a[..b.len()].copy_from_slice(b);
        a
    }

    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// What is left.
    pub fn rest(self) -> &'a [u8] {
        self.0
    }
}

/// Bit of byte 0 of an image input (padding that EROFS never reads): mount with
/// `verity=off`.
pub const FLAG_VERITY_OFF: u8 = 1;
/// Bit of byte 0: leave the superblock checksum as the input has it.
pub const FLAG_KEEP_CHECKSUM: u8 = 2;
/// Bit of byte 0: leave the Merkle trees and descriptors' root hashes (and the
/// device tags naming the blobs) as the input has them.
pub const FLAG_KEEP_TREES: u8 = 4;

/// Size of a blob whose data area is `blocks` blocks, with its tree and trailer
/// when `verity`.
fn blob_len(blocks: u64, verity: bool) -> Option<u64> {
    let data = blocks.checked_mul(BLOCK_SIZE as u64)?;
    if verity {
        Geometry::new(data).ok().map(|g| g.blob_size())
    } else {
        Some(data)
    }
}

/// Splits an image input into byte ranges: the metadata blob, then one range per
/// device slot (in slot order). The metadata blob is the superblock's
/// `blocks` (plus tree and trailer on a verity image); each data blob takes its
/// slot's size (with tree and trailer), the last one all that is left. An input
/// whose superblock does not parse is one metadata blob.
pub fn split(img: &[u8]) -> Vec<(usize, usize)> {
    match SuperBlock::parse(img) {
        Ok(sb) => split_sb(&sb, img),
        Err(_) => vec![(0, img.len())],
    }
}

/// [`split`] with the superblock already parsed.
fn split_sb(sb: &SuperBlock, img: &[u8]) -> Vec<(usize, usize)> {
    let verity = sb.feature_compat & COMPAT_RERO_VERITY != 0;
    let total = img.len() as u64;
    let take = |start: u64, len: Option<u64>| -> (usize, usize) {
        let end = len
            .and_then(|l| start.checked_add(l))
            .unwrap_or(total)
            .min(total);
        (start as usize, end as usize)
    };
    let mut out = vec![take(0, blob_len(sb.blocks.into(), verity))];
    for i in 0..sb.extra_devices {
        let start = out.last().map_or(0, |r| r.1) as u64;
        let slot = sb
            .device_slot_pos(i)
            .and_then(|p| img.get(p as usize + 64..p as usize + 68));
        let blocks = slot.map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let len = if i + 1 == sb.extra_devices {
            None
        } else {
            blob_len(blocks.into(), verity)
        };
        out.push(take(start, len));
    }
    out
}

/// Rebuilds the tree and the root hash in the trailer of the blob `blob` whose
/// data area is `data_blocks` blocks; returns its digest. `None` when the blob
/// is too short or its trailer is not a descriptor.
fn reseal(blob: &mut [u8], data_blocks: u64) -> Option<[u8; DIGEST_SIZE]> {
    let data_size = data_blocks.checked_mul(BLOCK_SIZE as u64)?;
    let geo = Geometry::new(data_size).ok()?;
    if (blob.len() as u64) < geo.blob_size() {
        return None;
    }
    let (tree, root) = merkle_tree(&Sha, &blob[..data_size as usize]).ok()?;
    let tp = geo.tree_pos() as usize;
    blob[tp..tp + tree.len()].copy_from_slice(&tree);
    let trailer = &mut blob[geo.trailer_pos() as usize..geo.blob_size() as usize];
    trailer[16..16 + DIGEST_SIZE].copy_from_slice(&root);
    let desc = Descriptor::parse(trailer).ok()?;
    desc.digest(&Sha).ok()
}

/// Makes a mutated image consistent again where the flags of byte 0 ask for it:
/// each data blob's tree and root hash and its slot's tag, then the superblock
/// checksum, then the metadata blob's tree and root hash.
pub fn fixup(img: &mut [u8]) {
    let flags = img.first().copied().unwrap_or(0);
    let sb = match SuperBlock::parse(img) {
        Ok(sb) => sb,
        Err(Error::BadChecksum { .. }) => {
            // Parse with the checksum put right, to learn the layout.
            let mut b = img[..BLOCK_SIZE.min(img.len())].to_vec();
            let Ok(c) = checksum(&b) else { return };
            b[SUPER_OFFSET + 4..SUPER_OFFSET + 8].copy_from_slice(&c.to_le_bytes());
            match SuperBlock::parse(&b) {
                Ok(sb) => sb,
                Err(_) => return,
            }
        }
        Err(_) => return,
    };
    let verity = sb.feature_compat & COMPAT_RERO_VERITY != 0;
    let ranges = split_sb(&sb, img);
    if verity && flags & FLAG_KEEP_TREES == 0 {
        for (i, &(s, e)) in ranges.iter().enumerate().skip(1) {
            let Some(pos) = sb.device_slot_pos(i as u16 - 1) else {
                continue;
            };
            let pos = pos as usize;
            let Some(raw) = img.get(pos..pos + 128) else {
                continue;
            };
            let blocks = u32::from_le_bytes([raw[64], raw[65], raw[66], raw[67]]);
            if let Some(d) = reseal(&mut img[s..e], blocks.into()) {
                let tag = &mut img[pos..pos + 64];
                for (k, b) in d.iter().enumerate() {
                    tag[2 * k..2 * k + 2].copy_from_slice(format!("{b:02x}").as_bytes());
                }
            }
        }
    }
    if flags & FLAG_KEEP_CHECKSUM == 0 && sb.feature_compat & COMPAT_SB_CHKSUM != 0 {
        if let Ok(c) = checksum(img) {
            img[SUPER_OFFSET + 4..SUPER_OFFSET + 8].copy_from_slice(&c.to_le_bytes());
        }
    }
    if verity && flags & FLAG_KEEP_TREES == 0 {
        let (s, e) = ranges[0];
        reseal(&mut img[s..e], sb.blocks.into());
    }
}

/// The walk's limits in the fuzz targets: small, so that each run is fast.
pub const LIMITS: Limits = Limits {
    max_depth: 16,
    max_inodes: 512,
    max_blocks: 2048,
    max_lookups: 1024,
    max_xattrs: 1024,
    max_seen: 0,
};

/// The whole-image target: fix up, split, mount (verified unless byte 0 says
/// `verity=off`) and walk.
pub fn run_image(data: &[u8]) {
    if data.len() < BLOCK_SIZE || data.len() > 4 << 20 {
        return;
    }
    let mut img = data.to_vec();
    fixup(&mut img);
    let ranges = split(&img);
    let meta = &img[ranges[0].0..ranges[0].1];
    let blobs: Vec<&[u8]> = ranges[1..].iter().map(|&(s, e)| &img[s..e]).collect();
    let verify = img[0] & FLAG_VERITY_OFF == 0;
    let show_stats = *SHOW_STATS.get_or_init(|| std::env::var_os("RERO_FUZZ_STATS").is_some());
    match Walk::mount(meta, &blobs, verify, &Sha, LIMITS) {
        Ok(mut w) => {
            let verified = w.digest.is_some();
            let stats = w.walk();
            assert!(stats.blocks <= LIMITS.max_blocks);
            assert!(stats.inodes <= LIMITS.max_inodes);
            if show_stats {
                eprintln!("image: mounted (verified: {}): {stats:?}", verified);
            }
        }
        Err(e) if show_stats => eprintln!("image: mount failed: {e}"),
        Err(_) => {}
    }
}

/// `RERO_FUZZ_STATS` set: the image target prints what each walk met (run a
/// target binary on a few files to see how far they get).
static SHOW_STATS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Formats an error as the kernel's messages do (exercises `Display`).
pub fn show(e: &Error) -> usize {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = write!(s, "{e}");
    let _ = e.errno_kind();
    s.len()
}

/// A valid superblock of an image of `blocks` blocks (at least 1) with
/// `extra_devices` extra devices, the inode area at block 0, build time 0: what
/// the single-structure targets parse their inodes against.
pub fn superblock(blocks: u32, extra_devices: u16) -> Result<SuperBlock, Error> {
    let mut b = [0u8; BLOCK_SIZE];
    let sb = &mut b[SUPER_OFFSET..];
    sb[..4].copy_from_slice(&SUPER_MAGIC.to_le_bytes());
    sb[0x0C] = BLOCK_BITS;
    sb[0x24..0x28].copy_from_slice(&blocks.max(1).to_le_bytes());
    if extra_devices != 0 {
        sb[0x50..0x54].copy_from_slice(&INCOMPAT_DEVICE_TABLE.to_le_bytes());
        sb[0x56..0x58].copy_from_slice(&extra_devices.to_le_bytes());
    }
    SuperBlock::parse(&b)
}
