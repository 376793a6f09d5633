// SPDX-License-Identifier: GPL-2.0

//! Keyed convergent encryption: the on-disk structures (format version 1).
//!
//! An encrypted image sets [`INCOMPAT_RERO_ENCRYPTED`] in `feature_incompat`
//! (and must have verity trees: `COMPAT_RERO_VERITY`). Every byte of regular
//! file data is in a chunk of a data blob, encrypted with AES-256-XTS under
//! the chunk's own 64-byte key `K_c`; the metadata blob holds, for every chunk
//! stored in a data blob, `K_c` wrapped with AES-256-GCM under the image key.
//! All of these structures are in the metadata blob's data area (covered by its
//! Merkle tree), but the key check, which is in its verity trailer.
//!
//! ```text
//! byte 1152 of the metadata blob: Header (128 bytes)
//! header.devrec_pos:   one DevRecord (16 bytes) per device slot, in slot order
//! devrec.map_pos:      the device's block map: one __le32 per block of the blob,
//!                      the index of the key table entry of the chunk holding it
//!                      (NO_ENTRY for a block in no chunk)
//! header.entries_pos:  the key table: header.entries Entry records (128 bytes,
//!                      32 per block, block-aligned start)
//! trailer [4032, 4096): KeyCheck (64 bytes) in the metadata blob's verity trailer
//! ```
//!
//! Finding the key of (device `d`, block `b`) takes three reads, each at a
//! position computed from the previous one: `DevRecord` `d - 1`, `__le32` `b` of
//! its map, entry `idx` of the key table; the data unit's tweak is
//! `b - entry.startblk`. See `Documentation/filesystems/rerofs.rst`.

use super::bytes::{array, le16, le32, le64};
use super::error::{Error, Result};
use super::{BLOCK_SIZE, SUPER_OFFSET};

/// `feature_incompat`: the image's file data is encrypted (ours; far from
/// upstream EROFS's incompat bits, which count up from 0x1).
pub const INCOMPAT_RERO_ENCRYPTED: u32 = 0x8000_0000;

/// Byte offset of the [`Header`] in the metadata blob: right after the superblock.
pub const HEADER_POS: u64 = (SUPER_OFFSET + 128) as u64;
/// Size of the [`Header`].
pub const HEADER_SIZE: usize = 128;
/// The header's magic.
pub const HEADER_MAGIC: [u8; 8] = *b"RerofsEn";
/// The only format version.
pub const VERSION: u16 = 1;
/// `data_cipher` 1: AES-256-XTS, 4096-byte data units, the tweak being the data
/// unit's index inside its chunk as a 128-bit little-endian number (the
/// `plain64` IV of dm-crypt).
pub const CIPHER_AES_256_XTS: u16 = 1;
/// `key_derivation` 1: `K_c` = HKDF-SHA256(salt none, IKM = domain key,
/// info = [`CHUNK_KEY_INFO_LABEL`] || SHA-256(plaintext chunk)), 64 bytes.
pub const KDF_HKDF_SHA256: u16 = 1;
/// `key_wrap` 1: AES-256-GCM, 12-byte nonce, 16-byte tag.
pub const WRAP_AES_256_GCM: u16 = 1;

/// Size of a domain key `D`.
pub const DOMAIN_KEY_SIZE: usize = 32;
/// Size of an image key `I`.
pub const IMAGE_KEY_SIZE: usize = 32;
/// Size of a chunk key `K_c` (two AES-256 keys: data key, then tweak key).
pub const CHUNK_KEY_SIZE: usize = 64;
/// Size of a data unit (one block).
pub const DATA_UNIT_SIZE: usize = BLOCK_SIZE;
/// AES-GCM nonce size.
pub const NONCE_SIZE: usize = 12;
/// AES-GCM tag size.
pub const TAG_SIZE: usize = 16;

/// The HKDF `info` prefix of a chunk key (followed by the chunk's SHA-256).
pub const CHUNK_KEY_INFO_LABEL: [u8; 15] = *b"rerofs chunk v1";
/// Size of the HKDF `info` of a chunk key.
pub const CHUNK_KEY_INFO_SIZE: usize = CHUNK_KEY_INFO_LABEL.len() + 32;
/// The first field of a key table entry's associated data.
pub const WRAP_AD_LABEL: [u8; 16] = *b"rerofs chunk key";
/// Size of a key table entry's associated data.
pub const WRAP_AD_SIZE: usize = 16 + 32 + 4 + 4;
/// The first field of the key check's associated data.
pub const KEY_CHECK_AD_LABEL: [u8; 16] = *b"rerofs key check";
/// Size of the key check's associated data.
pub const KEY_CHECK_AD_SIZE: usize = 16 + 32;

/// Size of a [`DevRecord`].
pub const DEVREC_SIZE: usize = 16;
/// Size of a block map entry.
pub const MAP_ENTRY_SIZE: usize = 4;
/// Block map value of a block in no chunk.
pub const NO_ENTRY: u32 = u32::MAX;
/// Size of an [`Entry`].
pub const ENTRY_SIZE: usize = 128;

/// Size of the [`KeyCheck`] record.
pub const KEY_CHECK_SIZE: usize = 64;
/// Its offset in the metadata blob's verity trailer block (the last 64 bytes).
pub const KEY_CHECK_POS: usize = BLOCK_SIZE - KEY_CHECK_SIZE;
/// The key check's magic.
pub const KEY_CHECK_MAGIC: [u8; 8] = *b"RerofsKc";

/// The encryption header (128 bytes at [`HEADER_POS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Number of device slots (must equal the superblock's `extra_devices`).
    pub devices: u32,
    /// Byte offset of the device records (16-aligned).
    pub devrec_pos: u64,
    /// Byte offset of the key table (block-aligned).
    pub entries_pos: u64,
    /// Number of key table entries.
    pub entries: u64,
}

impl Header {
    /// Parses and checks the header in the metadata blob's data area `meta`
    /// (at least its first block; `image_bytes` is its size): every structure
    /// it points to must lie inside `image_bytes` and be aligned.
    pub fn parse(meta: &[u8], image_bytes: u64) -> Result<Self> {
        let h = meta
            .get(HEADER_POS as usize..HEADER_POS as usize + HEADER_SIZE)
            .ok_or(Error::Truncated("encryption header"))?;
        let w = "encryption header";
        if array::<8>(h, 0, w)? != HEADER_MAGIC {
            return Err(Error::Corrupted(
                "encryption header magic",
                u64::from_le_bytes(array(h, 0, w)?),
            ));
        }
        let version = le16(h, 8, w)?;
        if version != VERSION {
            return Err(Error::Unsupported("encryption version", version.into()));
        }
        let size = le16(h, 10, w)?;
        if usize::from(size) != HEADER_SIZE {
            return Err(Error::Corrupted("encryption header size", size.into()));
        }
        for (off, want, what) in [
            (12, CIPHER_AES_256_XTS, "encryption data cipher"),
            (14, KDF_HKDF_SHA256, "encryption key derivation"),
            (16, WRAP_AES_256_GCM, "encryption key wrap"),
        ] {
            let v = le16(h, off, w)?;
            if v != want {
                return Err(Error::Unsupported(what, v.into()));
            }
        }
        let esize = le16(h, 18, w)?;
        if usize::from(esize) != ENTRY_SIZE {
            return Err(Error::Corrupted("encryption entry size", esize.into()));
        }
        let flags = le32(h, 20, w)?;
        if flags != 0 {
            return Err(Error::Unsupported("encryption flags", flags.into()));
        }
        if le32(h, 28, w)? != 0 || h[56..].iter().any(|&b| b != 0) {
            return Err(Error::Corrupted("encryption header reserved bytes", 0));
        }
        let hdr = Header {
            devices: le32(h, 24, w)?,
            devrec_pos: le64(h, 32, w)?,
            entries_pos: le64(h, 40, w)?,
            entries: le64(h, 48, w)?,
        };
        let in_image = |pos: u64, len: u64| pos.checked_add(len).is_some_and(|e| e <= image_bytes);
        if !hdr.devrec_pos.is_multiple_of(DEVREC_SIZE as u64)
            || !in_image(hdr.devrec_pos, u64::from(hdr.devices) * DEVREC_SIZE as u64)
        {
            return Err(Error::Corrupted(
                "encryption device records",
                hdr.devrec_pos,
            ));
        }
        if !hdr.entries_pos.is_multiple_of(BLOCK_SIZE as u64)
            || hdr.entries > u64::from(u32::MAX)
            || !in_image(hdr.entries_pos, hdr.entries * ENTRY_SIZE as u64)
        {
            return Err(Error::Corrupted("encryption key table", hdr.entries_pos));
        }
        // The header's own bytes 48..56 (entries) are checked; 56.. are reserved.
        Ok(hdr)
    }

    /// The header's bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_SIZE] {
        let mut h = [0u8; HEADER_SIZE];
        h[0..8].copy_from_slice(&HEADER_MAGIC);
        h[8..10].copy_from_slice(&VERSION.to_le_bytes());
        h[10..12].copy_from_slice(&(HEADER_SIZE as u16).to_le_bytes());
        h[12..14].copy_from_slice(&CIPHER_AES_256_XTS.to_le_bytes());
        h[14..16].copy_from_slice(&KDF_HKDF_SHA256.to_le_bytes());
        h[16..18].copy_from_slice(&WRAP_AES_256_GCM.to_le_bytes());
        h[18..20].copy_from_slice(&(ENTRY_SIZE as u16).to_le_bytes());
        h[24..28].copy_from_slice(&self.devices.to_le_bytes());
        h[32..40].copy_from_slice(&self.devrec_pos.to_le_bytes());
        h[40..48].copy_from_slice(&self.entries_pos.to_le_bytes());
        h[48..56].copy_from_slice(&self.entries.to_le_bytes());
        h
    }

    /// Byte offset of the device record of device `device` (1-based), if the
    /// image has that device.
    pub fn devrec_pos(&self, device: u16) -> Option<u64> {
        let i = u64::from(device).checked_sub(1)?;
        (i < u64::from(self.devices)).then(|| self.devrec_pos + i * DEVREC_SIZE as u64)
    }

    /// Byte offset of key table entry `idx`, if there is one.
    pub fn entry_pos(&self, idx: u32) -> Option<u64> {
        (u64::from(idx) < self.entries)
            .then(|| self.entries_pos + u64::from(idx) * ENTRY_SIZE as u64)
    }
}

/// One device's record: where its block map is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevRecord {
    /// Byte offset of the device's block map (4-aligned, `blocks` entries).
    pub map_pos: u64,
    /// Blocks of the device's data area (must equal its slot's `blocks`).
    pub blocks: u32,
}

impl DevRecord {
    /// Parses a record (16 bytes); its map must lie inside `image_bytes`.
    pub fn parse(b: &[u8], image_bytes: u64) -> Result<Self> {
        let w = "encryption device record";
        let r = DevRecord {
            map_pos: le64(b, 0, w)?,
            blocks: le32(b, 8, w)?,
        };
        if le32(b, 12, w)? != 0 {
            return Err(Error::Corrupted(
                "encryption device record reserved bytes",
                0,
            ));
        }
        let len = u64::from(r.blocks) * MAP_ENTRY_SIZE as u64;
        if !r.map_pos.is_multiple_of(MAP_ENTRY_SIZE as u64)
            || r.map_pos.checked_add(len).is_none_or(|e| e > image_bytes)
        {
            return Err(Error::Corrupted("encryption block map position", r.map_pos));
        }
        Ok(r)
    }

    /// The record's bytes.
    pub fn to_bytes(&self) -> [u8; DEVREC_SIZE] {
        let mut b = [0u8; DEVREC_SIZE];
        b[0..8].copy_from_slice(&self.map_pos.to_le_bytes());
        b[8..12].copy_from_slice(&self.blocks.to_le_bytes());
        b
    }

    /// Byte offset of the map entry of block `blk`, if the device has it.
    pub fn map_entry_pos(&self, blk: u64) -> Option<u64> {
        (blk < u64::from(self.blocks)).then(|| self.map_pos + blk * MAP_ENTRY_SIZE as u64)
    }
}

/// A key table entry: one chunk's key, wrapped (128 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// AES-GCM nonce (unique under the image key).
    pub nonce: [u8; NONCE_SIZE],
    /// `K_c` encrypted with AES-256-GCM under the image key.
    pub wrapped: [u8; CHUNK_KEY_SIZE],
    /// The GCM tag.
    pub tag: [u8; TAG_SIZE],
    /// The device (slot, from 1) of the blob holding the chunk.
    pub device: u16,
    /// The chunk's first block in that blob.
    pub startblk: u32,
    /// The chunk's blocks (data units) in that blob, at least 1.
    pub blocks: u32,
}

impl Entry {
    /// Parses an entry (128 bytes).
    pub fn parse(b: &[u8]) -> Result<Self> {
        let w = "encryption key table entry";
        let e = Entry {
            nonce: array(b, 0, w)?,
            wrapped: array(b, 12, w)?,
            tag: array(b, 76, w)?,
            device: le16(b, 92, w)?,
            startblk: le32(b, 96, w)?,
            blocks: le32(b, 100, w)?,
        };
        let rest = b.get(104..ENTRY_SIZE).ok_or(Error::Truncated(w))?;
        if le16(b, 94, w)? != 0 || rest.iter().any(|&x| x != 0) {
            return Err(Error::Corrupted("encryption entry reserved bytes", 0));
        }
        if e.device == 0 || e.blocks == 0 || e.startblk.checked_add(e.blocks).is_none() {
            return Err(Error::Corrupted(
                "encryption entry chunk",
                e.startblk.into(),
            ));
        }
        Ok(e)
    }

    /// The entry's bytes.
    pub fn to_bytes(&self) -> [u8; ENTRY_SIZE] {
        let mut b = [0u8; ENTRY_SIZE];
        b[0..12].copy_from_slice(&self.nonce);
        b[12..76].copy_from_slice(&self.wrapped);
        b[76..92].copy_from_slice(&self.tag);
        b[92..94].copy_from_slice(&self.device.to_le_bytes());
        b[96..100].copy_from_slice(&self.startblk.to_le_bytes());
        b[100..104].copy_from_slice(&self.blocks.to_le_bytes());
        b
    }

    /// The data unit index (XTS tweak) of block `blk` of the blob, if this
    /// entry's chunk holds it.
    pub fn unit_of(&self, blk: u64) -> Option<u64> {
        let u = blk.checked_sub(u64::from(self.startblk))?;
        (u < u64::from(self.blocks)).then_some(u)
    }
}

/// The associated data of an entry's GCM wrap: it binds the key to the blob
/// (its fs-verity digest, the slot's tag) and the chunk's place in it, so that
/// entries cannot be swapped between chunks or blobs.
pub fn wrap_ad(blob_digest: &[u8; 32], startblk: u32, blocks: u32) -> [u8; WRAP_AD_SIZE] {
    let mut a = [0u8; WRAP_AD_SIZE];
    a[0..16].copy_from_slice(&WRAP_AD_LABEL);
    a[16..48].copy_from_slice(blob_digest);
    a[48..52].copy_from_slice(&startblk.to_le_bytes());
    a[52..56].copy_from_slice(&blocks.to_le_bytes());
    a
}

/// The HKDF `info` of the key of a chunk whose plaintext has SHA-256 `hash`.
pub fn chunk_key_info(hash: &[u8; 32]) -> [u8; CHUNK_KEY_INFO_SIZE] {
    let mut a = [0u8; CHUNK_KEY_INFO_SIZE];
    a[..15].copy_from_slice(&CHUNK_KEY_INFO_LABEL);
    a[15..].copy_from_slice(hash);
    a
}

/// The XTS tweak (IV) of data unit `unit` of a chunk: its index, 128-bit
/// little-endian.
pub fn xts_tweak(unit: u64) -> [u8; 16] {
    u128::from(unit).to_le_bytes()
}

/// The key check: a GCM tag under the image key over the image digest (empty
/// plaintext; associated data [`key_check_ad`]). It lives in the last 64 bytes
/// of the metadata blob's verity trailer, outside the data area the digest
/// covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCheck {
    /// AES-GCM nonce.
    pub nonce: [u8; NONCE_SIZE],
    /// The tag.
    pub tag: [u8; TAG_SIZE],
}

impl KeyCheck {
    /// Parses the key check from the metadata blob's trailer block.
    pub fn parse(trailer: &[u8]) -> Result<Self> {
        let w = "encryption key check";
        let b = trailer
            .get(KEY_CHECK_POS..KEY_CHECK_POS + KEY_CHECK_SIZE)
            .ok_or(Error::Truncated(w))?;
        if array::<8>(b, 0, w)? != KEY_CHECK_MAGIC {
            return Err(Error::Corrupted("encryption key check magic", 0));
        }
        let version = le16(b, 8, w)?;
        if version != VERSION {
            return Err(Error::Unsupported(
                "encryption key check version",
                version.into(),
            ));
        }
        if b[10..16].iter().any(|&x| x != 0) || b[44..].iter().any(|&x| x != 0) {
            return Err(Error::Corrupted("encryption key check reserved bytes", 0));
        }
        Ok(KeyCheck {
            nonce: array(b, 16, w)?,
            tag: array(b, 28, w)?,
        })
    }

    /// The record's bytes.
    pub fn to_bytes(&self) -> [u8; KEY_CHECK_SIZE] {
        let mut b = [0u8; KEY_CHECK_SIZE];
        b[0..8].copy_from_slice(&KEY_CHECK_MAGIC);
        b[8..10].copy_from_slice(&VERSION.to_le_bytes());
        b[16..28].copy_from_slice(&self.nonce);
        b[28..44].copy_from_slice(&self.tag);
        b
    }

    /// Whether the trailer block has a key check record (its magic).
    pub fn present(trailer: &[u8]) -> bool {
        trailer.get(KEY_CHECK_POS..KEY_CHECK_POS + 8) == Some(&KEY_CHECK_MAGIC[..])
    }
}

/// The associated data of the key check.
pub fn key_check_ad(image_digest: &[u8; 32]) -> [u8; KEY_CHECK_AD_SIZE] {
    let mut a = [0u8; KEY_CHECK_AD_SIZE];
    a[0..16].copy_from_slice(&KEY_CHECK_AD_LABEL);
    a[16..48].copy_from_slice(image_digest);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta_with(h: &Header, len: usize) -> Vec<u8> {
        let mut m = vec![0u8; len];
        m[HEADER_POS as usize..HEADER_POS as usize + HEADER_SIZE].copy_from_slice(&h.to_bytes());
        m
    }

    fn good() -> Header {
        Header {
            devices: 2,
            devrec_pos: 8192,
            entries_pos: 4096,
            entries: 40,
        }
    }

    #[test]
    fn header_round_trips_and_locates() {
        let h = good();
        let m = meta_with(&h, 3 * 4096);
        assert_eq!(Header::parse(&m, 3 * 4096).unwrap(), h);
        assert_eq!(h.devrec_pos(0), None);
        assert_eq!(h.devrec_pos(1), Some(8192));
        assert_eq!(h.devrec_pos(2), Some(8192 + 16));
        assert_eq!(h.devrec_pos(3), None);
        assert_eq!(h.entry_pos(0), Some(4096));
        assert_eq!(h.entry_pos(39), Some(4096 + 39 * 128));
        assert_eq!(h.entry_pos(40), None);
    }

    #[test]
    fn header_refuses_what_does_not_fit_or_is_unknown() {
        let len = 3 * 4096u64;
        let bad = [
            Header {
                entries_pos: 4097,
                ..good()
            },
            Header {
                entries: 65,
                ..good()
            },
            Header {
                devrec_pos: 8200,
                ..good()
            },
            Header {
                devrec_pos: len - 16,
                ..good()
            },
            Header {
                entries_pos: u64::MAX - 4095,
                ..good()
            },
            Header {
                entries: u64::MAX / 64,
                ..good()
            },
        ];
        for h in bad {
            assert!(
                Header::parse(&meta_with(&h, len as usize), len).is_err(),
                "{h:?}"
            );
        }
        // Each fixed field altered.
        let m = meta_with(&good(), len as usize);
        for (off, v) in [
            (0usize, b'X'),
            (8, 2),
            (10, 64),
            (12, 2),
            (14, 9),
            (16, 2),
            (18, 64),
            (20, 1),
            (28, 1),
            (60, 1),
            (127, 1),
        ] {
            let mut b = m.clone();
            b[HEADER_POS as usize + off] = v;
            assert!(Header::parse(&b, len).is_err(), "byte {off}");
        }
        // Too short a buffer.
        assert!(Header::parse(&m[..1200], len).is_err());
    }

    #[test]
    fn devrecs_and_maps() {
        let r = DevRecord {
            map_pos: 12288,
            blocks: 10,
        };
        assert_eq!(DevRecord::parse(&r.to_bytes(), 12288 + 40).unwrap(), r);
        assert!(DevRecord::parse(&r.to_bytes(), 12288 + 39).is_err());
        assert!(DevRecord::parse(&r.to_bytes()[..15], 1 << 20).is_err());
        let odd = DevRecord { map_pos: 2, ..r };
        assert!(DevRecord::parse(&odd.to_bytes(), 1 << 20).is_err());
        let huge = DevRecord {
            map_pos: u64::MAX - 3,
            blocks: 10,
        };
        assert!(DevRecord::parse(&huge.to_bytes(), u64::MAX).is_err());
        assert_eq!(r.map_entry_pos(0), Some(12288));
        assert_eq!(r.map_entry_pos(9), Some(12288 + 36));
        assert_eq!(r.map_entry_pos(10), None);
    }

    #[test]
    fn entries_round_trip_and_map_units() {
        let e = Entry {
            nonce: [1; 12],
            wrapped: [2; 64],
            tag: [3; 16],
            device: 1,
            startblk: 100,
            blocks: 16,
        };
        let b = e.to_bytes();
        assert_eq!(Entry::parse(&b).unwrap(), e);
        assert_eq!(e.unit_of(99), None);
        assert_eq!(e.unit_of(100), Some(0));
        assert_eq!(e.unit_of(115), Some(15));
        assert_eq!(e.unit_of(116), None);
        for (off, v) in [(92usize, 0u8), (94, 1), (100, 0), (110, 1)] {
            let mut c = b;
            c[off] = v;
            if off == 92 {
                c[93] = 0;
            }
            if off == 100 {
                c[101..104].fill(0);
            }
            assert!(Entry::parse(&c).is_err(), "byte {off}");
        }
        let wrap = Entry {
            startblk: u32::MAX,
            blocks: 2,
            ..e
        };
        assert!(Entry::parse(&wrap.to_bytes()).is_err());
        assert!(Entry::parse(&b[..127]).is_err());
    }

    #[test]
    fn key_check_and_labels() {
        let k = KeyCheck {
            nonce: [7; 12],
            tag: [9; 16],
        };
        let mut t = [0u8; 4096];
        assert!(!KeyCheck::present(&t));
        t[KEY_CHECK_POS..].copy_from_slice(&k.to_bytes());
        assert!(KeyCheck::present(&t));
        assert_eq!(KeyCheck::parse(&t).unwrap(), k);
        t[4095] = 1;
        assert!(KeyCheck::parse(&t).is_err());
        assert!(KeyCheck::parse(&t[..4000]).is_err());
        let ad = wrap_ad(&[5; 32], 7, 3);
        assert_eq!(&ad[..16], b"rerofs chunk key");
        assert_eq!(&ad[48..], &[7, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(&key_check_ad(&[6; 32])[..16], b"rerofs key check");
        assert_eq!(&chunk_key_info(&[8; 32])[..15], b"rerofs chunk v1");
        assert_eq!(xts_tweak(0x0102), {
            let mut t = [0u8; 16];
            t[0] = 2;
            t[1] = 1;
            t
        });
    }
}
