// SPDX-License-Identifier: GPL-2.0

//! EROFS directory blocks: an array of 12-byte `erofs_dirent`s followed by the names.
//!
//! Every name of a directory, `.` and `..` included, is sorted byte-wise across the
//! whole directory, so lookup can binary-search blocks and then entries.

use super::bytes::{le16, le64, u8_at};
use super::error::{Error, Result};
use super::NAME_LEN;

/// Size of `struct erofs_dirent`.
pub const DIRENT_SIZE: usize = 12;

/// `file_type` values of a dirent (the `FT_*` / `DT_*` conversion is the reader's).
pub mod file_type {
    /// Unknown.
    pub const UNKNOWN: u8 = 0;
    /// Regular file.
    pub const REG: u8 = 1;
    /// Directory.
    pub const DIR: u8 = 2;
    /// Character device.
    pub const CHRDEV: u8 = 3;
    /// Block device.
    pub const BLKDEV: u8 = 4;
    /// FIFO.
    pub const FIFO: u8 = 5;
    /// Socket.
    pub const SOCK: u8 = 6;
    /// Symbolic link.
    pub const SYMLINK: u8 = 7;
}

/// One directory entry, borrowing its name from the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dirent<'a> {
    /// Inode number of the entry.
    pub nid: u64,
    /// Name bytes (1..=255, not NUL terminated).
    pub name: &'a [u8],
    /// `file_type` as stored.
    pub file_type: u8,
}

/// A validated view of one directory block.
#[derive(Debug, Clone, Copy)]
pub struct DirBlock<'a> {
    buf: &'a [u8],
    count: usize,
}

impl<'a> DirBlock<'a> {
    /// Validates the header of a directory block. `buf` holds the valid bytes of the
    /// block: the whole block, or for the last block the part inside `i_size`.
    pub fn new(buf: &'a [u8]) -> Result<Self> {
        let nameoff0 = usize::from(le16(buf, 8, "directory block")?);
        if nameoff0 < DIRENT_SIZE || nameoff0 >= buf.len() || nameoff0 % DIRENT_SIZE != 0 {
            return Err(Error::Corrupted("dirent[0].nameoff", nameoff0 as u64));
        }
        Ok(DirBlock {
            buf,
            count: nameoff0 / DIRENT_SIZE,
        })
    }

    /// Number of entries in the block.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True if the block holds no entry (never, for a valid block).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Entry `i` of the block, with its name bounds checked.
    pub fn get(&self, i: usize) -> Result<Dirent<'a>> {
        if i >= self.count {
            return Err(Error::Corrupted("dirent index", i as u64));
        }
        let off = i * DIRENT_SIZE;
        let nid = le64(self.buf, off, "dirent")?;
        let nameoff = usize::from(le16(self.buf, off + 8, "dirent")?);
        let file_type = u8_at(self.buf, off + 10, "dirent")?;
        let first = self.count * DIRENT_SIZE;
        if nameoff < first || nameoff >= self.buf.len() {
            return Err(Error::Corrupted("dirent nameoff", nameoff as u64));
        }
        let name = if i + 1 < self.count {
            let next = usize::from(le16(self.buf, off + DIRENT_SIZE + 8, "dirent")?);
            if next <= nameoff || next > self.buf.len() {
                return Err(Error::Corrupted("dirent nameoff", next as u64));
            }
            self.buf.get(nameoff..next)
        } else {
            // The last name runs to the first NUL or the end of the valid bytes.
            self.buf
                .get(nameoff..)
                .map(|rest| rest.split(|&b| b == 0).next().unwrap_or(rest))
        };
        let name = name.ok_or(Error::Corrupted("dirent nameoff", nameoff as u64))?;
        if name.is_empty() || name.len() > NAME_LEN {
            return Err(Error::Corrupted("dirent name length", name.len() as u64));
        }
        if file_type > file_type::SYMLINK {
            return Err(Error::Corrupted("dirent file_type", file_type.into()));
        }
        Ok(Dirent {
            nid,
            name,
            file_type,
        })
    }

    /// Binary-searches the block for `name`. `Ok(Ok(i))`: entry `i` has the name;
    /// `Ok(Err(i))`: the name would sort at position `i` (0: before the block,
    /// `len()`: after it).
    pub fn search(&self, name: &[u8]) -> Result<core::result::Result<usize, usize>> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid)?.name.cmp(name) {
                core::cmp::Ordering::Equal => return Ok(Ok(mid)),
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok(Err(lo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory block of `names` (sorted by the caller), padded to `len`.
    fn block(names: &[&[u8]], len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        let mut nameoff = names.len() * DIRENT_SIZE;
        for (i, name) in names.iter().enumerate() {
            let d = &mut b[i * DIRENT_SIZE..(i + 1) * DIRENT_SIZE];
            d[0..8].copy_from_slice(&(100 + i as u64).to_le_bytes());
            d[8..10].copy_from_slice(&(nameoff as u16).to_le_bytes());
            d[10] = file_type::REG;
            b[nameoff..nameoff + name.len()].copy_from_slice(name);
            nameoff += name.len();
        }
        b
    }

    #[test]
    fn entries_and_search() {
        let b = block(&[b".", b"..", b"abc", b"z"], 4096);
        let d = DirBlock::new(&b).unwrap();
        assert_eq!(d.len(), 4);
        assert!(!d.is_empty());
        assert_eq!(
            d.get(2).unwrap(),
            Dirent {
                nid: 102,
                name: b"abc",
                file_type: 1
            }
        );
        // The last name runs to the first NUL.
        assert_eq!(d.get(3).unwrap().name, b"z");
        assert_eq!(d.search(b"abc"), Ok(Ok(2)));
        assert_eq!(d.search(b"b"), Ok(Err(3)));
        assert_eq!(d.search(b"\0"), Ok(Err(0)));
        assert_eq!(d.search(b"zz"), Ok(Err(4)));
        assert!(d.get(4).is_err());
        // A last block cut at i_size: the last name ends at the cut.
        let cut = &b[..4 * DIRENT_SIZE + 1 + 2 + 3 + 1];
        assert_eq!(DirBlock::new(cut).unwrap().get(3).unwrap().name, b"z");
    }

    #[test]
    fn corrupt_blocks() {
        let good = block(&[b".", b"..", b"name"], 4096);
        for nameoff0 in [0u16, 11, 13, 4096, 5000, 0xFFFF] {
            let mut b = good.clone();
            b[8..10].copy_from_slice(&nameoff0.to_le_bytes());
            assert!(DirBlock::new(&b).is_err(), "{nameoff0}");
        }
        for len in 0..10 {
            assert!(DirBlock::new(&good[..len]).is_err());
        }
        // Decreasing or out-of-block name offsets.
        let mut b = good.clone();
        b[12 + 8..12 + 10].copy_from_slice(&10u16.to_le_bytes());
        let d = DirBlock::new(&b).unwrap();
        assert!(d.get(0).is_err() && d.get(1).is_err());
        let mut b = good.clone();
        b[24 + 8..24 + 10].copy_from_slice(&4096u16.to_le_bytes());
        assert!(DirBlock::new(&b).unwrap().get(2).is_err());
        // An empty last name (nameoff at a NUL) and a bad file type.
        let mut b = good.clone();
        b[36..40].fill(0);
        assert!(DirBlock::new(&b).unwrap().get(2).is_err());
        let mut b = good.clone();
        b[24 + 10] = 8;
        assert!(DirBlock::new(&b).unwrap().get(2).is_err());
        // A name longer than 255 bytes.
        let long = [b'x'; 256];
        let b = block(&[b".", &long], 4096);
        assert!(DirBlock::new(&b).unwrap().get(1).is_err());
        let ok = [b'x'; 255];
        let b = block(&[b".", &ok], 4096);
        assert_eq!(DirBlock::new(&b).unwrap().get(1).unwrap().name.len(), 255);
        // Search over a corrupt block fails instead of panicking.
        let mut b = good.clone();
        b[12 + 8..12 + 10].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert!(DirBlock::new(&b).unwrap().search(b"..").is_err());
    }
}
