// SPDX-License-Identifier: GPL-2.0

//! The module's read workqueue (`rerofs_read` in the C helpers): readahead hands
//! the runs it read to it ([`super::defer_run`]), so that their verification
//! and decryption run on other CPUs while the reader goes on, as dm-verity's
//! and fs-verity's post-read work does.

use kernel::prelude::*;

use crate::helpers as c;

/// The module's read workqueue; destroyed on drop (module exit).
///
/// # Invariants
///
/// While a value exists, the helper's static workqueue is allocated.
pub(crate) struct ReadQueue(());

impl ReadQueue {
    /// Allocates the workqueue (module init).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: Called once from module init; the helper sets its static pointer.
        kernel::error::to_result(unsafe { c::rerofs_read_wq_init() })?;
        // INVARIANT: the workqueue was just allocated.
        Ok(Self(()))
    }
}

impl Drop for ReadQueue {
    fn drop(&mut self) {
        // SAFETY: Module exit: the file system type is unregistered and every
        // mount is gone; `destroy_workqueue` drains what is still queued (a job's
        // last steps after its last folio was ended).
        unsafe { c::rerofs_read_wq_exit() };
    }
}
