// SPDX-License-Identifier: GPL-2.0

//! The `seq_file` that `show_options` fills.

use core::ptr::{self, NonNull};

use kernel::bindings;
use kernel::str::CStr;

use crate::helpers as c;

/// A `seq_file` being filled by `show_options`.
///
/// # Invariants
///
/// The pointer is a valid `seq_file` that the current callback may write to, for
/// as long as the value exists.
pub(crate) struct SeqFile(NonNull<bindings::seq_file>);

impl SeqFile {
    /// # Safety
    ///
    /// `m` must be null or a `seq_file` the caller may write to for as long as the
    /// returned value exists.
    pub(super) unsafe fn from_raw(m: *mut bindings::seq_file) -> Option<Self> {
        // INVARIANT: the caller's guarantee, for a non-null `m`.
        NonNull::new(m).map(Self)
    }

    /// Appends `,name` (a flag option: `seq_show_option` without a value).
    pub(crate) fn show_flag(&mut self, name: &CStr) {
        // SAFETY: The seq_file is valid by the type invariant; `name` is NUL
        // terminated and alive for the call; a NULL value means "no value".
        unsafe { c::rerofs_seq_show_option(self.0.as_ptr(), name.as_char_ptr(), ptr::null()) };
    }

    /// Appends `,name=value` with the value escaped (`seq_show_option`).
    pub(crate) fn show_option(&mut self, name: &CStr, value: &CStr) {
        // SAFETY: The seq_file is valid by the type invariant; both strings are NUL
        // terminated and alive for the call.
        unsafe {
            c::rerofs_seq_show_option(self.0.as_ptr(), name.as_char_ptr(), value.as_char_ptr())
        };
    }
}
