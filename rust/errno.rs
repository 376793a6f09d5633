// SPDX-License-Identifier: GPL-2.0

//! Errnos that `kernel::error::code` lacks in 6.12, and the errno of a format
//! error.

use core::ffi::c_int;

use kernel::bindings;
use kernel::prelude::*;

use crate::format;

/// `EFSCORRUPTED`, the errno for a damaged image (`EUCLEAN`, as in ext4 and EROFS).
pub(crate) fn efscorrupted() -> Error {
    Error::from_errno(-(bindings::EUCLEAN as c_int))
}

/// True when `e` is `ELOOP`: a symlink met where `O_NOFOLLOW` forbids one.
pub(crate) fn is_eloop(e: &Error) -> bool {
    e.to_errno() == -(bindings::ELOOP as c_int)
}

/// `EOPNOTSUPP`.
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-(bindings::EOPNOTSUPP as c_int))
}

/// `ENODATA`.
pub(crate) fn enodata() -> Error {
    Error::from_errno(-(bindings::ENODATA as c_int))
}

/// `EBADMSG`: a digest does not match.
pub(crate) fn ebadmsg() -> Error {
    Error::from_errno(-(bindings::EBADMSG as c_int))
}

/// `ENAMETOOLONG`.
pub(crate) fn enametoolong() -> Error {
    Error::from_errno(-(bindings::ENAMETOOLONG as c_int))
}

/// The errno of a format error.
pub(crate) fn from_format(e: &format::Error) -> Error {
    match e.errno_kind() {
        format::error::ErrorKind::NotOurs => EINVAL,
        format::error::ErrorKind::Unsupported => eopnotsupp(),
        format::error::ErrorKind::Corrupted => efscorrupted(),
    }
}

/// `ENOKEY`: an encrypted image mounted without its key.
pub(crate) fn enokey() -> Error {
    Error::from_errno(-(bindings::ENOKEY as c_int))
}

/// `EKEYREJECTED`: the key given is not the image's key.
pub(crate) fn ekeyrejected() -> Error {
    Error::from_errno(-(bindings::EKEYREJECTED as c_int))
}

/// `EMSGSIZE`: a key of the wrong size.
pub(crate) fn emsgsize() -> Error {
    Error::from_errno(-(bindings::EMSGSIZE as c_int))
}
