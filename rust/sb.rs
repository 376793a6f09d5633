// SPDX-License-Identifier: GPL-2.0

//! Mounting: open the image, validate the superblock, load the root.

use kernel::c_str;
use kernel::prelude::*;
use kernel::str::{BStr, CStr};

use crate::format::{self, superblock::SuperBlock as DiskSuper, BLOCK_SIZE};
use crate::vfs::{
    self, BackingFile, MountOptions, NewSuperBlock, SeqFile, StatFs, SuperBlock, SuperParams,
};

/// Longest image name kept for messages.
const NAME_MAX: usize = 64;

/// Per-mount state (`s_fs_info`).
pub(crate) struct SbInfo {
    /// The image.
    pub(crate) file: BackingFile,
    /// Its validated superblock.
    pub(crate) disk: DiskSuper,
    /// Size of the image in bytes.
    pub(crate) image_size: u64,
    name: KVec<u8>,
    /// The `device=` options as given, NUL terminated, for `show_options`.
    device_opts: KVec<KVec<u8>>,
}

impl SbInfo {
    /// The image's name (the end of its path), for messages.
    pub(crate) fn name(&self) -> &BStr {
        BStr::from_bytes(&self.name)
    }
}

/// Keeps the last `NAME_MAX` bytes of `path`.
fn short_name(path: &[u8]) -> Result<KVec<u8>> {
    let start = path.len().saturating_sub(NAME_MAX);
    let mut v = KVec::new();
    v.extend_from_slice(path.get(start..).unwrap_or(path), GFP_KERNEL)?;
    Ok(v)
}

/// Maps a format error to its errno.
pub(crate) fn errno(e: &format::Error) -> Error {
    match e.errno_kind() {
        format::error::ErrorKind::NotOurs => EINVAL,
        format::error::ErrorKind::Unsupported => vfs::eopnotsupp(),
        format::error::ErrorKind::Corrupted => vfs::efscorrupted(),
    }
}

/// Copies a C string with its NUL.
fn copy_cstr(s: &CStr) -> Result<KVec<u8>> {
    let mut v = KVec::new();
    v.extend_from_slice(s.as_bytes_with_nul(), GFP_KERNEL)?;
    Ok(v)
}

/// Sets up a new superblock for the image at `source`.
pub(crate) fn fill_super(
    new: NewSuperBlock,
    source: &CStr,
    opts: &MountOptions<'_>,
    silent: bool,
) -> Result {
    let name = short_name(source.as_bytes())?;
    let shown = BStr::from_bytes(&name);
    let file = BackingFile::open(source).inspect_err(|e| {
        pr_err!("({}): cannot open image: {:?}\n", shown, e);
    })?;
    if !file.is_file_or_bdev() {
        pr_err!("({}): not a regular file or block device\n", shown);
        return Err(EINVAL);
    }
    let image_size = file.size();
    if image_size < BLOCK_SIZE as u64 {
        if !silent {
            pr_err!("({}): image of {} bytes is too small\n", shown, image_size);
        }
        return Err(EINVAL);
    }
    let mut block0 = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
    file.read_exact_at(0, &mut block0)?;
    let disk = DiskSuper::parse(&block0).map_err(|e| {
        if !silent || e.errno_kind() != format::error::ErrorKind::NotOurs {
            pr_err!("({}): {}\n", shown, e);
        }
        errno(&e)
    })?;
    if disk.image_bytes() > image_size {
        pr_err!(
            "({}): image is truncated: the superblock says {} bytes, the image has {}\n",
            shown,
            disk.image_bytes(),
            image_size
        );
        return Err(vfs::efscorrupted());
    }
    let mut device_opts = KVec::new();
    for i in 0..opts.device_count() {
        let path = opts.device(i).ok_or(EINVAL)?;
        device_opts.push(copy_cstr(path)?, GFP_KERNEL)?;
    }
    if device_opts.len() != usize::from(disk.extra_devices) {
        pr_err!(
            "({}): the image has {} extra devices but {} device= options were given\n",
            shown,
            disk.extra_devices,
            device_opts.len()
        );
        return Err(EINVAL);
    }
    let root_nid = disk.root_nid;
    let info = KBox::new(
        SbInfo {
            file,
            disk,
            image_size,
            name,
            device_opts,
        },
        GFP_KERNEL,
    )?;
    let params = SuperParams {
        magic: format::SUPER_MAGIC,
    };
    let sb = new.init(&params, info);
    let root = crate::inode::iget(sb.sb(), root_nid)?;
    if !root.info()?.is_dir() {
        pr_err!("({}): root inode {} is not a directory\n", sb.sb().info().name(), root_nid);
        return Err(vfs::efscorrupted());
    }
    sb.set_root(root)?;
    Ok(())
}

/// What `statfs` reports for `sb`.
pub(crate) fn statfs(sb: &SuperBlock) -> StatFs {
    let d = &sb.info().disk;
    let u = d.uuid;
    StatFs {
        magic: format::SUPER_MAGIC,
        blocks: d.blocks.into(),
        files: d.inos,
        fsid: [
            u32::from_le_bytes([u[0], u[1], u[2], u[3]]) ^ u32::from_le_bytes([u[8], u[9], u[10], u[11]]),
            u32::from_le_bytes([u[4], u[5], u[6], u[7]]) ^ u32::from_le_bytes([u[12], u[13], u[14], u[15]]),
        ],
    }
}

/// Appends rerofs's own options to `/proc/mounts`.
pub(crate) fn show_options(sb: &SuperBlock, m: &mut SeqFile) {
    for dev in sb.info().device_opts.iter() {
        if let Ok(path) = CStr::from_bytes_with_nul(dev) {
            m.show_option(c_str!("device"), path);
        }
    }
}
