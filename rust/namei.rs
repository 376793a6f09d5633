// SPDX-License-Identifier: GPL-2.0

//! `lookup` (`erofs_namei`): names are sorted across the whole directory, so a
//! binary search over blocks, then inside the block, finds one in O(log n) reads.

use kernel::prelude::*;

use crate::dir::with_dir_block;
use crate::format::NAME_LEN;
use crate::inode::iget;
use crate::report::format_error;
use crate::{Inode, InodeRef};

/// Where one block of the binary search puts the name.
enum Step {
    /// In this block: the entry's inode number.
    Found(u64),
    /// In an earlier block, if anywhere.
    Before,
    /// In a later block, if anywhere.
    After,
    /// Between two entries of this block: nowhere.
    Absent,
}

/// Finds `name` in `dir` and returns its inode, or `None` if there is no such entry.
pub(crate) fn lookup(dir: &Inode, name: &[u8]) -> Result<Option<InodeRef>> {
    if name.len() > NAME_LEN {
        return Err(crate::errno::enametoolong());
    }
    let sbi = dir.sb().info();
    let ii = dir.info()?;
    let (mut lo, mut hi) = (0u64, ii.disk.nblocks());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let step = with_dir_block(dir, mid, |block| {
            let bad = |e| format_error(sbi, ii.disk.nid, &e);
            Ok(match block.search(name).map_err(bad)? {
                Ok(i) => Step::Found(block.get(i).map_err(bad)?.nid),
                Err(0) => Step::Before,
                Err(i) if i == block.len() => Step::After,
                Err(_) => Step::Absent,
            })
        })?;
        match step {
            Step::Found(nid) => return iget(dir.sb(), nid).map(Some),
            Step::Before => hi = mid,
            Step::After => lo = mid + 1,
            Step::Absent => return Ok(None),
        }
    }
    Ok(None)
}
