// SPDX-License-Identifier: GPL-2.0

//! A whole-image walk through the format crate, with the same calls in the same
//! order as the kernel module makes them, bounded in depth and work.
//!
//! [`Walk::mount`] follows `fill_super` (`rust/sb.rs`): the superblock parsed
//! unverified, the metadata blob's trailer (verity descriptor, tree geometry) when
//! the image has verity and the walk verifies, the superblock parsed again from
//! verified bytes, the device table slots, each data blob's size and (verified)
//! trailer and digest, the long xattr prefix table, then the root inode, which must
//! be a directory. [`Walk::walk`] then does what `find`, `ls -l`, `getfattr -d`
//! and `cat` of every file do on the mounted tree: `readdir` of each directory
//! (`rust/dir.rs`), a `lookup` of each name (`rust/namei.rs`: binary search over
//! blocks, then in the block), `iget` of what it finds (`rust/inode.rs`),
//! `listxattr` and a `getxattr` of each listed name (`rust/xattr.rs`), and a read
//! of every block of regular files and symlinks (`rust/data.rs`: flat and inline
//! layouts, chunk tables, the device table's address mapping). On a verified
//! blob, every block read is checked against the blob's Merkle tree as
//! `rust/verity.rs` does it, with a cache of verified tree and data blocks.
//!
//! Errors of one file (what the kernel returns to one system call) are counted in
//! [`Stats::errors`] and the walk goes on; errors of the mount end it. Nothing
//! here may panic on any input: that is what `rust/format/fuzz` checks.
//!
//! Used by the fuzz targets (`rust/format/fuzz`) and the crate's tests; the kernel
//! does not compile it (it needs `alloc`).

extern crate alloc;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec;
use alloc::vec::Vec;

use super::devtable::{DeviceExtent, DeviceSlot};
use super::dir::DirBlock;
use super::error::{Error, Result};
use super::inode::{FileKind, Inode, Mapping, EXTENDED_SIZE};
use super::map::{map, MapContext, MetaRead, Place};
use super::superblock::{SuperBlock, DEVT_SLOT_SIZE, INCOMPAT_XATTR_PREFIXES};
use super::verity::{
    hash_slot, parse_hex_digest, Descriptor, Geometry, Hasher, COMPAT_RERO_VERITY, DIGEST_SIZE,
};
use super::xattr::{
    split_name, Entry, EntryHeader, InlineXattrs, LongPrefixTable, ENTRY_HEADER_SIZE,
    MAX_PREFIX_TABLE_BYTES,
};
use super::{block_pos, BLOCK_SIZE, NAME_LEN};

/// Bounds on the work of one walk (a hostile image may claim anything).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest directory level entered (the root is level 0).
    pub max_depth: usize,
    /// Inodes loaded (`iget` of a new inode).
    pub max_inodes: usize,
    /// File and directory blocks read.
    pub max_blocks: u64,
    /// Name lookups.
    pub max_lookups: usize,
    /// Xattr names listed (each one is then looked up with `getxattr`).
    pub max_xattrs: usize,
    /// Structures recorded in [`Stats::seen`] (0: none).
    pub max_seen: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_inodes: 100_000,
            max_blocks: 1 << 20,
            max_lookups: 100_000,
            max_xattrs: 100_000,
            max_seen: 0,
        }
    }
}

/// Kinds of structure a walk reads, for [`Stats::seen`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Structure {
    /// The first block (superblock at byte 1024).
    SuperBlock,
    /// A blob's trailer block (verity descriptor and signature).
    Trailer,
    /// Device table slots.
    DeviceTable,
    /// The long xattr name prefix table.
    LongPrefixes,
    /// An inode core (up to 64 bytes).
    Inode,
    /// An inline xattr region.
    InlineXattrs,
    /// A shared xattr entry.
    SharedXattr,
    /// A directory block (its valid bytes).
    DirBlock,
    /// An inode's whole chunk table.
    ChunkTable,
}

/// What a walk met.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Inodes loaded.
    pub inodes: usize,
    /// Directories read.
    pub dirs: usize,
    /// Directory entries read.
    pub dirents: usize,
    /// Lookups made, and those that found the name.
    pub lookups: usize,
    /// Lookups that found the name.
    pub found: usize,
    /// Xattrs listed and read.
    pub xattrs: usize,
    /// File and directory blocks read.
    pub blocks: u64,
    /// Blocks read as holes (zeros, chunk tables).
    pub holes: u64,
    /// Blocks read from extra devices.
    pub device_blocks: u64,
    /// Blocks checked against a Merkle tree (data and hash blocks).
    pub verified_blocks: u64,
    /// Errors returned for one file (the kernel's errno to one system call).
    pub errors: usize,
    /// True when a limit stopped the walk early.
    pub truncated: bool,
    /// Structures read, as `(kind, device, byte position, length)`, up to
    /// [`Limits::max_seen`], in the order first read.
    pub seen: Vec<(Structure, u16, u64, usize)>,
}

/// A blob: its bytes and, when verified, its tree (geometry and root hash).
struct Blob<'a> {
    bytes: &'a [u8],
    tree: Option<(Geometry, [u8; DIGEST_SIZE])>,
}

/// An extra device, as `rust/sb.rs` keeps it.
struct Device<'a> {
    blob: Blob<'a>,
    slot: DeviceSlot,
    readable_blocks: u64,
}

impl DeviceExtent for Device<'_> {
    fn blocks(&self) -> u32 {
        self.slot.blocks
    }

    fn uniaddr(&self) -> u32 {
        self.slot.uniaddr
    }
}

/// An inode as `iget` keeps it: the parsed core and its byte position.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The validated on-disk inode.
    pub disk: Inode,
    /// Byte position of the inode in the image.
    pub pos: u64,
}

/// Where the bytes of one file block come from (`rust/data.rs`).
enum Source {
    Zeros,
    Read { device: u16, pos: u64, len: usize },
}

/// The walk's metadata reads for the mapper: chunk table entries, verified as
/// every metadata read is (`read_meta` of `rust/data.rs`).
struct ChunkTables<'w, 'a, H: Hasher>(&'w mut Walk<'a, H>);

impl<H: Hasher> MetaRead for ChunkTables<'_, '_, H> {
    type Error = Error;

    fn read_meta(&mut self, pos: u64, buf: &mut [u8]) -> Result<()> {
        self.0.read_meta(pos, buf, "chunk table entry")
    }
}

/// A mounted image (see the module documentation).
pub struct Walk<'a, H: Hasher> {
    meta: Blob<'a>,
    devices: Vec<Device<'a>>,
    /// The validated superblock (parsed from verified bytes when verified).
    pub sb: SuperBlock,
    /// Bytes of the metadata blob readable as metadata.
    pub image_size: u64,
    /// The metadata blob's verity digest, when it is verified.
    pub digest: Option<[u8; DIGEST_SIZE]>,
    prefixes: Vec<u8>,
    hasher: &'a H,
    limits: Limits,
    /// What the walk met so far.
    pub stats: Stats,
    inodes: BTreeMap<u64, Loaded>,
    verified_tree: BTreeSet<(u16, u64)>,
    verified_data: BTreeSet<(u16, u64)>,
}

fn corrupted(what: &'static str, v: u64) -> Error {
    Error::Corrupted(what, v)
}

impl<'a, H: Hasher> Walk<'a, H> {
    /// Mounts the image `meta` with the extra devices `blobs` (in slot order), as
    /// `fill_super` does with `device=` options. With `verify`, an image with the
    /// rerofs verity bit is read verified (the kernel's default); without, it is
    /// read as it is (`verity=off`). Errors are those that fail the mount.
    pub fn mount(
        meta: &'a [u8],
        blobs: &[&'a [u8]],
        verify: bool,
        hasher: &'a H,
        limits: Limits,
    ) -> Result<Self> {
        if meta.len() < BLOCK_SIZE {
            return Err(Error::Truncated("image"));
        }
        let mut w = Walk {
            meta: Blob {
                bytes: meta,
                tree: None,
            },
            devices: Vec::new(),
            sb: SuperBlock::parse(meta)?,
            image_size: meta.len() as u64,
            digest: None,
            prefixes: Vec::new(),
            hasher,
            limits,
            stats: Stats::default(),
            inodes: BTreeMap::new(),
            verified_tree: BTreeSet::new(),
            verified_data: BTreeSet::new(),
        };
        w.note(Structure::SuperBlock, 0, 0, BLOCK_SIZE);
        let unverified_bytes = w.sb.image_bytes();
        if unverified_bytes > w.image_size {
            return Err(corrupted("image shorter than its superblock says", 0));
        }
        if verify && w.sb.feature_compat & COMPAT_RERO_VERITY != 0 {
            let (desc, _) = w.read_trailer(meta, unverified_bytes, 0)?;
            w.digest = Some(w.sha(&desc.to_bytes(false))?);
            w.meta.tree = Some((Geometry::new(desc.data_size)?, desc.root_hash));
            let mut block0 = vec![0u8; BLOCK_SIZE];
            w.read(0, 0, &mut block0)?;
            w.sb = SuperBlock::parse(&block0)?;
            if w.sb.image_bytes() != unverified_bytes {
                return Err(corrupted("verified superblock differs", 0));
            }
            w.image_size = unverified_bytes;
        }
        w.open_devices(blobs)?;
        w.load_long_prefixes()?;
        let root = w.iget(w.sb.root_nid)?;
        if root.disk.kind()? != FileKind::Directory {
            return Err(corrupted("root inode is not a directory", w.sb.root_nid));
        }
        Ok(w)
    }

    fn sha(&mut self, data: &[u8]) -> Result<[u8; DIGEST_SIZE]> {
        self.hasher
            .sha256(data)
            .map_err(|_| corrupted("hash failed", 0))
    }

    fn note(&mut self, what: Structure, dev: u16, pos: u64, len: usize) {
        if self.stats.seen.len() < self.limits.max_seen {
            self.stats.seen.push((what, dev, pos, len));
        }
    }

    /// `read_trailer` of `rust/sb.rs`: the trailer of a blob whose data area is
    /// `data_size` bytes, its descriptor parsed and checked to cover that size.
    fn read_trailer(&mut self, file: &[u8], data_size: u64, id: u16) -> Result<(Descriptor, u32)> {
        let geo = Geometry::new(data_size)?;
        if (file.len() as u64) < geo.blob_size() {
            return Err(corrupted(
                "blob shorter than its data, tree and trailer",
                id.into(),
            ));
        }
        let pos = geo.trailer_pos();
        let trailer = usize::try_from(pos)
            .ok()
            .and_then(|p| file.get(p..p.checked_add(BLOCK_SIZE)?))
            .ok_or(Error::Truncated("verity trailer"))?;
        self.note(Structure::Trailer, id, pos, BLOCK_SIZE);
        let desc = Descriptor::parse(trailer)?;
        if desc.data_size != data_size {
            return Err(corrupted("verity descriptor data size", desc.data_size));
        }
        let sig = desc.signature(trailer)?;
        Ok((desc, sig.len() as u32))
    }

    /// The blob of device `id` and its readable size in blocks (`SbInfo::device`).
    fn device(&self, id: u16) -> Option<(&Blob<'a>, u64)> {
        match id {
            0 => Some((&self.meta, self.sb.blocks.into())),
            n => self
                .devices
                .get(usize::from(n) - 1)
                .map(|d| (&d.blob, d.readable_blocks)),
        }
    }

    /// `Blob::read_exact_at`: reads `buf.len()` bytes at `pos` of device `id`,
    /// checking every block touched against the tree of a verified blob.
    fn read(&mut self, id: u16, pos: u64, buf: &mut [u8]) -> Result<()> {
        let (bytes, tree) = match self.device(id) {
            Some((b, _)) => (b.bytes, b.tree),
            None => return Err(corrupted("device id", id.into())),
        };
        let end = pos
            .checked_add(buf.len() as u64)
            .ok_or(Error::Truncated("read"))?;
        let Some((geo, root)) = tree else {
            let src = usize::try_from(pos)
                .ok()
                .zip(usize::try_from(end).ok())
                .and_then(|(s, e)| bytes.get(s..e))
                .ok_or(Error::Truncated("read beyond the device"))?;
            buf.copy_from_slice(src);
            return Ok(());
        };
        if end > geo.data_size {
            return Err(corrupted("read beyond the verified data", pos));
        }
        let bs = BLOCK_SIZE as u64;
        let mut done = 0usize;
        while done < buf.len() {
            let at = pos + done as u64;
            let blk = at / bs;
            let in_blk = (at % bs) as usize;
            let n = core::cmp::min(BLOCK_SIZE - in_blk, buf.len() - done);
            // `blk < data_size / 4096 <= bytes.len() / 4096` (the trailer check).
            let start = usize::try_from(blk * bs).map_err(|_| Error::Truncated("read"))?;
            let block = bytes
                .get(start..start + BLOCK_SIZE)
                .ok_or(Error::Truncated("read beyond the device"))?;
            if !self.verified_data.contains(&(id, blk)) {
                self.verify(id, bytes, &geo, &root, blk, block)?;
                self.verified_data.insert((id, blk));
            }
            buf[done..done + n].copy_from_slice(&block[in_blk..in_blk + n]);
            done += n;
        }
        Ok(())
    }

    /// `Blob::verify`: data block `blk` against the tree, up to the first verified
    /// tree block or the root hash.
    fn verify(
        &mut self,
        id: u16,
        bytes: &[u8],
        geo: &Geometry,
        root: &[u8; DIGEST_SIZE],
        blk: u64,
        data: &[u8],
    ) -> Result<()> {
        self.stats.verified_blocks += 1;
        let mut want = self.sha(data)?;
        let mut pending = Vec::new();
        let mut anchored = geo.levels == 0 && want == *root;
        let mut index = blk;
        for level in 0..geo.levels {
            let (hidx, off) = hash_slot(index);
            let tb = geo
                .tree_block(level, hidx)
                .ok_or(corrupted("tree block", hidx))?;
            let hpos = geo
                .hash_block_pos(level, hidx)
                .ok_or(corrupted("tree block", hidx))?;
            let hb = usize::try_from(hpos)
                .ok()
                .and_then(|p| bytes.get(p..p.checked_add(BLOCK_SIZE)?))
                .ok_or(Error::Truncated("hash block"))?;
            if self.verified_tree.contains(&(id, tb)) {
                anchored = hb.get(off..off + DIGEST_SIZE) == Some(&want[..]);
                break;
            }
            if hb.get(off..off + DIGEST_SIZE) != Some(&want[..]) {
                break;
            }
            self.stats.verified_blocks += 1;
            want = self.sha(hb)?;
            pending.push(tb);
            index = hidx;
            if level + 1 == geo.levels {
                anchored = want == *root;
            }
        }
        if !anchored {
            return Err(corrupted("hash mismatch in block", blk));
        }
        for tb in pending {
            self.verified_tree.insert((id, tb));
        }
        Ok(())
    }

    /// `SbInfo::read_meta`: metadata bytes, which must lie inside the image.
    fn read_meta(&mut self, pos: u64, buf: &mut [u8], what: &'static str) -> Result<()> {
        let end = pos.checked_add(buf.len() as u64);
        if end.is_none_or(|end| end > self.image_size) {
            return Err(corrupted(what, pos));
        }
        self.read(0, pos, buf)
    }

    /// `open_devices` with `device=` options: the slots, each blob's size and, on a
    /// verified image, each blob's trailer and digest against its slot's tag.
    fn open_devices(&mut self, blobs: &[&'a [u8]]) -> Result<()> {
        let extra = self.sb.extra_devices;
        if blobs.len() != usize::from(extra) {
            return Err(corrupted("device count", extra.into()));
        }
        let Some(start) = self.sb.device_slot_pos(0) else {
            return Ok(());
        };
        let end = start.saturating_add(u64::from(extra) * DEVT_SLOT_SIZE as u64);
        if end > self.image_size {
            return Err(corrupted("device table beyond the image", start));
        }
        let mut table = vec![0u8; usize::from(extra) * DEVT_SLOT_SIZE];
        self.read(0, start, &mut table)?;
        self.note(Structure::DeviceTable, 0, start, table.len());
        let verified = self.meta.tree.is_some();
        for (i, (raw, &bytes)) in table.chunks_exact(DEVT_SLOT_SIZE).zip(blobs).enumerate() {
            let slot = DeviceSlot::parse(raw)?;
            let id = i as u16 + 1;
            let need = block_pos(slot.blocks);
            if (bytes.len() as u64) < need {
                return Err(corrupted("device shorter than its slot says", id.into()));
            }
            let readable_blocks = match slot.blocks {
                0 if !verified => bytes.len() as u64 / BLOCK_SIZE as u64,
                n => n.into(),
            };
            let mut blob = Blob { bytes, tree: None };
            if verified {
                let want = parse_hex_digest(slot.tag())
                    .ok_or(corrupted("device tag is not a verity digest", id.into()))?;
                let (desc, _) = self.read_trailer(bytes, need, id)?;
                if self.sha(&desc.to_bytes(false))? != want {
                    return Err(corrupted("blob digest is not its slot's", id.into()));
                }
                blob.tree = Some((Geometry::new(desc.data_size)?, desc.root_hash));
            }
            self.devices.push(Device {
                blob,
                slot,
                readable_blocks,
            });
        }
        Ok(())
    }

    /// `load_long_prefixes`.
    fn load_long_prefixes(&mut self) -> Result<()> {
        if self.sb.feature_incompat & INCOMPAT_XATTR_PREFIXES == 0 {
            return Ok(());
        }
        let Some(pos) = self.sb.xattr_prefix_pos() else {
            return Ok(());
        };
        if self.sb.packed_nid != 0 {
            return Err(Error::Unsupported(
                "xattr name prefixes in a packed inode",
                self.sb.packed_nid,
            ));
        }
        let len = core::cmp::min(
            self.image_size.saturating_sub(pos),
            MAX_PREFIX_TABLE_BYTES as u64,
        ) as usize;
        let mut table = vec![0u8; len];
        self.read(0, pos, &mut table)?;
        self.note(Structure::LongPrefixes, 0, pos, len);
        LongPrefixTable::parse(&table, self.sb.xattr_prefix_count)?;
        self.prefixes = table;
        Ok(())
    }

    /// `iget` and `read_inode` of `rust/inode.rs`, with the inode cache.
    pub fn iget(&mut self, nid: u64) -> Result<Loaded> {
        if let Some(l) = self.inodes.get(&nid) {
            return Ok(l.clone());
        }
        if self.inodes.len() >= self.limits.max_inodes {
            self.stats.truncated = true;
            return Err(corrupted("walk limit: inodes", nid));
        }
        let pos = self.sb.inode_pos(nid).ok_or(corrupted("nid", nid))?;
        let avail = self.image_size.saturating_sub(pos);
        let len = core::cmp::min(avail, EXTENDED_SIZE as u64) as usize;
        let mut buf = [0u8; EXTENDED_SIZE];
        let buf = &mut buf[..len];
        self.read(0, pos, buf)?;
        self.note(Structure::Inode, 0, pos, len);
        let disk = Inode::parse(buf, nid, &self.sb)?;
        let kind = disk.kind()?;
        if kind == FileKind::Symlink && (disk.size == 0 || disk.size >= BLOCK_SIZE as u64) {
            return Err(corrupted("symlink size", nid));
        }
        i64::try_from(disk.mtime).map_err(|_| corrupted("inode mtime", disk.mtime))?;
        if let Some(info) = disk.chunk_info() {
            // The chunk table, for the record only (the reads below go entry by entry).
            if let (Ok(tpos), Ok(n)) = (disk.chunk_table_pos(pos), disk.chunk_count()) {
                let bytes = n.saturating_mul(info.entry_size() as u64);
                self.note(Structure::ChunkTable, 0, tpos, bytes.min(1 << 16) as usize);
            }
        }
        self.stats.inodes += 1;
        let l = Loaded { disk, pos };
        self.inodes.insert(nid, l.clone());
        Ok(l)
    }

    /// Where file block `index` of `ii` is, through the one mapper
    /// ([`crate::map::map`], as `map_extent` of `rust/data.rs` uses it), and checked
    /// to lie inside its device (`source` of `rust/data.rs`).
    fn locate(&mut self, ii: &Loaded, index: u64) -> Result<Source> {
        let bs = BLOCK_SIZE as u64;
        let Some(pos) = index.checked_mul(bs) else {
            return Ok(Source::Zeros);
        };
        // The mapper reads chunk table entries through `self`, and borrows the
        // device slots: lend it those, and put them back whatever it returns.
        let devices = core::mem::take(&mut self.devices);
        let ctx = MapContext {
            image_blocks: self.sb.blocks,
            device_id_mask: self.sb.device_id_mask(),
            flat: false,
            slots: &devices[..],
        };
        let mapped = map(&mut ChunkTables(self), &ctx, &ii.disk, ii.pos, pos, bs);
        self.devices = devices;
        let Some(e) = mapped? else {
            return Ok(Source::Zeros);
        };
        // One block asked for at a block boundary: at most a block.
        let len = usize::try_from(e.len).map_err(|_| corrupted("extent length", e.len))?;
        match e.place {
            Place::Hole => Ok(Source::Zeros),
            Place::Inline { pos } => Ok(Source::Read {
                device: 0,
                pos,
                len,
            }),
            Place::Device { device, pos } => {
                let (_, blocks) = self
                    .device(device)
                    .ok_or(corrupted("chunk device", device.into()))?;
                if pos / bs >= blocks {
                    return Err(corrupted("chunk block beyond its device", pos / bs));
                }
                if device != 0 {
                    self.stats.device_blocks += 1;
                }
                Ok(Source::Read { device, pos, len })
            }
        }
    }

    /// `read_block` of `rust/data.rs`: file block `index` of `ii` into `out` (one
    /// block), zero padded; returns the number of file bytes in it.
    pub fn read_block(&mut self, ii: &Loaded, index: u64, out: &mut [u8]) -> Result<usize> {
        if self.stats.blocks >= self.limits.max_blocks {
            self.stats.truncated = true;
            return Err(corrupted("walk limit: blocks", index));
        }
        self.stats.blocks += 1;
        let src = self.locate(ii, index)?;
        match src {
            Source::Zeros => {
                self.stats.holes += 1;
                out.fill(0);
                let start = index.saturating_mul(BLOCK_SIZE as u64);
                Ok(core::cmp::min(ii.disk.size.saturating_sub(start), out.len() as u64) as usize)
            }
            Source::Read { device, pos, len } => {
                let verified = self.device(device).is_some_and(|(b, _)| b.tree.is_some());
                if verified && pos % BLOCK_SIZE as u64 == 0 && out.len() == BLOCK_SIZE {
                    self.read(device, pos, out)?;
                    out.get_mut(len..)
                        .ok_or(corrupted("block length", len as u64))?
                        .fill(0);
                } else {
                    let (data, rest) = out
                        .split_at_mut_checked(len)
                        .ok_or(corrupted("block length", len as u64))?;
                    self.read(device, pos, data)?;
                    rest.fill(0);
                }
                Ok(len)
            }
        }
    }

    /// `readdir` of `rust/dir.rs`: the entries `(name, nid, file_type)` in order.
    pub fn readdir(&mut self, ii: &Loaded) -> Result<Vec<(Vec<u8>, u64, u8)>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; BLOCK_SIZE];
        for index in 0..ii.disk.nblocks() {
            let len = self.read_block(ii, index, &mut buf)?;
            let valid = buf
                .get(..len)
                .ok_or(corrupted("block length", len as u64))?;
            let block = DirBlock::new(valid)?;
            for i in 0..block.len() {
                let d = block.get(i)?;
                out.push((d.name.to_vec(), d.nid, d.file_type));
            }
        }
        if let Some((pos, len)) = self.dir_record(ii) {
            self.note(Structure::DirBlock, 0, pos, len);
        }
        self.stats.dirs += 1;
        self.stats.dirents += out.len();
        Ok(out)
    }

    /// Where the first block of a flat directory is, for [`Stats::seen`].
    fn dir_record(&self, ii: &Loaded) -> Option<(u64, usize)> {
        match ii.disk.map_flat(ii.pos, 0, self.sb.blocks).ok()?? {
            Mapping::Block { blk, len } => Some((block_pos(blk), len)),
            Mapping::Inline { pos, len } => Some((pos, len)),
        }
    }

    /// `lookup` of `rust/namei.rs`: the nid of `name` in directory `ii`.
    pub fn lookup(&mut self, ii: &Loaded, name: &[u8]) -> Result<Option<u64>> {
        if name.len() > NAME_LEN {
            return Err(corrupted("name too long", name.len() as u64));
        }
        if self.stats.lookups >= self.limits.max_lookups {
            self.stats.truncated = true;
            return Err(corrupted("walk limit: lookups", 0));
        }
        self.stats.lookups += 1;
        let mut buf = vec![0u8; BLOCK_SIZE];
        let (mut lo, mut hi) = (0u64, ii.disk.nblocks());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let len = self.read_block(ii, mid, &mut buf)?;
            let valid = buf
                .get(..len)
                .ok_or(corrupted("block length", len as u64))?;
            let block = DirBlock::new(valid)?;
            match block.search(name)? {
                Ok(i) => {
                    self.stats.found += 1;
                    return Ok(Some(block.get(i)?.nid));
                }
                Err(0) => hi = mid,
                Err(i) if i == block.len() => lo = mid + 1,
                Err(_) => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The inline xattr region of `ii` (`read_inline`).
    fn read_inline(&mut self, ii: &Loaded) -> Result<Vec<u8>> {
        let size = ii.disk.xattr_size();
        let mut region = vec![0u8; size];
        if size > 0 {
            let pos = ii.disk.xattr_pos(ii.pos).ok_or(corrupted("xattr pos", 0))?;
            self.read_meta(pos, &mut region, "inline xattrs")?;
            self.note(Structure::InlineXattrs, 0, pos, size);
        }
        Ok(region)
    }

    /// Shared xattr entry `id` (`read_shared`).
    fn read_shared(&mut self, id: u32) -> Result<Vec<u8>> {
        let pos = self.sb.shared_xattr_pos(id);
        let mut head = [0u8; ENTRY_HEADER_SIZE];
        self.read_meta(pos, &mut head, "shared xattr")?;
        let h = EntryHeader::parse(&head)?;
        let mut buf = vec![0u8; h.unpadded_size()];
        self.read_meta(pos, &mut buf, "shared xattr")?;
        self.note(Structure::SharedXattr, 0, pos, buf.len());
        Ok(buf)
    }

    /// `listxattr` of `rust/xattr.rs`: the full names (without the kernel's
    /// namespace filtering by caller).
    pub fn listxattr(&mut self, ii: &Loaded) -> Result<Vec<Vec<u8>>> {
        let region = self.read_inline(ii)?;
        if region.is_empty() {
            return Ok(Vec::new());
        }
        let x = InlineXattrs::parse(&region)?;
        let prefixes = core::mem::take(&mut self.prefixes);
        let r = self.list_with(&x, &prefixes);
        self.prefixes = prefixes;
        r
    }

    fn list_with(&mut self, x: &InlineXattrs<'_>, table: &[u8]) -> Result<Vec<Vec<u8>>> {
        let long = LongPrefixTable::parse(table, self.prefix_count())?;
        let mut names = Vec::new();
        let mut add = |e: &Entry<'_>| -> Result<()> {
            if let Some(n) = e.full_name(&long) {
                let mut name = vec![0u8; n.len()];
                n.write_to(&mut name).ok_or(corrupted("xattr name", 0))?;
                names.push(name);
            }
            Ok(())
        };
        for e in x.entries() {
            add(&e?)?;
        }
        for id in x.shared_ids() {
            let buf = self.read_shared(id)?;
            let (e, _) = Entry::parse(&buf)?;
            add(&e)?;
        }
        Ok(names)
    }

    fn prefix_count(&self) -> u8 {
        if self.prefixes.is_empty() {
            0
        } else {
            self.sb.xattr_prefix_count
        }
    }

    /// `getxattr` of `rust/xattr.rs`: the value of the xattr of short index `index`
    /// and name suffix `name`, `None` when there is none (`ENODATA`).
    pub fn getxattr(&mut self, ii: &Loaded, index: u8, name: &[u8]) -> Result<Option<Vec<u8>>> {
        if name.len() > NAME_LEN {
            return Err(corrupted("xattr name too long", name.len() as u64));
        }
        let region = self.read_inline(ii)?;
        if region.is_empty() {
            return Ok(None);
        }
        let x = InlineXattrs::parse(&region)?;
        if self.sb.has_xattr_filter() && x.filter_excludes(index, name) {
            return Ok(None);
        }
        let prefixes = core::mem::take(&mut self.prefixes);
        let r = self.get_with(&x, &prefixes, index, name);
        self.prefixes = prefixes;
        r
    }

    fn get_with(
        &mut self,
        x: &InlineXattrs<'_>,
        table: &[u8],
        index: u8,
        name: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let long = LongPrefixTable::parse(table, self.prefix_count())?;
        for e in x.entries() {
            let e = e?;
            if e.matches_index(index, name, &long) {
                return Ok(Some(e.value.to_vec()));
            }
        }
        for id in x.shared_ids() {
            let buf = self.read_shared(id)?;
            let (e, _) = Entry::parse(&buf)?;
            if e.matches_index(index, name, &long) {
                return Ok(Some(e.value.to_vec()));
            }
        }
        Ok(None)
    }

    /// Reads every block of a regular file or symlink; returns the bytes read (up
    /// to `keep` of them are returned, the rest only counted).
    pub fn read_file(&mut self, ii: &Loaded, keep: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; BLOCK_SIZE];
        for index in 0..ii.disk.nblocks() {
            let n = self.read_block(ii, index, &mut buf)?;
            let room = keep.saturating_sub(out.len());
            out.extend_from_slice(&buf[..n.min(room)]);
        }
        Ok(out)
    }

    /// Visits one inode: its xattrs, and its data for files and symlinks.
    fn visit(&mut self, ii: &Loaded) -> Result<()> {
        for name in self.listxattr(ii)? {
            if self.stats.xattrs >= self.limits.max_xattrs {
                self.stats.truncated = true;
                break;
            }
            self.stats.xattrs += 1;
            if let Some((index, suffix)) = split_name(&name) {
                if self.getxattr(ii, index, suffix)?.is_none() {
                    // Listed but not found: a lookup mismatch, not a crash.
                    self.stats.errors += 1;
                }
            }
        }
        match ii.disk.kind()? {
            FileKind::Regular | FileKind::Symlink => {
                self.read_file(ii, 0)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Walks the tree from the root (see the module documentation); returns the
    /// statistics. Stops early, with [`Stats::truncated`], when a limit is reached.
    pub fn walk(&mut self) -> &Stats {
        let root_nid = self.sb.root_nid;
        let mut seen_dirs = BTreeSet::new();
        let mut stack = vec![(root_nid, 0usize)];
        while let Some((nid, depth)) = stack.pop() {
            if self.stats.truncated {
                break;
            }
            let ii = match self.iget(nid) {
                Ok(ii) => ii,
                Err(_) => {
                    self.stats.errors += 1;
                    continue;
                }
            };
            if self.visit(&ii).is_err() {
                self.stats.errors += 1;
            }
            if !matches!(ii.disk.kind(), Ok(FileKind::Directory)) || !seen_dirs.insert(nid) {
                continue;
            }
            if depth >= self.limits.max_depth {
                self.stats.truncated = true;
                continue;
            }
            let entries = match self.readdir(&ii) {
                Ok(e) => e,
                Err(_) => {
                    self.stats.errors += 1;
                    continue;
                }
            };
            for (name, _, _) in entries {
                if name == b"." || name == b".." {
                    continue;
                }
                match self.lookup(&ii, &name) {
                    Ok(Some(child)) => stack.push((child, depth + 1)),
                    Ok(None) => self.stats.errors += 1,
                    Err(_) => {
                        self.stats.errors += 1;
                        if self.stats.truncated {
                            break;
                        }
                    }
                }
            }
        }
        &self.stats
    }
}
