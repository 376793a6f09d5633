// SPDX-License-Identifier: GPL-2.0

//! The on-demand channel's wire format: what the kernel writes to the daemon
//! reading its character device (a [`Request`]) and what the daemon writes back
//! (a [`Completion`]). Fixed-size little-endian records; one definition for the
//! module and the `rerofs fetchd` daemon. See "On-demand fetching" in
//! `Documentation/filesystems/rerofs.rst`.

use super::error::Error;
use super::verity::DIGEST_SIZE;

/// First word of every request: `"RODR"` (rerofs on-demand request), version 1.
pub const REQUEST_MAGIC: u32 = 0x5244_4f52;
/// Size of a request record.
pub const REQUEST_SIZE: usize = 64;
/// Size of a completion record.
pub const COMPLETION_SIZE: usize = 16;
/// First word of every completion: `"RODC"`.
pub const COMPLETION_MAGIC: u32 = 0x4344_4f52;
/// Requests are for whole aligned units of this many bytes (the blob's range
/// rounded out to it, clipped at the end of the blob's data area).
pub const REQUEST_UNIT: u64 = 64 * 1024;

/// A request: "make bytes `[offset, offset + len)` of the blob whose fs-verity
/// digest is `digest` present in the blob file". Layout (64 bytes):
///
/// ```text
/// [0, 4)    __le32 magic     REQUEST_MAGIC
/// [4, 8)    __le32 id        names the request in its completion
/// [8, 16)   __le64 offset    byte offset in the blob file (multiple of 4096)
/// [16, 24)  __le64 len       bytes (multiple of 4096, > 0)
/// [24, 56)  u8 digest[32]    the blob's fs-verity digest (its file name in hex)
/// [56, 64)  zero
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Request id.
    pub id: u32,
    /// Byte offset in the blob.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
    /// The blob's fs-verity digest.
    pub digest: [u8; DIGEST_SIZE],
}

fn le32(b: &[u8], at: usize) -> Result<u32, Error> {
    let s = b
        .get(at..at + 4)
        .ok_or(Error::Truncated("on-demand record"))?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Ok(u32::from_le_bytes(a))
}

fn le64(b: &[u8], at: usize) -> Result<u64, Error> {
    let s = b
        .get(at..at + 8)
        .ok_or(Error::Truncated("on-demand record"))?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Ok(u64::from_le_bytes(a))
}

impl Request {
    /// The record.
    pub fn to_bytes(&self) -> [u8; REQUEST_SIZE] {
        let mut b = [0u8; REQUEST_SIZE];
        b[0..4].copy_from_slice(&REQUEST_MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&self.id.to_le_bytes());
        b[8..16].copy_from_slice(&self.offset.to_le_bytes());
        b[16..24].copy_from_slice(&self.len.to_le_bytes());
        b[24..56].copy_from_slice(&self.digest);
        b
    }

    /// Parses a record (the daemon's side).
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        if b.len() < REQUEST_SIZE {
            return Err(Error::Truncated("on-demand record"));
        }
        let m = le32(b, 0)?;
        if m != REQUEST_MAGIC {
            return Err(Error::BadMagic(m));
        }
        let mut digest = [0u8; DIGEST_SIZE];
        digest.copy_from_slice(b.get(24..56).ok_or(Error::Truncated("on-demand record"))?);
        Ok(Request {
            id: le32(b, 4)?,
            offset: le64(b, 8)?,
            len: le64(b, 16)?,
            digest,
        })
    }
}

/// A completion: "request `id` is done; `status` 0 means the bytes were
/// written, else a positive errno". The kernel reads and verifies the range
/// again either way: a completion is a hint to retry, never a claim the kernel
/// trusts. Layout (16 bytes): `__le32 magic` ([`COMPLETION_MAGIC`]), `__le32
/// id`, `__le32 status`, 4 zero bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    /// The request's id.
    pub id: u32,
    /// 0 or a positive errno.
    pub status: u32,
}

impl Completion {
    /// The record.
    pub fn to_bytes(&self) -> [u8; COMPLETION_SIZE] {
        let mut b = [0u8; COMPLETION_SIZE];
        b[0..4].copy_from_slice(&COMPLETION_MAGIC.to_le_bytes());
        b[4..8].copy_from_slice(&self.id.to_le_bytes());
        b[8..12].copy_from_slice(&self.status.to_le_bytes());
        b
    }

    /// Parses a record (the kernel's side).
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        if b.len() != COMPLETION_SIZE {
            return Err(Error::Truncated("on-demand record"));
        }
        let m = le32(b, 0)?;
        if m != COMPLETION_MAGIC {
            return Err(Error::BadMagic(m));
        }
        Ok(Completion {
            id: le32(b, 4)?,
            status: le32(b, 8)?,
        })
    }
}

/// The request range for a read of `[pos, pos + len)` of a blob whose file is
/// `blob_size` bytes: rounded out to [`REQUEST_UNIT`], clipped at `blob_size`.
/// `None` when the read is empty or not inside the blob.
pub fn request_range(pos: u64, len: u64, blob_size: u64) -> Option<(u64, u64)> {
    let end = pos.checked_add(len)?;
    if len == 0 || end > blob_size {
        return None;
    }
    let start = pos - pos % REQUEST_UNIT;
    // Rounded up to a unit, unless that passes u64::MAX: then the blob's end
    // (which the read lies within) is the end anyway.
    let end = match end.div_ceil(REQUEST_UNIT).checked_mul(REQUEST_UNIT) {
        Some(e) => e.min(blob_size),
        None => blob_size,
    };
    Some((start, end - start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = Request {
            id: 7,
            offset: 65536,
            len: 4096,
            digest: [3; 32],
        };
        assert_eq!(Request::parse(&r.to_bytes()), Ok(r));
        let c = Completion { id: 7, status: 5 };
        assert_eq!(Completion::parse(&c.to_bytes()), Ok(c));
        assert!(Completion::parse(&[0u8; 16]).is_err());
        assert!(Request::parse(&[0u8; 10]).is_err());
    }

    #[test]
    fn ranges() {
        assert_eq!(request_range(4096, 4096, 1 << 20), Some((0, 65536)));
        assert_eq!(request_range(65536, 65537, 1 << 20), Some((65536, 131072)));
        assert_eq!(request_range(0, 4096, 8192), Some((0, 8192)));
        assert_eq!(request_range(0, 0, 8192), None);
        assert_eq!(request_range(8192, 4096, 8192), None);
        assert_eq!(request_range(u64::MAX, 2, u64::MAX), None);
    }

    #[test]
    fn range_near_the_top() {
        // Found by the ondemand fuzz target: a read whose end rounded up to a
        // unit passes u64::MAX was refused (None) though it lies in the blob.
        let size = u64::MAX;
        let (pos, len) = (0x1000, 0xffff_ffff_ffff_1000);
        let (start, n) = request_range(pos, len, size).expect("inside the blob");
        assert_eq!(start, 0);
        assert_eq!(start + n, size);
        assert_eq!(
            request_range(size - 1, 1, size),
            Some((size - size % REQUEST_UNIT, size % REQUEST_UNIT))
        );
    }
}
