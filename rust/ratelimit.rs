// SPDX-License-Identifier: GPL-2.0

//! A message rate limit (`struct ratelimit_state`), one per mount.

use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::from_err_ptr;
use kernel::prelude::*;

use crate::helpers as c;

/// The rate limit of one mount's data-path messages.
///
/// # Invariants
///
/// The pointer came from `rerofs_ratelimit_new` and is freed only by `Drop`.
pub(crate) struct RateLimit(NonNull<bindings::ratelimit_state>);

// SAFETY: `__ratelimit` takes the state's own spinlock, and `kfree` may run on any
// thread: the state may be used and freed from any thread.
unsafe impl Send for RateLimit {}
// SAFETY: `__ratelimit` takes the state's own spinlock, so concurrent `allow`
// calls through shared references are serialised by it.
unsafe impl Sync for RateLimit {}

impl RateLimit {
    /// A new limit (the kernel's default interval and burst).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: No precondition; the helper allocates and initialises the state.
        let p = from_err_ptr(unsafe { c::rerofs_ratelimit_new() })?;
        // INVARIANT: a state from `rerofs_ratelimit_new`, ours to free.
        Ok(Self(NonNull::new(p).ok_or(ENOMEM)?))
    }

    /// True if a rate-limited message may be printed now (`__ratelimit`).
    pub(crate) fn allow(&self) -> bool {
        // SAFETY: The state is valid by the type invariant.
        unsafe { c::rerofs_ratelimit(self.0.as_ptr()) }
    }
}

impl Drop for RateLimit {
    fn drop(&mut self) {
        // SAFETY: By the type invariant we own the state and nothing uses it now.
        unsafe { c::rerofs_ratelimit_free(self.0.as_ptr()) };
    }
}
