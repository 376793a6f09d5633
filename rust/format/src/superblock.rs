// SPDX-License-Identifier: GPL-2.0

//! The EROFS superblock (`struct erofs_super_block`, 128 bytes at byte 1024).

use super::bytes::{array, le16, le32, le64, u8_at};
use super::crc32c::crc32c;
use super::error::{Error, Result};
use super::{BLOCK_BITS, BLOCK_SIZE, SUPER_MAGIC, SUPER_OFFSET};

/// `feature_compat`: the superblock carries a CRC32C.
pub const COMPAT_SB_CHKSUM: u32 = 0x1;
/// `feature_compat`: per-inode times are modification times.
pub const COMPAT_MTIME: u32 = 0x2;
/// `feature_compat`: inodes carry an xattr name bloom filter.
pub const COMPAT_XATTR_FILTER: u32 = 0x4;

/// `feature_incompat` bits and their names: upstream EROFS's, then rerofs's own
/// (`rerofs_encrypted`, see [`crate::encrypt`]).
pub const INCOMPAT_NAMES: [(u32, &str); 10] = [
    (0x001, "lz4_0padding"),
    (0x002, "compr_cfgs/big_pcluster"),
    (0x004, "chunked_file"),
    (0x008, "device_table"),
    (0x010, "ztailpacking"),
    (0x020, "fragments/dedupe"),
    (0x040, "xattr_prefixes"),
    (0x080, "48bit"),
    (0x100, "metabox"),
    (super::encrypt::INCOMPAT_RERO_ENCRYPTED, "rerofs_encrypted"),
];

/// `feature_incompat`: chunk-based inodes (`EROFS_INODE_CHUNK_BASED`).
pub const INCOMPAT_CHUNKED_FILE: u32 = 0x4;
/// `feature_incompat`: the superblock has a device table (`extra_devices`, `devt_slotoff`).
pub const INCOMPAT_DEVICE_TABLE: u32 = 0x8;
/// `feature_incompat`: xattr entries may name a long prefix of the prefix table.
pub const INCOMPAT_XATTR_PREFIXES: u32 = 0x40;

/// Incompatible features this reader implements.
pub const INCOMPAT_SUPPORTED: u32 =
    INCOMPAT_CHUNKED_FILE | INCOMPAT_DEVICE_TABLE | INCOMPAT_XATTR_PREFIXES;

/// Size of one device table slot (`EROFS_DEVT_SLOT_SIZE`).
pub const DEVT_SLOT_SIZE: usize = 128;

/// Size of the base superblock structure.
pub const SUPER_SIZE: usize = 128;

/// A parsed and validated superblock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuperBlock {
    /// `feature_compat` bits (unknown ones are ignored, as EROFS does).
    pub feature_compat: u32,
    /// `feature_incompat` bits (all known to this reader).
    pub feature_incompat: u32,
    /// Root directory inode number.
    pub root_nid: u64,
    /// Inode count (informational, for statfs).
    pub inos: u64,
    /// Seconds used as every compact inode's time.
    pub build_time: u64,
    /// Nanoseconds of `build_time`.
    pub build_time_nsec: u32,
    /// Image size in blocks (the primary device).
    pub blocks: u32,
    /// First block of the inode area.
    pub meta_blkaddr: u32,
    /// First block of the shared xattr area.
    pub xattr_blkaddr: u32,
    /// File system UUID.
    pub uuid: [u8; 16],
    /// Volume label, NUL padded.
    pub volume_name: [u8; 16],
    /// Number of devices besides the primary one, as the C driver counts them:
    /// the on-disk field when `DEVICE_TABLE` is set, otherwise 0.
    pub extra_devices: u16,
    /// Device table position in 128-byte slots (raw field).
    pub devt_slotoff: u16,
    /// Number of long xattr name prefixes (`xattr_prefix_count`).
    pub xattr_prefix_count: u8,
    /// Position of the long prefix table in 4-byte units (`xattr_prefix_start`).
    pub xattr_prefix_start: u32,
    /// `xattr_filter_reserved`: the xattr name filter is valid only when this is 0
    /// (and `COMPAT_XATTR_FILTER` is set).
    pub xattr_filter_reserved: u8,
    /// Nid of the packed inode (`packed_nid`; only used with the refused
    /// `FRAGMENTS` feature, kept for reporting).
    pub packed_nid: u64,
}

impl SuperBlock {
    /// Parses and validates the superblock from the image's first block (`block0`
    /// must hold at least the first 4096 bytes).
    ///
    /// Checks the magic, the block size (4 KiB only), the checksum when the
    /// `SB_CHKSUM` bit is set, `dirblkbits`, and refuses incompatible features this
    /// reader does not implement.
    pub fn parse(block0: &[u8]) -> Result<Self> {
        Self::parse_accepting(block0, 0)
    }

    /// [`SuperBlock::parse`], also accepting the incompatible features in
    /// `extra`: the module and the tools accept encrypted images this way, in
    /// the places that handle them (`parse` alone refuses them by name).
    pub fn parse_accepting(block0: &[u8], extra: u32) -> Result<Self> {
        let blk = block0
            .get(..BLOCK_SIZE)
            .ok_or(Error::Truncated("first block"))?;
        let sb = blk
            .get(SUPER_OFFSET..SUPER_OFFSET + SUPER_SIZE)
            .ok_or(Error::Truncated("superblock"))?;
        let magic = le32(sb, 0x00, "superblock")?;
        if magic != SUPER_MAGIC {
            return Err(Error::BadMagic(magic));
        }
        let blkszbits = u8_at(sb, 0x0C, "superblock")?;
        if blkszbits != BLOCK_BITS {
            return Err(Error::BadBlockSize(blkszbits));
        }
        let feature_compat = le32(sb, 0x08, "superblock")?;
        if feature_compat & COMPAT_SB_CHKSUM != 0 {
            let stored = le32(sb, 0x04, "superblock")?;
            let computed = checksum(blk)?;
            if stored != computed {
                return Err(Error::BadChecksum { stored, computed });
            }
        }
        let feature_incompat = le32(sb, 0x50, "superblock")?;
        let unsupported = feature_incompat & !(INCOMPAT_SUPPORTED | extra);
        if unsupported != 0 {
            return Err(Error::UnsupportedIncompat(unsupported));
        }
        let dirblkbits = u8_at(sb, 0x5A, "superblock")?;
        if dirblkbits != 0 {
            return Err(Error::Unsupported("dirblkbits", dirblkbits.into()));
        }
        let sb_extslots = u8_at(sb, 0x0D, "superblock")?;
        if sb_extslots != 0 {
            return Err(Error::Unsupported("sb_extslots", sb_extslots.into()));
        }
        let compr = le16(sb, 0x54, "superblock")?;
        if compr != 0 {
            return Err(Error::Unsupported("compression algorithms", compr.into()));
        }
        let s = SuperBlock {
            feature_compat,
            feature_incompat,
            root_nid: le16(sb, 0x0E, "superblock")?.into(),
            inos: le64(sb, 0x10, "superblock")?,
            build_time: le64(sb, 0x18, "superblock")?,
            build_time_nsec: le32(sb, 0x20, "superblock")?,
            blocks: le32(sb, 0x24, "superblock")?,
            meta_blkaddr: le32(sb, 0x28, "superblock")?,
            xattr_blkaddr: le32(sb, 0x2C, "superblock")?,
            uuid: array(sb, 0x30, "superblock")?,
            volume_name: array(sb, 0x40, "superblock")?,
            extra_devices: if feature_incompat & INCOMPAT_DEVICE_TABLE != 0 {
                le16(sb, 0x56, "superblock")?
            } else {
                0
            },
            devt_slotoff: le16(sb, 0x58, "superblock")?,
            xattr_prefix_count: u8_at(sb, 0x5B, "superblock")?,
            xattr_prefix_start: le32(sb, 0x5C, "superblock")?,
            packed_nid: le64(sb, 0x60, "superblock")?,
            xattr_filter_reserved: u8_at(sb, 0x68, "superblock")?,
        };
        if s.blocks == 0 {
            return Err(Error::Corrupted("block count", 0));
        }
        if s.meta_blkaddr >= s.blocks {
            return Err(Error::Corrupted("meta_blkaddr", s.meta_blkaddr.into()));
        }
        Ok(s)
    }

    /// Byte position of inode `nid` (32-byte slots from `meta_blkaddr`).
    pub fn inode_pos(&self, nid: u64) -> Option<u64> {
        nid.checked_mul(32)?
            .checked_add(super::block_pos(self.meta_blkaddr))
    }

    /// Image size in bytes the superblock claims.
    pub fn image_bytes(&self) -> u64 {
        super::block_pos(self.blocks)
    }

    /// Mask applied to the `device_id` of chunk indexes:
    /// `roundup_pow_of_two(extra_devices + 1) - 1`, as `erofs_scan_devices` sets it
    /// (0 without extra devices).
    pub fn device_id_mask(&self) -> u16 {
        device_id_mask(self.extra_devices)
    }

    /// Byte position of the device table (`devt_slotoff * 128`).
    pub fn devt_pos(&self) -> u64 {
        u64::from(self.devt_slotoff) * DEVT_SLOT_SIZE as u64
    }

    /// Byte position of device table slot `slot` (0-based: slot 0 describes device
    /// id 1), or `None` if the image has no such extra device.
    pub fn device_slot_pos(&self, slot: u16) -> Option<u64> {
        if slot >= self.extra_devices {
            return None;
        }
        Some(self.devt_pos() + u64::from(slot) * DEVT_SLOT_SIZE as u64)
    }

    /// Byte position of the long xattr name prefix table (`xattr_prefix_start * 4`),
    /// or `None` when the image has no long prefixes (`xattr_prefix_count == 0`).
    ///
    /// Linux 6.12 reads the table from the packed inode's data only when the packed
    /// inode is loaded, which needs the `FRAGMENTS` feature (refused here); otherwise,
    /// as here, the position is an absolute byte position in the primary device.
    pub fn xattr_prefix_pos(&self) -> Option<u64> {
        if self.xattr_prefix_count == 0 {
            return None;
        }
        Some(u64::from(self.xattr_prefix_start) * 4)
    }

    /// True if inline xattr name filters are to be used (`COMPAT_XATTR_FILTER` set and
    /// `xattr_filter_reserved == 0`, as `erofs_getxattr` checks).
    pub fn has_xattr_filter(&self) -> bool {
        self.feature_compat & COMPAT_XATTR_FILTER != 0 && self.xattr_filter_reserved == 0
    }

    /// Byte position of the shared xattr entry `id` (`xattr_blkaddr * 4096 + id * 4`).
    pub fn shared_xattr_pos(&self, id: u32) -> u64 {
        super::block_pos(self.xattr_blkaddr) + u64::from(id) * 4
    }
}

/// `roundup_pow_of_two(extra_devices + 1) - 1`: the chunk index `device_id` mask for
/// an image with `extra_devices` extra devices.
pub fn device_id_mask(extra_devices: u16) -> u16 {
    let n = u32::from(extra_devices) + 1;
    // `n <= 65536`, so the power of two is at most 65536 and the mask fits in u16.
    (n.next_power_of_two() - 1) as u16
}

/// Computes the superblock checksum of `block0` (the image's first block): CRC32C
/// seeded with `!0`, no final inversion, over bytes 1024..4096 with the checksum
/// field taken as zero.
pub fn checksum(block0: &[u8]) -> Result<u32> {
    let region = block0
        .get(SUPER_OFFSET..BLOCK_SIZE)
        .ok_or(Error::Truncated("first block"))?;
    let head = region.get(..4).ok_or(Error::Truncated("superblock"))?;
    let tail = region.get(8..).ok_or(Error::Truncated("superblock"))?;
    let crc = crc32c(!0, head);
    let crc = crc32c(crc, &[0; 4]);
    Ok(crc32c(crc, tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal valid first block with the given incompat bits and device fields.
    fn block0(incompat: u32, extra_devices: u16, devt_slotoff: u16) -> Vec<u8> {
        let mut b = vec![0u8; BLOCK_SIZE];
        let sb = &mut b[SUPER_OFFSET..SUPER_OFFSET + SUPER_SIZE];
        sb[0..4].copy_from_slice(&SUPER_MAGIC.to_le_bytes());
        sb[0x08..0x0C].copy_from_slice(&COMPAT_SB_CHKSUM.to_le_bytes());
        sb[0x0C] = BLOCK_BITS;
        sb[0x0E..0x10].copy_from_slice(&36u16.to_le_bytes());
        sb[0x24..0x28].copy_from_slice(&10u32.to_le_bytes());
        sb[0x28..0x2C].copy_from_slice(&1u32.to_le_bytes());
        sb[0x2C..0x30].copy_from_slice(&3u32.to_le_bytes());
        sb[0x50..0x54].copy_from_slice(&incompat.to_le_bytes());
        sb[0x56..0x58].copy_from_slice(&extra_devices.to_le_bytes());
        sb[0x58..0x5A].copy_from_slice(&devt_slotoff.to_le_bytes());
        sb[0x5B] = 2;
        sb[0x5C..0x60].copy_from_slice(&0x1234u32.to_le_bytes());
        sb[0x60..0x68].copy_from_slice(&77u64.to_le_bytes());
        sb[0x68] = 1;
        reseal(&mut b);
        b
    }

    fn reseal(b: &mut [u8]) {
        let c = checksum(b).unwrap();
        b[SUPER_OFFSET + 4..SUPER_OFFSET + 8].copy_from_slice(&c.to_le_bytes());
    }

    #[test]
    fn accepts_chunked_devices_and_prefixes() {
        let all = INCOMPAT_CHUNKED_FILE | INCOMPAT_DEVICE_TABLE | INCOMPAT_XATTR_PREFIXES;
        assert_eq!(all, 0x4C);
        let s = SuperBlock::parse(&block0(all, 3, 9)).unwrap();
        assert_eq!(s.feature_incompat, all);
        assert_eq!(s.extra_devices, 3);
        assert_eq!(s.devt_slotoff, 9);
        assert_eq!(s.xattr_prefix_count, 2);
        assert_eq!(s.xattr_prefix_start, 0x1234);
        assert_eq!(s.packed_nid, 77);
        assert_eq!(s.xattr_filter_reserved, 1);
        assert_eq!(s.root_nid, 36);
        assert_eq!(s.xattr_blkaddr, 3);
    }

    #[test]
    fn refuses_other_incompat_bits() {
        for bit in [0x1u32, 0x2, 0x10, 0x20, 0x80, 0x100, 0x200, 0x8000_0000] {
            match SuperBlock::parse(&block0(bit | INCOMPAT_CHUNKED_FILE, 0, 0)) {
                Err(Error::UnsupportedIncompat(b)) => assert_eq!(b, bit),
                other => panic!("bit {bit:#x}: {other:?}"),
            }
        }
        let msg = Error::UnsupportedIncompat(0x180).to_string();
        assert!(msg.contains("48bit") && msg.contains("metabox"), "{msg}");
    }

    /// `parse` refuses encrypted images by name; the module and the tools
    /// accept them with `parse_accepting`, and only that bit.
    #[test]
    fn encrypted_images_are_refused_unless_accepted() {
        use crate::encrypt::INCOMPAT_RERO_ENCRYPTED as E;
        let b = block0(E | INCOMPAT_CHUNKED_FILE, 0, 0);
        let e = SuperBlock::parse(&b).unwrap_err();
        assert_eq!(e, Error::UnsupportedIncompat(E));
        assert!(e.to_string().contains("rerofs_encrypted"), "{e}");
        assert!(!e.to_string().contains("unknown"), "{e}");
        assert_eq!(
            SuperBlock::parse_accepting(&b, E).unwrap().feature_incompat & E,
            E
        );
        let b2 = block0(E | 0x10, 0, 0);
        assert_eq!(
            SuperBlock::parse_accepting(&b2, E),
            Err(Error::UnsupportedIncompat(0x10))
        );
    }

    #[test]
    fn extra_devices_need_the_device_table_bit() {
        let s = SuperBlock::parse(&block0(0, 5, 9)).unwrap();
        assert_eq!(s.extra_devices, 0);
        assert_eq!(s.device_id_mask(), 0);
        assert_eq!(s.device_slot_pos(0), None);
    }

    #[test]
    fn device_table_geometry() {
        let s = SuperBlock::parse(&block0(INCOMPAT_DEVICE_TABLE, 3, 9)).unwrap();
        assert_eq!(s.devt_pos(), 1152);
        assert_eq!(s.device_slot_pos(0), Some(1152));
        assert_eq!(s.device_slot_pos(2), Some(1152 + 256));
        assert_eq!(s.device_slot_pos(3), None);
        assert_eq!(s.device_id_mask(), 3);
        let s = SuperBlock::parse(&block0(INCOMPAT_DEVICE_TABLE, u16::MAX, u16::MAX)).unwrap();
        assert_eq!(
            s.device_slot_pos(u16::MAX - 1),
            Some(65535 * 128 + 65534 * 128)
        );
        assert_eq!(s.device_id_mask(), u16::MAX);
    }

    #[test]
    fn device_id_masks() {
        for (n, mask) in [
            (0u16, 0u16),
            (1, 1),
            (2, 3),
            (3, 3),
            (4, 7),
            (7, 7),
            (8, 15),
            (255, 255),
            (256, 511),
            (32767, 32767),
            (32768, 65535),
            (65535, 65535),
        ] {
            assert_eq!(device_id_mask(n), mask, "{n} extra devices");
        }
    }

    #[test]
    fn xattr_positions() {
        let mut b = block0(INCOMPAT_XATTR_PREFIXES, 0, 0);
        let s = SuperBlock::parse(&b).unwrap();
        assert_eq!(s.xattr_prefix_pos(), Some(0x1234 * 4));
        assert_eq!(s.shared_xattr_pos(0), 3 * 4096);
        assert_eq!(
            s.shared_xattr_pos(u32::MAX),
            3 * 4096 + 4 * u64::from(u32::MAX)
        );
        assert!(!s.has_xattr_filter());
        b[SUPER_OFFSET + 0x5B] = 0;
        b[SUPER_OFFSET + 0x68] = 0;
        b[SUPER_OFFSET + 0x08] |= COMPAT_XATTR_FILTER as u8;
        reseal(&mut b);
        let s = SuperBlock::parse(&b).unwrap();
        assert_eq!(s.xattr_prefix_pos(), None);
        assert!(s.has_xattr_filter());
    }

    #[test]
    fn corrupt_superblocks_fail_cleanly() {
        let good = block0(INCOMPAT_DEVICE_TABLE, 1, 9);
        assert!(SuperBlock::parse(&good).is_ok());
        for len in [0, 1024, 1100, 4095] {
            assert!(SuperBlock::parse(&good[..len]).is_err());
        }
        let mut bad = good.clone();
        bad[SUPER_OFFSET + 0x57] ^= 1;
        assert!(matches!(
            SuperBlock::parse(&bad),
            Err(Error::BadChecksum { .. })
        ));
    }
}
