// SPDX-License-Identifier: GPL-2.0

//! EROFS inodes: the compact (32-byte) and extended (64-byte) forms, and how a
//! flat file's bytes map onto the image.

use super::bytes::{le16, le32, le64};
use super::error::{Error, Result};
use super::superblock::SuperBlock;
use super::BLOCK_SIZE;

/// Size of a compact inode.
pub const COMPACT_SIZE: usize = 32;
/// Size of an extended inode.
pub const EXTENDED_SIZE: usize = 64;
/// `i_format` bits this reader knows (version and data layout; 6.12's `EROFS_I_ALL`).
const I_FORMAT_ALL: u16 = 0xF;

/// File type bits of `i_mode`.
pub const S_IFMT: u16 = 0o170000;
/// Socket.
pub const S_IFSOCK: u16 = 0o140000;
/// Symbolic link.
pub const S_IFLNK: u16 = 0o120000;
/// Regular file.
pub const S_IFREG: u16 = 0o100000;
/// Block device.
pub const S_IFBLK: u16 = 0o060000;
/// Directory.
pub const S_IFDIR: u16 = 0o040000;
/// Character device.
pub const S_IFCHR: u16 = 0o020000;
/// FIFO.
pub const S_IFIFO: u16 = 0o010000;

/// How an inode's data is laid out (`EROFS_INODE_*` data layouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Contiguous blocks from `startblk`.
    FlatPlain,
    /// Contiguous blocks, with the last block's bytes stored right after the inode.
    FlatInline,
}

/// Kind of file, from `i_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Regular file.
    Regular,
    /// Directory.
    Directory,
    /// Symbolic link.
    Symlink,
    /// Character device.
    CharDevice,
    /// Block device.
    BlockDevice,
    /// FIFO.
    Fifo,
    /// Socket.
    Socket,
}

/// A parsed, validated on-disk inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inode {
    /// Inode number (`nid`): position in 32-byte slots from `meta_blkaddr`.
    pub nid: u64,
    /// True for the 64-byte extended form.
    pub extended: bool,
    /// Data layout.
    pub layout: Layout,
    /// `i_xattr_icount`.
    pub xattr_icount: u16,
    /// Mode: file type and permission bits.
    pub mode: u16,
    /// Link count.
    pub nlink: u32,
    /// Size in bytes.
    pub size: u64,
    /// The `i_u` union: start block for flat layouts, encoded rdev for devices.
    pub raw_u: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification (or, without the MTIME bit, change) time, seconds.
    pub mtime: u64,
    /// Nanoseconds of `mtime`.
    pub mtime_nsec: u32,
}

/// Where the bytes of a file block come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// A whole image block, of which `len` bytes are file data (the rest is beyond EOF).
    Block {
        /// Image block number.
        blk: u32,
        /// File bytes in this block.
        len: usize,
    },
    /// The tail, stored inline in the metadata right after the inode.
    Inline {
        /// Byte position in the image.
        pos: u64,
        /// Length in bytes (never crosses a block boundary).
        len: usize,
    },
}

impl Inode {
    /// Parses the inode `nid` from `buf`, which starts at the inode and holds at least
    /// its core (32 or 64 bytes). `sb` supplies the build time of compact inodes.
    pub fn parse(buf: &[u8], nid: u64, sb: &SuperBlock) -> Result<Self> {
        let format = le16(buf, 0x00, "inode")?;
        if format & !I_FORMAT_ALL != 0 {
            return Err(Error::Unsupported("inode i_format", format.into()));
        }
        let extended = format & 1 != 0;
        let layout = match (format >> 1) & 0x7 {
            0 => Layout::FlatPlain,
            2 => Layout::FlatInline,
            1 | 3 => return Err(Error::Unsupported("compressed inode layout", format.into())),
            4 => return Err(Error::Unsupported("chunk-based inode layout", format.into())),
            _ => return Err(Error::Corrupted("inode data layout", format.into())),
        };
        let xattr_icount = le16(buf, 0x02, "inode")?;
        let mode = le16(buf, 0x04, "inode")?;
        let raw_u = le32(buf, 0x10, "inode")?;
        let inode = if extended {
            Inode {
                nid,
                extended,
                layout,
                xattr_icount,
                mode,
                size: le64(buf, 0x08, "extended inode")?,
                raw_u,
                uid: le32(buf, 0x18, "extended inode")?,
                gid: le32(buf, 0x1C, "extended inode")?,
                mtime: le64(buf, 0x20, "extended inode")?,
                mtime_nsec: le32(buf, 0x28, "extended inode")?,
                nlink: le32(buf, 0x2C, "extended inode")?,
            }
        } else {
            Inode {
                nid,
                extended,
                layout,
                xattr_icount,
                mode,
                nlink: le16(buf, 0x06, "inode")?.into(),
                size: le32(buf, 0x08, "inode")?.into(),
                raw_u,
                uid: le16(buf, 0x18, "inode")?.into(),
                gid: le16(buf, 0x1A, "inode")?.into(),
                mtime: sb.build_time,
                mtime_nsec: sb.build_time_nsec,
            }
        };
        inode.kind()?;
        if inode.mtime_nsec >= 1_000_000_000 {
            return Err(Error::Corrupted("inode mtime_nsec", inode.mtime_nsec.into()));
        }
        if inode.size > i64::MAX as u64 {
            return Err(Error::Corrupted("inode size", inode.size));
        }
        Ok(inode)
    }

    /// Size of the inode core: 32 or 64 bytes.
    pub fn core_size(&self) -> usize {
        if self.extended {
            EXTENDED_SIZE
        } else {
            COMPACT_SIZE
        }
    }

    /// Size of the inline xattr area that follows the core.
    pub fn xattr_size(&self) -> usize {
        match self.xattr_icount {
            0 => 0,
            n => 12 + 4 * (n as usize - 1),
        }
    }

    /// The file type, or an error for a mode that names none.
    pub fn kind(&self) -> Result<FileKind> {
        Ok(match self.mode & S_IFMT {
            S_IFREG => FileKind::Regular,
            S_IFDIR => FileKind::Directory,
            S_IFLNK => FileKind::Symlink,
            S_IFCHR => FileKind::CharDevice,
            S_IFBLK => FileKind::BlockDevice,
            S_IFIFO => FileKind::Fifo,
            S_IFSOCK => FileKind::Socket,
            _ => return Err(Error::Corrupted("inode mode", self.mode.into())),
        })
    }

    /// Device number `(major, minor)` of a device inode (`new_decode_dev`).
    pub fn rdev(&self) -> (u32, u32) {
        let dev = self.raw_u;
        let major = (dev & 0xfff00) >> 8;
        let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
        (major, minor)
    }

    /// Number of blocks the file spans (`ceil(size / 4096)`).
    pub fn nblocks(&self) -> u64 {
        self.size.div_ceil(BLOCK_SIZE as u64)
    }

    /// Maps file block `index` of a flat inode stored at image byte `ipos` to where
    /// its bytes are. Returns `None` for a block wholly beyond EOF.
    ///
    /// Mirrors `erofs_map_blocks_flat`: with `FLAT_INLINE` the last block is the
    /// inline tail, which must not cross a block boundary; block addresses are
    /// checked against the image size `image_blocks`.
    pub fn map_flat(&self, ipos: u64, index: u64, image_blocks: u32) -> Result<Option<Mapping>> {
        let nblocks = self.nblocks();
        if index >= nblocks {
            return Ok(None);
        }
        let start = index * BLOCK_SIZE as u64;
        let len = core::cmp::min(self.size - start, BLOCK_SIZE as u64) as usize;
        let tail_packed = self.layout == Layout::FlatInline;
        if tail_packed && index == nblocks - 1 {
            let pos = ipos + (self.core_size() + self.xattr_size()) as u64;
            if (pos % BLOCK_SIZE as u64) as usize + len > BLOCK_SIZE {
                return Err(Error::Corrupted("inline data crosses a block boundary", self.nid));
            }
            return Ok(Some(Mapping::Inline { pos, len }));
        }
        let blk = u64::from(self.raw_u) + index;
        if blk >= u64::from(image_blocks) {
            return Err(Error::Corrupted("data block beyond the image", blk));
        }
        // `blk < image_blocks <= u32::MAX`, so the cast is lossless.
        Ok(Some(Mapping::Block {
            blk: blk as u32,
            len,
        }))
    }

}
