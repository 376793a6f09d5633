// SPDX-License-Identifier: GPL-2.0

//! rerofs's mount options, read once from the C option block into an owned value
//! at the start of `fill_super` (and of a remount), kept in the mount's
//! [`crate::sb::SbInfo`] for `show_options` and remounts.

use kernel::c_str;
use kernel::prelude::*;
use kernel::str::{CStr, CString};

use crate::format::verity::{self as fv, DIGEST_SIZE};
use crate::vfs::{self, RawOptions, SeqFile};

/// The `verity=` mount option.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum VerityMode {
    /// Verify when the image has trees (the default).
    On,
    /// Never verify.
    Off,
    /// Refuse images without trees or without established trust.
    Require,
}

/// The mount options, validated.
pub(crate) struct Options {
    /// The `device=` paths, in slot order.
    pub(crate) devices: KVec<CString>,
    /// The `blobdir=` directory.
    pub(crate) blobdir: Option<CString>,
    /// The `digest=` value: the expected image digest.
    pub(crate) digest: Option<[u8; DIGEST_SIZE]>,
    /// The `verity=` mode, if given.
    pub(crate) verity: Option<VerityMode>,
    /// `ondemand`: absent ranges of data blobs are fetched through the
    /// on-demand daemon (`crate::ondemand`); only with `blobdir=`.
    pub(crate) ondemand: bool,
    /// The `key=` name: the image key is the logon key `rerofs:NAME`.
    pub(crate) key: Option<CString>,
    /// `io=`, if given: `Some(true)` for `io=direct`, `Some(false)` for
    /// `io=buffered`. File data is read with direct I/O unless `io=buffered`.
    pub(crate) io_direct: Option<bool>,
}

/// Parses a `digest=` value: `sha256:` and 64 lowercase hex digits.
fn parse_digest(v: &CStr) -> Option<[u8; DIGEST_SIZE]> {
    v.as_bytes()
        .strip_prefix(b"sha256:")
        .and_then(fv::parse_hex_digest)
}

impl Options {
    /// Reads every option once from `raw`. A malformed one is refused with
    /// `EINVAL` after `malformed` is told its name (`"digest="`).
    pub(crate) fn parse(
        raw: &RawOptions<'_>,
        malformed: impl FnOnce(&'static str),
    ) -> Result<Self> {
        let count = raw.device_count();
        let mut devices = KVec::with_capacity(count, GFP_KERNEL)?;
        for i in 0..count {
            let path = raw.device(i).ok_or(EINVAL)?;
            devices.push(CString::try_from(path)?, GFP_KERNEL)?;
        }
        let blobdir = raw.blobdir().map(CString::try_from).transpose()?;
        let digest = match raw.digest() {
            None => None,
            Some(d) => match parse_digest(d) {
                Some(d) => Some(d),
                None => {
                    malformed("digest=");
                    return Err(EINVAL);
                }
            },
        };
        let verity = raw.verity().map(|v| match v {
            vfs::VERITY_OFF => VerityMode::Off,
            vfs::VERITY_REQUIRE => VerityMode::Require,
            _ => VerityMode::On,
        });
        let ondemand = raw.ondemand();
        if ondemand && blobdir.is_none() {
            malformed("ondemand (only with blobdir=)");
            return Err(EINVAL);
        }
        let key = raw.key().map(CString::try_from).transpose()?;
        let io_direct = raw.io().map(|v| v != vfs::IO_BUFFERED);
        Ok(Self {
            devices,
            blobdir,
            digest,
            verity,
            ondemand,
            key,
            io_direct,
        })
    }

    /// Whether file data is read with direct I/O (`io=direct`, the default).
    pub(crate) fn direct_io(&self) -> bool {
        self.io_direct.unwrap_or(true)
    }

    /// The `verity=` mode (`on` when not given).
    pub(crate) fn verity_mode(&self) -> VerityMode {
        self.verity.unwrap_or(VerityMode::On)
    }

    /// Which option of a remount's `new` options changes one of these (options
    /// left out keep their values; repeating one is fine).
    pub(crate) fn changed_by(&self, new: &Options) -> Option<&'static str> {
        let same = |given: &Option<CString>, kept: &Option<CString>| match (given, kept) {
            (None, _) => true,
            (Some(g), Some(k)) => g.as_bytes() == k.as_bytes(),
            (Some(_), None) => false,
        };
        if new.verity.is_some_and(|v| v != self.verity_mode()) {
            Some("verity=")
        } else if new.digest.is_some() && new.digest != self.digest {
            Some("digest=")
        } else if new.ondemand && !self.ondemand {
            Some("ondemand")
        } else if !same(&new.blobdir, &self.blobdir) {
            Some("blobdir=")
        } else if !same(&new.key, &self.key) {
            Some("key=")
        } else if new.io_direct.is_some_and(|d| d != self.direct_io()) {
            Some("io=")
        } else if !new.devices.is_empty()
            && (new.devices.len() != self.devices.len()
                || new
                    .devices
                    .iter()
                    .zip(self.devices.iter())
                    .any(|(g, k)| g.as_bytes() != k.as_bytes()))
        {
            Some("device=")
        } else {
            None
        }
    }

    /// Appends the options to `/proc/mounts` as they were given.
    pub(crate) fn show(&self, m: &mut SeqFile) {
        if let Some(dir) = &self.blobdir {
            m.show_option(c_str!("blobdir"), dir);
        }
        for dev in self.devices.iter() {
            m.show_option(c_str!("device"), dev);
        }
        if let Some(d) = &self.digest {
            // `sha256:`, 64 hex digits and the NUL.
            let mut text = [0u8; 7 + 2 * DIGEST_SIZE + 1];
            let (prefix, rest) = text.split_at_mut(7);
            prefix.copy_from_slice(b"sha256:");
            for (pair, byte) in rest.chunks_exact_mut(2).zip(d.iter()) {
                if let [hi, lo] = pair {
                    *hi = hex_digit(byte >> 4);
                    *lo = hex_digit(byte & 0xf);
                }
            }
            if let Ok(text) = CStr::from_bytes_with_nul(&text) {
                m.show_option(c_str!("digest"), text);
            }
        }
        if self.ondemand {
            m.show_flag(c_str!("ondemand"));
        }
        if let Some(key) = &self.key {
            // The key's name only: the key itself never passes through options.
            m.show_option(c_str!("key"), key);
        }
        match self.io_direct {
            Some(true) => m.show_option(c_str!("io"), c_str!("direct")),
            Some(false) => m.show_option(c_str!("io"), c_str!("buffered")),
            None => {}
        }
        match self.verity {
            Some(VerityMode::Off) => m.show_option(c_str!("verity"), c_str!("off")),
            Some(VerityMode::Require) => m.show_option(c_str!("verity"), c_str!("require")),
            Some(VerityMode::On) | None => {}
        }
    }
}

/// The lowercase hex digit of `n` (below 16).
fn hex_digit(n: u8) -> u8 {
    match n {
        0..=9 => b'0' + n,
        _ => b'a' + (n - 10),
    }
}
