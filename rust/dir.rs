// SPDX-License-Identifier: GPL-2.0

//! `readdir` (`erofs_readdir`): directory positions are byte offsets of dirents.

use kernel::prelude::*;

use crate::format::dir::{file_type, DirBlock, DIRENT_SIZE};
use crate::format::BLOCK_SIZE;
use crate::report::format_error;
use crate::vfs::{CachedPage, DirEmitter};
use crate::Inode;

/// Converts a dirent `file_type` to a `DT_*` value.
pub(crate) fn dtype(ft: u8) -> u32 {
    match ft {
        file_type::REG => 8,
        file_type::DIR => 4,
        file_type::CHRDEV => 2,
        file_type::BLKDEV => 6,
        file_type::FIFO => 1,
        file_type::SOCK => 12,
        file_type::SYMLINK => 10,
        _ => 0,
    }
}

/// Runs `f` on block `index` of directory `dir`, parsed: read through the
/// directory's own page cache, as EROFS's `erofs_bread` does, so a block is read,
/// verified and decrypted once (by `read_folio`) and then served from the cache
/// until reclaim. The last block ends at the directory's size.
pub(crate) fn with_dir_block<R>(
    dir: &Inode,
    index: u64,
    f: impl FnOnce(&DirBlock<'_>) -> Result<R>,
) -> Result<R> {
    let sbi = dir.sb().info();
    let ii = dir.info()?;
    let start = index.checked_mul(BLOCK_SIZE as u64).ok_or(EINVAL)?;
    let left = ii
        .disk
        .size
        .checked_sub(start)
        .filter(|&n| n > 0)
        .ok_or(EINVAL)?;
    let len = usize::try_from(left).map_or(BLOCK_SIZE, |n| n.min(BLOCK_SIZE));
    let page = CachedPage::read(dir, index)?;
    page.with(|bytes| {
        let block = DirBlock::new(bytes.get(..len).ok_or(EINVAL)?)
            .map_err(|e| format_error(sbi, ii.disk.nid, &e))?;
        f(&block)
    })
}

/// Emits the directory's entries from the emitter's position on.
pub(crate) fn readdir(dir: &Inode, emitter: &mut DirEmitter<'_>) -> Result {
    let sbi = dir.sb().info();
    let ii = dir.info()?;
    let size = ii.disk.size;
    loop {
        let pos = u64::try_from(emitter.pos()).map_err(|_| EINVAL)?;
        if pos >= size {
            return Ok(());
        }
        let index = pos / BLOCK_SIZE as u64;
        let block_start = index * BLOCK_SIZE as u64;
        let full = with_dir_block(dir, index, |block| {
            // Resume at the first dirent at or after the position (as EROFS does).
            let first = ((pos - block_start) as usize).div_ceil(DIRENT_SIZE);
            for i in first..block.len() {
                let d = block
                    .get(i)
                    .map_err(|e| format_error(sbi, ii.disk.nid, &e))?;
                emitter.set_pos((block_start + (i * DIRENT_SIZE) as u64) as i64);
                if !emitter.emit(d.name, d.nid, dtype(d.file_type)) {
                    return Ok(true);
                }
                // Past the entry just emitted (EROFS: `ctx->pos += sizeof(struct
                // erofs_dirent)`): if the next entry is damaged, the error is
                // returned with the position after this one, so the next getdents
                // does not emit it again (a damaged entry made readdir(3) loop).
                emitter.set_pos((block_start + ((i + 1) * DIRENT_SIZE) as u64) as i64);
            }
            Ok(false)
        })?;
        if full {
            return Ok(());
        }
        emitter.set_pos((block_start + BLOCK_SIZE as u64) as i64);
    }
}
