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

/// `feature_incompat` bits and their names, as upstream EROFS defines them.
pub const INCOMPAT_NAMES: [(u32, &str); 9] = [
    (0x001, "lz4_0padding"),
    (0x002, "compr_cfgs/big_pcluster"),
    (0x004, "chunked_file"),
    (0x008, "device_table"),
    (0x010, "ztailpacking"),
    (0x020, "fragments/dedupe"),
    (0x040, "xattr_prefixes"),
    (0x080, "48bit"),
    (0x100, "metabox"),
];

/// Incompatible features this reader implements.
pub const INCOMPAT_SUPPORTED: u32 = 0;

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
    /// Number of devices besides the primary one.
    pub extra_devices: u16,
    /// Device table position in 128-byte slots.
    pub devt_slotoff: u16,
}

impl SuperBlock {
    /// Parses and validates the superblock from the image's first block (`block0`
    /// must hold at least the first 4096 bytes).
    ///
    /// Checks the magic, the block size (4 KiB only), the checksum when the
    /// `SB_CHKSUM` bit is set, `dirblkbits`, and refuses incompatible features this
    /// reader does not implement.
    pub fn parse(block0: &[u8]) -> Result<Self> {
        let blk = block0.get(..BLOCK_SIZE).ok_or(Error::Truncated("first block"))?;
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
        let unsupported = feature_incompat & !INCOMPAT_SUPPORTED;
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
            extra_devices: le16(sb, 0x56, "superblock")?,
            devt_slotoff: le16(sb, 0x58, "superblock")?,
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
