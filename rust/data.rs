// SPDX-License-Identifier: GPL-2.0

//! Reading file data: the page cache's `read_folio`, and whole-block reads for
//! directories.

use kernel::prelude::*;

use crate::format::{block_pos, inode::Mapping, BLOCK_SIZE};
use crate::inode::InodeInfo;
use crate::sb::SbInfo;
use crate::vfs::{Inode, LockedFolio, PAGE_SIZE};

/// Fills `out` (one block) with file block `index` of `ii`, zero-padded past EOF.
/// Returns the number of file bytes in the block.
pub(crate) fn read_block(sbi: &SbInfo, ii: &InodeInfo, index: u64, out: &mut [u8]) -> Result<usize> {
    let (pos, len) = match ii.map(sbi, index)? {
        None => (0, 0),
        Some(Mapping::Block { blk, len }) => (block_pos(blk), len),
        Some(Mapping::Inline { pos, len }) => (pos, len),
    };
    let (data, rest) = out.split_at_mut_checked(len).ok_or(EINVAL)?;
    if len > 0 {
        sbi.file.read_exact_at(pos, data).inspect_err(|e| {
            if crate::vfs::ratelimit() {
                pr_err!(
                    "({}): nid {}: reading {} bytes at {} failed: {:?}\n",
                    sbi.name(),
                    ii.disk.nid,
                    len,
                    pos,
                    e
                );
            }
        })?;
    }
    rest.fill(0);
    Ok(len)
}

/// `read_folio`: fills every block of the folio and marks it uptodate.
pub(crate) fn read_folio(inode: &Inode, mut folio: LockedFolio) -> Result {
    let sbi = inode.sb().info();
    let ii = inode.info()?;
    let first = folio.pos() / BLOCK_SIZE as u64;
    for i in 0..folio.size() / PAGE_SIZE {
        folio.with_page(i, |page| read_block(sbi, ii, first + i as u64, page))??;
    }
    folio.end_read(true);
    Ok(())
}
