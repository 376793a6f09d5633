// SPDX-License-Identifier: GPL-2.0

//! Messages about an image. Every message names the image it is about: the
//! macros below prefix `(NAME): ` (the end of the image's path) and add the
//! newline; [`rerofs_err_ratelimited!`] also obeys the mount's rate limit, for
//! messages on data paths that a damaged image can trigger at will.
//!
//! ```ignore
//! rerofs_err!(sbi, "root inode {} is not a directory", nid);
//! ```

use kernel::prelude::*;
use kernel::str::BStr;

use crate::format;

/// What a message is about: an image, named, with a rate limit for data paths.
pub(crate) trait Reporter {
    /// The image's name for messages.
    fn image(&self) -> &BStr;

    /// True if a rate-limited message may be printed now.
    fn allow(&self) -> bool {
        true
    }
}

/// While a mount is set up, messages name the image by its short name and are
/// not rate limited.
impl Reporter for BStr {
    fn image(&self) -> &BStr {
        self
    }
}

/// Prints a message at level `$pr` (`pr_err`, `pr_warn`, `pr_info`) about
/// `$who` (a [`Reporter`]); use the macros below.
macro_rules! rerofs_log {
    ($pr:ident, $who:expr, $fmt:literal $(, $arg:expr)* $(,)?) => {
        ::kernel::$pr!(
            concat!("({}): ", $fmt, "\n"),
            $crate::report::Reporter::image($who)
            $(, $arg)*
        )
    };
}

/// An error message about an image.
macro_rules! rerofs_err {
    ($who:expr, $($rest:tt)*) => {
        $crate::report::rerofs_log!(pr_err, $who, $($rest)*)
    };
}

/// An error message about an image, unless its mount's rate limit says too many
/// were printed lately.
macro_rules! rerofs_err_ratelimited {
    ($who:expr, $($rest:tt)*) => {{
        let who = $who;
        if $crate::report::Reporter::allow(who) {
            $crate::report::rerofs_log!(pr_err, who, $($rest)*);
        }
    }};
}

/// A warning about an image.
macro_rules! rerofs_warn {
    ($who:expr, $($rest:tt)*) => {
        $crate::report::rerofs_log!(pr_warn, $who, $($rest)*)
    };
}

/// An informational message about an image.
macro_rules! rerofs_info {
    ($who:expr, $($rest:tt)*) => {
        $crate::report::rerofs_log!(pr_info, $who, $($rest)*)
    };
}

pub(crate) use {rerofs_err, rerofs_err_ratelimited, rerofs_info, rerofs_log, rerofs_warn};

/// Reports (rate-limited) the format error `e` met in inode (or shared xattr)
/// `nid`, and returns its errno.
pub(crate) fn format_error(who: &impl Reporter, nid: u64, e: &format::Error) -> Error {
    rerofs_err_ratelimited!(who, "nid {}: {}", nid, e);
    crate::errno::from_format(e)
}
