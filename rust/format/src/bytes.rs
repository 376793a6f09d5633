// SPDX-License-Identifier: GPL-2.0

//! Bounds-checked little-endian field readers.

use super::error::{Error, Result};

/// Reads `N` bytes at `off`, or fails with [`Error::Truncated`] naming `what`.
pub(crate) fn array<const N: usize>(buf: &[u8], off: usize, what: &'static str) -> Result<[u8; N]> {
    let end = off.checked_add(N).ok_or(Error::Truncated(what))?;
    let s = buf.get(off..end).ok_or(Error::Truncated(what))?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Ok(a)
}

pub(crate) fn u8_at(buf: &[u8], off: usize, what: &'static str) -> Result<u8> {
    Ok(array::<1>(buf, off, what)?[0])
}

pub(crate) fn le16(buf: &[u8], off: usize, what: &'static str) -> Result<u16> {
    Ok(u16::from_le_bytes(array(buf, off, what)?))
}

pub(crate) fn le32(buf: &[u8], off: usize, what: &'static str) -> Result<u32> {
    Ok(u32::from_le_bytes(array(buf, off, what)?))
}

pub(crate) fn le64(buf: &[u8], off: usize, what: &'static str) -> Result<u64> {
    Ok(u64::from_le_bytes(array(buf, off, what)?))
}
