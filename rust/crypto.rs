// SPDX-License-Identifier: GPL-2.0

//! Calls into the kernel crypto API (through `rerofs_helpers.c`: `crypto/hash.h`
//! is not in 6.12's bindings): SHA-256 now; AEAD and skcipher join here.

use kernel::error::to_result;
use kernel::prelude::*;

use crate::helpers as c;

/// The module's SHA-256 transform; freed on drop (module exit).
///
/// # Invariants
///
/// While a value exists, the helper's static transform is allocated.
pub(crate) struct Crypto(());

impl Crypto {
    /// Allocates the module's `sha256` transform.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Called once from module init; the helper sets its static pointer.
        to_result(unsafe { c::rerofs_crypto_init() })?;
        // INVARIANT: the transform was just allocated.
        Ok(Self(()))
    }
}

impl Drop for Crypto {
    fn drop(&mut self) {
        // SAFETY: Module exit: no mount (and so no hashing) is left.
        unsafe { c::rerofs_crypto_exit() };
    }
}

/// SHA-256 of `data` through the crypto API.
pub(crate) fn sha256(data: &[u8]) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    // SAFETY: `data` is readable for its length and `out` writable for 32 bytes,
    // the SHA-256 digest size the helper writes.
    to_result(unsafe { c::rerofs_sha256(data.as_ptr().cast(), data.len(), out.as_mut_ptr()) })?;
    Ok(out)
}
