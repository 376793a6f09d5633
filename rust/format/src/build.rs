// SPDX-License-Identifier: GPL-2.0

//! Serializers: the inverse of the parsers, used by the image builder.
//!
//! Every function writes into a caller-provided byte slice, checks that the
//! structure fits, and returns an [`Error`] instead of panicking. Nothing here
//! allocates. The layouts are those of Linux 6.12's `fs/erofs/erofs_fs.h` (no
//! 48-bit addressing, no metabox, compact inodes without a per-inode mtime).

use super::dir::{Dirent, DIRENT_SIZE};
use super::error::{Error, Result};
use super::inode::{COMPACT_SIZE, EXTENDED_SIZE};
use super::superblock::{checksum, SuperBlock, COMPAT_SB_CHKSUM, SUPER_SIZE};
use super::{BLOCK_BITS, BLOCK_SIZE, NAME_LEN, SUPER_MAGIC, SUPER_OFFSET};

/// Data layout `EROFS_INODE_FLAT_PLAIN`.
pub const LAYOUT_FLAT_PLAIN: u8 = 0;
/// Data layout `EROFS_INODE_FLAT_INLINE`.
pub const LAYOUT_FLAT_INLINE: u8 = 2;
/// Data layout `EROFS_INODE_CHUNK_BASED`.
pub const LAYOUT_CHUNK_BASED: u8 = 4;

pub use super::devtable::TAG_SIZE as DEVICE_TAG_SIZE;
pub use super::inode::{
    BLOCK_MAP_ENTRY_SIZE, CHUNK_FORMAT_BLKBITS_MASK, CHUNK_FORMAT_INDEXES, CHUNK_INDEX_SIZE,
};
pub use super::superblock::DEVT_SLOT_SIZE as DEVICE_SLOT_SIZE;
pub use super::xattr::{
    ENTRY_HEADER_SIZE as XATTR_ENTRY_SIZE, IBODY_HEADER_SIZE as XATTR_IBODY_HEADER_SIZE,
};

/// Mutable sub-slice `buf[off..off + len]`, or [`Error::Truncated`] naming `what`.
fn window<'a>(
    buf: &'a mut [u8],
    off: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a mut [u8]> {
    let end = off.checked_add(len).ok_or(Error::Truncated(what))?;
    buf.get_mut(off..end).ok_or(Error::Truncated(what))
}

/// Copies `data` to `buf[off..]`, checking bounds.
fn put(buf: &mut [u8], off: usize, data: &[u8], what: &'static str) -> Result<()> {
    window(buf, off, data.len(), what)?.copy_from_slice(data);
    Ok(())
}

/// Writes the superblock into `block0`, the image's first block (at least 4096
/// bytes), at byte 1024, with 4 KiB blocks, no extension slots and no compression.
///
/// When `sb.feature_compat` has `SB_CHKSUM`, the checksum is computed over bytes
/// 1024..4096 of `block0` as they are after the write; so everything else that
/// lives in the first block (a device table placed there, for instance) must be
/// written before calling this.
pub fn write_superblock(block0: &mut [u8], sb: &SuperBlock) -> Result<()> {
    if block0.len() < BLOCK_SIZE {
        return Err(Error::Truncated("first block"));
    }
    let root =
        u16::try_from(sb.root_nid).map_err(|_| Error::Unsupported("root nid", sb.root_nid))?;
    let s = window(block0, SUPER_OFFSET, SUPER_SIZE, "superblock")?;
    s.fill(0);
    put(s, 0x00, &SUPER_MAGIC.to_le_bytes(), "superblock")?;
    put(s, 0x08, &sb.feature_compat.to_le_bytes(), "superblock")?;
    put(s, 0x0C, &[BLOCK_BITS, 0], "superblock")?;
    put(s, 0x0E, &root.to_le_bytes(), "superblock")?;
    put(s, 0x10, &sb.inos.to_le_bytes(), "superblock")?;
    put(s, 0x18, &sb.build_time.to_le_bytes(), "superblock")?;
    put(s, 0x20, &sb.build_time_nsec.to_le_bytes(), "superblock")?;
    put(s, 0x24, &sb.blocks.to_le_bytes(), "superblock")?;
    put(s, 0x28, &sb.meta_blkaddr.to_le_bytes(), "superblock")?;
    put(s, 0x2C, &sb.xattr_blkaddr.to_le_bytes(), "superblock")?;
    put(s, 0x30, &sb.uuid, "superblock")?;
    put(s, 0x40, &sb.volume_name, "superblock")?;
    put(s, 0x50, &sb.feature_incompat.to_le_bytes(), "superblock")?;
    put(s, 0x56, &sb.extra_devices.to_le_bytes(), "superblock")?;
    put(s, 0x58, &sb.devt_slotoff.to_le_bytes(), "superblock")?;
    put(s, 0x5B, &[sb.xattr_prefix_count], "superblock")?;
    put(s, 0x5C, &sb.xattr_prefix_start.to_le_bytes(), "superblock")?;
    put(s, 0x60, &sb.packed_nid.to_le_bytes(), "superblock")?;
    put(s, 0x68, &[sb.xattr_filter_reserved], "superblock")?;
    if sb.feature_compat & COMPAT_SB_CHKSUM != 0 {
        let crc = checksum(block0)?;
        put(block0, SUPER_OFFSET + 4, &crc.to_le_bytes(), "superblock")?;
    }
    Ok(())
}

/// The fields of an on-disk inode core, as the builder fills them in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InodeCore {
    /// Write the 64-byte extended form (otherwise the 32-byte compact one).
    pub extended: bool,
    /// Data layout (`LAYOUT_*`).
    pub layout: u8,
    /// `i_xattr_icount` (see [`xattr_icount`]).
    pub xattr_icount: u16,
    /// File type and permission bits.
    pub mode: u16,
    /// Link count.
    pub nlink: u32,
    /// Size in bytes.
    pub size: u64,
    /// The `i_u` union: start block, encoded rdev, or chunk format.
    pub raw_u: u32,
    /// `i_ino`: the 32-bit inode number `stat` reports.
    pub ino: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds (extended form only; compact inodes use the
    /// superblock's build time).
    pub mtime: u64,
    /// Nanoseconds of `mtime` (extended form only).
    pub mtime_nsec: u32,
}

impl InodeCore {
    /// Whether this inode can be written in the compact form without losing
    /// anything, given the superblock's build time: every field must fit and the
    /// time must equal the build time (Linux 6.12 compact inodes carry no time).
    pub fn fits_compact(&self, build_time: u64, build_time_nsec: u32) -> bool {
        self.nlink <= u16::MAX as u32
            && self.size <= u32::MAX as u64
            && self.uid <= u16::MAX as u32
            && self.gid <= u16::MAX as u32
            && self.mtime == build_time
            && self.mtime_nsec == build_time_nsec
    }

    /// Size of the core: 32 or 64 bytes.
    pub fn core_size(&self) -> usize {
        if self.extended {
            EXTENDED_SIZE
        } else {
            COMPACT_SIZE
        }
    }
}

/// `i_xattr_icount` for an inline xattr area of `bytes` bytes (header included;
/// 0 for none). Fails unless `bytes` is 0 or at least the 12-byte header and a
/// multiple of 4 that fits the 16-bit count.
pub fn xattr_icount(bytes: usize) -> Result<u16> {
    if bytes == 0 {
        return Ok(0);
    }
    if bytes < XATTR_IBODY_HEADER_SIZE || bytes & 3 != 0 {
        return Err(Error::Corrupted("inline xattr area size", bytes as u64));
    }
    u16::try_from((bytes - XATTR_IBODY_HEADER_SIZE) / 4 + 1)
        .map_err(|_| Error::Unsupported("inline xattr area size", bytes as u64))
}

/// Writes an inode core at the start of `buf`; returns its size (32 or 64).
///
/// Fails if the layout is not a known one, or if a field does not fit the
/// compact form when `extended` is false.
pub fn write_inode(buf: &mut [u8], ino: &InodeCore) -> Result<usize> {
    if ino.layout > LAYOUT_CHUNK_BASED || ino.layout & 1 != 0 {
        return Err(Error::Unsupported("inode data layout", ino.layout.into()));
    }
    let format = u16::from(ino.extended) | (u16::from(ino.layout) << 1);
    let size = ino.core_size();
    let b = window(buf, 0, size, "inode")?;
    b.fill(0);
    put(b, 0x00, &format.to_le_bytes(), "inode")?;
    put(b, 0x02, &ino.xattr_icount.to_le_bytes(), "inode")?;
    put(b, 0x04, &ino.mode.to_le_bytes(), "inode")?;
    put(b, 0x10, &ino.raw_u.to_le_bytes(), "inode")?;
    put(b, 0x14, &ino.ino.to_le_bytes(), "inode")?;
    if ino.extended {
        put(b, 0x08, &ino.size.to_le_bytes(), "inode")?;
        put(b, 0x18, &ino.uid.to_le_bytes(), "inode")?;
        put(b, 0x1C, &ino.gid.to_le_bytes(), "inode")?;
        put(b, 0x20, &ino.mtime.to_le_bytes(), "inode")?;
        put(b, 0x28, &ino.mtime_nsec.to_le_bytes(), "inode")?;
        put(b, 0x2C, &ino.nlink.to_le_bytes(), "inode")?;
    } else {
        let nlink = u16::try_from(ino.nlink)
            .map_err(|_| Error::Unsupported("compact nlink", ino.nlink.into()))?;
        let isize =
            u32::try_from(ino.size).map_err(|_| Error::Unsupported("compact i_size", ino.size))?;
        let uid = u16::try_from(ino.uid)
            .map_err(|_| Error::Unsupported("compact uid", ino.uid.into()))?;
        let gid = u16::try_from(ino.gid)
            .map_err(|_| Error::Unsupported("compact gid", ino.gid.into()))?;
        put(b, 0x06, &nlink.to_le_bytes(), "inode")?;
        put(b, 0x08, &isize.to_le_bytes(), "inode")?;
        put(b, 0x18, &uid.to_le_bytes(), "inode")?;
        put(b, 0x1A, &gid.to_le_bytes(), "inode")?;
    }
    Ok(size)
}

/// Encodes a device number as `i_u` of a device inode (`new_encode_dev`).
pub fn encode_rdev(major: u32, minor: u32) -> u32 {
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// The `i_u` of a chunk-based inode (`struct erofs_inode_chunk_info`): `chunkbits`
/// is `log2(chunk size / block size)`; `indexes` selects 8-byte chunk indexes.
pub fn chunk_info(chunkbits: u8, indexes: bool) -> Result<u32> {
    if u16::from(chunkbits) > CHUNK_FORMAT_BLKBITS_MASK {
        return Err(Error::Unsupported("chunkbits", chunkbits.into()));
    }
    let mut format = u16::from(chunkbits);
    if indexes {
        format |= CHUNK_FORMAT_INDEXES;
    }
    Ok(u32::from(format))
}

/// Byte offset, from the inode's position, of a chunk-based inode's entry array:
/// the inode core and inline xattrs rounded up to the entry size (`unit`, 8 for
/// indexes, 4 for a block map), as the kernel computes it. `ipos` is the inode's
/// absolute byte position.
pub fn chunk_array_pos(ipos: u64, core_size: usize, xattr_size: usize, unit: usize) -> Option<u64> {
    let end = ipos
        .checked_add(core_size as u64)?
        .checked_add(xattr_size as u64)?;
    let unit = unit as u64;
    end.checked_add(unit - 1).map(|v| v / unit * unit)
}

/// Writes one 8-byte chunk index (`struct erofs_inode_chunk_index`) at the start
/// of `buf`: `startblk` on device `device_id` (0: the unified address space),
/// or [`NULL_ADDR`](super::NULL_ADDR) for a hole.
pub fn write_chunk_index(buf: &mut [u8], startblk: u32, device_id: u16) -> Result<()> {
    let b = window(buf, 0, CHUNK_INDEX_SIZE, "chunk index")?;
    put(b, 0, &0u16.to_le_bytes(), "chunk index")?;
    put(b, 2, &device_id.to_le_bytes(), "chunk index")?;
    put(b, 4, &startblk.to_le_bytes(), "chunk index")
}

/// Writes one 4-byte block map entry at the start of `buf`.
pub fn write_block_map_entry(buf: &mut [u8], startblk: u32) -> Result<()> {
    put(buf, 0, &startblk.to_le_bytes(), "block map entry")
}

/// Writes a device slot (`struct erofs_deviceslot`, 128 bytes) at the start of
/// `buf`: `tag` (at most 64 bytes, NUL padded), the blob's size in blocks, its
/// first block in the unified address space (0: addressed by device id only) and
/// its tree root hash (all zero when `None`; see `COMPAT_RERO_SLOT_ROOT`).
pub fn write_device_slot(
    buf: &mut [u8],
    tag: &[u8],
    blocks: u32,
    mapped_blkaddr: u32,
    root_hash: Option<&[u8; 32]>,
) -> Result<()> {
    if tag.len() > DEVICE_TAG_SIZE {
        return Err(Error::Unsupported("device tag length", tag.len() as u64));
    }
    let b = window(buf, 0, DEVICE_SLOT_SIZE, "device slot")?;
    b.fill(0);
    put(b, 0, tag, "device slot")?;
    put(b, 0x40, &blocks.to_le_bytes(), "device slot")?;
    put(b, 0x44, &mapped_blkaddr.to_le_bytes(), "device slot")?;
    put(
        b,
        super::devtable::SLOT_ROOT_HASH_POS,
        root_hash.unwrap_or(&[0; 32]),
        "device slot",
    )
}

/// Size of a directory block holding `entries`: dirents then names (the block
/// itself is `BLOCK_SIZE`; this is the used part).
pub fn dir_block_used(entries: &[Dirent<'_>]) -> usize {
    entries.iter().map(|e| DIRENT_SIZE + e.name.len()).sum()
}

/// How many of `entries`, from the first, fit together in one directory block
/// of `room` bytes (at least 1 if the first fits at all).
pub fn dirents_fitting(entries: &[Dirent<'_>], room: usize) -> usize {
    let mut used = 0usize;
    for (i, e) in entries.iter().enumerate() {
        used += DIRENT_SIZE + e.name.len();
        if used > room {
            return i;
        }
    }
    entries.len()
}

/// Writes one directory block into `buf`: the dirents of `entries` (which must
/// already be sorted byte-wise, and each name 1..=255 bytes), then their names.
/// The rest of `buf` is zeroed. Returns the bytes used.
pub fn write_dir_block(buf: &mut [u8], entries: &[Dirent<'_>]) -> Result<usize> {
    if entries.is_empty() {
        return Err(Error::Corrupted("empty directory block", 0));
    }
    let used = dir_block_used(entries);
    if used > buf.len() || used > BLOCK_SIZE {
        return Err(Error::Truncated("directory block"));
    }
    buf.fill(0);
    let mut nameoff = entries.len() * DIRENT_SIZE;
    let mut prev: Option<&[u8]> = None;
    for (i, e) in entries.iter().enumerate() {
        if e.name.is_empty() || e.name.len() > NAME_LEN {
            return Err(Error::Corrupted("dirent name length", e.name.len() as u64));
        }
        if prev.is_some_and(|p| p >= e.name) {
            return Err(Error::Corrupted("dirent order", i as u64));
        }
        prev = Some(e.name);
        let off = i * DIRENT_SIZE;
        put(buf, off, &e.nid.to_le_bytes(), "dirent")?;
        // `nameoff < used <= BLOCK_SIZE`, so it fits in 16 bits.
        put(buf, off + 8, &(nameoff as u16).to_le_bytes(), "dirent")?;
        put(buf, off + 10, &[e.file_type, 0], "dirent")?;
        put(buf, nameoff, e.name, "dirent name")?;
        nameoff += e.name.len();
    }
    Ok(used)
}

/// Writes the inline xattr header (`struct erofs_xattr_ibody_header`) at the
/// start of `buf`, followed by the `shared` xattr ids; returns bytes written.
/// `name_filter` is 0 unless the image sets `COMPAT_XATTR_FILTER`.
pub fn write_xattr_ibody_header(buf: &mut [u8], name_filter: u32, shared: &[u32]) -> Result<usize> {
    let count = u8::try_from(shared.len())
        .map_err(|_| Error::Unsupported("shared xattr count", shared.len() as u64))?;
    let len = XATTR_IBODY_HEADER_SIZE + 4 * shared.len();
    let b = window(buf, 0, len, "xattr header")?;
    b.fill(0);
    put(b, 0, &name_filter.to_le_bytes(), "xattr header")?;
    put(b, 4, &[count], "xattr header")?;
    for (i, id) in shared.iter().enumerate() {
        put(
            b,
            XATTR_IBODY_HEADER_SIZE + 4 * i,
            &id.to_le_bytes(),
            "xattr header",
        )?;
    }
    Ok(len)
}

/// Size of one xattr entry with a `name_len`-byte name suffix and a
/// `value_len`-byte value, padded to 4 bytes.
pub fn xattr_entry_size(name_len: usize, value_len: usize) -> usize {
    (XATTR_ENTRY_SIZE + name_len + value_len).div_ceil(4) * 4
}

/// Writes one xattr entry (`struct erofs_xattr_entry`, name suffix, value, zero
/// padding to 4 bytes) at the start of `buf`; returns its padded size.
/// `name_index` is the prefix index (1 `user.`, 2 ACL access, 3 ACL default,
/// 4 `trusted.`, 6 `security.`; 0 for none) and `suffix` the rest of the name.
pub fn write_xattr_entry(
    buf: &mut [u8],
    name_index: u8,
    suffix: &[u8],
    value: &[u8],
) -> Result<usize> {
    let name_len = u8::try_from(suffix.len())
        .map_err(|_| Error::Unsupported("xattr name length", suffix.len() as u64))?;
    let value_size = u16::try_from(value.len())
        .map_err(|_| Error::Unsupported("xattr value size", value.len() as u64))?;
    let len = xattr_entry_size(suffix.len(), value.len());
    let b = window(buf, 0, len, "xattr entry")?;
    b.fill(0);
    put(b, 0, &[name_len, name_index], "xattr entry")?;
    put(b, 2, &value_size.to_le_bytes(), "xattr entry")?;
    put(b, XATTR_ENTRY_SIZE, suffix, "xattr entry")?;
    put(b, XATTR_ENTRY_SIZE + suffix.len(), value, "xattr entry")?;
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::super::devtable::DeviceSlot;
    use super::super::dir::{file_type, DirBlock};
    use super::super::inode::{parse_chunk_entry, ChunkAddr, ChunkInfo};
    use super::super::inode::{Inode, Layout};
    use super::super::superblock::device_id_mask;
    use super::super::superblock::{COMPAT_MTIME, INCOMPAT_CHUNKED_FILE, INCOMPAT_DEVICE_TABLE};
    use super::*;

    fn sb() -> SuperBlock {
        SuperBlock {
            feature_compat: COMPAT_SB_CHKSUM | COMPAT_MTIME,
            feature_incompat: 0,
            root_nid: 36,
            inos: 7,
            build_time: 1_700_000_000,
            build_time_nsec: 5,
            blocks: 9,
            meta_blkaddr: 1,
            xattr_blkaddr: 0,
            uuid: [7; 16],
            volume_name: *b"vol\0\0\0\0\0\0\0\0\0\0\0\0\0",
            extra_devices: 0,
            devt_slotoff: 0,
            xattr_prefix_count: 0,
            xattr_prefix_start: 0,
            xattr_filter_reserved: 0,
            packed_nid: 0,
        }
    }

    #[test]
    fn superblock_round_trip() {
        let mut blk = [0u8; BLOCK_SIZE];
        let s = sb();
        write_superblock(&mut blk, &s).unwrap();
        assert_eq!(SuperBlock::parse(&blk).unwrap(), s);
        // The checksum covers the rest of the block.
        blk[4000] ^= 1;
        assert!(matches!(
            SuperBlock::parse(&blk),
            Err(Error::BadChecksum { .. })
        ));
        assert!(write_superblock(&mut blk[..4095], &s).is_err());
    }

    #[test]
    fn superblock_feature_bits_and_device_fields() {
        let mut blk = [0u8; BLOCK_SIZE];
        let mut s = sb();
        s.feature_incompat = INCOMPAT_CHUNKED_FILE | INCOMPAT_DEVICE_TABLE;
        s.extra_devices = 3;
        s.devt_slotoff = 9;
        write_superblock(&mut blk, &s).unwrap();
        assert_eq!(&blk[0x450..0x454], &0xCu32.to_le_bytes());
        assert_eq!(&blk[0x456..0x458], &3u16.to_le_bytes());
        assert_eq!(&blk[0x458..0x45A], &9u16.to_le_bytes());
        assert_eq!(
            checksum(&blk).unwrap(),
            u32::from_le_bytes(blk[0x404..0x408].try_into().unwrap())
        );
    }

    fn core(extended: bool, layout: u8) -> InodeCore {
        InodeCore {
            extended,
            layout,
            xattr_icount: 0,
            mode: 0o100644,
            nlink: 2,
            size: 5000,
            raw_u: 42,
            ino: 3,
            uid: 1000,
            gid: 100,
            mtime: 1_700_000_000,
            mtime_nsec: 5,
        }
    }

    #[test]
    fn inode_round_trip() {
        let s = sb();
        for (extended, layout, want) in [
            (false, LAYOUT_FLAT_PLAIN, Layout::FlatPlain),
            (true, LAYOUT_FLAT_INLINE, Layout::FlatInline),
        ] {
            let mut c = core(extended, layout);
            if extended {
                c.mtime = 1234;
                c.mtime_nsec = 999;
                c.uid = 70000;
                c.size = 1 << 33;
            }
            let mut buf = [0xAAu8; 64];
            assert_eq!(write_inode(&mut buf, &c).unwrap(), c.core_size());
            let i = Inode::parse(&buf, 36, &s).unwrap();
            assert_eq!(i.extended, extended);
            assert_eq!(i.layout, want);
            assert_eq!(
                (i.mode, i.nlink, i.size, i.raw_u),
                (c.mode, c.nlink, c.size, c.raw_u)
            );
            assert_eq!(
                (i.uid, i.gid, i.mtime, i.mtime_nsec),
                (c.uid, c.gid, c.mtime, c.mtime_nsec)
            );
            assert_eq!(u32::from_le_bytes(buf[0x14..0x18].try_into().unwrap()), 3);
        }
        assert!(core(false, 0).fits_compact(1_700_000_000, 5));
        assert!(!core(false, 0).fits_compact(1_700_000_001, 5));
        let mut big = core(false, 0);
        big.uid = 70000;
        assert!(!big.fits_compact(1_700_000_000, 5));
        assert!(write_inode(&mut [0u8; 64], &big).is_err());
        assert!(write_inode(&mut [0u8; 31], &core(false, 0)).is_err());
        assert!(write_inode(&mut [0u8; 64], &core(false, 1)).is_err());
    }

    #[test]
    fn chunk_based_inode_bytes() {
        let mut c = core(true, LAYOUT_CHUNK_BASED);
        c.raw_u = chunk_info(4, true).unwrap();
        let mut buf = [0u8; 64];
        write_inode(&mut buf, &c).unwrap();
        assert_eq!(u16::from_le_bytes([buf[0], buf[1]]), 1 | (4 << 1));
        assert_eq!(u16::from_le_bytes([buf[0x10], buf[0x11]]), 0x24);
        let i = Inode::parse(&buf, 0, &sb()).unwrap();
        let info = ChunkInfo::parse(c.raw_u).unwrap();
        assert_eq!(i.layout, Layout::ChunkBased(info));
        assert_eq!(i.chunk_table_pos(4096).unwrap(), 4096 + 64);
        assert!(chunk_info(32, true).is_err());
        assert_eq!(chunk_array_pos(4096 + 32, 32, 0, 8), Some(4096 + 64));
        assert_eq!(chunk_array_pos(4096 + 32, 32, 12, 8), Some(4096 + 80));
        assert_eq!(chunk_array_pos(4096, 32, 12, 4), Some(4096 + 44));
    }

    #[test]
    fn rdev_round_trip() {
        let mut c = core(false, 0);
        c.mode = 0o020600;
        c.raw_u = encode_rdev(259, 70000);
        let mut buf = [0u8; 32];
        write_inode(&mut buf, &c).unwrap();
        let i = Inode::parse(&buf, 0, &sb()).unwrap();
        assert_eq!(i.rdev(), (259, 70000));
    }

    #[test]
    fn dir_block_round_trip() {
        let names: [&[u8]; 4] = [b".", b"..", b"a", b"zz"];
        let ents: [Dirent<'_>; 4] = core::array::from_fn(|i| Dirent {
            nid: 10 + i as u64,
            name: names[i],
            file_type: if i < 2 {
                file_type::DIR
            } else {
                file_type::REG
            },
        });
        let mut blk = [0xFFu8; BLOCK_SIZE];
        let used = write_dir_block(&mut blk, &ents).unwrap();
        assert_eq!(used, 4 * 12 + 6);
        for valid in [&blk[..], &blk[..used]] {
            let d = DirBlock::new(valid).unwrap();
            assert_eq!(d.len(), 4);
            for (i, e) in ents.iter().enumerate() {
                assert_eq!(d.get(i).unwrap(), *e);
            }
            assert_eq!(d.search(b"zz").unwrap(), Ok(3));
        }
        // Unsorted and oversize inputs are refused.
        let bad = [ents[1], ents[0]];
        assert!(write_dir_block(&mut blk, &bad).is_err());
        assert!(write_dir_block(&mut blk[..40], &ents).is_err());
        assert_eq!(dirents_fitting(&ents, 12 * 3 + 4), 3);
        assert_eq!(dirents_fitting(&ents, BLOCK_SIZE), 4);
    }

    #[test]
    fn chunk_index_and_device_slot_bytes() {
        let mut b = [0xEEu8; 8];
        write_chunk_index(&mut b, 0x1234_5678, 2).unwrap();
        assert_eq!(b, [0, 0, 2, 0, 0x78, 0x56, 0x34, 0x12]);
        assert!(write_chunk_index(&mut b[..7], 0, 0).is_err());
        let info = ChunkInfo::parse(chunk_info(4, true).unwrap()).unwrap();
        assert_eq!((info.indexes(), info.chunk_size()), (true, 65536));
        let mask = device_id_mask(3);
        assert_eq!(
            parse_chunk_entry(&b, &info, mask).unwrap(),
            ChunkAddr::Mapped {
                device_id: 2,
                blk: 0x1234_5678
            }
        );
        write_chunk_index(&mut b, super::super::NULL_ADDR, 1).unwrap();
        assert_eq!(parse_chunk_entry(&b, &info, mask).unwrap(), ChunkAddr::Hole);
        let mut m = [0u8; 4];
        write_block_map_entry(&mut m, super::super::NULL_ADDR).unwrap();
        assert_eq!(m, [0xFF; 4]);

        let mut slot = [0xEEu8; 128];
        let tag = [b'a'; 64];
        write_device_slot(&mut slot, &tag, 77, 0, Some(&[7; 32])).unwrap();
        assert_eq!(&slot[..64], &tag);
        let d = DeviceSlot::parse(&slot).unwrap();
        assert_eq!((d.tag(), d.blocks, d.uniaddr), (&tag[..], 77, 0));
        assert_eq!(&slot[64..68], &77u32.to_le_bytes());
        assert_eq!(&slot[68..72], &0u32.to_le_bytes());
        assert!(slot[72..96].iter().all(|&b| b == 0));
        assert_eq!((&slot[96..], d.root_hash), (&[7u8; 32][..], [7; 32]));
        write_device_slot(&mut slot, b"short", 1, 9, None).unwrap();
        assert_eq!(&slot[..6], b"short\0");
        assert_eq!(&slot[68..72], &9u32.to_le_bytes());
        let d = DeviceSlot::parse(&slot).unwrap();
        assert_eq!((d.tag(), d.blocks, d.uniaddr), (&b"short"[..], 1, 9));
        assert_eq!(d.root_hash, [0; 32]);
        assert!(write_device_slot(&mut slot, &[b'x'; 65], 1, 0, None).is_err());
    }

    #[test]
    fn xattr_bytes() {
        assert_eq!(xattr_icount(0).unwrap(), 0);
        assert_eq!(xattr_icount(12).unwrap(), 1);
        assert_eq!(xattr_icount(24).unwrap(), 4);
        assert!(xattr_icount(13).is_err());
        let mut b = [0xEEu8; 64];
        assert_eq!(write_xattr_ibody_header(&mut b, 0, &[5]).unwrap(), 16);
        assert_eq!(&b[..16], &[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0]);
        assert_eq!(write_xattr_entry(&mut b, 1, b"ab", b"xyz").unwrap(), 12);
        assert_eq!(
            &b[..12],
            &[2, 1, 3, 0, b'a', b'b', b'x', b'y', b'z', 0, 0, 0]
        );
        assert_eq!(xattr_entry_size(2, 3), 12);
    }
}
