// SPDX-License-Identifier: GPL-2.0

//! Errors of the format parsers.

use core::fmt;

/// What is wrong with an image. Each variant says which structure and, where it
/// helps, the offending value; [`Error::errno_kind`] groups them for the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// A structure runs past the end of the bytes it must fit in.
    Truncated(&'static str),
    /// The superblock magic is not EROFS's.
    BadMagic(u32),
    /// The block size is not 4 KiB (value: `blkszbits`).
    BadBlockSize(u8),
    /// The superblock checksum does not match.
    BadChecksum {
        /// Checksum stored in the superblock.
        stored: u32,
        /// Checksum computed over the superblock block.
        computed: u32,
    },
    /// Incompatible feature bits this reader does not implement.
    UnsupportedIncompat(u32),
    /// A feature or layout this reader does not implement (value: the raw field).
    Unsupported(&'static str, u64),
    /// A field holds an impossible value (value: the raw field).
    Corrupted(&'static str, u64),
}

/// Coarse classes of [`Error`], mapped to an errno by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Not an EROFS image at all (`EINVAL`).
    NotOurs,
    /// A valid image using something not implemented (`EOPNOTSUPP`).
    Unsupported,
    /// A damaged image (`EFSCORRUPTED`).
    Corrupted,
}

impl Error {
    /// The class of this error.
    pub fn errno_kind(&self) -> ErrorKind {
        match self {
            Error::BadMagic(_) => ErrorKind::NotOurs,
            Error::BadBlockSize(_) | Error::UnsupportedIncompat(_) | Error::Unsupported(..) => {
                ErrorKind::Unsupported
            }
            Error::Truncated(_) | Error::BadChecksum { .. } | Error::Corrupted(..) => {
                ErrorKind::Corrupted
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated(what) => write!(f, "{what} is truncated"),
            Error::BadMagic(m) => write!(f, "bad superblock magic {m:#010x}"),
            Error::BadBlockSize(b) => write!(
                f,
                "block size 2^{b} is not supported (only 4096-byte blocks)"
            ),
            Error::BadChecksum { stored, computed } => write!(
                f,
                "superblock checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
            ),
            Error::UnsupportedIncompat(bits) => {
                write!(f, "unsupported incompatible features {bits:#x}:")?;
                for (bit, name) in super::superblock::INCOMPAT_NAMES {
                    if bits & bit != 0 {
                        write!(f, " {name}")?;
                    }
                }
                let known = super::superblock::INCOMPAT_NAMES
                    .iter()
                    .fold(0, |acc, (b, _)| acc | b);
                if bits & !known != 0 {
                    write!(f, " unknown({:#x})", bits & !known)?;
                }
                Ok(())
            }
            Error::Unsupported(what, v) => write!(f, "unsupported {what} ({v:#x})"),
            Error::Corrupted(what, v) => write!(f, "corrupted {what} ({v:#x})"),
        }
    }
}

/// Result of the format parsers.
pub type Result<T> = core::result::Result<T, Error>;
