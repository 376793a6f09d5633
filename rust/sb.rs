// SPDX-License-Identifier: GPL-2.0

//! Mounting: open the image, validate the superblock, load the root.

use kernel::prelude::*;
use kernel::str::{BStr, CStr};
use kernel::sync::Arc;

use crate::crypt::{self, Crypt};
use crate::errno::{efscorrupted, eopnotsupp, from_format as errno};
use crate::format::devtable::{DeviceExtent, DeviceSlot};
use crate::format::encrypt::INCOMPAT_RERO_ENCRYPTED;
use crate::format::superblock::{
    SuperBlock as DiskSuper, DEVT_SLOT_SIZE, INCOMPAT_DEVICE_TABLE, INCOMPAT_XATTR_PREFIXES,
};
use crate::format::verity::{
    Descriptor, Geometry, COMPAT_RERO_SLOT_ROOT, COMPAT_RERO_VERITY, DIGEST_SIZE,
};
use crate::format::xattr::MAX_PREFIX_TABLE_BYTES;
use crate::format::{self, block_pos, BLOCK_SIZE};
use crate::options::{Options, VerityMode};
use crate::ratelimit::RateLimit;
use crate::report::{rerofs_err, rerofs_err_ratelimited, rerofs_info, Reporter};
use crate::trust::{self, Policy, Trust};
use crate::verity::{Blob, KernelSha, MountShared, Tree};
use crate::vfs::{
    self, BackingFile, BlockCache, NewSuperBlock, RawOptions, SeqFile, StatFs, SuperParams,
};
use crate::{RerofsFs, SuperBlock};

/// Longest image name kept for messages.
const NAME_MAX: usize = 64;

/// An extra device (blob) of the image.
pub(crate) struct Device {
    /// The opened blob.
    pub(crate) file: Blob,
    /// Its slot in the device table.
    pub(crate) slot: DeviceSlot,
    /// Blocks that may be read: the slot's count, or the blob's size when the slot
    /// says 0 (mkfs.erofs 1.5 leaves slots zeroed).
    pub(crate) readable_blocks: u64,
}

impl DeviceExtent for Device {
    fn blocks(&self) -> u32 {
        self.slot.blocks
    }

    fn uniaddr(&self) -> u32 {
        self.slot.uniaddr
    }
}

/// Per-mount state (`s_fs_info`).
pub(crate) struct SbInfo {
    /// The image (the metadata blob).
    pub(crate) file: Blob,
    /// Its validated superblock.
    pub(crate) disk: DiskSuper,
    /// Bytes of the image that may be read as metadata (with verity: the data
    /// area the tree covers).
    pub(crate) image_size: u64,
    /// How trust in the image was established.
    trust: Trust,
    /// The mount options, as read at mount.
    opts: Options,
    /// The end of the image's path, for messages.
    name: KVec<u8>,
    /// Extra devices, in slot order (device id `i + 1`).
    pub(crate) devices: KVVec<Device>,
    /// The raw long xattr name prefix table (`XATTR_PREFIXES`), and its entry count.
    pub(crate) long_prefixes: (KVec<u8>, u8),
    /// The cache of verified blocks and the message rate limit, shared with the
    /// verified blobs.
    shared: Arc<MountShared>,
    /// The keys of an encrypted image.
    pub(crate) crypt: Option<Crypt>,
}

/// Messages of a mount name its image and obey its rate limit.
impl Reporter for SbInfo {
    fn image(&self) -> &BStr {
        self.name()
    }

    fn allow(&self) -> bool {
        self.shared.limit.allow()
    }
}

impl SbInfo {
    /// Whether file data is read with direct I/O (`io=`, direct by default).
    pub(crate) fn direct_io(&self) -> bool {
        self.opts.direct_io()
    }

    /// The image's name (the end of its path), for messages.
    pub(crate) fn name(&self) -> &BStr {
        BStr::from_bytes(&self.name)
    }

    /// Device `id` (0: the primary image) and its size in blocks.
    pub(crate) fn device(&self, id: u16) -> Option<(&Blob, u64)> {
        match id {
            0 => Some((&self.file, self.disk.blocks.into())),
            n => self
                .devices
                .get(usize::from(n) - 1)
                .map(|d| (&d.file, d.readable_blocks)),
        }
    }

    /// Reads `buf.len()` metadata bytes at image byte `pos`, checking they lie inside
    /// the image first (`what` names the structure in the error).
    pub(crate) fn read_meta(&self, pos: u64, buf: &mut [u8], what: &'static str) -> Result {
        let end = pos.checked_add(buf.len() as u64);
        if end.map_or(true, |end| end > self.image_size) {
            rerofs_err_ratelimited!(self, "{} at byte {} lies beyond the image", what, pos);
            return Err(efscorrupted());
        }
        self.file.read_meta_at(self.name(), pos, buf)
    }
}

/// Reads and parses the `extra` device slots, after checking that the whole table
/// lies inside the image (so nothing is allocated for slots that are not there).
fn read_slots(
    disk: &DiskSuper,
    file: &Blob,
    image_size: u64,
    extra: u16,
    shown: &BStr,
) -> Result<KVVec<DeviceSlot>> {
    let Some(start) = disk.device_slot_pos(0) else {
        return Ok(KVVec::new());
    };
    let end = start.saturating_add(u64::from(extra) * DEVT_SLOT_SIZE as u64);
    if end > image_size {
        rerofs_err!(
            shown,
            "the device table ({} slots at byte {}) does not fit in the image ({} bytes)",
            extra,
            start,
            image_size
        );
        return Err(efscorrupted());
    }
    let total = usize::from(extra);
    let mut slots = KVVec::with_capacity(total, GFP_KERNEL)?;
    // The slots are contiguous: read them a block's worth at a time.
    let mut buf = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
    let mut pos = start;
    while slots.len() < total {
        let n = core::cmp::min(BLOCK_SIZE / DEVT_SLOT_SIZE, total - slots.len());
        let part = buf.get_mut(..n * DEVT_SLOT_SIZE).ok_or(EINVAL)?;
        file.read_exact_at(shown, pos, part)?;
        for raw in part.chunks_exact(DEVT_SLOT_SIZE) {
            let slot = DeviceSlot::parse(raw).map_err(|e| {
                rerofs_err!(shown, "device slot {}: {}", slots.len(), e);
                errno(&e)
            })?;
            slots.push(slot, GFP_KERNEL)?;
        }
        pos += part.len() as u64;
    }
    Ok(slots)
}

/// True when `tag` is a blob name: 64 lowercase hex digits.
fn is_blob_name(tag: &[u8]) -> bool {
    tag.len() == 64 && tag.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Under `blobdir=`, every slot's tag must be a blob name, and no two slots may name
/// the same blob (each opened blob costs memory and a file; an image has no reason
/// to name one twice).
fn check_blob_names(slots: &[DeviceSlot], shown: &BStr) -> Result {
    for (i, slot) in slots.iter().enumerate() {
        if !is_blob_name(slot.tag()) {
            rerofs_err!(
                shown,
                "device slot {}: tag {} is not 64 lowercase hex digits, refused with blobdir=",
                i,
                BStr::from_bytes(slot.tag())
            );
            return Err(EINVAL);
        }
    }
    if has_duplicate_tag(slots)? {
        rerofs_err!(
            shown,
            "two device slots name the same blob, refused with blobdir="
        );
        return Err(efscorrupted());
    }
    Ok(())
}

/// True when two slots have the same tag: an open-addressing hash set of slot
/// indexes, at most half full (linear in the number of slots).
fn has_duplicate_tag(slots: &[DeviceSlot]) -> Result<bool> {
    let size = slots.len().saturating_mul(2).next_power_of_two().max(2);
    let mask = size - 1;
    let mut table = KVVec::from_elem(usize::MAX, size, GFP_KERNEL)?;
    for (i, slot) in slots.iter().enumerate() {
        // FNV-1a over the tag.
        let h = slot.tag.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let mut j = h as usize & mask;
        loop {
            let cell = table.get_mut(j).ok_or(EINVAL)?;
            if *cell == usize::MAX {
                *cell = i;
                break;
            }
            if slots.get(*cell).map(|o| o.tag) == Some(slot.tag) {
                return Ok(true);
            }
            j = (j + 1) & mask;
        }
    }
    Ok(false)
}

/// Checks the `device=` and `blobdir=` options against the `extra` devices the
/// image has: an image never chooses a path outside the blob directory, so
/// without either option an image with extra devices is refused.
fn check_device_options(extra: u16, opts: &Options, shown: &BStr) -> Result {
    let given = opts.devices.len();
    if opts.blobdir.is_some() && given != 0 {
        rerofs_err!(shown, "blobdir= and device= cannot be used together");
        return Err(EINVAL);
    }
    if given != 0 && given != usize::from(extra) {
        rerofs_err!(
            shown,
            "the image has {} extra devices but {} device= options were given",
            extra,
            given
        );
        return Err(EINVAL);
    }
    if extra != 0 && opts.blobdir.is_none() && given == 0 {
        rerofs_err!(
            shown,
            "the image has {} extra devices (blobs): give their directory with -o blobdir=DIR or each one with -o device=PATH",
            extra
        );
        return Err(EINVAL);
    }
    Ok(())
}

/// Chooses the file of device `i` (slot `i`): the `device=` path the mounter gave,
/// or the blob named by the slot's tag inside the mounter's `blobdir=`. Returns
/// whether the name came from the image (untrusted), and the path with its NUL.
fn device_path(i: u16, slot: &DeviceSlot, opts: &Options) -> Result<(bool, KVec<u8>)> {
    let mut buf = KVec::new();
    if let Some(path) = opts.devices.get(usize::from(i)) {
        buf.extend_from_slice(path.as_bytes_with_nul(), GFP_KERNEL)?;
        return Ok((false, buf));
    }
    // `check_device_options` refuses extra devices without `device=` or `blobdir=`.
    let dir = opts.blobdir.as_deref().ok_or(EINVAL)?;
    buf.extend_from_slice(dir.as_bytes(), GFP_KERNEL)?;
    buf.push(b'/', GFP_KERNEL)?;
    buf.extend_from_slice(slot.tag(), GFP_KERNEL)?;
    buf.push(0, GFP_KERNEL)?;
    Ok((true, buf))
}

/// Opens device `id` at `path` (named by the image when `untrusted`), and checks
/// it is a regular file or block device, not stacked too deep, and at least
/// `need` bytes long.
fn open_device(
    path: &CStr,
    untrusted: bool,
    id: u16,
    need: u64,
    stack_depth: &mut i32,
    shown: &BStr,
) -> Result<BackingFile> {
    let opened = if untrusted {
        BackingFile::open_untrusted_name(path)
    } else {
        BackingFile::open_nonblock(path)
    };
    let dev = opened.inspect_err(|e| {
        rerofs_err!(
            shown,
            "cannot open device {} ({}): {:?}{}",
            id,
            path,
            e,
            if untrusted && crate::errno::is_eloop(e) {
                " (a symlink: blobs are not looked up through symlinks)"
            } else {
                ""
            }
        );
    })?;
    if !dev.is_file_or_bdev() {
        rerofs_err!(
            shown,
            "device {} ({}) is not a regular file or block device",
            id,
            path
        );
        return Err(EINVAL);
    }
    check_stack_depth(&dev, stack_depth, shown)?;
    if dev.size() < need {
        rerofs_err!(
            shown,
            "device {} ({}) is too short: {} bytes, the device table says {}",
            id,
            path,
            dev.size(),
            need
        );
        return Err(efscorrupted());
    }
    Ok(dev)
}

/// Opens the extra devices named by `device=` options, or else by the device
/// slots' tags inside `blobdir=`; when the metadata blob is verified, each blob
/// must be the one its slot names (see `trust::slot_digest`).
fn open_devices(
    disk: &DiskSuper,
    file: &Blob,
    image_size: u64,
    opts: &Options,
    shown: &BStr,
    stack_depth: &mut i32,
    shared: &Arc<MountShared>,
) -> Result<KVVec<Device>> {
    let extra = if disk.feature_incompat & INCOMPAT_DEVICE_TABLE != 0 {
        disk.extra_devices
    } else {
        0
    };
    check_device_options(extra, opts, shown)?;
    let slots = read_slots(disk, file, image_size, extra, shown)?;
    if opts.blobdir.is_some() {
        check_blob_names(&slots, shown)?;
    }
    // A verified image whose slots carry the root hashes needs no trailer: the
    // slot (in a verified block) gives the whole descriptor.
    let slot_roots = file.is_verified() && disk.feature_compat & COMPAT_RERO_SLOT_ROOT != 0;
    // Every blob is opened first, and a trailer to be read is read ahead, so that
    // the trailer reads of many blobs overlap instead of waiting in turn.
    let mut opened = KVVec::with_capacity(slots.len(), GFP_KERNEL)?;
    for (i, slot) in (0u16..).zip(slots.into_iter()) {
        let (untrusted, path_buf) = device_path(i, &slot, opts)?;
        let path = CStr::from_bytes_with_nul(&path_buf).map_err(|_| EINVAL)?;
        let id = i.checked_add(1).ok_or(EINVAL)?;
        let dev = open_device(
            path,
            untrusted,
            id,
            block_pos(slot.blocks),
            stack_depth,
            shown,
        )?;
        if file.is_verified() && !slot_roots {
            if let Ok(geo) = Geometry::new(block_pos(slot.blocks)) {
                dev.prefetch(geo.trailer_pos(), BLOCK_SIZE as u64);
            }
        }
        opened.push((i, slot, path_buf, dev), GFP_KERNEL)?;
    }
    let mut devices = KVVec::with_capacity(opened.len(), GFP_KERNEL)?;
    for (i, slot, path_buf, dev) in opened.into_iter() {
        let path = CStr::from_bytes_with_nul(&path_buf).map_err(|_| EINVAL)?;
        let id = i.checked_add(1).ok_or(EINVAL)?;
        let readable_blocks = match slot.blocks {
            0 if !file.is_verified() => dev.size() / BLOCK_SIZE as u64,
            n => n.into(),
        };
        let dev = if file.is_verified() {
            let want = trust::slot_digest(&slot, i, shown)?;
            let desc = if slot_roots {
                slot_descriptor(&dev, &slot, shown, id)?
            } else {
                read_trailer(&dev, block_pos(slot.blocks), shown, id)?.0
            };
            let digest = desc.digest(&KernelSha)?;
            trust::check_blob_digest(&digest, &want, id, path, shown)?;
            let mut blob = Blob::verified(dev, id, Tree::new(&desc)?);
            blob.attach(shared);
            if opts.ondemand {
                blob.set_ondemand(crate::ondemand::Channel::get().ok_or(EIO)?, digest);
            }
            blob
        } else if opts.ondemand {
            // The daemon is not trusted: without trees its bytes could not be
            // checked.
            rerofs_err!(
                shown,
                "ondemand needs a verified image (verity trees, verity=on)"
            );
            return Err(EINVAL);
        } else {
            Blob::unverified(dev, id)
        };
        devices.push(
            Device {
                file: dev,
                slot,
                readable_blocks,
            },
            GFP_KERNEL,
        )?;
    }
    Ok(devices)
}

/// Raises `depth` (the new superblock's `s_stack_depth`) to one more than the
/// file system `file` lives on, and refuses a mount stacked deeper than
/// `FILESYSTEM_MAX_STACK_DEPTH`: each layer recurses once through `kernel_read`.
fn check_stack_depth(file: &BackingFile, depth: &mut i32, shown: &BStr) -> Result {
    let d = file.stack_depth().saturating_add(1);
    if d > vfs::MAX_STACK_DEPTH {
        rerofs_err!(
            shown,
            "maximum file system stacking depth ({}) exceeded: the image or a blob lives on a stacked file system",
            vfs::MAX_STACK_DEPTH
        );
        return Err(EINVAL);
    }
    *depth = core::cmp::max(*depth, d);
    Ok(())
}

/// Loads the long xattr name prefix table, if the image has one.
fn load_long_prefixes(
    disk: &DiskSuper,
    file: &Blob,
    image_size: u64,
    shown: &BStr,
) -> Result<(KVec<u8>, u8)> {
    let mut table = KVec::new();
    if disk.feature_incompat & INCOMPAT_XATTR_PREFIXES == 0 {
        return Ok((table, 0));
    }
    let Some(pos) = disk.xattr_prefix_pos() else {
        return Ok((table, 0));
    };
    if disk.packed_nid != 0 {
        rerofs_err!(
            shown,
            "xattr name prefixes in a packed inode are not supported"
        );
        return Err(eopnotsupp());
    }
    let len = core::cmp::min(
        image_size.saturating_sub(pos),
        MAX_PREFIX_TABLE_BYTES as u64,
    );
    table.extend_with(len as usize, 0, GFP_KERNEL)?;
    file.read_exact_at(shown, pos, &mut table)?;
    format::xattr::LongPrefixTable::parse(&table, disk.xattr_prefix_count).map_err(|e| {
        rerofs_err!(shown, "xattr name prefix table: {}", e);
        errno(&e)
    })?;
    Ok((table, disk.xattr_prefix_count))
}

/// Keeps the last `NAME_MAX` bytes of `path`.
fn short_name(path: &[u8]) -> Result<KVec<u8>> {
    let start = path.len().saturating_sub(NAME_MAX);
    let mut v = KVec::new();
    v.extend_from_slice(path.get(start..).unwrap_or(path), GFP_KERNEL)?;
    Ok(v)
}

/// Checks that a blob holds its data, tree and trailer (a short blob is damage,
/// found at mount).
fn check_blob_size(file: &BackingFile, geo: &Geometry, shown: &BStr, id: u16) -> Result {
    if file.size() < geo.blob_size() {
        rerofs_err!(
            shown,
            "blob {} is {} bytes, its data, tree and trailer need {}",
            id,
            file.size(),
            geo.blob_size()
        );
        return Err(efscorrupted());
    }
    Ok(())
}

/// Reads and checks the trailer block of a blob whose data area is `data_size`
/// bytes: the fs-verity descriptor (its `data_size` must match) and whatever
/// follows it. The descriptor is not trusted until its digest is compared.
fn read_trailer(
    file: &BackingFile,
    data_size: u64,
    shown: &BStr,
    id: u16,
) -> Result<(Descriptor, KVec<u8>)> {
    let geo = Geometry::new(data_size).map_err(|_| efscorrupted())?;
    check_blob_size(file, &geo, shown, id)?;
    let mut trailer = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
    file.read_exact_at(geo.trailer_pos(), &mut trailer)?;
    let desc = Descriptor::parse(&trailer).map_err(|e| {
        rerofs_err!(shown, "blob {}: {}", id, e);
        errno(&e)
    })?;
    if desc.data_size != data_size {
        rerofs_err!(
            shown,
            "blob {}: descriptor covers {} bytes, the image says {}",
            id,
            desc.data_size,
            data_size
        );
        return Err(efscorrupted());
    }
    Ok((desc, trailer))
}

/// The descriptor of a data blob as its slot gives it (`COMPAT_RERO_SLOT_ROOT`):
/// its data size and root hash, SHA-256, 4 KiB blocks, no salt. The caller trusts
/// it once its digest is the slot's tag. The blob must hold its data, tree and
/// trailer, as with the trailer read (a short blob is damage, found at mount).
fn slot_descriptor(
    file: &BackingFile,
    slot: &DeviceSlot,
    shown: &BStr,
    id: u16,
) -> Result<Descriptor> {
    let data_size = block_pos(slot.blocks);
    let geo = Geometry::new(data_size).map_err(|_| efscorrupted())?;
    check_blob_size(file, &geo, shown, id)?;
    Ok(Descriptor {
        data_size,
        root_hash: slot.root_hash,
        sig_size: 0,
    })
}

/// The image digest of a verified metadata blob and its trailer block (where
/// an encrypted image's key check is).
struct Verified {
    digest: [u8; DIGEST_SIZE],
    trailer: KVec<u8>,
}

/// Decides whether and how the metadata blob is verified (see "Trust model" in
/// Documentation/filesystems/rerofs.rst and `trust.rs`). Returns the blob, the
/// trust reached and, when verified, its digest and trailer.
fn open_metadata_blob(
    file: BackingFile,
    disk: &DiskSuper,
    opts: &Options,
    shown: &BStr,
) -> Result<(Blob, Trust, Option<Verified>)> {
    let policy = Policy::new(opts, shown)?;
    if !policy.verify(disk.feature_compat & COMPAT_RERO_VERITY != 0, shown)? {
        return Ok((Blob::unverified(file, 0), Trust::Unverified, None));
    }
    let (desc, trailer) = read_trailer(&file, disk.image_bytes(), shown, 0)?;
    let digest = desc.digest(&KernelSha)?;
    let sig = desc.signature(&trailer).map_err(|e| errno(&e))?;
    let trust = policy.decide(&digest, sig, shown)?;
    Ok((
        Blob::verified(file, 0, Tree::new(&desc)?),
        trust,
        Some(Verified { digest, trailer }),
    ))
}

/// Refuses what an encrypted image (or `key=` on a plain one) cannot be
/// mounted with, from the unverified superblock: XTS is malleable, so an
/// encrypted image is only read verified.
fn check_encryption_options(disk: &DiskSuper, opts: &Options, shown: &BStr) -> Result<bool> {
    let encrypted = disk.feature_incompat & INCOMPAT_RERO_ENCRYPTED != 0;
    if !encrypted {
        if opts.key.is_some() {
            rerofs_err!(shown, "key= given but the image is not encrypted");
            return Err(EINVAL);
        }
        return Ok(false);
    }
    if opts.verity_mode() == VerityMode::Off {
        rerofs_err!(
            shown,
            "verity=off is refused on an encrypted image (its data is only decrypted once verified)"
        );
        return Err(EINVAL);
    }
    if disk.feature_compat & COMPAT_RERO_VERITY == 0 {
        rerofs_err!(shown, "encrypted image without verity trees");
        return Err(efscorrupted());
    }
    Ok(true)
}

/// Sets up a new superblock for the image at `source`.
pub(crate) fn fill_super(
    new: NewSuperBlock<RerofsFs>,
    source: &CStr,
    raw: &RawOptions<'_>,
    silent: bool,
) -> Result {
    let name = short_name(source.as_bytes())?;
    let shown = BStr::from_bytes(&name);
    let opts = Options::parse(raw, |_| {
        rerofs_err!(shown, "digest= must be sha256: and 64 lowercase hex digits");
    })?;
    let file = BackingFile::open(source).inspect_err(|e| {
        rerofs_err!(shown, "cannot open image: {:?}", e);
    })?;
    if !file.is_file_or_bdev() {
        rerofs_err!(shown, "not a regular file or block device");
        return Err(EINVAL);
    }
    let mut stack_depth = 0;
    check_stack_depth(&file, &mut stack_depth, shown)?;
    let file_size = file.size();
    if file_size < BLOCK_SIZE as u64 {
        if !silent {
            rerofs_err!(shown, "image of {} bytes is too small", file_size);
        }
        return Err(EINVAL);
    }
    // The superblock is parsed once unverified, to learn the data area and the
    // features; with verity it is read and parsed again, verified.
    let mut block0 = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
    file.read_exact_at(0, &mut block0)?;
    let parse = |b: &[u8]| {
        DiskSuper::parse_accepting(b, INCOMPAT_RERO_ENCRYPTED).map_err(|e| {
            if !silent || e.errno_kind() != format::error::ErrorKind::NotOurs {
                rerofs_err!(shown, "{}", e);
            }
            errno(&e)
        })
    };
    let unverified = parse(&block0)?;
    if unverified.image_bytes() > file_size {
        rerofs_err!(
            shown,
            "image is truncated: the superblock says {} bytes, the image has {}",
            unverified.image_bytes(),
            file_size
        );
        return Err(efscorrupted());
    }
    let encrypted = check_encryption_options(&unverified, &opts, shown)?;
    let (mut file, trust, verified) = open_metadata_blob(file, &unverified, &opts, shown)?;
    let shared = Arc::new(
        MountShared {
            cache: BlockCache::new(&new)?,
            limit: RateLimit::new()?,
        },
        GFP_KERNEL,
    )?;
    file.attach(&shared);
    let (disk, image_size) = if file.is_verified() {
        block0.fill(0);
        file.read_exact_at(shown, 0, &mut block0)?;
        let disk = parse(&block0)?;
        let bytes = disk.image_bytes();
        if bytes != unverified.image_bytes()
            || (disk.feature_incompat & INCOMPAT_RERO_ENCRYPTED != 0) != encrypted
        {
            return Err(EIO);
        }
        (disk, bytes)
    } else {
        (unverified, file_size)
    };
    // The key is checked before any blob is opened.
    let wrap = match (&verified, encrypted) {
        (Some(v), true) => Some(crypt::unlock(
            opts.key.as_deref(),
            &v.digest,
            &v.trailer,
            shown,
        )?),
        (None, true) => return Err(EINVAL),
        (_, false) => None,
    };
    let devices = open_devices(
        &disk,
        &file,
        image_size,
        &opts,
        shown,
        &mut stack_depth,
        &shared,
    )?;
    let crypt = match wrap {
        Some(wrap) => Some(Crypt::new(
            wrap, &block0, image_size, &file, &devices, shown,
        )?),
        None => None,
    };
    let long_prefixes = load_long_prefixes(&disk, &file, image_size, shown)?;
    let root_nid = disk.root_nid;
    let info = KBox::new(
        SbInfo {
            file,
            disk,
            image_size,
            trust,
            opts,
            name,
            devices,
            long_prefixes,
            shared,
            crypt,
        },
        GFP_KERNEL,
    )?;
    let params = SuperParams {
        magic: format::SUPER_MAGIC,
        stack_depth,
    };
    let sb = new.init(&params, info);
    let root = crate::inode::iget(sb.sb(), root_nid)?;
    let info = sb.sb().info();
    if !root.info()?.is_dir() {
        rerofs_err!(info, "root inode {} is not a directory", root_nid);
        return Err(efscorrupted());
    }
    rerofs_info!(
        info,
        "mounted, {} extra devices, {}verity: {}",
        info.devices.len(),
        if info.crypt.is_some() {
            "encrypted (key check verified), "
        } else {
            ""
        },
        match info.trust {
            Trust::Unverified => "off",
            Trust::SelfConsistent => "on, self-consistent only (no digest= or signature)",
            Trust::Digest => "on, image digest matches digest=",
            Trust::Signature => "on, signature verified",
        }
    );
    sb.set_root(root)?;
    Ok(())
}

/// Checks a remount: rerofs's own options may be repeated but not changed (the
/// devices, blob directory and trust were settled at mount). Options left out keep
/// their values.
pub(crate) fn reconfigure(sb: &SuperBlock, raw: &RawOptions<'_>) -> Result {
    let info = sb.info();
    let refuse = |what: &str| {
        rerofs_err!(
            info,
            "remount cannot change {} (unmount and mount again)",
            what
        );
    };
    let opts = Options::parse(raw, refuse)?;
    if let Some(what) = info.opts.changed_by(&opts) {
        refuse(what);
        return Err(EINVAL);
    }
    Ok(())
}

/// Drops what the mount caches before the superblock is shut down (the cache's
/// inode must be gone by then).
pub(crate) fn before_shutdown(info: &SbInfo) {
    info.shared.cache.release();
}

/// What `statfs` reports for `sb`.
pub(crate) fn statfs(sb: &SuperBlock) -> StatFs {
    let d = &sb.info().disk;
    let u = d.uuid;
    // As erofs_scan_devices sums them: the primary's blocks and every slot's.
    let blocks = sb
        .info()
        .devices
        .iter()
        .fold(u64::from(d.blocks), |n, dev| {
            n.saturating_add(dev.slot.blocks.into())
        });
    StatFs {
        magic: format::SUPER_MAGIC,
        blocks,
        files: d.inos,
        fsid: [
            u32::from_le_bytes([u[0], u[1], u[2], u[3]])
                ^ u32::from_le_bytes([u[8], u[9], u[10], u[11]]),
            u32::from_le_bytes([u[4], u[5], u[6], u[7]])
                ^ u32::from_le_bytes([u[12], u[13], u[14], u[15]]),
        ],
    }
}

/// Appends rerofs's own options to `/proc/mounts`.
pub(crate) fn show_options(sb: &SuperBlock, m: &mut SeqFile) {
    sb.info().opts.show(m);
}
