// SPDX-License-Identifier: GPL-2.0

//! Extended attributes (`fs/erofs/xattr.c`): inline entries after the inode, shared
//! entries in the shared xattr area, and long name prefixes.

use kernel::prelude::*;

use crate::errno::enodata;
use crate::format::xattr::{
    Entry, EntryHeader, InlineXattrs, LongPrefixTable, ENTRY_HEADER_SIZE, INDEX_LUSTRE,
    INDEX_TRUSTED,
};
use crate::format::{Error as FormatError, NAME_LEN};
use crate::inode::InodeInfo;
use crate::report::format_error;
use crate::sb::SbInfo;
use crate::vfs;
use crate::Inode;

/// Reads the inline xattr region of `ii` (empty when the inode has none).
fn read_inline(sbi: &SbInfo, ii: &InodeInfo) -> Result<KVVec<u8>> {
    let size = ii.disk.xattr_size();
    let mut region = KVVec::from_elem(0u8, size, GFP_KERNEL)?;
    if size > 0 {
        let pos = ii.disk.xattr_pos(ii.pos).ok_or(EINVAL)?;
        sbi.read_meta(pos, &mut region, "inline xattrs")?;
    }
    Ok(region)
}

/// Reads the shared xattr entry `id` into `buf`.
fn read_shared(sbi: &SbInfo, id: u32, buf: &mut KVVec<u8>) -> Result {
    let pos = sbi.disk.shared_xattr_pos(id);
    let mut head = [0u8; ENTRY_HEADER_SIZE];
    sbi.read_meta(pos, &mut head, "shared xattr")?;
    let h = EntryHeader::parse(&head).map_err(|e| format_error(sbi, u64::from(id), &e))?;
    *buf = KVVec::from_elem(0u8, h.unpadded_size(), GFP_KERNEL)?;
    sbi.read_meta(pos, buf, "shared xattr")
}

/// Copies `value` to `out`, or gives its size when `out` is `None`.
fn copy_value(value: &[u8], out: Option<&mut [u8]>) -> Result<usize> {
    match out {
        None => Ok(value.len()),
        Some(out) => {
            let dst = out.get_mut(..value.len()).ok_or(ERANGE)?;
            dst.copy_from_slice(value);
            Ok(value.len())
        }
    }
}

/// The long prefix table of the mount.
fn long_prefixes(sbi: &SbInfo) -> Result<LongPrefixTable<'_>> {
    let (table, count) = &sbi.long_prefixes;
    LongPrefixTable::parse(table, *count).map_err(|e| format_error(sbi, 0, &e))
}

/// `getxattr` of short name index `index` and name suffix `name` (the part after
/// the handler's prefix); `out == None` probes the size.
pub(crate) fn get(inode: &Inode, index: u8, name: &[u8], out: Option<&mut [u8]>) -> Result<usize> {
    if name.len() > NAME_LEN {
        return Err(ERANGE);
    }
    let sbi = inode.sb().info();
    let ii = inode.info()?;
    let nid = ii.disk.nid;
    let region = read_inline(sbi, ii)?;
    if region.is_empty() {
        return Err(enodata());
    }
    let x = InlineXattrs::parse(&region).map_err(|e| format_error(sbi, nid, &e))?;
    if sbi.disk.has_xattr_filter() && x.filter_excludes(index, name) {
        return Err(enodata());
    }
    let long = long_prefixes(sbi)?;
    for e in x.entries() {
        let e = e.map_err(|e| format_error(sbi, nid, &e))?;
        if e.matches_index(index, name, &long) {
            return copy_value(e.value, out);
        }
    }
    let mut buf = KVVec::new();
    for id in x.shared_ids() {
        read_shared(sbi, id, &mut buf)?;
        let (e, _) = Entry::parse(&buf).map_err(|e| format_error(sbi, nid, &e))?;
        if e.matches_index(index, name, &long) {
            return copy_value(e.value, out);
        }
    }
    Err(enodata())
}

/// Collects NUL-terminated names for `listxattr`.
struct NameList<'a> {
    out: Option<&'a mut [u8]>,
    len: usize,
}

impl NameList<'_> {
    /// Appends the full name of `e` unless its namespace is hidden from the caller.
    fn add(&mut self, e: &Entry<'_>, long: &LongPrefixTable<'_>) -> Result {
        let Some(name) = e.full_name(long) else {
            return Ok(());
        };
        if name.base_index == INDEX_LUSTRE
            || (name.base_index == INDEX_TRUSTED && !vfs::may_list_trusted())
        {
            return Ok(());
        }
        let need = name.len() + 1;
        if let Some(out) = self.out.as_deref_mut() {
            let dst = out.get_mut(self.len..self.len + need).ok_or(ERANGE)?;
            let (text, nul) = dst.split_at_mut(need - 1);
            name.write_to(text).ok_or(ERANGE)?;
            nul.fill(0);
        }
        self.len += need;
        Ok(())
    }
}

/// `listxattr` into `out` (NUL-terminated names); `out == None` probes the size.
pub(crate) fn list(inode: &Inode, out: Option<&mut [u8]>) -> Result<usize> {
    let sbi = inode.sb().info();
    let ii = inode.info()?;
    let nid = ii.disk.nid;
    let region = read_inline(sbi, ii)?;
    if region.is_empty() {
        return Ok(0);
    }
    let x = InlineXattrs::parse(&region).map_err(|e| format_error(sbi, nid, &e))?;
    let long = long_prefixes(sbi)?;
    let mut names = NameList { out, len: 0 };
    for e in x.entries() {
        names.add(&e.map_err(|e| format_error(sbi, nid, &e))?, &long)?;
    }
    let mut buf = KVVec::new();
    for id in x.shared_ids() {
        read_shared(sbi, id, &mut buf)?;
        let (e, _) = Entry::parse(&buf).map_err(|e: FormatError| format_error(sbi, nid, &e))?;
        names.add(&e, &long)?;
    }
    Ok(names.len)
}
