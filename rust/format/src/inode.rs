// SPDX-License-Identifier: GPL-2.0

//! EROFS inodes: the compact (32-byte) and extended (64-byte) forms, and how a
//! flat or chunk-based file's bytes map onto the image.

use super::bytes::{le16, le32, le64};
use super::error::{Error, Result};
use super::superblock::SuperBlock;
use super::{BLOCK_BITS, BLOCK_SIZE, NULL_ADDR};

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

/// `chunk_info.format`: log2 of the chunk size in blocks.
pub const CHUNK_FORMAT_BLKBITS_MASK: u16 = 0x1F;
/// `chunk_info.format`: 8-byte chunk indexes instead of the 4-byte block map.
pub const CHUNK_FORMAT_INDEXES: u16 = 0x20;
/// `chunk_info.format`: 48-bit chunk addresses (Linux 6.15; refused).
pub const CHUNK_FORMAT_48BIT: u16 = 0x40;
/// `chunk_info.format` bits Linux 6.12 knows (`EROFS_CHUNK_FORMAT_ALL`).
pub const CHUNK_FORMAT_ALL: u16 = CHUNK_FORMAT_BLKBITS_MASK | CHUNK_FORMAT_INDEXES;
/// Size of a block map entry (`EROFS_BLOCK_MAP_ENTRY_SIZE`).
pub const BLOCK_MAP_ENTRY_SIZE: usize = 4;
/// Size of a chunk index (`struct erofs_inode_chunk_index`).
pub const CHUNK_INDEX_SIZE: usize = 8;

/// How an inode's data is laid out (`EROFS_INODE_*` data layouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Contiguous blocks from `startblk`.
    FlatPlain,
    /// Contiguous blocks, with the last block's bytes stored right after the inode.
    FlatInline,
    /// Fixed-size chunks located by a table after the inode (and its xattrs).
    ChunkBased(ChunkInfo),
}

/// The `chunk_info` of a chunk-based inode (`struct erofs_inode_chunk_info`: the low
/// 16 bits of `i_u` are `format`, the high 16 bits are reserved and ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkInfo {
    /// The raw `format` field.
    pub format: u16,
}

impl ChunkInfo {
    /// Parses and validates the chunk format from the inode's `i_u`. Bits beyond
    /// [`CHUNK_FORMAT_ALL`] (such as [`CHUNK_FORMAT_48BIT`]) are unsupported, as
    /// in Linux 6.12 (`-EOPNOTSUPP`).
    pub fn parse(raw_u: u32) -> Result<Self> {
        // The low half of the little-endian `i_u` is `format`.
        let format = (raw_u & 0xFFFF) as u16;
        if format & !CHUNK_FORMAT_ALL != 0 {
            return Err(Error::Unsupported("chunk format", format.into()));
        }
        let info = ChunkInfo { format };
        // 12 + 31 = 43 < 64: every encodable chunk size fits; kept as a check in case
        // the mask ever widens.
        if u32::from(info.chunk_bits()) > 63 {
            return Err(Error::Corrupted("chunk size", format.into()));
        }
        Ok(info)
    }

    /// True for 8-byte chunk indexes, false for the 4-byte block map.
    pub fn indexes(&self) -> bool {
        self.format & CHUNK_FORMAT_INDEXES != 0
    }

    /// log2 of the chunk size in blocks.
    pub fn blk_bits(&self) -> u8 {
        (self.format & CHUNK_FORMAT_BLKBITS_MASK) as u8
    }

    /// log2 of the chunk size in bytes (`chunkbits` of the C driver).
    pub fn chunk_bits(&self) -> u8 {
        self.blk_bits() + BLOCK_BITS
    }

    /// Chunk size in bytes.
    pub fn chunk_size(&self) -> u64 {
        1u64 << self.chunk_bits()
    }

    /// Chunk size in blocks.
    pub fn chunk_blocks(&self) -> u64 {
        1u64 << self.blk_bits()
    }

    /// Size of one table entry: [`CHUNK_INDEX_SIZE`] or [`BLOCK_MAP_ENTRY_SIZE`].
    pub fn entry_size(&self) -> usize {
        if self.indexes() {
            CHUNK_INDEX_SIZE
        } else {
            BLOCK_MAP_ENTRY_SIZE
        }
    }

    /// The chunk holding file block `index`.
    pub fn chunk_of_block(&self, index: u64) -> u64 {
        index >> self.blk_bits()
    }

    /// Position of file block `index` inside its chunk, in blocks.
    pub fn block_in_chunk(&self, index: u64) -> u64 {
        index & (self.chunk_blocks() - 1)
    }
}

/// A chunk table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkAddr {
    /// No data: the chunk reads as zeros.
    Hole,
    /// The chunk starts at block `blk` of the address space named by `device_id`.
    Mapped {
        /// Device id, already masked (0 for block maps: the unified space).
        device_id: u16,
        /// First block of the chunk.
        blk: u32,
    },
}

/// Parses the chunk table entry at the start of `bytes` (which must hold at least
/// [`ChunkInfo::entry_size`] bytes) of an inode with chunk format `info`.
///
/// Block map entries are a `__le32` block address in the unified address space,
/// [`NULL_ADDR`] for a hole. Chunk indexes are `__le16 startblk_hi` (called
/// `advise` in 6.12 and ignored; nydus stores other data there), `__le16
/// device_id` (masked with `device_id_mask`, see
/// [`SuperBlock::device_id_mask`](super::superblock::SuperBlock::device_id_mask)),
/// `__le32 startblk_lo`, a hole when `startblk_lo` is [`NULL_ADDR`] — as
/// `erofs_map_blocks` of Linux 6.12.
pub fn parse_chunk_entry(bytes: &[u8], info: &ChunkInfo, device_id_mask: u16) -> Result<ChunkAddr> {
    if !info.indexes() {
        let blk = le32(bytes, 0, "chunk block map entry")?;
        return Ok(if blk == NULL_ADDR {
            ChunkAddr::Hole
        } else {
            ChunkAddr::Mapped { device_id: 0, blk }
        });
    }
    let device_id = le16(bytes, 2, "chunk index")?;
    let blk = le32(bytes, 4, "chunk index")?;
    Ok(if blk == NULL_ADDR {
        ChunkAddr::Hole
    } else {
        ChunkAddr::Mapped {
            device_id: device_id & device_id_mask,
            blk,
        }
    })
}

/// Where the bytes of one block of a chunk-based file come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkMapping {
    /// The block is in a hole: `len` bytes of zeros are file data.
    Hole {
        /// File bytes in this block.
        len: usize,
    },
    /// The block is `block_in_chunk` blocks into the chunk starting at `chunk_blk`
    /// of the address space `device_id`. Resolve the chunk start with
    /// [`devtable::map_dev`](super::devtable::map_dev), then add `block_in_chunk` ([`DevAddr::add`](super::devtable::DevAddr::add)).
    Mapped {
        /// Device id (masked) of the chunk.
        device_id: u16,
        /// First block of the chunk.
        chunk_blk: u32,
        /// Offset of the block inside the chunk, in blocks.
        block_in_chunk: u64,
        /// File bytes in this block (the rest of the block is beyond EOF).
        len: usize,
    },
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
            4 => Layout::ChunkBased(ChunkInfo::parse(le32(buf, 0x10, "inode")?)?),
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
            return Err(Error::Corrupted(
                "inode mtime_nsec",
                inode.mtime_nsec.into(),
            ));
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

    /// Byte position of the inline xattr region of an inode stored at image byte
    /// `ipos` (right after the core), `None` on overflow.
    pub fn xattr_pos(&self, ipos: u64) -> Option<u64> {
        ipos.checked_add(self.core_size() as u64)
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
    ///
    /// Fails for chunk-based inodes (use [`Inode::map_chunked`]).
    pub fn map_flat(&self, ipos: u64, index: u64, image_blocks: u32) -> Result<Option<Mapping>> {
        if let Layout::ChunkBased(_) = self.layout {
            return Err(Error::Unsupported(
                "flat mapping of a chunk-based inode",
                self.nid,
            ));
        }
        let nblocks = self.nblocks();
        if index >= nblocks {
            return Ok(None);
        }
        let start = index * BLOCK_SIZE as u64;
        let len = core::cmp::min(self.size - start, BLOCK_SIZE as u64) as usize;
        let tail_packed = self.layout == Layout::FlatInline;
        if tail_packed && index == nblocks - 1 {
            let pos = ipos
                .checked_add((self.core_size() + self.xattr_size()) as u64)
                .ok_or(Error::Corrupted("inline data position", self.nid))?;
            if (pos % BLOCK_SIZE as u64) as usize + len > BLOCK_SIZE {
                return Err(Error::Corrupted(
                    "inline data crosses a block boundary",
                    self.nid,
                ));
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

    /// The chunk format of a chunk-based inode, `None` for other layouts.
    pub fn chunk_info(&self) -> Option<ChunkInfo> {
        match self.layout {
            Layout::ChunkBased(info) => Some(info),
            _ => None,
        }
    }

    fn chunks(&self) -> Result<ChunkInfo> {
        self.chunk_info().ok_or(Error::Unsupported(
            "chunk mapping of a flat inode",
            self.nid,
        ))
    }

    /// Number of chunks of a chunk-based inode: `ceil(size / chunk_size)`.
    pub fn chunk_count(&self) -> Result<u64> {
        let info = self.chunks()?;
        Ok(self.size.div_ceil(info.chunk_size()))
    }

    /// Byte position of the chunk table of a chunk-based inode stored at image byte
    /// `ipos`: `round_up(ipos + core + xattr_size, entry_size)`.
    pub fn chunk_table_pos(&self, ipos: u64) -> Result<u64> {
        let info = self.chunks()?;
        let unit = info.entry_size() as u64;
        let overflow = Error::Corrupted("chunk table position", self.nid);
        let end = ipos
            .checked_add((self.core_size() + self.xattr_size()) as u64)
            .ok_or(overflow)?;
        end.checked_next_multiple_of(unit).ok_or(overflow)
    }

    /// Byte position of entry `n` of the chunk table (inode at image byte `ipos`).
    /// `n` must be below [`Inode::chunk_count`].
    pub fn chunk_entry_pos(&self, ipos: u64, n: u64) -> Result<u64> {
        if n >= self.chunk_count()? {
            return Err(Error::Corrupted("chunk index beyond the chunk table", n));
        }
        let unit = self.chunks()?.entry_size() as u64;
        // `n < chunk_count <= 2^63 / 4096`, so `n * unit` cannot overflow.
        self.chunk_table_pos(ipos)?
            .checked_add(n * unit)
            .ok_or(Error::Corrupted("chunk table position", self.nid))
    }

    /// Byte position of the chunk table entry covering file block `index`, or
    /// `None` for a block wholly beyond EOF.
    pub fn chunk_entry_pos_for_block(&self, ipos: u64, index: u64) -> Result<Option<u64>> {
        let info = self.chunks()?;
        if index >= self.nblocks() {
            return Ok(None);
        }
        self.chunk_entry_pos(ipos, info.chunk_of_block(index))
            .map(Some)
    }

    /// Maps file block `index` of a chunk-based inode, given `addr`: the parsed
    /// entry of the chunk covering it (see [`Inode::chunk_entry_pos_for_block`] and
    /// [`parse_chunk_entry`]). Returns `None` for a block wholly beyond EOF.
    pub fn map_chunked(&self, index: u64, addr: ChunkAddr) -> Result<Option<ChunkMapping>> {
        let info = self.chunks()?;
        if index >= self.nblocks() {
            return Ok(None);
        }
        let start = index * BLOCK_SIZE as u64;
        let len = core::cmp::min(self.size - start, BLOCK_SIZE as u64) as usize;
        Ok(Some(match addr {
            ChunkAddr::Hole => ChunkMapping::Hole { len },
            ChunkAddr::Mapped { device_id, blk } => ChunkMapping::Mapped {
                device_id,
                chunk_blk: blk,
                block_in_chunk: info.block_in_chunk(index),
                len,
            },
        }))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A superblock for tests (also of the extent mapper).
    pub(crate) fn sb() -> SuperBlock {
        SuperBlock {
            feature_compat: 0,
            feature_incompat: 0,
            root_nid: 0,
            inos: 1,
            build_time: 1000,
            build_time_nsec: 5,
            blocks: 100,
            meta_blkaddr: 1,
            xattr_blkaddr: 0,
            uuid: [0; 16],
            volume_name: [0; 16],
            extra_devices: 0,
            devt_slotoff: 0,
            xattr_prefix_count: 0,
            xattr_prefix_start: 0,
            xattr_filter_reserved: 0,
            packed_nid: 0,
        }
    }

    /// A compact inode: `layout` data layout, `i_u`, size, xattr icount.
    fn compact(layout: u16, raw_u: u32, size: u32, icount: u16) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[0..2].copy_from_slice(&(layout << 1).to_le_bytes());
        b[2..4].copy_from_slice(&icount.to_le_bytes());
        b[4..6].copy_from_slice(&(S_IFREG | 0o644).to_le_bytes());
        b[6..8].copy_from_slice(&1u16.to_le_bytes());
        b[8..12].copy_from_slice(&size.to_le_bytes());
        b[16..20].copy_from_slice(&raw_u.to_le_bytes());
        b
    }

    fn extended(layout: u16, raw_u: u32, size: u64) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0..2].copy_from_slice(&((layout << 1) | 1).to_le_bytes());
        b[4..6].copy_from_slice(&(S_IFREG | 0o600).to_le_bytes());
        b[8..16].copy_from_slice(&size.to_le_bytes());
        b[16..20].copy_from_slice(&raw_u.to_le_bytes());
        b[0x2C..0x30].copy_from_slice(&1u32.to_le_bytes());
        b
    }

    #[test]
    fn parse_flat_layouts() {
        let i = Inode::parse(&compact(0, 7, 5000, 0), 3, &sb()).unwrap();
        assert_eq!(i.layout, Layout::FlatPlain);
        assert_eq!(i.mtime, 1000);
        let i = Inode::parse(&compact(2, 7, 5000, 0), 3, &sb()).unwrap();
        assert_eq!(i.layout, Layout::FlatInline);
        assert_eq!(i.chunk_info(), None);
        assert!(i.chunk_count().is_err());
        assert!(i.chunk_table_pos(0).is_err());
        assert!(i.map_chunked(0, ChunkAddr::Hole).is_err());
    }

    #[test]
    fn parse_chunk_based() {
        for (format, bits, indexes) in [
            (0u16, 12u8, false),
            (0x24, 16, true),
            (0x08, 20, false),
            (0x3F, 43, true),
        ] {
            // The reserved high half of `i_u` is ignored.
            let raw_u = u32::from(format) | 0xABCD_0000;
            let i = Inode::parse(&compact(4, raw_u, 10, 0), 1, &sb()).unwrap();
            let info = i.chunk_info().unwrap();
            assert_eq!(i.layout, Layout::ChunkBased(info));
            assert_eq!(info.format, format);
            assert_eq!(info.chunk_bits(), bits);
            assert_eq!(info.chunk_size(), 1u64 << bits);
            assert_eq!(info.chunk_blocks(), 1u64 << (bits - 12));
            assert_eq!(info.indexes(), indexes);
            assert_eq!(info.entry_size(), if indexes { 8 } else { 4 });
        }
    }

    #[test]
    fn refuse_unknown_chunk_format_bits() {
        for format in [0x40u16, 0x80, 0x100, 0x8000, 0x60] {
            assert_eq!(
                Inode::parse(&compact(4, format.into(), 10, 0), 1, &sb()),
                Err(Error::Unsupported("chunk format", format.into()))
            );
        }
        assert!(ChunkInfo::parse(0x40).is_err());
        assert_eq!(ChunkInfo::parse(0x1F).unwrap().chunk_bits(), 43);
    }

    #[test]
    fn other_layouts_still_refused() {
        for l in [1u16, 3] {
            assert!(matches!(
                Inode::parse(&compact(l, 0, 10, 0), 1, &sb()),
                Err(Error::Unsupported(..))
            ));
        }
        for l in [5u16, 6, 7] {
            assert!(matches!(
                Inode::parse(&compact(l, 0, 10, 0), 1, &sb()),
                Err(Error::Corrupted(..))
            ));
        }
    }

    #[test]
    fn truncated_inodes() {
        // The parser reads up to `i_gid` (28 bytes) / `i_nlink` (48 bytes).
        let c = compact(4, 0x20, 10, 0);
        for len in 0..28 {
            assert!(Inode::parse(&c[..len], 1, &sb()).is_err());
        }
        let e = extended(4, 0x20, 10);
        for len in 0..48 {
            assert!(Inode::parse(&e[..len], 1, &sb()).is_err());
        }
        assert!(Inode::parse(&e, 1, &sb()).is_ok());
    }

    #[test]
    fn chunk_table_geometry() {
        // Block map, 4 KiB chunks, 3 xattr icounts (xattr_size 20): table at
        // round_up(pos + 32 + 20, 4).
        let i = Inode::parse(&compact(4, 0, 3 * 4096 + 1, 3), 1, &sb()).unwrap();
        assert_eq!(i.xattr_size(), 20);
        assert_eq!(i.chunk_count(), Ok(4));
        assert_eq!(i.chunk_table_pos(4096 + 32), Ok(4096 + 32 + 52));
        assert_eq!(i.chunk_entry_pos(4096 + 32, 3), Ok(4096 + 32 + 52 + 12));
        assert!(matches!(
            i.chunk_entry_pos(4096, 4),
            Err(Error::Corrupted(..))
        ));
        assert_eq!(i.xattr_pos(4096 + 32), Some(4096 + 64));
        // Chunk indexes: the table is aligned to 8.
        let i = Inode::parse(&compact(4, 0x21, 3 * 8192, 3), 1, &sb()).unwrap();
        assert_eq!(i.chunk_count(), Ok(3));
        assert_eq!(i.chunk_table_pos(4096 + 32), Ok(4096 + 32 + 56));
        assert_eq!(i.chunk_entry_pos(4096 + 32, 2), Ok(4096 + 32 + 56 + 16));
        assert_eq!(
            i.chunk_entry_pos_for_block(4096 + 32, 5),
            Ok(Some(4096 + 32 + 56 + 16))
        );
        assert_eq!(i.chunk_entry_pos_for_block(4096 + 32, 6), Ok(None));
        // Extended, no xattrs: table right after the 64-byte core.
        let i = Inode::parse(&extended(4, 0x20, 1), 1, &sb()).unwrap();
        assert_eq!(i.chunk_table_pos(64), Ok(128));
        assert_eq!(i.chunk_count(), Ok(1));
        // Empty file: no chunks at all.
        let i = Inode::parse(&compact(4, 0x20, 0, 0), 1, &sb()).unwrap();
        assert_eq!(i.chunk_count(), Ok(0));
        assert!(i.chunk_entry_pos(0, 0).is_err());
        assert_eq!(i.chunk_entry_pos_for_block(0, 0), Ok(None));
        // Positions near the top of the address space fail instead of wrapping.
        let i = Inode::parse(&compact(4, 0x20, 10, 0), 1, &sb()).unwrap();
        assert!(i.chunk_table_pos(u64::MAX - 8).is_err());
        assert!(i.chunk_entry_pos(u64::MAX - 35, 0).is_err());
    }

    #[test]
    fn huge_sizes_do_not_overflow() {
        let i = Inode::parse(&extended(4, 0x20, i64::MAX as u64), 1, &sb()).unwrap();
        assert_eq!(i.chunk_count(), Ok((i64::MAX as u64).div_ceil(4096)));
        let last = i.nblocks() - 1;
        assert!(i.chunk_entry_pos_for_block(0, last).unwrap().is_some());
        let i = Inode::parse(&extended(4, 0x3F, i64::MAX as u64), 1, &sb()).unwrap();
        assert_eq!(i.chunk_count(), Ok(1 << 20));
        assert_eq!(
            i.map_chunked(
                last,
                ChunkAddr::Mapped {
                    device_id: 0,
                    blk: 5
                }
            ),
            Ok(Some(ChunkMapping::Mapped {
                device_id: 0,
                chunk_blk: 5,
                block_in_chunk: last & ((1 << 31) - 1),
                len: 4095,
            }))
        );
    }

    #[test]
    fn block_map_entries() {
        let info = ChunkInfo::parse(0x02).unwrap();
        assert_eq!(
            parse_chunk_entry(&7u32.to_le_bytes(), &info, 0xFFFF),
            Ok(ChunkAddr::Mapped {
                device_id: 0,
                blk: 7
            })
        );
        assert_eq!(
            parse_chunk_entry(&[0xFF; 4], &info, 0xFFFF),
            Ok(ChunkAddr::Hole)
        );
        for len in 0..4 {
            assert!(parse_chunk_entry(&[0; 4][..len], &info, 0).is_err());
        }
    }

    fn index(hi: u16, dev: u16, lo: u32) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0..2].copy_from_slice(&hi.to_le_bytes());
        b[2..4].copy_from_slice(&dev.to_le_bytes());
        b[4..8].copy_from_slice(&lo.to_le_bytes());
        b
    }

    #[test]
    fn chunk_indexes() {
        let info = ChunkInfo::parse(0x20).unwrap();
        assert_eq!(
            parse_chunk_entry(&index(0, 1, 9), &info, 1),
            Ok(ChunkAddr::Mapped {
                device_id: 1,
                blk: 9
            })
        );
        // startblk_hi (`advise`) is ignored; device ids are masked.
        assert_eq!(
            parse_chunk_entry(&index(0xBEEF, 0x1203, 9), &info, 3),
            Ok(ChunkAddr::Mapped {
                device_id: 3,
                blk: 9
            })
        );
        assert_eq!(
            parse_chunk_entry(&index(0, 0xFFFF, 9), &info, 0),
            Ok(ChunkAddr::Mapped {
                device_id: 0,
                blk: 9
            })
        );
        // A hole whatever the device id.
        assert_eq!(
            parse_chunk_entry(&index(1, 5, NULL_ADDR), &info, 7),
            Ok(ChunkAddr::Hole)
        );
        for len in 0..8 {
            assert!(parse_chunk_entry(&index(0, 0, 1)[..len], &info, 0).is_err());
        }
    }

    #[test]
    fn map_chunked_blocks() {
        // 64 KiB chunks (16 blocks), 20 blocks + 100 bytes.
        let size = 20 * 4096 + 100;
        let i = Inode::parse(&compact(4, 0x24, size, 0), 1, &sb()).unwrap();
        let info = i.chunk_info().unwrap();
        assert_eq!(info.chunk_of_block(15), 0);
        assert_eq!(info.chunk_of_block(16), 1);
        assert_eq!(info.block_in_chunk(17), 1);
        let m = ChunkAddr::Mapped {
            device_id: 2,
            blk: 1000,
        };
        assert_eq!(
            i.map_chunked(3, m),
            Ok(Some(ChunkMapping::Mapped {
                device_id: 2,
                chunk_blk: 1000,
                block_in_chunk: 3,
                len: 4096
            }))
        );
        assert_eq!(
            i.map_chunked(20, m),
            Ok(Some(ChunkMapping::Mapped {
                device_id: 2,
                chunk_blk: 1000,
                block_in_chunk: 4,
                len: 100
            }))
        );
        assert_eq!(
            i.map_chunked(19, ChunkAddr::Hole),
            Ok(Some(ChunkMapping::Hole { len: 4096 }))
        );
        assert_eq!(
            i.map_chunked(20, ChunkAddr::Hole),
            Ok(Some(ChunkMapping::Hole { len: 100 }))
        );
        assert_eq!(i.map_chunked(21, m), Ok(None));
        assert_eq!(i.map_chunked(u64::MAX, m), Ok(None));
    }

    #[test]
    fn map_flat_refuses_chunk_based() {
        let i = Inode::parse(&compact(4, 0, 10, 0), 1, &sb()).unwrap();
        assert!(matches!(i.map_flat(0, 0, 100), Err(Error::Unsupported(..))));
        let i = Inode::parse(&compact(0, 5, 10, 0), 1, &sb()).unwrap();
        assert_eq!(
            i.map_flat(0, 0, 100),
            Ok(Some(Mapping::Block { blk: 5, len: 10 }))
        );
    }

    /// Found by the `blockmap` fuzz target (rust/format/fuzz/regressions): the
    /// inline tail position of an inode near the end of the address space, with a
    /// large xattr area, overflowed `ipos + core + xattrs`.
    #[test]
    fn fuzz_regression_inline_tail_position_overflow() {
        let i = Inode::parse(&compact(2, 0, 100, 0x8282), 1, &sb()).unwrap();
        assert_eq!(
            i.map_flat(0xffff_ffff_fffe_f000, 0, 0xffed),
            Err(Error::Corrupted("inline data position", 1))
        );
        assert!(i.map_flat(4096, 0, 100).is_ok());
    }
}
