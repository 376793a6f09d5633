// SPDX-License-Identifier: GPL-2.0

//! The mount options collected by the C `parse_param` (`struct rerofs_mount_opts`
//! in `rerofs_helpers.c`; 6.12 has no Rust fs_context). Each getter crosses into C
//! once per call: the file system reads each option once into its own value.

use core::marker::PhantomData;
use core::ptr::NonNull;
use kernel::ffi::c_uint;

use kernel::prelude::*;
use kernel::str::CStr;

use crate::helpers as c;

/// `verity=off` (the `RERO_VERITY_*` values of `rerofs_helpers.h`; any other
/// value is `verity=on`).
pub(crate) const VERITY_OFF: u32 = c::RERO_VERITY_OFF;
/// `verity=require`.
pub(crate) const VERITY_REQUIRE: u32 = c::RERO_VERITY_REQUIRE;
/// `io=buffered` (the `RERO_IO_*` values; any other value is `io=direct`).
pub(crate) const IO_BUFFERED: u32 = c::RERO_IO_BUFFERED;

/// The option block of one `fill_super` or `reconfigure` call.
///
/// # Invariants
///
/// The pointer is the fs_context's option block, valid for `'a`.
pub(crate) struct RawOptions<'a>(NonNull<c::rerofs_mount_opts>, PhantomData<&'a ()>);

impl<'a> RawOptions<'a> {
    /// # Safety
    ///
    /// `opts` must be null or the fs_context's option block, valid for `'a`.
    pub(super) unsafe fn from_raw(opts: *mut c::rerofs_mount_opts) -> Result<Self> {
        // INVARIANT: a non-null `opts` is valid for `'a` (the caller's guarantee).
        Ok(Self(NonNull::new(opts).ok_or(EINVAL)?, PhantomData))
    }

    /// Turns a string of the option block into a `CStr`.
    fn string(p: *const kernel::ffi::c_char) -> Option<&'a CStr> {
        if p.is_null() {
            return None;
        }
        // SAFETY: The string is NUL terminated and owned by the option block,
        // alive for `'a` (type invariant).
        Some(unsafe { CStr::from_char_ptr(p) })
    }

    /// Number of `device=` options.
    pub(crate) fn device_count(&self) -> usize {
        // SAFETY: The option block is valid by the type invariant.
        unsafe { c::rerofs_opts_ndevices(self.0.as_ptr()) as usize }
    }

    /// The `i`-th `device=` path.
    pub(crate) fn device(&self, i: usize) -> Option<&'a CStr> {
        let i = c_uint::try_from(i).ok()?;
        // SAFETY: The option block is valid by the type invariant.
        Self::string(unsafe { c::rerofs_opts_device(self.0.as_ptr(), i) })
    }

    /// The `blobdir=` directory, if given.
    pub(crate) fn blobdir(&self) -> Option<&'a CStr> {
        // SAFETY: The option block is valid by the type invariant.
        Self::string(unsafe { c::rerofs_opts_blobdir(self.0.as_ptr()) })
    }

    /// The `digest=` value, if given.
    pub(crate) fn digest(&self) -> Option<&'a CStr> {
        // SAFETY: The option block is valid by the type invariant.
        Self::string(unsafe { c::rerofs_opts_digest(self.0.as_ptr()) })
    }

    /// True if the `ondemand` flag was given.
    pub(crate) fn ondemand(&self) -> bool {
        // SAFETY: The option block is valid by the type invariant.
        unsafe { c::rerofs_opts_ondemand(self.0.as_ptr()) }
    }

    /// The `verity=` value (one of the `VERITY_*` constants), if given.
    pub(crate) fn verity(&self) -> Option<u32> {
        // SAFETY: The option block is valid by the type invariant.
        if !unsafe { c::rerofs_opts_verity_set(self.0.as_ptr()) } {
            return None;
        }
        // SAFETY: The option block is valid by the type invariant.
        u32::try_from(unsafe { c::rerofs_opts_verity(self.0.as_ptr()) }).ok()
    }

    /// The `io=` value (one of the `IO_*` constants), if given.
    pub(crate) fn io(&self) -> Option<u32> {
        // SAFETY: The option block is valid by the type invariant.
        let v = unsafe { c::rerofs_opts_io(self.0.as_ptr()) };
        u32::try_from(v).ok().filter(|&v| v != 0)
    }

    /// The `key=` name, if given.
    pub(crate) fn key(&self) -> Option<&'a CStr> {
        // SAFETY: The option block is valid by the type invariant.
        Self::string(unsafe { c::rerofs_opts_key(self.0.as_ptr()) })
    }
}
