// SPDX-License-Identifier: GPL-2.0

//! Trust in an image: whether its metadata blob is verified, and how its digest
//! comes to be trusted (`digest=`, a signature by a key of the `.rerofs` keyring,
//! or only the image's own root hash), under the mount's `verity=` option and the
//! `require_verity` module parameter. See "Trust model" in
//! Documentation/filesystems/rerofs.rst.
//!
//! `sb.rs` reads the trailer and computes the digest; the decisions are here.

use kernel::prelude::*;
use kernel::str::{BStr, CStr};

use crate::format::verity::{self as fv, DIGEST_SIZE};
use crate::vfs::{self, MountOptions, VerityMode};

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

/// Parses a `digest=` value: `sha256:` and 64 lowercase hex digits.
pub(crate) fn parse_digest_opt(v: &CStr, shown: &BStr) -> Result<[u8; DIGEST_SIZE]> {
    v.as_bytes()
        .strip_prefix(b"sha256:")
        .and_then(fv::parse_hex_digest)
        .ok_or_else(|| {
            pr_err!(
                "({}): digest= must be sha256: and 64 lowercase hex digits\n",
                shown
            );
            EINVAL
        })
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
    pub(crate) fn new(opts: &MountOptions<'_>, shown: &BStr) -> Result<Self> {
        let p = Policy {
            mode: opts.verity(),
            digest: opts
                .digest()
                .map(|d| parse_digest_opt(d, shown))
                .transpose()?,
            forced: vfs::require_verity(),
        };
        if p.mode == VerityMode::Off {
            if p.forced {
                pr_err!(
                    "({}): verity=off refused: the module parameter require_verity=1 requires verified images\n",
                    shown
                );
                return Err(EPERM);
            }
            if p.digest.is_some() {
                pr_err!("({}): digest= cannot be checked with verity=off\n", shown);
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
            pr_err!(
                "({}): the image has no verity trees, refused ({})\n",
                shown,
                why
            );
            return Err(EPERM);
        }
        pr_warn!(
            "({}): image has no verity trees: mounted UNVERIFIED (verity=require or require_verity=1 refuse such images)\n",
            shown
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
                pr_err!("({}): image digest does not match digest=\n", shown);
                return Err(vfs::ebadmsg());
            }
            return Ok(Trust::Digest);
        }
        if !sig.is_empty() {
            // The signed message says "this is a rerofs image", not "a file with
            // this content": an fs-verity file signature never verifies here.
            let msg = fv::signed_message(digest);
            vfs::verify_pkcs7(&msg, sig).inspect_err(|e| {
                pr_err!(
                    "({}): the image signature does not verify with a key of the .rerofs keyring: {}\n",
                    shown,
                    vfs::pkcs7_error_reason(*e)
                );
            })?;
            return Ok(Trust::Signature);
        }
        if let Some(why) = self.requirement() {
            pr_err!(
                "({}): {}: no digest= given and the image is not signed\n",
                shown,
                why
            );
            return Err(EPERM);
        }
        pr_warn!(
            "({}): no digest= and no signature: blocks are checked against the image's own root hash only\n",
            shown
        );
        Ok(Trust::SelfConsistent)
    }
}
