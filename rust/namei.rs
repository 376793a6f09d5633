// SPDX-License-Identifier: GPL-2.0

//! `lookup` (`erofs_namei`): names are sorted across the whole directory, so a
//! binary search over blocks, then inside the block, finds one in O(log n) reads.

use kernel::prelude::*;

use crate::data::read_block;
use crate::format::dir::DirBlock;
use crate::format::{BLOCK_SIZE, NAME_LEN};
use crate::inode::iget;
use crate::report::format_error;
use crate::{Inode, InodeRef};

/// Finds `name` in `dir` and returns its inode, or `None` if there is no such entry.
pub(crate) fn lookup(dir: &Inode, name: &[u8]) -> Result<Option<InodeRef>> {
    if name.len() > NAME_LEN {
        return Err(crate::errno::enametoolong());
    }
    let sbi = dir.sb().info();
    let ii = dir.info()?;
    let mut buf = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
    let (mut lo, mut hi) = (0u64, ii.disk.nblocks());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let len = read_block(sbi, ii, mid, &mut buf)?;
        let block = DirBlock::new(buf.get(..len).ok_or(EINVAL)?)
            .map_err(|e| format_error(sbi, ii.disk.nid, &e))?;
        match block
            .search(name)
            .map_err(|e| format_error(sbi, ii.disk.nid, &e))?
        {
            Ok(i) => {
                let nid = block
                    .get(i)
                    .map_err(|e| format_error(sbi, ii.disk.nid, &e))?
                    .nid;
                return iget(dir.sb(), nid).map(Some);
            }
            Err(0) => hi = mid,
            Err(i) if i == block.len() => lo = mid + 1,
            Err(_) => return Ok(None),
        }
    }
    Ok(None)
}
