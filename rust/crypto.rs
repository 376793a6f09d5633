// SPDX-License-Identifier: GPL-2.0

//! Calls into the kernel crypto API (through `rerofs_helpers.c`: `crypto/hash.h`
//! is not in 6.12's bindings): SHA-256, the AES-GCM and AES-XTS transforms of
//! encrypted images, logon keys, and wiping key material.

use core::ptr::NonNull;

use kernel::error::to_result;
use kernel::prelude::*;
use kernel::str::CStr;

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

/// Key material: `N` bytes on the heap (so that moving a `Secret` never
/// leaves a copy of the key on the stack), wiped (`memzero_explicit`) when
/// dropped.
pub(crate) struct Secret<const N: usize>(KBox<[u8; N]>);

impl<const N: usize> Secret<N> {
    /// `N` zero bytes, to be filled.
    pub(crate) fn zeroed() -> Result<Self> {
        Ok(Self(KBox::new([0; N], GFP_KERNEL)?))
    }

    /// The bytes.
    pub(crate) fn bytes(&self) -> &[u8; N] {
        &self.0
    }

    /// The bytes, to fill.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8; N] {
        &mut self.0
    }
}

impl<const N: usize> Drop for Secret<N> {
    fn drop(&mut self) {
        // SAFETY: The box is writable for `N` bytes.
        unsafe { c::rerofs_wipe(self.0.as_mut_ptr().cast(), N) };
    }
}

/// Why a logon key could not be used.
pub(crate) enum KeyLookupError {
    /// The keyring's errno (`ENOKEY`: no such logon key; `EKEYREVOKED`, ...).
    Keyring(Error),
    /// The key's payload has this many bytes, not the size wanted.
    Size(usize),
}

/// Copies the payload of the `logon` key `desc` from the calling process's
/// keyrings (a lookup: no upcall); it must be exactly `N` bytes.
pub(crate) fn logon_key<const N: usize>(desc: &CStr) -> Result<Secret<N>, KeyLookupError> {
    let mut key = Secret::<N>::zeroed().map_err(KeyLookupError::Keyring)?;
    let mut found = 0usize;
    // SAFETY: `desc` is NUL terminated; `key` is writable for `N` bytes and
    // `found` for one `usize`: the helper writes no more.
    let r = unsafe {
        c::rerofs_logon_key(
            desc.as_char_ptr(),
            key.bytes_mut().as_mut_ptr(),
            N,
            &mut found,
        )
    };
    match to_result(r) {
        Ok(()) => Ok(key),
        Err(e) if e == crate::errno::emsgsize() => Err(KeyLookupError::Size(found)),
        Err(e) => Err(KeyLookupError::Keyring(e)),
    }
}

/// An AES-256-GCM transform keyed with one image key (the crypto API keeps the
/// expanded key in the transform and frees it with `kfree_sensitive`).
///
/// # Invariants
///
/// The pointer is a live transform from `rerofs_gcm_new`, freed on drop only.
pub(crate) struct Gcm(NonNull<c::rerofs_gcm>);

// SAFETY: A keyed AEAD transform may serve requests from several threads at
// once (each request is its own); only `setkey` would need exclusion, and it is
// called once, in `new`.
unsafe impl Send for Gcm {}
// SAFETY: As for `Send`: `decrypt` only issues requests.
unsafe impl Sync for Gcm {}

impl Gcm {
    /// A transform keyed with `key`.
    pub(crate) fn new(key: &Secret<32>) -> Result<Self> {
        let mut p = core::ptr::null_mut();
        // SAFETY: `key` is readable for 32 bytes; `p` is written on success only.
        to_result(unsafe { c::rerofs_gcm_new(key.bytes().as_ptr(), 32, &mut p) })?;
        // INVARIANT: `rerofs_gcm_new` succeeded, so `p` is a live transform.
        Ok(Self(NonNull::new(p).ok_or(EINVAL)?))
    }

    /// Authenticates `ct` with `tag` over `ad` under nonce `nonce` and decrypts
    /// it into `out` (as long as `ct`). `EBADMSG` when it is not authentic.
    pub(crate) fn decrypt(
        &self,
        nonce: &[u8; 12],
        ad: &[u8],
        ct: &[u8],
        tag: &[u8; 16],
        out: &mut [u8],
    ) -> Result {
        if out.len() != ct.len() {
            return Err(EINVAL);
        }
        // SAFETY: The transform is live (type invariant); every buffer is valid
        // for the length passed with it, and `out` is writable for `ct.len()`.
        to_result(unsafe {
            c::rerofs_gcm_decrypt(
                self.0.as_ptr(),
                nonce.as_ptr(),
                ad.as_ptr(),
                ad.len(),
                ct.as_ptr(),
                ct.len(),
                tag.as_ptr(),
                out.as_mut_ptr(),
            )
        })
    }
}

impl Drop for Gcm {
    fn drop(&mut self) {
        // SAFETY: The transform is live (type invariant) and not used after this.
        unsafe { c::rerofs_gcm_free(self.0.as_ptr()) };
    }
}

/// An AES-XTS transform, keyed (and re-keyed) with chunk keys. `set_key` and
/// `decrypt` take `&mut self`: the caller serializes them (one key at a time).
///
/// # Invariants
///
/// The pointer is a live transform from `rerofs_xts_new`, freed on drop only.
pub(crate) struct Xts(NonNull<c::rerofs_xts>);

// SAFETY: The transform is only used through `&mut self` (no concurrent use);
// moving it to another thread is fine.
unsafe impl Send for Xts {}

impl Xts {
    /// An unkeyed `xts(aes)` transform.
    pub(crate) fn new() -> Result<Self> {
        let mut p = core::ptr::null_mut();
        // SAFETY: `p` is written on success only.
        to_result(unsafe { c::rerofs_xts_new(&mut p) })?;
        // INVARIANT: `rerofs_xts_new` succeeded, so `p` is a live transform.
        Ok(Self(NonNull::new(p).ok_or(EINVAL)?))
    }

    /// Keys the transform with `key` (two AES-256 keys: data, then tweak).
    pub(crate) fn set_key(&mut self, key: &Secret<64>) -> Result {
        // SAFETY: The transform is live (type invariant) and used by no one else
        // (`&mut self`); `key` is readable for 64 bytes.
        to_result(unsafe { c::rerofs_xts_setkey(self.0.as_ptr(), key.bytes().as_ptr(), 64) })
    }

    /// Decrypts `buf` (one data unit, in one page of the kernel's linear map:
    /// a mapped folio page or a kmalloc'd block) in place with tweak `iv`.
    pub(crate) fn decrypt(&mut self, iv: &[u8; 16], buf: &mut [u8]) -> Result {
        // SAFETY: The transform is live (type invariant) and used by no one else;
        // `buf` is writable for its length (the helper checks it is mapped linearly).
        to_result(unsafe {
            c::rerofs_xts_decrypt(
                self.0.as_ptr(),
                iv.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        })
    }
}

impl Drop for Xts {
    fn drop(&mut self) {
        // SAFETY: The transform is live (type invariant) and not used after this.
        unsafe { c::rerofs_xts_free(self.0.as_ptr()) };
    }
}

/// The CPU this runs on now (it may move right after): spreads work over
/// per-CPU-ish resources, never a correctness matter.
pub(crate) fn this_cpu() -> usize {
    // SAFETY: `raw_smp_processor_id` only reads this CPU's number.
    unsafe { c::rerofs_this_cpu() as usize }
}
