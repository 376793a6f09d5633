// SPDX-License-Identifier: GPL-2.0

//! On-demand fetching (mount option `ondemand`): when a read of a data blob
//! finds a block that does not verify (a hole of a lazily pulled blob), it asks
//! the fetch daemon, through `/dev/rerofs-ondemand`, for the aligned 64 KiB unit
//! around it, waits killably with a timeout, and reads and verifies again. The
//! daemon is not trusted: a completion only means "try again"; the bytes must
//! still verify against the blob's tree.
//!
//! One queue for the module (one daemon at a time). A request is named by the
//! blob's fs-verity digest, an offset and a length (`format::ondemand`); readers
//! of the same range share one request and wait on one completion. The queue
//! holds at most [`MAX_REQUESTS`]; beyond that, and whenever no daemon has the
//! device open, a read that needs a fetch fails with `EIO` at once. When the
//! daemon closes the device (or dies) every request is failed. A reader that
//! times out fails with `EIO` and marks the request expired: later reads of that
//! range fail at once until the daemon answers it or goes away. A killed reader
//! leaves; the last one drops a request the daemon has not read yet.

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use crate::format::ondemand::{request_range, Completion as Done, Request};
use crate::format::verity::DIGEST_SIZE;
use crate::vfs::ondemand::{self as dev, Completion, Handler, Waited};

/// Most requests queued or being served at once.
pub(crate) const MAX_REQUESTS: usize = 256;

/// One request and what its readers wait on.
struct Req {
    rec: Request,
    /// 0 or the daemon's errno; `u32::MAX` until answered.
    status: AtomicU32,
    done: Completion,
}

/// A queued request: not yet read by the daemon (`sent == false`), or read and
/// not yet completed.
struct Entry {
    req: Arc<Req>,
    sent: bool,
    waiters: u32,
    /// Not answered within the timeout: later readers of the range fail at
    /// once (each would wait the whole timeout again) until the daemon answers
    /// it or closes the device.
    expired: bool,
}

struct Queue {
    /// A daemon has the device open.
    attached: bool,
    next_id: u32,
    /// At most [`MAX_REQUESTS`] slots; a slot is freed (`None`) when its request
    /// is completed or abandoned, and used again.
    entries: KVec<Option<Entry>>,
}

impl Queue {
    /// The slot holding request `id`.
    fn slot_of(&mut self, id: u32) -> Option<&mut Option<Entry>> {
        self.entries
            .iter_mut()
            .find(|e| e.as_ref().is_some_and(|e| e.req.rec.id == id))
    }
}

/// The channel: the request queue behind `/dev/rerofs-ondemand`.
#[pin_data]
pub(crate) struct Channel {
    #[pin]
    q: Mutex<Queue>,
    /// Entries not yet read by the daemon (read without the lock by `pending`,
    /// which runs where it must not sleep).
    unsent: AtomicUsize,
}

impl Channel {
    /// An empty channel, no daemon attached.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Channel {
                q <- new_mutex!(Queue {
                    attached: false,
                    next_id: 1,
                    entries: KVec::new(),
                }),
                unsent: AtomicUsize::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// The registered channel, if the device is registered.
    pub(crate) fn get() -> Option<Arc<Self>> {
        dev::registered::<Self>()
    }

    /// Asks the daemon for the unit(s) of `[pos, pos + len)` of the blob with
    /// fs-verity digest `digest` (its data area being `data_size` bytes) and
    /// waits for the answer. `Ok` means "read again" (the bytes may still be
    /// wrong); `EIO` when there is no daemon, the queue is full, the daemon
    /// failed or the wait timed out; `EINTR` when the reader was killed.
    pub(crate) fn fetch(
        &self,
        digest: &[u8; DIGEST_SIZE],
        pos: u64,
        len: u64,
        data_size: u64,
    ) -> Result {
        let (offset, len) = request_range(pos, len, data_size).ok_or(EIO)?;
        let (req, queued) = {
            let mut q = self.q.lock();
            if !q.attached {
                return Err(EIO);
            }
            let found = q.entries.iter_mut().flatten().find(|e| {
                e.req.rec.digest == *digest && e.req.rec.offset == offset && e.req.rec.len == len
            });
            match found {
                Some(e) if e.expired => return Err(EIO),
                Some(e) => {
                    e.waiters = e.waiters.saturating_add(1);
                    (e.req.clone(), false)
                }
                None => {
                    let id = q.next_id;
                    let req = Arc::new(
                        Req {
                            rec: Request {
                                id,
                                offset,
                                len,
                                digest: *digest,
                            },
                            status: AtomicU32::new(u32::MAX),
                            done: Completion::new()?,
                        },
                        GFP_KERNEL,
                    )?;
                    let entry = Entry {
                        req: req.clone(),
                        sent: false,
                        waiters: 1,
                        expired: false,
                    };
                    if let Some(free) = q.entries.iter_mut().find(|e| e.is_none()) {
                        *free = Some(entry);
                    } else if q.entries.len() < MAX_REQUESTS {
                        q.entries.push(Some(entry), GFP_KERNEL)?;
                    } else {
                        return Err(EIO);
                    }
                    q.next_id = q.next_id.wrapping_add(1).max(1);
                    self.unsent.fetch_add(1, Ordering::SeqCst);
                    (req, true)
                }
            }
        };
        if queued {
            dev::wake();
        }
        let waited = req.done.wait(dev::timeout_ms());
        if waited != Waited::Done {
            // This reader leaves. A timed-out request stays, expired (the daemon
            // may still answer it; its slot counts against MAX_REQUESTS until
            // then). A killed reader's request is dropped when it was the last
            // reader and the daemon has not read it yet.
            let mut q = self.q.lock();
            if let Some(slot) = q.slot_of(req.rec.id) {
                let drop_it = slot.as_mut().is_some_and(|e| {
                    e.waiters = e.waiters.saturating_sub(1);
                    if waited == Waited::TimedOut {
                        e.expired = true;
                    }
                    e.waiters == 0 && !e.sent && !e.expired
                });
                if drop_it && slot.take().is_some() {
                    self.unsent.fetch_sub(1, Ordering::SeqCst);
                }
            }
            return Err(if waited == Waited::Killed { EINTR } else { EIO });
        }
        match req.status.load(Ordering::SeqCst) {
            0 => Ok(()),
            _ => Err(EIO),
        }
    }

    /// Fails every request (the daemon went away).
    fn fail_all(q: &mut Queue, unsent: &AtomicUsize) {
        for slot in q.entries.iter_mut() {
            if let Some(e) = slot.take() {
                e.req.status.store(libc_eio(), Ordering::SeqCst);
                e.req.done.complete();
            }
        }
        unsent.store(0, Ordering::SeqCst);
    }
}

/// `EIO` as a positive errno, the daemon's way of saying failure.
fn libc_eio() -> u32 {
    u32::try_from(-EIO.to_errno()).unwrap_or(5)
}

impl Handler for Channel {
    fn open(&self) -> Result {
        let mut q = self.q.lock();
        if q.attached {
            return Err(EBUSY);
        }
        q.attached = true;
        Ok(())
    }

    fn release(&self) {
        let mut q = self.q.lock();
        q.attached = false;
        Self::fail_all(&mut q, &self.unsent);
    }

    fn take(&self, rec: &mut [u8]) -> Result<usize> {
        let mut q = self.q.lock();
        let Some(e) = q.entries.iter_mut().flatten().find(|e| !e.sent) else {
            return Ok(0);
        };
        let bytes = e.req.rec.to_bytes();
        let dst = rec.get_mut(..bytes.len()).ok_or(EINVAL)?;
        dst.copy_from_slice(&bytes);
        e.sent = true;
        self.unsent.fetch_sub(1, Ordering::SeqCst);
        Ok(bytes.len())
    }

    fn complete(&self, rec: &[u8]) -> Result {
        let c = Done::parse(rec).map_err(|_| EINVAL)?;
        let mut q = self.q.lock();
        let slot = q.slot_of(c.id).ok_or(ENOENT)?;
        if !slot.as_ref().is_some_and(|e| e.sent) {
            // Not read by the daemon yet: it cannot be completing it.
            return Err(EINVAL);
        }
        let e = slot.take().ok_or(ENOENT)?;
        drop(q);
        e.req.status.store(c.status, Ordering::SeqCst);
        e.req.done.complete();
        Ok(())
    }

    fn pending(&self) -> bool {
        self.unsent.load(Ordering::SeqCst) > 0
    }
}
