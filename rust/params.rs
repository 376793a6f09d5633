// SPDX-License-Identifier: GPL-2.0

//! Module parameters (declared in `rerofs_helpers.c`: the 6.12 `module!` macro
//! has none).

use crate::helpers as c;

/// The `require_verity` module parameter: every mount behaves as `verity=require`.
pub(crate) fn require_verity() -> bool {
    // SAFETY: The helper only reads a module parameter (a `bool`) with `READ_ONCE`.
    unsafe { c::rerofs_require_verity() }
}
