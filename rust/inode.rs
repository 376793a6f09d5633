// SPDX-License-Identifier: GPL-2.0

//! Loading inodes from the image (`erofs_iget` / `erofs_read_inode`).

use kernel::prelude::*;

use crate::errno::efscorrupted;
use crate::format::inode::{FileKind, Inode as DiskInode, EXTENDED_SIZE};
use crate::report::format_error;
use crate::sb::SbInfo;
use crate::vfs::{self, Got, InodeParams, InodeType};
use crate::{InodeRef, SuperBlock};

/// What rerofs keeps of an inode (`i_private`).
pub(crate) struct InodeInfo {
    /// The validated on-disk inode.
    pub(crate) disk: DiskInode,
    /// Byte position of the inode in the image.
    pub(crate) pos: u64,
}

impl InodeInfo {
    /// True for a directory.
    pub(crate) fn is_dir(&self) -> bool {
        matches!(self.disk.kind(), Ok(FileKind::Directory))
    }

    /// True for a regular file.
    pub(crate) fn is_regular(&self) -> bool {
        matches!(self.disk.kind(), Ok(FileKind::Regular))
    }
}

/// Reads and validates on-disk inode `nid`.
fn read_inode(sbi: &SbInfo, nid: u64) -> Result<InodeInfo> {
    let corrupt = |what| format_error(sbi, nid, &crate::format::Error::Corrupted(what, nid));
    let pos = sbi.disk.inode_pos(nid).ok_or_else(|| corrupt("nid"))?;
    let avail = sbi.image_size.saturating_sub(pos);
    let len = core::cmp::min(avail, EXTENDED_SIZE as u64) as usize;
    let mut buf = [0u8; EXTENDED_SIZE];
    let buf = buf.get_mut(..len).ok_or(EINVAL)?;
    sbi.file.read_meta_at(sbi.name(), pos, buf)?;
    let disk = DiskInode::parse(buf, nid, &sbi.disk).map_err(|e| format_error(sbi, nid, &e))?;
    let kind = disk.kind().map_err(|e| format_error(sbi, nid, &e))?;
    if kind == FileKind::Symlink && (disk.size == 0 || disk.size >= vfs::PAGE_SIZE as u64) {
        return Err(corrupt("symlink size"));
    }
    Ok(InodeInfo { disk, pos })
}

/// Returns inode `nid` of `sb`, from the inode cache or loaded from the image.
pub(crate) fn iget(sb: &SuperBlock, nid: u64) -> Result<InodeRef> {
    let new = match vfs::iget_locked(sb, nid)? {
        Got::Cached(inode) => return Ok(inode),
        Got::New(new) => new,
    };
    // On any error below, dropping `new` marks the inode bad and releases it.
    let info = read_inode(sb.info(), nid)?;
    let d = &info.disk;
    let typ = match d.kind().map_err(|e| format_error(sb.info(), nid, &e))? {
        FileKind::Regular => InodeType::Regular,
        FileKind::Directory => InodeType::Directory,
        FileKind::Symlink => InodeType::Symlink,
        FileKind::CharDevice | FileKind::BlockDevice => {
            let (major, minor) = d.rdev();
            InodeType::Special(major, minor)
        }
        FileKind::Fifo | FileKind::Socket => InodeType::Special(0, 0),
    };
    let params = InodeParams {
        typ,
        mode: d.mode,
        uid: d.uid,
        gid: d.gid,
        nlink: d.nlink,
        size: i64::try_from(d.size).map_err(|_| efscorrupted())?,
        blocks: d.nblocks() << 3,
        time_sec: i64::try_from(d.mtime).map_err(|_| efscorrupted())?,
        time_nsec: d.mtime_nsec,
    };
    new.init(&params, info)
}
