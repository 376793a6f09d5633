// SPDX-License-Identifier: GPL-2.0

//! In-band verification: per-blob Merkle trees built exactly as fs-verity builds
//! them, the fs-verity descriptor, and the trailer block that ends every blob.
//!
//! With [`COMPAT_RERO_VERITY`] set in the superblock, every blob (the metadata
//! blob and each data blob) is laid out as:
//!
//! ```text
//! [0, D)          data area, D = blocks * 4096 (superblock `blocks` for the
//!                 metadata blob, the device slot's `blocks` for a data blob)
//! [D, D + T)      Merkle tree: SHA-256, 4096-byte blocks, no salt, levels
//!                 stored root level first (as fs-verity stores them)
//! [D + T, +4096)  trailer block: the 256-byte fs-verity descriptor, then
//!                 `sig_size` bytes of PKCS#7 signature (metadata blob only)
//! ```
//!
//! The blob's digest is SHA-256 of the descriptor with `sig_size` taken as 0,
//! which is what `fsverity digest --hash-alg=sha256 --block-size=4096` prints for
//! a file holding the data area. A data blob's device slot tag is its digest in
//! lowercase hex. The metadata blob's digest is the image digest; the signature
//! is over rerofs's own signed message for it ([`signed_message`]), not over
//! fs-verity's formatted digest ([`formatted_digest`]), so that a signature made
//! for an fs-verity file never passes as a signature of a rerofs image (nor the
//! reverse).
//!
//! The hash function is not part of this crate: the kernel hashes through the
//! crypto API and the tools through a userspace library; [`Hasher`] joins them.

use super::bytes::{le32, le64};
use super::error::Error;
use super::BLOCK_SIZE;

/// Compat feature bit: the image carries per-blob Merkle trees (rerofs's own,
/// chosen far from the bits upstream EROFS uses, 0x1..0x10 in Linux 6.12-6.17).
pub const COMPAT_RERO_VERITY: u32 = 0x8000_0000;

/// Compat feature bit: every data blob's device slot carries the blob's tree root
/// hash (see [`crate::devtable::SLOT_ROOT_HASH_POS`]). With it a reader rebuilds the
/// blob's descriptor from the slot (data size from `blocks`, the root hash, no
/// salt, no signature) and checks its digest against the slot's tag, without
/// reading the blob's trailer: mounting an image of many blobs reads none of them.
/// Only meaningful with [`COMPAT_RERO_VERITY`]; the upstream driver ignores it.
pub const COMPAT_RERO_SLOT_ROOT: u32 = 0x4000_0000;

/// Size of one SHA-256 digest.
pub const DIGEST_SIZE: usize = 32;
/// Digests in one hash block.
pub const HASHES_PER_BLOCK: u64 = (BLOCK_SIZE / DIGEST_SIZE) as u64;
/// Size of `struct fsverity_descriptor`.
pub const DESCRIPTOR_SIZE: usize = 256;
/// Largest signature that fits in the trailer block.
pub const MAX_SIG_SIZE: usize = BLOCK_SIZE - DESCRIPTOR_SIZE;
/// `FS_VERITY_HASH_ALG_SHA256`.
pub const HASH_ALG_SHA256: u8 = 1;
/// Most tree levels any blob can need (2^32 blocks of data, 128-ary tree).
pub const MAX_LEVELS: usize = 8;
/// Size of fs-verity's formatted digest for SHA-256 (`"FSVerity"`, two `__le16`,
/// the digest).
pub const FORMATTED_DIGEST_SIZE: usize = 8 + 2 + 2 + DIGEST_SIZE;
/// The label that starts every rerofs image signature's message ([`signed_message`]).
pub const SIGNED_MESSAGE_MAGIC: [u8; 8] = *b"RerofsIm";
/// Version of the signed message layout.
pub const SIGNED_MESSAGE_VERSION: u16 = 1;
/// Size of the signed message for SHA-256: label, three `__le16`, the digest.
pub const SIGNED_MESSAGE_SIZE: usize = 8 + 2 + 2 + 2 + DIGEST_SIZE;

/// A SHA-256 implementation.
pub trait Hasher {
    /// Error of the implementation (the kernel's is an errno).
    type Error;
    /// SHA-256 of `data`.
    fn sha256(&self, data: &[u8]) -> core::result::Result<[u8; DIGEST_SIZE], Self::Error>;
}

/// The shape of one blob's Merkle tree: how many hash blocks each level has and
/// where each level starts. Level 0 holds the hashes of the data blocks; the last
/// level has exactly one block, whose hash is the root hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes of the data area (a multiple of 4096).
    pub data_size: u64,
    /// Number of levels (0 when the data area is at most one block).
    pub levels: usize,
    /// Hash blocks of level `i` (index 0: the leaves).
    pub level_blocks: [u64; MAX_LEVELS],
    /// First hash block of level `i`, counted from the start of the tree.
    pub level_start: [u64; MAX_LEVELS],
}

impl Geometry {
    /// The tree of a data area of `data_size` bytes, as fs-verity's
    /// `fsverity_init_merkle_tree_params` computes it.
    pub fn new(data_size: u64) -> Result<Self, Error> {
        if !data_size.is_multiple_of(BLOCK_SIZE as u64) {
            return Err(Error::Corrupted("verity data size", data_size));
        }
        let mut g = Geometry {
            data_size,
            levels: 0,
            level_blocks: [0; MAX_LEVELS],
            level_start: [0; MAX_LEVELS],
        };
        let mut blocks = data_size / BLOCK_SIZE as u64;
        while blocks > 1 {
            blocks = blocks.div_ceil(HASHES_PER_BLOCK);
            let slot = g
                .level_blocks
                .get_mut(g.levels)
                .ok_or(Error::Corrupted("verity data size", data_size))?;
            *slot = blocks;
            g.levels += 1;
        }
        // Levels are stored root first: the highest level starts the tree.
        let mut start = 0u64;
        for level in (0..g.levels).rev() {
            g.level_start[level] = start;
            start += g.level_blocks[level];
        }
        // The whole blob (data, tree, trailer) must have a byte size, so that the
        // positions below cannot overflow (found by the `verity` fuzz target).
        data_size
            .checked_add(start * BLOCK_SIZE as u64)
            .and_then(|n| n.checked_add(BLOCK_SIZE as u64))
            .ok_or(Error::Corrupted("verity data size", data_size))?;
        Ok(g)
    }

    /// Hash blocks in the whole tree.
    pub fn tree_blocks(&self) -> u64 {
        self.level_blocks.iter().sum()
    }

    /// Byte offset of the tree in the blob (right after the data area).
    pub fn tree_pos(&self) -> u64 {
        self.data_size
    }

    /// Byte offset of the trailer block.
    pub fn trailer_pos(&self) -> u64 {
        self.data_size + self.tree_blocks() * BLOCK_SIZE as u64
    }

    /// Smallest size of a complete blob (data, tree, trailer).
    pub fn blob_size(&self) -> u64 {
        self.trailer_pos() + BLOCK_SIZE as u64
    }

    /// Index in the tree (0: the first block stored) of hash block `index` of
    /// `level`, or `None` when it does not exist.
    pub fn tree_block(&self, level: usize, index: u64) -> Option<u64> {
        if level >= self.levels || index >= *self.level_blocks.get(level)? {
            return None;
        }
        Some(self.level_start.get(level)? + index)
    }

    /// Byte offset in the blob of hash block `index` of `level`.
    pub fn hash_block_pos(&self, level: usize, index: u64) -> Option<u64> {
        Some(self.tree_pos() + self.tree_block(level, index)? * BLOCK_SIZE as u64)
    }

    /// Data blocks covered.
    pub fn data_blocks(&self) -> u64 {
        self.data_size / BLOCK_SIZE as u64
    }
}

/// Where the hash of block `index` of level `level - 1` (level 0: data blocks)
/// sits in level `level`: `(hash block index, byte offset in it)`.
pub fn hash_slot(index: u64) -> (u64, usize) {
    (
        index / HASHES_PER_BLOCK,
        (index % HASHES_PER_BLOCK) as usize * DIGEST_SIZE,
    )
}

/// `struct fsverity_descriptor` as rerofs uses it (SHA-256, 4 KiB, no salt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Descriptor {
    /// Bytes of the data area.
    pub data_size: u64,
    /// The tree's root hash.
    pub root_hash: [u8; DIGEST_SIZE],
    /// Bytes of signature that follow the descriptor in the trailer block.
    pub sig_size: u32,
}

impl Descriptor {
    /// Parses and checks the descriptor at the start of `trailer`.
    pub fn parse(trailer: &[u8]) -> Result<Self, Error> {
        let d = trailer
            .get(..DESCRIPTOR_SIZE)
            .ok_or(Error::Truncated("verity descriptor"))?;
        let at = |i: usize| d.get(i).copied().unwrap_or(0);
        if at(0) != 1 {
            return Err(Error::Unsupported(
                "verity descriptor version",
                at(0).into(),
            ));
        }
        if at(1) != HASH_ALG_SHA256 {
            return Err(Error::Unsupported("verity hash algorithm", at(1).into()));
        }
        if at(2) != 12 {
            return Err(Error::Unsupported("verity block size log2", at(2).into()));
        }
        if at(3) != 0 {
            return Err(Error::Unsupported("verity salt size", at(3).into()));
        }
        let sig_size = le32(d, 4, "verity descriptor")?;
        if sig_size as usize > MAX_SIG_SIZE {
            return Err(Error::Corrupted("verity signature size", sig_size.into()));
        }
        let data_size = le64(d, 8, "verity descriptor")?;
        let mut root_hash = [0u8; DIGEST_SIZE];
        root_hash.copy_from_slice(
            d.get(16..16 + DIGEST_SIZE)
                .ok_or(Error::Truncated("verity descriptor"))?,
        );
        // The rest of the root hash field, the salt and the reserved bytes are 0.
        if d.get(16 + DIGEST_SIZE..)
            .is_some_and(|rest| rest.iter().any(|&b| b != 0))
        {
            return Err(Error::Corrupted("verity descriptor reserved bytes", 0));
        }
        Ok(Descriptor {
            data_size,
            root_hash,
            sig_size,
        })
    }

    /// The descriptor's bytes; `with_sig_size` false gives the form that is hashed.
    pub fn to_bytes(&self, with_sig_size: bool) -> [u8; DESCRIPTOR_SIZE] {
        let mut d = [0u8; DESCRIPTOR_SIZE];
        d[0] = 1;
        d[1] = HASH_ALG_SHA256;
        d[2] = 12;
        if with_sig_size {
            d[4..8].copy_from_slice(&self.sig_size.to_le_bytes());
        }
        d[8..16].copy_from_slice(&self.data_size.to_le_bytes());
        d[16..16 + DIGEST_SIZE].copy_from_slice(&self.root_hash);
        d
    }

    /// The blob's digest: SHA-256 of the descriptor with `sig_size` 0.
    pub fn digest<H: Hasher>(&self, h: &H) -> core::result::Result<[u8; DIGEST_SIZE], H::Error> {
        h.sha256(&self.to_bytes(false))
    }

    /// The signature bytes in `trailer` (empty when `sig_size` is 0).
    pub fn signature<'a>(&self, trailer: &'a [u8]) -> Result<&'a [u8], Error> {
        trailer
            .get(DESCRIPTOR_SIZE..DESCRIPTOR_SIZE + self.sig_size as usize)
            .ok_or(Error::Truncated("verity signature"))
    }
}

/// The message a rerofs image signature signs: the PKCS#7 detached signature in
/// the metadata blob's trailer is over these bytes, for the image digest `digest`.
///
/// ```text
/// [0, 8)    "RerofsIm"   label: this is a rerofs image, not an fs-verity file
/// [8, 10)   __le16 1     version of this layout
/// [10, 12)  __le16 1     hash algorithm (FS_VERITY_HASH_ALG_SHA256)
/// [12, 14)  __le16 32    digest size
/// [14, 46)  digest       the image digest (the metadata blob's fs-verity digest)
/// ```
///
/// It differs from fs-verity's formatted digest from the first byte on, so a
/// signature `fsverity sign` made for a file with the same contents as the
/// metadata blob's data area does not verify as an image signature.
pub fn signed_message(digest: &[u8; DIGEST_SIZE]) -> [u8; SIGNED_MESSAGE_SIZE] {
    let mut m = [0u8; SIGNED_MESSAGE_SIZE];
    m[..8].copy_from_slice(&SIGNED_MESSAGE_MAGIC);
    m[8..10].copy_from_slice(&SIGNED_MESSAGE_VERSION.to_le_bytes());
    m[10..12].copy_from_slice(&u16::from(HASH_ALG_SHA256).to_le_bytes());
    m[12..14].copy_from_slice(&(DIGEST_SIZE as u16).to_le_bytes());
    m[14..].copy_from_slice(digest);
    m
}

/// fs-verity's `struct fsverity_formatted_digest` for SHA-256: the message that
/// fs-verity built-in signatures (and `fsverity sign`) sign. rerofs never
/// accepts a signature over it; the tools use it only to recognize such a
/// signature in an image and say what it is.
pub fn formatted_digest(digest: &[u8; DIGEST_SIZE]) -> [u8; FORMATTED_DIGEST_SIZE] {
    let mut m = [0u8; FORMATTED_DIGEST_SIZE];
    m[..8].copy_from_slice(b"FSVerity");
    m[8..10].copy_from_slice(&u16::from(HASH_ALG_SHA256).to_le_bytes());
    m[10..12].copy_from_slice(&(DIGEST_SIZE as u16).to_le_bytes());
    m[12..].copy_from_slice(digest);
    m
}

/// Parses 64 lowercase hex digits (a device slot tag, a `digest=` value).
pub fn parse_hex_digest(s: &[u8]) -> Option<[u8; DIGEST_SIZE]> {
    if s.len() != 2 * DIGEST_SIZE {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; DIGEST_SIZE];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = (nibble(*s.get(2 * i)?)? << 4) | nibble(*s.get(2 * i + 1)?)?;
    }
    Some(out)
}

/// Builds a blob's tree and descriptor in memory (the tools' side).
#[cfg(not(CONFIG_RUST))]
pub mod build {
    extern crate alloc;
    use super::*;
    use alloc::vec::Vec;

    /// The tree (`tree_blocks * 4096` bytes, root level first) and the root hash of
    /// `data` (whose length must be a multiple of 4096), as fs-verity builds them.
    pub fn merkle_tree<H: Hasher>(
        h: &H,
        data: &[u8],
    ) -> core::result::Result<(Vec<u8>, [u8; DIGEST_SIZE]), H::Error>
    where
        H::Error: From<Error>,
    {
        let g = Geometry::new(data.len() as u64)?;
        if data.is_empty() {
            return Ok((Vec::new(), [0u8; DIGEST_SIZE]));
        }
        let mut tree = alloc::vec![0u8; (g.tree_blocks() as usize) * BLOCK_SIZE];
        // Hash the blocks of the level below into this level.
        let mut below: Vec<[u8; DIGEST_SIZE]> = Vec::new();
        for block in data.chunks(BLOCK_SIZE) {
            below.push(h.sha256(block)?);
        }
        for level in 0..g.levels {
            let start = g.level_start[level] as usize * BLOCK_SIZE;
            for (i, d) in below.iter().enumerate() {
                let at = start + i * DIGEST_SIZE;
                tree[at..at + DIGEST_SIZE].copy_from_slice(d);
            }
            let nblocks = g.level_blocks[level] as usize;
            let mut next = Vec::with_capacity(nblocks);
            for b in 0..nblocks {
                let at = start + b * BLOCK_SIZE;
                next.push(h.sha256(&tree[at..at + BLOCK_SIZE])?);
            }
            below = next;
        }
        // One digest is left: the hash of the single top block (or of the single
        // data block when there are no levels).
        let root = below.first().copied().unwrap_or([0u8; DIGEST_SIZE]);
        Ok((tree, root))
    }

    /// The trailer block: the descriptor with `sig` after it, zero padded.
    pub fn trailer(desc: &Descriptor, sig: &[u8]) -> Result<Vec<u8>, Error> {
        if sig.len() > MAX_SIG_SIZE {
            return Err(Error::Corrupted("verity signature size", sig.len() as u64));
        }
        let d = Descriptor {
            sig_size: sig.len() as u32,
            ..*desc
        };
        let mut t = alloc::vec![0u8; BLOCK_SIZE];
        t[..DESCRIPTOR_SIZE].copy_from_slice(&d.to_bytes(true));
        t[DESCRIPTOR_SIZE..DESCRIPTOR_SIZE + sig.len()].copy_from_slice(sig);
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_matches_fsverity() {
        assert_eq!(Geometry::new(0).unwrap().levels, 0);
        assert_eq!(Geometry::new(4096).unwrap().levels, 0);
        let g = Geometry::new(2 * 4096).unwrap();
        assert_eq!((g.levels, g.tree_blocks()), (1, 1));
        let g = Geometry::new(129 * 4096).unwrap();
        assert_eq!((g.levels, g.level_blocks[0], g.level_blocks[1]), (2, 2, 1));
        // Root level first.
        assert_eq!((g.level_start[1], g.level_start[0]), (0, 1));
        assert_eq!(g.hash_block_pos(0, 1), Some(129 * 4096 + 2 * 4096));
        assert_eq!(g.tree_block(0, 2), None);
        assert_eq!(g.trailer_pos(), 129 * 4096 + 3 * 4096);
        assert!(Geometry::new(4095).is_err());
        let big = Geometry::new((u32::MAX as u64) * 4096).unwrap();
        assert!(big.levels <= MAX_LEVELS);
    }

    /// Found by the `verity` fuzz target: a data size whose blob (data, tree,
    /// trailer) has no u64 byte size made `trailer_pos` overflow.
    #[test]
    fn fuzz_regression_geometry_of_huge_size() {
        for size in [!4095, (u64::MAX - (1 << 50)) & !4095] {
            assert!(Geometry::new(size).is_err(), "{size:#x}");
        }
        // The largest size accepted has every position representable.
        let g = Geometry::new((1 << 62) & !4095).unwrap();
        assert!(g.blob_size() > g.trailer_pos());
        assert!(g.hash_block_pos(0, 0).unwrap() < g.trailer_pos());
    }

    #[test]
    fn descriptor_round_trip() {
        let d = Descriptor {
            data_size: 8192,
            root_hash: [7; 32],
            sig_size: 5,
        };
        let t = build::trailer(&d, b"hello").unwrap();
        let p = Descriptor::parse(&t).unwrap();
        assert_eq!(p, d);
        assert_eq!(p.signature(&t).unwrap(), b"hello");
        let mut bad = t.clone();
        bad[200] = 1;
        assert!(Descriptor::parse(&bad).is_err());
        assert!(Descriptor::parse(&t[..100]).is_err());
    }

    #[test]
    fn signed_message_layout() {
        let mut digest = [0u8; DIGEST_SIZE];
        for (i, b) in digest.iter_mut().enumerate() {
            *b = i as u8 ^ 0xa5;
        }
        let m = signed_message(&digest);
        assert_eq!(m.len(), 46);
        assert_eq!(&m[..8], b"RerofsIm");
        assert_eq!(&m[8..14], &[1, 0, 1, 0, 32, 0]);
        assert_eq!(&m[14..], &digest);
        // Another digest, another message; only the digest part differs.
        let mut other = digest;
        other[31] ^= 1;
        let m2 = signed_message(&other);
        assert_ne!(m, m2);
        assert_eq!(m[..45], m2[..45]);
    }

    #[test]
    fn signed_message_is_not_fsverity_formatted_digest() {
        let digest = [0x42; DIGEST_SIZE];
        let ours = signed_message(&digest);
        let theirs = formatted_digest(&digest);
        assert_eq!(&theirs[..12], b"FSVerity\x01\x00\x20\x00");
        assert_eq!(&theirs[12..], &digest);
        // Different labels and lengths: no message is both (domain separation).
        assert_ne!(ours[..8], theirs[..8]);
        assert_ne!(ours.len(), theirs.len());
        assert!(!ours.starts_with(b"FSVerity"));
    }

    #[test]
    fn hex() {
        let h = "00ff10ab".repeat(8);
        assert_eq!(
            parse_hex_digest(h.as_bytes()).unwrap()[..4],
            [0, 0xff, 0x10, 0xab]
        );
        assert!(parse_hex_digest(b"00").is_none());
        assert!(parse_hex_digest("0F".repeat(32).as_bytes()).is_none());
    }
}
