// SPDX-License-Identifier: GPL-2.0

//! Trust in an image: whether its metadata blob is verified, and how its digest
//! comes to be trusted (`digest=`, a signature by a key of the `.rerofs` keyring,
//! or only the image's own root hash), under the mount's `verity=` option and the
//! `require_verity` module parameter. See "Trust model" in
//! Documentation/filesystems/rerofs.rst.
//!
//! `sb.rs` chooses and opens the files, reads the trailers and computes the
//! digests; the decisions are here: which digest an image or a blob must have,
//! and whether it does.

use kernel::prelude::*;
use kernel::str::{BStr, CStr};

use crate::errno::{ebadmsg, efscorrupted};
use crate::format::devtable::DeviceSlot;
use crate::format::verity::{self as fv, DIGEST_SIZE};
use crate::options::{Options, VerityMode};
use crate::report::{rerofs_err, rerofs_warn};
use crate::{params, pkcs7};

/// How trust in the image's contents was established.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trust {
    /// Read unverified (no trees, or `verity=off`).
    Unverified,
    /// Verified against the image's own root hash: protects against damage after
    /// the image was made, not against a substituted image.
    SelfConsistent,
    /// The image digest equals `digest=`.
    Digest,
    /// The embedded signature verifies with a key of the `.rerofs` keyring.
    Signature,
}

/// What one mount requires: the `verity=` and `digest=` options, and the
/// `require_verity` module parameter (read once per mount).
pub(crate) struct Policy {
    /// The `verity=` option given.
    mode: VerityMode,
    /// The `digest=` option, parsed.
    digest: Option<[u8; DIGEST_SIZE]>,
    /// The `require_verity` module parameter: every mount as `verity=require`.
    forced: bool,
}

impl Policy {
    /// The policy of a mount with `opts`; a malformed `digest=` or a combination
    /// that cannot be honoured is refused here.
    pub(crate) fn new(opts: &Options, shown: &BStr) -> Result<Self> {
        let p = Policy {
            mode: opts.verity_mode(),
            digest: opts.digest,
            forced: params::require_verity(),
        };
        if p.mode == VerityMode::Off {
            if p.forced {
                rerofs_err!(
                    shown,
                    "verity=off refused: the module parameter require_verity=1 requires verified images"
                );
                return Err(EPERM);
            }
            if p.digest.is_some() {
                rerofs_err!(shown, "digest= cannot be checked with verity=off");
                return Err(EINVAL);
            }
        }
        Ok(p)
    }

    /// Why an image without established trust is refused, if it is.
    fn requirement(&self) -> Option<&'static str> {
        if self.forced {
            Some("require_verity=1")
        } else if self.mode == VerityMode::Require {
            Some("verity=require")
        } else {
            None
        }
    }

    /// Whether the metadata blob is verified, given whether its (not yet
    /// verified) superblock says it has trees. `Ok(false)`: read it unverified.
    pub(crate) fn verify(&self, has_verity: bool, shown: &BStr) -> Result<bool> {
        if self.mode == VerityMode::Off {
            return Ok(false);
        }
        if has_verity {
            return Ok(true);
        }
        // The feature bit is read from an unverified superblock: whoever can
        // write the image can clear it (and fix the checksum). Only a policy
        // that demands trust can tell that from an image made without trees.
        let why = if self.digest.is_some() {
            Some("digest= given")
        } else {
            self.requirement()
        };
        if let Some(why) = why {
            rerofs_err!(shown, "the image has no verity trees, refused ({})", why);
            return Err(EPERM);
        }
        rerofs_warn!(
            shown,
            "image has no verity trees: mounted UNVERIFIED (verity=require or require_verity=1 refuse such images)"
        );
        Ok(false)
    }

    /// Decides whether the image digest `digest` is trusted: it equals
    /// `digest=`, or `sig` (the signature in the trailer, empty when there is
    /// none) verifies with a key of the `.rerofs` keyring, or the policy allows
    /// an image checked only against its own root hash.
    pub(crate) fn decide(
        &self,
        digest: &[u8; DIGEST_SIZE],
        sig: &[u8],
        shown: &BStr,
    ) -> Result<Trust> {
        if let Some(want) = &self.digest {
            if want != digest {
                rerofs_err!(shown, "image digest does not match digest=");
                return Err(ebadmsg());
            }
            return Ok(Trust::Digest);
        }
        if !sig.is_empty() {
            // The signed message says "this is a rerofs image", not "a file with
            // this content": an fs-verity file signature never verifies here.
            let msg = fv::signed_message(digest);
            pkcs7::verify(&msg, sig).inspect_err(|e| {
                rerofs_err!(
                    shown,
                    "the image signature does not verify with a key of the .rerofs keyring: {}",
                    pkcs7::error_reason(*e)
                );
            })?;
            return Ok(Trust::Signature);
        }
        if let Some(why) = self.requirement() {
            rerofs_err!(
                shown,
                "{}: no digest= given and the image is not signed",
                why
            );
            return Err(EPERM);
        }
        rerofs_warn!(
            shown,
            "no digest= and no signature: blocks are checked against the image's own root hash only"
        );
        Ok(Trust::SelfConsistent)
    }
}

/// The digest a data blob must have: its device slot's tag (read from the verified
/// metadata blob), which names the blob by its fs-verity digest.
pub(crate) fn slot_digest(slot: &DeviceSlot, i: u16, shown: &BStr) -> Result<[u8; DIGEST_SIZE]> {
    fv::parse_hex_digest(slot.tag()).ok_or_else(|| {
        rerofs_err!(
            shown,
            "device slot {}: tag {} is not a verity digest (64 lowercase hex digits)",
            i,
            BStr::from_bytes(slot.tag())
        );
        efscorrupted()
    })
}

/// Checks that device `id` (at `path`), whose descriptor hashes to `digest`, is
/// the blob its slot names (`want`, from [`slot_digest`]).
pub(crate) fn check_blob_digest(
    digest: &[u8; DIGEST_SIZE],
    want: &[u8; DIGEST_SIZE],
    id: u16,
    path: &CStr,
    shown: &BStr,
) -> Result {
    if digest != want {
        rerofs_err!(
            shown,
            "device {} ({}): its verity digest is not the one its slot names",
            id,
            path
        );
        return Err(ebadmsg());
    }
    Ok(())
}
