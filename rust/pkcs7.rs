// SPDX-License-Identifier: GPL-2.0

//! PKCS#7 signatures through the kernel's keys code (`linux/verification.h` is
//! not in 6.12's bindings): the `.rerofs` keyring and signature checks against it.

use kernel::bindings;
use kernel::error::to_result;
use kernel::prelude::*;

use crate::helpers as c;

/// The `.rerofs` keyring (restricted as the `keyring_restrict` module parameter
/// says); put on drop (module exit).
///
/// # Invariants
///
/// While a value exists, the helper's static keyring pointer is set.
pub(crate) struct Keyring(());

impl Keyring {
    /// Creates the `.rerofs` keyring.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Called once from module init; the helper sets its static pointer.
        to_result(unsafe { c::rerofs_keyring_init() })?;
        // INVARIANT: the keyring was just created.
        Ok(Self(()))
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        // SAFETY: Module exit: no mount (and so no signature check) is left.
        unsafe { c::rerofs_keyring_exit() };
    }
}

/// Checks the PKCS#7 detached signature `sig` of `msg` against the certificates
/// of the `.rerofs` keyring (`verify_pkcs7_signature`); never against the system
/// trusted keyrings. See [`error_reason`] for what its errors mean.
pub(crate) fn verify(msg: &[u8], sig: &[u8]) -> Result {
    // SAFETY: Both buffers are readable for their lengths for the whole call.
    to_result(unsafe {
        c::rerofs_verify_pkcs7(
            msg.as_ptr().cast(),
            msg.len(),
            sig.as_ptr().cast(),
            sig.len(),
        )
    })
}

/// What an error of [`verify`] means, for messages (errnos print as numbers in
/// kernels without `CONFIG_SYMBOLIC_ERRNAME`).
pub(crate) fn error_reason(e: Error) -> &'static str {
    match u32::try_from(-e.to_errno()).unwrap_or(0) {
        bindings::ENOKEY => "its signer's certificate is not in the .rerofs keyring (ENOKEY)",
        bindings::EKEYREJECTED => {
            "the signature does not match the image (EKEYREJECTED): not a rerofs image signature of this image"
        }
        bindings::EBADMSG => "the signature is malformed (EBADMSG)",
        bindings::ENOPKG | bindings::ELIBBAD => {
            "the signature uses an algorithm the kernel does not support (ENOPKG)"
        }
        _ => "the signature check failed",
    }
}
