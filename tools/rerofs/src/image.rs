// SPDX-License-Identifier: GPL-2.0

//! Reading an image (metadata blob + data blobs) through the format crate.

use crate::crypt::{decrypt_units, unwrap, ChunkKey, Key32};
use crate::util::fe;
use anyhow::{anyhow, bail, Context, Result};
use rerofs_format::devtable::DeviceSlot;
use rerofs_format::dir::DirBlock;
use rerofs_format::encrypt::{
    DevRecord, Entry as KeyEntry, Header, KeyCheck, DEVREC_SIZE, ENTRY_SIZE,
    INCOMPAT_RERO_ENCRYPTED, MAP_ENTRY_SIZE, NO_ENTRY,
};
use rerofs_format::inode::{Inode, Layout};
use rerofs_format::map::{Extent, MapContext, Place};
use rerofs_format::superblock::SuperBlock;
use rerofs_format::verity::{parse_hex_digest, Descriptor, Geometry, COMPAT_RERO_VERITY};
use rerofs_format::xattr::{prefix_of, Entry, InlineXattrs};
use rerofs_format::BLOCK_SIZE;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const BS64: u64 = BLOCK_SIZE as u64;

/// One extra device: its slot and the opened blob.
pub struct Device {
    /// The parsed slot.
    pub slot: DeviceSlot,
    /// Path of the blob file.
    pub path: PathBuf,
    /// The open blob.
    pub file: File,
    /// Its size in bytes.
    pub len: u64,
}

/// An opened image.
pub struct Image {
    /// Path of the metadata blob.
    pub path: PathBuf,
    /// The whole metadata blob.
    pub meta: Vec<u8>,
    /// The superblock.
    pub sb: SuperBlock,
    /// Device slots, in order.
    pub slots: Vec<DeviceSlot>,
    /// Opened devices, in slot order (empty when not opened).
    pub devices: Vec<Device>,
    /// The encryption header of an encrypted image.
    pub enc: Option<Header>,
    /// The image key, once checked against the key check (encrypted images).
    key: Option<Key32>,
    /// The metadata blob's trailer carries a signature.
    pub signed: bool,
}

/// A directory entry, owned.
#[derive(Debug, Clone)]
pub struct Entry2 {
    /// Nid.
    pub nid: u64,
    /// Name.
    pub name: Vec<u8>,
    /// Stored file type.
    pub file_type: u8,
}

/// True if `tag` is 64 lowercase hex digits (a content address).
pub fn is_digest_tag(tag: &[u8]) -> bool {
    tag.len() == 64
        && tag
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

impl Image {
    /// Opens the metadata blob and parses the superblock and device table.
    pub fn open(path: &Path) -> Result<Image> {
        let meta = crate::util::read(path)?;
        let sb = SuperBlock::parse_accepting(&meta, INCOMPAT_RERO_ENCRYPTED)
            .map_err(|e| anyhow!("{}: superblock at offset 1024: {e}", path.display()))?;
        if (meta.len() as u64) < sb.image_bytes() {
            bail!(
                "{}: truncated: {} bytes, but the superblock says {} blocks ({} bytes)",
                path.display(),
                meta.len(),
                sb.blocks,
                sb.image_bytes()
            );
        }
        let mut signed = false;
        if sb.feature_compat & COMPAT_RERO_VERITY != 0 {
            let g = Geometry::new(sb.image_bytes()).map_err(fe)?;
            if (meta.len() as u64) < g.blob_size() {
                bail!(
                    "{}: truncated: {} bytes, but {} data blocks with their verity tree and \
                     trailer need {} bytes",
                    path.display(),
                    meta.len(),
                    sb.blocks,
                    g.blob_size()
                );
            }
            let t = g.trailer_pos() as usize;
            signed = Descriptor::parse(&meta[t..t + BLOCK_SIZE]).is_ok_and(|d| d.sig_size > 0);
        }
        let mut enc = None;
        if sb.feature_incompat & INCOMPAT_RERO_ENCRYPTED != 0 {
            if sb.feature_compat & COMPAT_RERO_VERITY == 0 {
                bail!(
                    "{}: encrypted but without verity trees: refused (XTS is malleable)",
                    path.display()
                );
            }
            let h = Header::parse(&meta, sb.image_bytes()).map_err(|e| {
                anyhow!("{}: encryption header at offset 1152: {e}", path.display())
            })?;
            if h.devices != u32::from(sb.extra_devices) {
                bail!(
                    "{}: encryption header has {} device records, the superblock {} devices",
                    path.display(),
                    h.devices,
                    sb.extra_devices
                );
            }
            enc = Some(h);
        }
        let mut slots = Vec::new();
        for i in 0..sb.extra_devices {
            let pos = sb.device_slot_pos(i).expect("in range") as usize;
            let s = meta.get(pos..).unwrap_or(&[]);
            slots.push(DeviceSlot::parse(s).map_err(|e| {
                anyhow!(
                    "{}: device slot {} at offset {pos}: {e}",
                    path.display(),
                    i + 1
                )
            })?);
        }
        Ok(Image {
            path: path.to_path_buf(),
            meta,
            sb,
            slots,
            devices: Vec::new(),
            enc,
            key: None,
            signed,
        })
    }

    /// Opens the data blobs: `explicit` in slot order if given, else each
    /// slot's tag as a file name in `blob_dir` (default: the image's directory).
    pub fn open_devices(&mut self, explicit: &[PathBuf], blob_dir: Option<&Path>) -> Result<()> {
        if !explicit.is_empty() && explicit.len() != self.slots.len() {
            bail!(
                "{}: the image has {} extra device(s) but {} --device given",
                self.path.display(),
                self.slots.len(),
                explicit.len()
            );
        }
        let dir = blob_dir
            .map(Path::to_path_buf)
            .or_else(|| self.path.parent().map(Path::to_path_buf))
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        for (i, slot) in self.slots.iter().enumerate() {
            let path = match explicit.get(i) {
                Some(p) => p.clone(),
                None => {
                    let tag = slot.tag();
                    if !is_digest_tag(tag) {
                        bail!(
                            "{}: device {} has tag {:?}, not a blob digest; give --device",
                            self.path.display(),
                            i + 1,
                            String::from_utf8_lossy(tag)
                        );
                    }
                    dir.join(std::str::from_utf8(tag).expect("hex"))
                }
            };
            let file = File::open(&path)
                .with_context(|| format!("{}: cannot open device {}", path.display(), i + 1))?;
            let len = file.metadata()?.len();
            self.devices.push(Device {
                slot: *slot,
                path,
                file,
                len,
            });
        }
        Ok(())
    }

    /// Parses inode `nid`; returns it and its byte position.
    pub fn inode(&self, nid: u64) -> Result<(Inode, u64)> {
        let pos = self
            .sb
            .inode_pos(nid)
            .ok_or_else(|| anyhow!("nid {nid}: position overflows"))?;
        let buf = usize::try_from(pos)
            .ok()
            .and_then(|p| self.meta.get(p..))
            .unwrap_or(&[]);
        let i = Inode::parse(buf, nid, &self.sb)
            .map_err(|e| anyhow!("inode {nid} at offset {pos}: {e}"))?;
        Ok((i, pos))
    }

    fn meta_at(&self, pos: u64, len: usize, what: &str) -> Result<&[u8]> {
        usize::try_from(pos)
            .ok()
            .and_then(|p| self.meta.get(p..p.checked_add(len)?))
            .ok_or_else(|| anyhow!("{what}: offset {pos}+{len} is beyond the metadata blob"))
    }

    /// Full names and values of an inode's xattrs (inline and shared).
    pub fn xattrs(&self, i: &Inode, ipos: u64) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let region = self.meta_at(ipos + i.core_size() as u64, i.xattr_size(), "xattrs")?;
        let ctx = |e| {
            anyhow!(
                "inode {} xattrs at offset {}: {e}",
                i.nid,
                ipos + i.core_size() as u64
            )
        };
        let x = InlineXattrs::parse(region).map_err(ctx)?;
        let mut out = Vec::new();
        let mut push = |e: Entry| -> Result<()> {
            let prefix = prefix_of(e.name_index).ok_or_else(|| {
                anyhow!(
                    "inode {}: xattr name index {:#x} unsupported",
                    i.nid,
                    e.name_index
                )
            })?;
            let mut name = prefix.to_vec();
            name.extend_from_slice(e.suffix);
            out.push((name, e.value.to_vec()));
            Ok(())
        };
        for id in x.shared_ids() {
            let pos = self.sb.shared_xattr_pos(id);
            let buf = usize::try_from(pos)
                .ok()
                .and_then(|p| self.meta.get(p..))
                .unwrap_or(&[]);
            let (e, _) = Entry::parse(buf)
                .map_err(|e| anyhow!("inode {}: shared xattr {id} at offset {pos}: {e}", i.nid))?;
            push(e)?;
        }
        for e in x.entries() {
            push(e.map_err(ctx)?)?;
        }
        Ok(out)
    }

    /// Reads a device block range.
    fn read_dev(&self, device: u16, blk: u64, out: &mut [u8]) -> Result<()> {
        let pos = blk
            .checked_mul(BS64)
            .ok_or_else(|| anyhow!("block {blk} overflows"))?;
        if device == 0 {
            out.copy_from_slice(self.meta_at(pos, out.len(), "data block")?);
            return Ok(());
        }
        let d = self
            .devices
            .get(usize::from(device) - 1)
            .ok_or_else(|| anyhow!("device {device} is not open (give --device or --blob-dir)"))?;
        // erofs-utils 1.5 `--blobdev` leaves the slot's block count 0; Linux only
        // uses it for unified addressing, so then the blob's own size bounds it.
        let limit = if d.slot.blocks == 0 {
            d.len / BS64
        } else {
            u64::from(d.slot.blocks)
        };
        if blk + (out.len() as u64).div_ceil(BS64) > limit {
            bail!("block {blk} is beyond device {device}'s {limit} blocks");
        }
        d.file.read_exact_at(out, pos).with_context(|| {
            format!(
                "{}: short read at offset {pos} (blob truncated?)",
                d.path.display()
            )
        })
    }

    /// Maps file bytes `pos..pos + len` of inode `i` (at byte `ipos`) with the
    /// format crate's mapper: the longest contiguous run from `pos`, `None` at EOF.
    pub fn map(&self, i: &Inode, ipos: u64, pos: u64, len: u64) -> Result<Option<Extent>> {
        let ctx = MapContext {
            image_blocks: self.sb.blocks,
            device_id_mask: self.sb.device_id_mask(),
            flat: false,
            slots: &self.slots,
        };
        rerofs_format::map::map(&mut &self.meta[..], &ctx, i, ipos, pos, len)
            .map_err(|e| anyhow!("inode {} at file offset {pos}: {e}", i.nid))
    }

    /// Reads the whole data of an inode, calling `f` with each piece in order.
    /// Returns the number of chunk references and the mapped (device, block) of
    /// each chunk (for dedup statistics).
    pub fn read_data(
        &self,
        i: &Inode,
        ipos: u64,
        mut f: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<Vec<(u16, u64)>> {
        let mut refs = Vec::new();
        // Chunk-based files one chunk at a time: a reference per chunk, and an
        // encrypted chunk is decrypted whole. Flat files in one run (plus the tail).
        let (step, chunked) = match i.layout {
            Layout::ChunkBased(info) => (info.chunk_size(), true),
            Layout::FlatPlain | Layout::FlatInline => (u64::MAX, false),
        };
        let zeros = vec![0u8; BLOCK_SIZE];
        let mut pos = 0;
        while let Some(e) = self.map(i, ipos, pos, step - pos % step)? {
            let len = usize::try_from(e.len)
                .map_err(|_| anyhow!("inode {}: extent of {} bytes", i.nid, e.len))?;
            match e.place {
                Place::Hole => {
                    let mut left = len;
                    while left > 0 {
                        let n = left.min(BLOCK_SIZE);
                        f(&zeros[..n])?;
                        left -= n;
                    }
                }
                Place::Inline { pos: at } => f(self.meta_at(at, len, "inline data")?)?,
                Place::Device { device: 0, pos: at } if !chunked => {
                    f(self.meta_at(at, len, "data block")?)?
                }
                Place::Device { device, pos: at } => {
                    // Chunk-based: `at` is a chunk start, so block aligned.
                    let blk = at / BS64;
                    refs.push((device, blk));
                    let mut data = vec![0u8; len];
                    let r = if self.enc.is_some() {
                        self.read_encrypted(device, blk, &mut data)
                    } else {
                        self.read_dev(device, blk, &mut data)
                    };
                    r.with_context(|| {
                        format!(
                            "inode {} chunk {} (device {device}, block {blk})",
                            i.nid,
                            pos / step
                        )
                    })?;
                    f(&data)?;
                }
            }
            pos = e.end();
        }
        Ok(refs)
    }

    /// Checks `key` against the image's key check (a GCM tag over the image
    /// digest) and keeps it for reading file data.
    pub fn set_image_key(&mut self, key: Key32) -> Result<()> {
        if self.enc.is_none() {
            bail!(
                "{}: not an encrypted image (no key needed)",
                self.path.display()
            );
        }
        let d = self.sb.image_bytes();
        let g = Geometry::new(d).map_err(fe)?;
        let t = g.trailer_pos() as usize;
        let kc = KeyCheck::parse(&self.meta[t..t + BLOCK_SIZE]).map_err(|e| {
            anyhow!(
                "{}: key check in the trailer at offset {t}: {e}",
                self.path.display()
            )
        })?;
        let digest = crate::verity::build_tree(&self.meta[..d as usize])?.digest;
        if !crate::crypt::key_matches(&key, &kc, &digest) {
            bail!(
                "{}: wrong image key: the key check does not match this image",
                self.path.display()
            );
        }
        self.key = Some(key);
        Ok(())
    }

    /// Key table entry `idx` and its byte position.
    pub fn entry(&self, idx: u32) -> Result<(u64, KeyEntry)> {
        let h = self.enc.as_ref().ok_or_else(|| anyhow!("not encrypted"))?;
        let pos = h
            .entry_pos(idx)
            .ok_or_else(|| anyhow!("key table entry {idx} does not exist"))?;
        let e = KeyEntry::parse(self.meta_at(pos, ENTRY_SIZE, "key table entry")?)
            .map_err(|e| anyhow!("key table entry {idx} at offset {pos}: {e}"))?;
        Ok((pos, e))
    }

    /// The fs-verity digest of device `device`'s blob (its slot's tag).
    pub fn blob_digest(&self, device: u16) -> Result<[u8; 32]> {
        let slot = usize::from(device)
            .checked_sub(1)
            .and_then(|i| self.slots.get(i))
            .ok_or_else(|| anyhow!("device {device} does not exist"))?;
        parse_hex_digest(slot.tag())
            .ok_or_else(|| anyhow!("device {device}'s tag is not a blob digest"))
    }

    /// Unwraps entry `idx` (`e`) with the image key.
    pub fn unwrap_entry(&self, idx: u32, e: &KeyEntry, blob: &[u8; 32]) -> Result<ChunkKey> {
        let key = self.key.as_ref().ok_or_else(|| {
            anyhow!(
                "{}: the image is encrypted: give --image-key",
                self.path.display()
            )
        })?;
        unwrap(key, e, blob).ok_or_else(|| {
            anyhow!("key table entry {idx}: does not unwrap (altered, moved or another image's)")
        })
    }

    /// The key table entry of block `blk` of device `device`, found as the
    /// kernel finds it: device record, block map, entry.
    pub fn entry_of(&self, device: u16, blk: u64) -> Result<(u32, KeyEntry)> {
        let h = self.enc.as_ref().ok_or_else(|| anyhow!("not encrypted"))?;
        let rpos = h
            .devrec_pos(device)
            .ok_or_else(|| anyhow!("device {device} has no encryption record"))?;
        let r = DevRecord::parse(
            self.meta_at(rpos, DEVREC_SIZE, "device record")?,
            self.sb.image_bytes(),
        )
        .map_err(|e| anyhow!("device record of device {device} at offset {rpos}: {e}"))?;
        let slot_blocks = self.slots.get(usize::from(device) - 1).map(|s| s.blocks);
        if Some(r.blocks) != slot_blocks {
            bail!(
                "device record of device {device}: {} blocks, its slot {slot_blocks:?}",
                r.blocks
            );
        }
        let mpos = r
            .map_entry_pos(blk)
            .ok_or_else(|| anyhow!("block {blk} is beyond device {device}'s block map"))?;
        let m = self.meta_at(mpos, MAP_ENTRY_SIZE, "block map")?;
        let idx = u32::from_le_bytes(m.try_into().expect("4 bytes"));
        if idx == NO_ENTRY {
            bail!(
                "device {device} block {blk}: in no encrypted chunk (block map at offset {mpos})"
            );
        }
        let (_, e) = self.entry(idx)?;
        if e.device != device || e.unit_of(blk).is_none() {
            bail!("device {device} block {blk}: block map at offset {mpos} names entry {idx}, which is another chunk's");
        }
        Ok((idx, e))
    }

    /// Checks the whole key table: every entry parses, names an existing
    /// device and unwraps with the image key; every device record matches its
    /// slot; every block map names, for each block, the entry whose chunk
    /// holds it (or none), and each entry's blocks all map to it. Returns the
    /// problems found.
    pub fn check_key_table(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let Some(h) = self.enc else {
            return problems;
        };
        let mut entries = Vec::new();
        for idx in 0..h.entries as u32 {
            let r = self.entry(idx).and_then(|(_, e)| {
                let blob = self.blob_digest(e.device)?;
                let slot_blocks = self.slots[usize::from(e.device) - 1].blocks;
                if u64::from(e.startblk) + u64::from(e.blocks) > u64::from(slot_blocks) {
                    bail!(
                        "key table entry {idx}: chunk beyond device {}'s {slot_blocks} blocks",
                        e.device
                    );
                }
                self.unwrap_entry(idx, &e, &blob)?;
                Ok(e)
            });
            match r {
                Ok(e) => entries.push(Some(e)),
                Err(e) => {
                    problems.push(format!("{e:#}"));
                    entries.push(None);
                }
            }
        }
        for (k, slot) in self.slots.iter().enumerate() {
            let device = (k + 1) as u16;
            for blk in 0..u64::from(slot.blocks) {
                // A blob is made of chunks only: every block is in one.
                if let Err(e) = self.entry_of(device, blk) {
                    problems.push(format!("{e:#}"));
                    break;
                }
            }
        }
        for (idx, e) in entries.iter().enumerate() {
            let Some(e) = e else { continue };
            for blk in u64::from(e.startblk)..u64::from(e.startblk) + u64::from(e.blocks) {
                match self.entry_of(e.device, blk) {
                    Ok((i, _)) if i as usize == idx => {}
                    _ => {
                        problems.push(format!(
                            "key table entry {idx}: block {blk} of device {} does not map to it",
                            e.device
                        ));
                        break;
                    }
                }
            }
        }
        problems
    }

    /// Reads and decrypts `out.len()` bytes of the encrypted chunk starting at
    /// block `blk` of device `device`.
    fn read_encrypted(&self, device: u16, blk: u64, out: &mut [u8]) -> Result<()> {
        let (idx, e) = self.entry_of(device, blk)?;
        if u64::from(e.startblk) != blk {
            bail!("device {device} block {blk}: a chunk index points inside chunk {idx}, not at its start");
        }
        let n = out.len().div_ceil(BLOCK_SIZE);
        if n as u64 > u64::from(e.blocks) {
            bail!(
                "device {device} block {blk}: {n} blocks read from a chunk of {}",
                e.blocks
            );
        }
        let k = self.unwrap_entry(idx, &e, &self.blob_digest(device)?)?;
        let mut buf = zeroize::Zeroizing::new(vec![0u8; n * BLOCK_SIZE]);
        self.read_dev(device, blk, &mut buf)?;
        decrypt_units(&k, &mut buf);
        out.copy_from_slice(&buf[..out.len()]);
        Ok(())
    }

    /// Reads and parses the entries of directory inode `i`, in stored order.
    pub fn dir_entries(&self, i: &Inode, ipos: u64) -> Result<Vec<Entry2>> {
        let mut data = Vec::with_capacity(i.size as usize);
        self.read_data(i, ipos, |d| {
            data.extend_from_slice(d);
            Ok(())
        })?;
        let mut out = Vec::new();
        for (k, blk) in data.chunks(BLOCK_SIZE).enumerate() {
            let ctx = |e| anyhow!("directory inode {} block {k}: {e}", i.nid);
            let d = DirBlock::new(blk).map_err(ctx)?;
            for j in 0..d.len() {
                let e = d.get(j).map_err(ctx)?;
                out.push(Entry2 {
                    nid: e.nid,
                    name: e.name.to_vec(),
                    file_type: e.file_type,
                });
            }
        }
        Ok(out)
    }
}
