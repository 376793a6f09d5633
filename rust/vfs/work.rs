// SPDX-License-Identifier: GPL-2.0

//! Running two closures at once, on two CPUs: a fork-join over a workqueue of
//! the module's own (`rerofs_join` in the C helpers), in the manner of
//! `rayon::join`. The read path uses it to verify (and decrypt) the two halves
//! of a read's blocks at once, as dm-verity and dm-crypt spread their work over
//! the CPUs.

use core::ffi::c_void;

use kernel::prelude::*;

use crate::helpers as c;

/// The module's workqueue of [`join`]; destroyed on drop (module exit).
///
/// # Invariants
///
/// While a value exists, the helper's static workqueue is allocated.
pub(crate) struct JoinQueue(());

impl JoinQueue {
    /// Allocates the workqueue (module init).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Called once from module init; the helper sets its static pointer.
        kernel::error::to_result(unsafe { c::rerofs_join_init() })?;
        // INVARIANT: the workqueue was just allocated.
        Ok(Self(()))
    }
}

impl Drop for JoinQueue {
    fn drop(&mut self) {
        // SAFETY: Module exit: the file system type is unregistered, so no read
        // (and no `join`) is running; `destroy_workqueue` drains it anyway.
        unsafe { c::rerofs_join_exit() };
    }
}

/// A closure and, once run, its result.
struct Slot<F, R> {
    f: Option<F>,
    r: Option<R>,
}

/// Runs the closure of the [`Slot`] at `p` and stores its result.
///
/// # Safety
///
/// `p` is a valid, exclusive pointer to a `Slot<F, R>` for the whole call.
unsafe extern "C" fn run<F: FnOnce() -> R, R>(p: *mut c_void) {
    // SAFETY: By the function's safety requirements.
    let slot = unsafe { &mut *p.cast::<Slot<F, R>>() };
    if let Some(f) = slot.f.take() {
        slot.r = Some(f());
    }
}

/// Runs `a` on another CPU (the module's workqueue) while `b` runs here, and
/// returns both results once both have run. Runs both here, one after the
/// other, when there is only one CPU online or no workqueue.
///
/// Sleeps (waits for `a`): process context only, no spinlock held.
pub(crate) fn join<A, RA, B, RB>(a: A, b: B) -> (Option<RA>, Option<RB>)
where
    A: FnOnce() -> RA + Send,
    RA: Send,
    B: FnOnce() -> RB,
{
    let mut sa = Slot {
        f: Some(a),
        r: None,
    };
    let mut sb = Slot {
        f: Some(b),
        r: None,
    };
    let pa: *mut Slot<A, RA> = &mut sa;
    let pb: *mut Slot<B, RB> = &mut sb;
    // SAFETY: `rerofs_join` calls `run::<A, RA>(pa)` (on a workqueue thread, or
    // here) and `run::<B, RB>(pb)` here, each once, and returns only after both
    // returned; until then neither slot is touched by this function, so each
    // pointer is valid and exclusive for its call. Moving `a` and its result to
    // another thread and back is fine: both are `Send`, and `a` only borrows what
    // outlives this call.
    unsafe { c::rerofs_join(Some(run::<A, RA>), pa.cast(), Some(run::<B, RB>), pb.cast()) };
    (sa.r, sb.r)
}
