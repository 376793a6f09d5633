// SPDX-License-Identifier: GPL-2.0

//! Extended attributes: the inline region after an inode, shared entries, and the
//! long name prefix table (`INCOMPAT_XATTR_PREFIXES`).
//!
//! The inline region ([`Inode::xattr_size`](super::inode::Inode::xattr_size) bytes
//! right after the inode core) is a 12-byte `erofs_xattr_ibody_header`
//! (`__le32 h_name_filter`, `u8 h_shared_count`, 7 reserved bytes), then
//! `h_shared_count` `__le32` shared xattr ids, then inline entries. An entry is
//! `u8 e_name_len`, `u8 e_name_index`, `__le16 e_value_size`, the name suffix, the
//! value, padded to 4 bytes. Shared entries have the same form and live at
//! `xattr_blkaddr * 4096 + id * 4` (see
//! [`SuperBlock::shared_xattr_pos`](super::superblock::SuperBlock::shared_xattr_pos)).
//!
//! A name is the prefix of `e_name_index` followed by the suffix; with bit 0x80 the
//! low 7 bits select a long prefix (a base index plus an infix) from the table.
//! Behaviour follows `fs/erofs/xattr.c` of Linux 6.12.

use super::bytes::{le16, le32, u8_at};
use super::error::{Error, Result};
use super::NAME_LEN;

/// Size of `struct erofs_xattr_ibody_header`.
pub const IBODY_HEADER_SIZE: usize = 12;
/// Size of `struct erofs_xattr_entry` (the header of an entry).
pub const ENTRY_HEADER_SIZE: usize = 4;
/// `e_name_index` bit: the low bits select a long prefix (`EROFS_XATTR_LONG_PREFIX`).
pub const LONG_PREFIX: u8 = 0x80;
/// Mask of the long prefix number in `e_name_index` (`EROFS_XATTR_LONG_PREFIX_MASK`).
pub const LONG_PREFIX_MASK: u8 = 0x7F;

/// Name index of `user.`.
pub const INDEX_USER: u8 = 1;
/// Name index of `system.posix_acl_access` (the whole name; the suffix is empty).
pub const INDEX_POSIX_ACL_ACCESS: u8 = 2;
/// Name index of `system.posix_acl_default` (the whole name; the suffix is empty).
pub const INDEX_POSIX_ACL_DEFAULT: u8 = 3;
/// Name index of `trusted.`.
pub const INDEX_TRUSTED: u8 = 4;
/// Name index of `lustre.` (Linux 6.12 has no handler for it: neither listed nor
/// readable there).
pub const INDEX_LUSTRE: u8 = 5;
/// Name index of `security.`.
pub const INDEX_SECURITY: u8 = 6;

/// `COMPAT_XATTR_FILTER` hash seed (`EROFS_XATTR_FILTER_SEED`).
pub const FILTER_SEED: u32 = 0x25BB_E08F;

/// The name prefix of a short name index (1..=6), `None` for any other value.
pub fn prefix_of(index: u8) -> Option<&'static [u8]> {
    Some(match index {
        INDEX_USER => b"user.",
        INDEX_POSIX_ACL_ACCESS => b"system.posix_acl_access",
        INDEX_POSIX_ACL_DEFAULT => b"system.posix_acl_default",
        INDEX_TRUSTED => b"trusted.",
        INDEX_LUSTRE => b"lustre.",
        INDEX_SECURITY => b"security.",
        _ => return None,
    })
}

/// Splits a full xattr name into its short name index and suffix, using the
/// longest matching prefix of [`prefix_of`]; `None` if no prefix matches.
pub fn split_name(name: &[u8]) -> Option<(u8, &[u8])> {
    // POSIX ACL names are whole names; the others are namespace prefixes.
    for index in [INDEX_POSIX_ACL_ACCESS, INDEX_POSIX_ACL_DEFAULT] {
        if prefix_of(index).is_some_and(|p| p == name) {
            return Some((index, &[]));
        }
    }
    for index in [INDEX_USER, INDEX_TRUSTED, INDEX_LUSTRE, INDEX_SECURITY] {
        if let Some(suffix) = prefix_of(index).and_then(|p| name.strip_prefix(p)) {
            return Some((index, suffix));
        }
    }
    None
}

/// The 4-byte header of an xattr entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryHeader {
    /// Length of the name suffix.
    pub name_len: u8,
    /// Name index (short index, or [`LONG_PREFIX`] | long prefix number).
    pub name_index: u8,
    /// Length of the value.
    pub value_size: u16,
}

impl EntryHeader {
    /// Parses the entry header at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        Ok(EntryHeader {
            name_len: u8_at(buf, 0, "xattr entry")?,
            name_index: u8_at(buf, 1, "xattr entry")?,
            value_size: le16(buf, 2, "xattr entry")?,
        })
    }

    /// Bytes of the entry without padding: header, name suffix and value.
    pub fn unpadded_size(&self) -> usize {
        ENTRY_HEADER_SIZE + usize::from(self.name_len) + usize::from(self.value_size)
    }

    /// Bytes the entry occupies, padded to 4 (`erofs_xattr_entry_size`).
    pub fn size(&self) -> usize {
        self.unpadded_size().next_multiple_of(4)
    }
}

/// One xattr entry, borrowing its name suffix and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Name index (short index, or [`LONG_PREFIX`] | long prefix number).
    pub name_index: u8,
    /// Name suffix (after the prefix, and after the infix of a long prefix).
    pub suffix: &'a [u8],
    /// Value bytes.
    pub value: &'a [u8],
}

impl<'a> Entry<'a> {
    /// Parses the entry at the start of `buf` (the padding after the value need not
    /// be present). Returns the entry and its padded size.
    pub fn parse(buf: &'a [u8]) -> Result<(Self, usize)> {
        let h = EntryHeader::parse(buf)?;
        let name_end = ENTRY_HEADER_SIZE + usize::from(h.name_len);
        let suffix = buf
            .get(ENTRY_HEADER_SIZE..name_end)
            .ok_or(Error::Truncated("xattr entry name"))?;
        let value = buf
            .get(name_end..h.unpadded_size())
            .ok_or(Error::Truncated("xattr entry value"))?;
        Ok((
            Entry {
                name_index: h.name_index,
                suffix,
                value,
            },
            h.size(),
        ))
    }

    /// The parts of the entry's full name, resolving a long prefix in `long`.
    /// `None` when the name index has no prefix: an unknown short index, or a long
    /// prefix number beyond the table, or a long prefix whose base index is unknown
    /// (Linux skips such entries in `listxattr` and never matches them).
    pub fn full_name<'b, P: LongPrefixes + ?Sized>(&self, long: &'b P) -> Option<FullName<'b>>
    where
        'a: 'b,
    {
        let (base_index, infix) = if self.name_index & LONG_PREFIX != 0 {
            let p = long.long_prefix(self.name_index & LONG_PREFIX_MASK)?;
            (p.base_index, p.infix)
        } else {
            (self.name_index, &[][..])
        };
        Some(FullName {
            base_index,
            prefix: prefix_of(base_index)?,
            infix,
            suffix: self.suffix,
        })
    }

    /// True if the entry's full name is `name` (e.g. `b"user.foo"`).
    pub fn matches<P: LongPrefixes + ?Sized>(&self, name: &[u8], long: &P) -> bool {
        self.full_name(long).is_some_and(|n| n.eq_bytes(name))
    }

    /// `getxattr` matching as Linux does it: `index` is the handler's short index
    /// and `name` the part of the name after the handler's prefix. A long-prefix
    /// entry matches when its base index is `index` and `name` is its infix
    /// followed by its suffix.
    pub fn matches_index<P: LongPrefixes + ?Sized>(
        &self,
        index: u8,
        name: &[u8],
        long: &P,
    ) -> bool {
        if self.name_index & LONG_PREFIX != 0 {
            let Some(p) = long.long_prefix(self.name_index & LONG_PREFIX_MASK) else {
                return false;
            };
            p.base_index == index
                && name.len() == p.infix.len() + self.suffix.len()
                && name.starts_with(p.infix)
                && name.ends_with(self.suffix)
        } else {
            self.name_index == index && name == self.suffix
        }
    }
}

/// A full xattr name in parts: `prefix`, `infix` (long prefixes only), `suffix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FullName<'b> {
    /// Short name index the prefix belongs to (the base index of a long prefix).
    pub base_index: u8,
    /// The short index's prefix, e.g. `user.`.
    pub prefix: &'static [u8],
    /// The long prefix's infix (empty without a long prefix).
    pub infix: &'b [u8],
    /// The entry's suffix.
    pub suffix: &'b [u8],
}

impl FullName<'_> {
    /// Length of the name in bytes (without a terminating NUL).
    pub fn len(&self) -> usize {
        self.prefix.len() + self.infix.len() + self.suffix.len()
    }

    /// True for an empty name (never: every prefix is non-empty).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the name equals `name`.
    pub fn eq_bytes(&self, name: &[u8]) -> bool {
        if name.len() != self.len() {
            return false;
        }
        let (a, rest) = name.split_at(self.prefix.len());
        let (b, c) = rest.split_at(self.infix.len());
        a == self.prefix && b == self.infix && c == self.suffix
    }

    /// Writes the name into the start of `out`; returns its length, or `None` (and
    /// writes nothing) if `out` is too small. `listxattr` appends a NUL itself.
    pub fn write_to(&self, out: &mut [u8]) -> Option<usize> {
        let len = self.len();
        let dst = out.get_mut(..len)?;
        let (a, rest) = dst.split_at_mut(self.prefix.len());
        let (b, c) = rest.split_at_mut(self.infix.len());
        a.copy_from_slice(self.prefix);
        b.copy_from_slice(self.infix);
        c.copy_from_slice(self.suffix);
        Some(len)
    }
}

/// A long name prefix: a short base index and an infix appended to its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongPrefix<'a> {
    /// Short name index whose prefix comes first.
    pub base_index: u8,
    /// Bytes that follow the base prefix.
    pub infix: &'a [u8],
}

impl<'a> LongPrefix<'a> {
    /// Parses the body of a prefix record (`struct erofs_xattr_long_prefix`: `u8
    /// base_index` then the infix), i.e. the `size` bytes after the record's
    /// `__le16 size`. As Linux, the body must be 1..=256 bytes.
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        if body.is_empty() || body.len() > NAME_LEN + 1 {
            return Err(Error::Corrupted(
                "long xattr prefix size",
                body.len() as u64,
            ));
        }
        let (first, infix) = body
            .split_first()
            .ok_or(Error::Truncated("long xattr prefix"))?;
        Ok(LongPrefix {
            base_index: *first,
            infix,
        })
    }
}

/// Parses the long prefix record at byte `off` of `buf` (rounded up to 4, as
/// `erofs_read_metadata` does): `__le16 size` (0 meaning 65536), then `size` bytes
/// of [`LongPrefix`] body. Returns the prefix and the offset after the record
/// (unaligned; the next record starts at its round-up to 4).
pub fn parse_long_prefix_at(buf: &[u8], off: usize) -> Result<(LongPrefix<'_>, usize)> {
    let off = off
        .checked_next_multiple_of(4)
        .ok_or(Error::Truncated("long xattr prefix"))?;
    let size = match le16(buf, off, "long xattr prefix")? {
        0 => 65536,
        n => usize::from(n),
    };
    let start = off + 2;
    let end = start
        .checked_add(size)
        .ok_or(Error::Truncated("long xattr prefix"))?;
    if size > NAME_LEN + 1 {
        return Err(Error::Corrupted("long xattr prefix size", size as u64));
    }
    let body = buf
        .get(start..end)
        .ok_or(Error::Truncated("long xattr prefix"))?;
    Ok((LongPrefix::parse(body)?, end))
}

/// Largest byte span of a long prefix table: 255 records of at most 2 + 256 bytes,
/// each padded to 4.
pub const MAX_PREFIX_TABLE_BYTES: usize = 255 * 260;

/// Where long prefixes come from, by number (`e_name_index & 0x7F`). Implemented
/// for slices of [`LongPrefix`], for [`LongPrefixTable`] and for [`NoLongPrefixes`];
/// a reader may implement it for its own storage.
pub trait LongPrefixes {
    /// Long prefix number `n`, `None` if the table has no such entry.
    fn long_prefix(&self, n: u8) -> Option<LongPrefix<'_>>;
}

impl LongPrefixes for [LongPrefix<'_>] {
    fn long_prefix(&self, n: u8) -> Option<LongPrefix<'_>> {
        self.get(usize::from(n)).copied()
    }
}

/// An empty long prefix table (images without `XATTR_PREFIXES`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoLongPrefixes;

impl LongPrefixes for NoLongPrefixes {
    fn long_prefix(&self, _n: u8) -> Option<LongPrefix<'_>> {
        None
    }
}

/// A validated long prefix table as stored on disk: `count` records from the start
/// of `buf` (which starts at `xattr_prefix_start * 4`).
#[derive(Debug, Clone, Copy)]
pub struct LongPrefixTable<'a> {
    buf: &'a [u8],
    count: u8,
}

impl<'a> LongPrefixTable<'a> {
    /// Validates all `count` records, as `erofs_xattr_prefixes_init` does at mount
    /// (any bad record fails the mount with `-EFSCORRUPTED`).
    pub fn parse(buf: &'a [u8], count: u8) -> Result<Self> {
        let mut off = 0;
        for _ in 0..count {
            off = parse_long_prefix_at(buf, off)?.1;
        }
        Ok(LongPrefixTable { buf, count })
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.count.into()
    }

    /// True if the table has no record.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Record `n`, `None` beyond the table.
    pub fn get(&self, n: u8) -> Option<LongPrefix<'a>> {
        self.iter().nth(n.into())
    }

    /// The records in order.
    pub fn iter(&self) -> LongPrefixIter<'a> {
        LongPrefixIter {
            buf: self.buf,
            off: 0,
            left: self.count,
        }
    }
}

impl LongPrefixes for LongPrefixTable<'_> {
    fn long_prefix(&self, n: u8) -> Option<LongPrefix<'_>> {
        self.get(n)
    }
}

/// Iterator over the records of a [`LongPrefixTable`].
#[derive(Debug, Clone)]
pub struct LongPrefixIter<'a> {
    buf: &'a [u8],
    off: usize,
    left: u8,
}

impl<'a> Iterator for LongPrefixIter<'a> {
    type Item = LongPrefix<'a>;

    fn next(&mut self) -> Option<LongPrefix<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The table was validated by `LongPrefixTable::parse`.
        let (p, end) = parse_long_prefix_at(self.buf, self.off).ok()?;
        self.off = end;
        Some(p)
    }
}

/// A validated view of an inode's inline xattr region.
#[derive(Debug, Clone, Copy)]
pub struct InlineXattrs<'a> {
    name_filter: u32,
    shared: &'a [u8],
    entries: &'a [u8],
}

impl<'a> InlineXattrs<'a> {
    /// Validates the inline region `region`: the
    /// [`Inode::xattr_size`](super::inode::Inode::xattr_size) bytes after the inode
    /// core. An empty region means no xattrs. A region of only the 12-byte header
    /// is "not supported yet" in Linux 6.12 (`-EOPNOTSUPP`); a region too small for
    /// its shared id array is corrupt (Linux would read ids past it).
    pub fn parse(region: &'a [u8]) -> Result<Self> {
        if region.is_empty() {
            return Ok(InlineXattrs {
                name_filter: 0,
                shared: &[],
                entries: &[],
            });
        }
        if region.len() < IBODY_HEADER_SIZE {
            return Err(Error::Corrupted("xattr ibody size", region.len() as u64));
        }
        if region.len() == IBODY_HEADER_SIZE {
            return Err(Error::Unsupported("xattr ibody of only a header", 12));
        }
        let name_filter = le32(region, 0, "xattr ibody header")?;
        let shared_count = usize::from(u8_at(region, 4, "xattr ibody header")?);
        let shared_end = IBODY_HEADER_SIZE + 4 * shared_count;
        let shared = region
            .get(IBODY_HEADER_SIZE..shared_end)
            .ok_or(Error::Corrupted("xattr shared count", shared_count as u64))?;
        let entries = region
            .get(shared_end..)
            .ok_or(Error::Corrupted("xattr shared count", shared_count as u64))?;
        Ok(InlineXattrs {
            name_filter,
            shared,
            entries,
        })
    }

    /// `h_name_filter`: with `COMPAT_XATTR_FILTER`, bit `h` set means no xattr
    /// whose name hashes to `h` (see [`filter_bit`]) exists.
    pub fn name_filter(&self) -> u32 {
        self.name_filter
    }

    /// Number of shared xattr ids.
    pub fn shared_count(&self) -> usize {
        self.shared.len() / 4
    }

    /// Shared xattr id `i`.
    pub fn shared_id(&self, i: usize) -> Option<u32> {
        let off = i.checked_mul(4)?;
        le32(self.shared, off, "xattr shared id").ok()
    }

    /// The shared xattr ids in order.
    pub fn shared_ids(&self) -> SharedIds<'a> {
        SharedIds { buf: self.shared }
    }

    /// The inline entries in order. Yields `Err` for a corrupt entry (one that runs
    /// past the region, `-EFSCORRUPTED` in Linux) and then stops.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            rest: self.entries,
            failed: false,
        }
    }

    /// True if the name filter rules out the xattr `name` of handler index `index`
    /// (the short index, with `name` the part after its prefix). Only meaningful with
    /// `COMPAT_XATTR_FILTER` and `xattr_filter_reserved == 0`, as Linux checks.
    pub fn filter_excludes(&self, index: u8, name: &[u8]) -> bool {
        self.name_filter & (1u32 << filter_bit(index, name)) != 0
    }
}

/// Iterator over shared xattr ids.
#[derive(Debug, Clone)]
pub struct SharedIds<'a> {
    buf: &'a [u8],
}

impl Iterator for SharedIds<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let (id, rest) = self.buf.split_first_chunk::<4>()?;
        self.buf = rest;
        Some(u32::from_le_bytes(*id))
    }
}

/// Iterator over inline xattr entries.
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>>;

    fn next(&mut self) -> Option<Result<Entry<'a>>> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        // As `erofs_xattr_iter_inline`: the padded entry must fit in what remains.
        let parsed = EntryHeader::parse(self.rest).and_then(|h| {
            if h.size() > self.rest.len() {
                return Err(Error::Corrupted(
                    "xattr entry beyond the inline region",
                    h.size() as u64,
                ));
            }
            Entry::parse(self.rest)
        });
        match parsed {
            Ok((entry, size)) => {
                self.rest = self.rest.get(size..).unwrap_or(&[]);
                Some(Ok(entry))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// The `h_name_filter` bit of xattr `name` (after the prefix) of handler index
/// `index`: `xxh32(name, FILTER_SEED + index) & 31`.
pub fn filter_bit(index: u8, name: &[u8]) -> u32 {
    xxh32(name, FILTER_SEED.wrapping_add(index.into())) & 31
}

/// xxHash32 of `data` with `seed`.
pub fn xxh32(data: &[u8], seed: u32) -> u32 {
    const P1: u32 = 0x9E37_79B1;
    const P2: u32 = 0x85EB_CA77;
    const P3: u32 = 0xC2B2_AE3D;
    const P4: u32 = 0x27D4_EB2F;
    const P5: u32 = 0x1656_67B1;
    fn round(acc: u32, lane: u32) -> u32 {
        acc.wrapping_add(lane.wrapping_mul(P2))
            .rotate_left(13)
            .wrapping_mul(P1)
    }
    let mut rest = data;
    let mut h = if data.len() >= 16 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        while let Some((stripe, tail)) = rest.split_first_chunk::<16>() {
            for (acc, lane) in v.iter_mut().zip(stripe.chunks_exact(4)) {
                let mut w = [0u8; 4];
                w.copy_from_slice(lane);
                *acc = round(*acc, u32::from_le_bytes(w));
            }
            rest = tail;
        }
        let [v1, v2, v3, v4] = v;
        v1.rotate_left(1)
            .wrapping_add(v2.rotate_left(7))
            .wrapping_add(v3.rotate_left(12))
            .wrapping_add(v4.rotate_left(18))
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(data.len() as u32);
    while let Some((word, tail)) = rest.split_first_chunk::<4>() {
        h = h
            .wrapping_add(u32::from_le_bytes(*word).wrapping_mul(P3))
            .rotate_left(17)
            .wrapping_mul(P4);
        rest = tail;
    }
    for &b in rest {
        h = h
            .wrapping_add(u32::from(b).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^= h >> 16;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name_len: u8, index: u8, suffix: &[u8], value: &[u8]) -> Vec<u8> {
        let mut b = vec![name_len, index];
        b.extend_from_slice(&(value.len() as u16).to_le_bytes());
        b.extend_from_slice(suffix);
        b.extend_from_slice(value);
        while !b.len().is_multiple_of(4) {
            b.push(0);
        }
        b
    }

    fn region(filter: u32, shared: &[u32], entries: &[Vec<u8>]) -> Vec<u8> {
        let mut b = filter.to_le_bytes().to_vec();
        b.push(shared.len() as u8);
        b.extend_from_slice(&[0; 7]);
        for id in shared {
            b.extend_from_slice(&id.to_le_bytes());
        }
        for e in entries {
            b.extend_from_slice(e);
        }
        b
    }

    fn record(base_index: u8, infix: &[u8]) -> Vec<u8> {
        let mut b = ((infix.len() + 1) as u16).to_le_bytes().to_vec();
        b.push(base_index);
        b.extend_from_slice(infix);
        while !b.len().is_multiple_of(4) {
            b.push(0);
        }
        b
    }

    #[test]
    fn prefixes() {
        assert_eq!(prefix_of(1), Some(&b"user."[..]));
        assert_eq!(prefix_of(2), Some(&b"system.posix_acl_access"[..]));
        assert_eq!(prefix_of(3), Some(&b"system.posix_acl_default"[..]));
        assert_eq!(prefix_of(4), Some(&b"trusted."[..]));
        assert_eq!(prefix_of(5), Some(&b"lustre."[..]));
        assert_eq!(prefix_of(6), Some(&b"security."[..]));
        for i in [0u8, 7, 8, 0x80, 0x81, 0xFF] {
            assert_eq!(prefix_of(i), None);
        }
        assert_eq!(split_name(b"user.a.b"), Some((1, &b"a.b"[..])));
        assert_eq!(
            split_name(b"security.capability"),
            Some((6, &b"capability"[..]))
        );
        assert_eq!(split_name(b"trusted."), Some((4, &b""[..])));
        assert_eq!(split_name(b"system.posix_acl_access"), Some((2, &b""[..])));
        assert_eq!(split_name(b"system.posix_acl_default"), Some((3, &b""[..])));
        assert_eq!(split_name(b"system.posix_acl_accessX"), None);
        assert_eq!(split_name(b"system.other"), None);
        assert_eq!(split_name(b"user"), None);
        assert_eq!(split_name(b""), None);
    }

    #[test]
    fn entry_header_sizes() {
        let h = EntryHeader::parse(&[3, 1, 5, 0]).unwrap();
        assert_eq!(
            h,
            EntryHeader {
                name_len: 3,
                name_index: 1,
                value_size: 5
            }
        );
        assert_eq!(h.unpadded_size(), 12);
        assert_eq!(h.size(), 12);
        let h = EntryHeader::parse(&[255, 1, 0xFF, 0xFF]).unwrap();
        assert_eq!(h.size(), (4 + 255 + 65535usize).next_multiple_of(4));
        for len in 0..4 {
            assert!(EntryHeader::parse(&[0; 4][..len]).is_err());
        }
    }

    #[test]
    fn parse_entries() {
        let b = entry(3, 1, b"foo", b"hello");
        let (e, size) = Entry::parse(&b).unwrap();
        assert_eq!(size, 12);
        assert_eq!(
            e,
            Entry {
                name_index: 1,
                suffix: b"foo",
                value: b"hello"
            }
        );
        // Padding need not be there (a shared entry at the end of the image).
        let (e2, _) = Entry::parse(&b[..12]).unwrap();
        assert_eq!(e, e2);
        let acl = entry(0, 2, b"", &[2, 0, 0, 0]);
        let (e, size) = Entry::parse(&acl).unwrap();
        assert_eq!(
            (e.suffix, e.value, size),
            (&b""[..], &[2u8, 0, 0, 0][..], 8)
        );
        for len in 0..12 {
            assert!(Entry::parse(&b[..len]).is_err(), "{len}");
        }
        // A name running past the buffer.
        assert_eq!(
            Entry::parse(&[9, 1, 0, 0, b'a']),
            Err(Error::Truncated("xattr entry name"))
        );
        assert_eq!(
            Entry::parse(&[1, 1, 9, 0, b'a', 1]),
            Err(Error::Truncated("xattr entry value"))
        );
    }

    #[test]
    fn inline_region() {
        let entries = [
            entry(3, 1, b"foo", b"bar"),
            entry(10, 6, b"capability", &[1; 20]),
            entry(1, 4, b"t", b""),
        ];
        let r = region(0xF0F0, &[7, 0x1_0000], &entries);
        let x = InlineXattrs::parse(&r).unwrap();
        assert_eq!(x.name_filter(), 0xF0F0);
        assert_eq!(x.shared_count(), 2);
        assert_eq!(x.shared_id(0), Some(7));
        assert_eq!(x.shared_id(1), Some(0x1_0000));
        assert_eq!(x.shared_id(2), None);
        assert_eq!(x.shared_id(usize::MAX), None);
        assert_eq!(x.shared_ids().collect::<Vec<_>>(), vec![7, 0x1_0000]);
        let got: Vec<_> = x.entries().collect::<Result<_>>().unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].suffix, b"foo");
        assert_eq!(got[1].value, &[1; 20][..]);
        assert_eq!(
            (got[2].name_index, got[2].suffix, got[2].value),
            (4, &b"t"[..], &b""[..])
        );
        // Only shared ids, no inline entries.
        let r = region(0, &[1, 2, 3], &[]);
        let x = InlineXattrs::parse(&r).unwrap();
        assert_eq!(x.shared_ids().count(), 3);
        assert_eq!(x.entries().count(), 0);
        // No xattrs at all.
        let x = InlineXattrs::parse(&[]).unwrap();
        assert_eq!((x.shared_count(), x.entries().count()), (0, 0));
    }

    #[test]
    fn inline_region_errors() {
        // Only a header: unsupported, as in Linux 6.12.
        let r = region(0, &[], &[]);
        assert_eq!(r.len(), 12);
        assert!(matches!(
            InlineXattrs::parse(&r),
            Err(Error::Unsupported(..))
        ));
        for len in 1..12 {
            assert!(matches!(
                InlineXattrs::parse(&r[..len]),
                Err(Error::Corrupted(..))
            ));
        }
        // More shared ids than the region holds.
        let mut r = region(0, &[1, 2], &[]);
        r[4] = 3;
        assert!(matches!(InlineXattrs::parse(&r), Err(Error::Corrupted(..))));
        r[4] = 255;
        assert!(InlineXattrs::parse(&r).is_err());
        // An entry running past the region: its predecessors, then one error, then
        // nothing.
        let mut r = region(
            0,
            &[],
            &[entry(1, 1, b"a", b"1"), entry(3, 1, b"abc", b"xyz")],
        );
        r.truncate(r.len() - 4);
        let x = InlineXattrs::parse(&r).unwrap();
        let mut it = x.entries();
        assert!(it.next().unwrap().is_ok());
        assert!(matches!(it.next(), Some(Err(Error::Corrupted(..)))));
        assert!(it.next().is_none());
        // A trailing fragment shorter than an entry header.
        let mut r = region(0, &[], &[entry(1, 1, b"a", b"1")]);
        r.extend_from_slice(&[0, 0]);
        let x = InlineXattrs::parse(&r).unwrap();
        let v: Vec<_> = x.entries().collect();
        assert_eq!(v.len(), 2);
        assert!(v[1].is_err());
        // The padding counts: an entry whose padded size exceeds what is left.
        let mut r = region(0, &[], &[entry(1, 1, b"a", b"12")]);
        r.truncate(r.len() - 1);
        assert!(InlineXattrs::parse(&r)
            .unwrap()
            .entries()
            .any(|e| e.is_err()));
    }

    #[test]
    fn long_prefix_records() {
        let mut t = record(4, b"overlay.");
        t.extend(record(1, b""));
        t.extend(record(6, &[b'x'; 255]));
        let (p, end) = parse_long_prefix_at(&t, 0).unwrap();
        assert_eq!(
            p,
            LongPrefix {
                base_index: 4,
                infix: b"overlay."
            }
        );
        assert_eq!(end, 11);
        // The next record starts at the round-up.
        let (p, end) = parse_long_prefix_at(&t, end).unwrap();
        assert_eq!((p.base_index, p.infix, end), (1, &b""[..], 15));
        let (p, _) = parse_long_prefix_at(&t, end).unwrap();
        assert_eq!(p.infix.len(), 255);
        let table = LongPrefixTable::parse(&t, 3).unwrap();
        assert_eq!(table.len(), 3);
        assert!(!table.is_empty());
        assert_eq!(table.get(0).unwrap().infix, b"overlay.");
        assert_eq!(table.get(2).unwrap().base_index, 6);
        assert_eq!(table.get(3), None);
        assert_eq!(table.iter().count(), 3);
        assert!(LongPrefixTable::parse(&t, 4).is_err());
        assert!(LongPrefixTable::parse(&[], 0).unwrap().is_empty());
    }

    #[test]
    fn long_prefix_record_errors() {
        // size 0 means 65536: corrupt.
        assert!(matches!(
            parse_long_prefix_at(&[0, 0, 1, 0], 0),
            Err(Error::Corrupted(..))
        ));
        // 257 bytes: one too many.
        let mut r = 257u16.to_le_bytes().to_vec();
        r.extend_from_slice(&[1; 257]);
        assert!(matches!(
            parse_long_prefix_at(&r, 0),
            Err(Error::Corrupted(..))
        ));
        // Truncated body or size.
        assert!(matches!(
            parse_long_prefix_at(&[5, 0, 1, 2], 0),
            Err(Error::Truncated(_))
        ));
        assert!(parse_long_prefix_at(&[5], 0).is_err());
        assert!(parse_long_prefix_at(&[], 0).is_err());
        assert!(parse_long_prefix_at(&[1, 0, 1, 0], usize::MAX).is_err());
        assert!(LongPrefix::parse(&[]).is_err());
        assert!(LongPrefix::parse(&[1; 257]).is_err());
        assert_eq!(LongPrefix::parse(&[1; 256]).unwrap().infix.len(), 255);
    }

    #[test]
    fn names() {
        let mut t = record(INDEX_TRUSTED, b"overlay.");
        t.extend(record(9, b"bogus."));
        let table = LongPrefixTable::parse(&t, 2).unwrap();
        let short = Entry {
            name_index: 1,
            suffix: b"foo",
            value: b"",
        };
        let long = Entry {
            name_index: 0x80,
            suffix: b"redirect",
            value: b"",
        };
        let bad_base = Entry {
            name_index: 0x81,
            suffix: b"x",
            value: b"",
        };
        let missing = Entry {
            name_index: 0x82,
            suffix: b"x",
            value: b"",
        };
        let unknown = Entry {
            name_index: 9,
            suffix: b"x",
            value: b"",
        };

        let n = short.full_name(&NoLongPrefixes).unwrap();
        assert_eq!(
            (n.base_index, n.prefix, n.infix, n.suffix),
            (1, &b"user."[..], &b""[..], &b"foo"[..])
        );
        assert_eq!(n.len(), 8);
        assert!(!n.is_empty());
        assert!(short.matches(b"user.foo", &NoLongPrefixes));
        assert!(!short.matches(b"user.fo", &NoLongPrefixes));
        assert!(!short.matches(b"user.fooo", &NoLongPrefixes));
        assert!(!short.matches(b"trusted.foo", &NoLongPrefixes));
        assert!(short.matches_index(1, b"foo", &NoLongPrefixes));
        assert!(!short.matches_index(4, b"foo", &NoLongPrefixes));

        let n = long.full_name(&table).unwrap();
        assert_eq!(n.len(), b"trusted.overlay.redirect".len());
        assert!(long.matches(b"trusted.overlay.redirect", &table));
        assert!(!long.matches(b"trusted.overlay.redirecT", &table));
        assert!(!long.matches(b"trusted.overlay.redirect", &NoLongPrefixes));
        assert!(long.matches_index(4, b"overlay.redirect", &table));
        assert!(!long.matches_index(4, b"overlay.redirec", &table));
        assert!(!long.matches_index(4, b"overlayXredirect", &table));
        assert!(!long.matches_index(1, b"overlay.redirect", &table));
        let mut out = [0u8; 64];
        let len = n.write_to(&mut out).unwrap();
        assert_eq!(&out[..len], b"trusted.overlay.redirect");
        let mut small = [0xEE; 23];
        assert_eq!(n.write_to(&mut small), None);
        assert_eq!(small, [0xEE; 23]);

        // Slices of prefixes work the same.
        let slice = [LongPrefix {
            base_index: 6,
            infix: b"selinux",
        }];
        let sel = Entry {
            name_index: 0x80,
            suffix: b"",
            value: b"x",
        };
        assert!(sel.matches(b"security.selinux", &slice[..]));
        assert!(sel.matches_index(6, b"selinux", &slice[..]));

        for e in [bad_base, missing, unknown] {
            assert_eq!(e.full_name(&table), None);
            assert!(!e.matches(b"x", &table));
        }
        assert!(!missing.matches_index(4, b"x", &table));
        // A long prefix's base index is compared as is.
        assert!(bad_base.matches_index(9, b"bogus.x", &table));
    }

    #[test]
    fn xxh32_vectors() {
        assert_eq!(xxh32(b"", 0), 0x02CC_5D05);
        assert_eq!(xxh32(b"abc", 0), 0x32D1_53FF);
        assert_eq!(
            xxh32(b"Nobody inspects the spammish repetition", 0),
            0xE229_3B2F
        );
        assert!(filter_bit(1, b"foo") < 32);
        let r = region(1 << filter_bit(1, b"foo"), &[], &[entry(1, 1, b"a", b"")]);
        let x = InlineXattrs::parse(&r).unwrap();
        assert!(x.filter_excludes(1, b"foo"));
    }
}
