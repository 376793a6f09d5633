// SPDX-License-Identifier: GPL-2.0

//! Bindings of the on-demand channel: the misc device `/dev/rerofs-ondemand`
//! (its file operations are C in `rerofs_helpers.c`, dispatching to a
//! [`Handler`]), and completions (`struct completion`) that readers wait on
//! killably with a timeout. The requests themselves are `crate::ondemand`.

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{from_result, to_result};
use kernel::ffi::{c_int, c_void};
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};

use crate::helpers as c;

/// What the device's file operations call.
pub(crate) trait Handler: Send + Sync + 'static {
    /// A daemon opens the device.
    fn open(&self) -> Result;
    /// The daemon closed it (or died).
    fn release(&self);
    /// Copies the next unsent request into `rec`; its size, or 0 when none.
    fn take(&self, rec: &mut [u8]) -> Result<usize>;
    /// A completion record from the daemon.
    fn complete(&self, rec: &[u8]) -> Result;
    /// True if a request waits to be read (must not sleep).
    fn pending(&self) -> bool;
}

/// The callbacks for handler `T`.
struct Ops<T>(PhantomData<T>);

impl<T: Handler> Ops<T> {
    const OPS: c::rerofs_ondemand_ops = c::rerofs_ondemand_ops {
        open: Some(open_cb::<T>),
        release: Some(release_cb::<T>),
        take: Some(take_cb::<T>),
        complete: Some(complete_cb::<T>),
        pending: Some(pending_cb::<T>),
    };
}

/// # Safety
///
/// `ctx` is the pointer [`Device::register`] made with `Arc::into_raw` of a
/// `T`, still registered (the registration keeps that reference).
unsafe fn handler<'a, T: Handler>(ctx: *const c_void) -> ArcBorrow<'a, T> {
    // SAFETY: By the function's safety requirement `ctx` came from
    // `Arc::<T>::into_raw` and the reference it stands for is still held.
    unsafe { ArcBorrow::from_raw(ctx.cast::<T>()) }
}

unsafe extern "C" fn open_cb<T: Handler>(ctx: *const c_void) -> c_int {
    // SAFETY: C passes the registered context while the device is registered.
    let h = unsafe { handler::<T>(ctx) };
    from_result(|| h.open().map(|()| 0))
}

unsafe extern "C" fn release_cb<T: Handler>(ctx: *const c_void) {
    // SAFETY: C passes the registered context while the device is registered.
    let h = unsafe { handler::<T>(ctx) };
    h.release();
}

unsafe extern "C" fn take_cb<T: Handler>(ctx: *const c_void, rec: *mut u8, len: usize) -> c_int {
    // SAFETY: C passes the registered context while the device is registered.
    let h = unsafe { handler::<T>(ctx) };
    if rec.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: C passes its own buffer of `len` bytes, alive and not otherwise
    // used for the call.
    let rec = unsafe { core::slice::from_raw_parts_mut(rec, len) };
    from_result(|| {
        let n = h.take(rec)?;
        c_int::try_from(n).map_err(|_| EINVAL)
    })
}

unsafe extern "C" fn complete_cb<T: Handler>(
    ctx: *const c_void,
    rec: *const u8,
    len: usize,
) -> c_int {
    // SAFETY: C passes the registered context while the device is registered.
    let h = unsafe { handler::<T>(ctx) };
    if rec.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: C passes its own buffer of `len` bytes, alive for the call.
    let rec = unsafe { core::slice::from_raw_parts(rec, len) };
    from_result(|| h.complete(rec).map(|()| 0))
}

unsafe extern "C" fn pending_cb<T: Handler>(ctx: *const c_void) -> bool {
    // SAFETY: C passes the registered context while the device is registered.
    let h = unsafe { handler::<T>(ctx) };
    h.pending()
}

/// The registered device; deregisters it on drop.
///
/// # Invariants
///
/// While a value exists the device is registered with `Ops<T>` and the context
/// `ctx`, which holds one reference of an `Arc<T>` (`Arc::into_raw`).
pub(crate) struct Device<T: Handler> {
    ctx: *const T,
}

// SAFETY: The device only holds a reference to a `T`, which is `Send + Sync`.
unsafe impl<T: Handler> Send for Device<T> {}
// SAFETY: As above: nothing is reached through `&Device` but the `T`.
unsafe impl<T: Handler> Sync for Device<T> {}

impl<T: Handler> Device<T> {
    /// Registers `/dev/rerofs-ondemand` served by `handler`.
    pub(crate) fn register(handler: Arc<T>) -> Result<Self> {
        let ctx = Arc::into_raw(handler);
        // SAFETY: `OPS` is promoted to static storage; `ctx` stays valid until
        // `Drop` deregisters the device and releases it.
        let r = to_result(unsafe { c::rerofs_ondemand_register(&Ops::<T>::OPS, ctx.cast()) });
        if let Err(e) = r {
            // SAFETY: `ctx` came from `Arc::into_raw` just above and the device
            // was not registered, so nothing else holds it.
            drop(unsafe { Arc::from_raw(ctx) });
            return Err(e);
        }
        // INVARIANT: registered with `ctx`, whose reference we own.
        Ok(Self { ctx })
    }
}

impl<T: Handler> Drop for Device<T> {
    fn drop(&mut self) {
        // SAFETY: Registered by `register` (type invariant). `misc_deregister`
        // returns with no file operation running that started before: an open
        // device holds the module (`.owner`), so none is open here.
        unsafe { c::rerofs_ondemand_unregister() };
        // SAFETY: The reference `register` made with `Arc::into_raw`; the device
        // is gone, so C no longer uses it.
        drop(unsafe { Arc::from_raw(self.ctx) });
    }
}

/// The handler of the registered device, if one is registered.
///
/// `T` must be the type the device was registered with: the crate implements
/// [`Handler`] once (`crate::ondemand::Channel`), and only that type is ever
/// registered or asked for.
pub(crate) fn registered<T: Handler>() -> Option<Arc<T>> {
    // SAFETY: No precondition: reads the context pointer set at registration
    // (NULL when none).
    let p = unsafe { c::rerofs_ondemand_ctx() };
    if p.is_null() {
        return None;
    }
    // SAFETY: A non-NULL context is the `Arc::<T>::into_raw` of a registered
    // `Device<T>` (the only `Handler` type), alive while it is registered, which
    // it is as long as the module (and so this mount's caller) is.
    let b = unsafe { ArcBorrow::from_raw(p.cast::<T>()) };
    Some(b.into())
}

/// Wakes the daemon's read and poll (a request was queued).
pub(crate) fn wake() {
    // SAFETY: No precondition: wakes a static wait queue.
    unsafe { c::rerofs_ondemand_wake() };
}

/// The `ondemand_timeout` module parameter, in milliseconds.
pub(crate) fn timeout_ms() -> u32 {
    // SAFETY: The helper only reads a module parameter with `READ_ONCE`.
    unsafe { c::rerofs_ondemand_timeout_ms() }
}

/// How a wait on a [`Completion`] ended.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited {
    /// Completed.
    Done,
    /// The timeout passed.
    TimedOut,
    /// A fatal signal.
    Killed,
}

/// A `struct completion`, completed once for all its waiters.
///
/// # Invariants
///
/// The pointer came from `rerofs_completion_new` and is freed only by `Drop`.
pub(crate) struct Completion(NonNull<bindings::completion>);

// SAFETY: A completion is made to be completed and waited on from any thread (it
// has its own lock), and `kfree` may run on any thread.
unsafe impl Send for Completion {}
// SAFETY: As above: `complete_all` and the waits synchronise on its own lock.
unsafe impl Sync for Completion {}

impl Completion {
    /// A new, not completed completion.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: No precondition; allocates and initialises one, or NULL.
        let p = unsafe { c::rerofs_completion_new() };
        // INVARIANT: from `rerofs_completion_new`, ours to free.
        Ok(Self(NonNull::new(p).ok_or(ENOMEM)?))
    }

    /// Completes it for every waiter, present and future (`complete_all`).
    pub(crate) fn complete(&self) {
        // SAFETY: Valid by the type invariant.
        unsafe { c::rerofs_completion_done(self.0.as_ptr()) };
    }

    /// Waits killably, at most `ms` milliseconds.
    pub(crate) fn wait(&self, ms: u32) -> Waited {
        // SAFETY: Valid by the type invariant; the caller holds `self` across
        // the wait, so it is not freed under it.
        match unsafe { c::rerofs_completion_wait(self.0.as_ptr(), ms) } {
            1 => Waited::Done,
            0 => Waited::TimedOut,
            _ => Waited::Killed,
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        // SAFETY: Ours by the type invariant; `&mut self` means no waiter is left.
        unsafe { c::rerofs_completion_free(self.0.as_ptr()) };
    }
}
