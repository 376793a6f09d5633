// SPDX-License-Identifier: GPL-2.0

//! Page-cache folios being read (`struct folio`), and the
//! `address_space_operations` that read them.

use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use kernel::ffi::{c_int, c_ulong};

use kernel::bindings;
use kernel::error::{from_err_ptr, from_result};
use kernel::prelude::*;
use kernel::types::Opaque;

use super::{BackingFile, FileSystem, Inode, Tables, PAGE_SIZE};
use crate::helpers as c;

impl<T: FileSystem> Tables<T> {
    const AOPS: bindings::address_space_operations = bindings::address_space_operations {
        read_folio: Some(read_folio_callback::<T>),
        readahead: Some(readahead_callback::<T>),
        // SAFETY: All-zero is valid for this struct of optional function pointers.
        ..unsafe { core::mem::zeroed() }
    };

    /// A static reference: the constant is promoted to static storage (this would
    /// not compile if it could not be), which C only reads.
    pub(super) fn aops() -> &'static bindings::address_space_operations {
        &Self::AOPS
    }
}

/// A locked page-cache folio being read; ends the read (as a failure, unless
/// [`LockedFolio::end_read`] said otherwise) and unlocks it on drop.
///
/// # Invariants
///
/// The pointer is a valid, locked folio whose lock we own.
pub(crate) struct LockedFolio(NonNull<bindings::folio>);

// SAFETY: A folio's lock is not tied to the task that took it (a read ends on
// another thread, as bio completions do), and the folio stays valid while we own
// its lock; `with_page`'s mapping is local to the call, on the calling thread.
unsafe impl Send for LockedFolio {}

impl LockedFolio {
    /// The folio, for the C helpers of this layer.
    pub(super) fn as_ptr(&self) -> *mut bindings::folio {
        self.0.as_ptr()
    }

    /// Byte position of the folio in its file.
    pub(crate) fn pos(&self) -> u64 {
        // SAFETY: The folio is valid by the type invariant.
        unsafe { c::rerofs_folio_pos(self.0.as_ptr()) }.max(0) as u64
    }

    /// Size of the folio in bytes (a multiple of the page size).
    pub(crate) fn size(&self) -> usize {
        // SAFETY: The folio is valid by the type invariant.
        unsafe { c::rerofs_folio_size(self.0.as_ptr()) }
    }

    /// Runs `f` on page `index` of the folio, mapped.
    pub(crate) fn with_page<R>(
        &mut self,
        index: usize,
        f: impl FnOnce(&mut [u8]) -> R,
    ) -> Result<R> {
        let offset = index.checked_mul(PAGE_SIZE).ok_or(EINVAL)?;
        if offset >= self.size() {
            return Err(EINVAL);
        }
        // SAFETY: `offset` is inside the folio, which is valid and locked by us.
        let addr = unsafe { c::rerofs_kmap_local_folio(self.0.as_ptr(), offset) };
        // SAFETY: `kmap_local_folio` maps the whole page at a page-aligned offset; we hold
        // the folio lock, so no one else writes the page while it is not uptodate.
        let page = unsafe { core::slice::from_raw_parts_mut(addr.cast::<u8>(), PAGE_SIZE) };
        let r = f(page);
        // SAFETY: `addr` came from `kmap_local_folio` above and is unmapped once.
        unsafe { c::rerofs_kunmap_local(addr) };
        Ok(r)
    }

    /// Marks the folio uptodate (on success) and unlocks it.
    pub(crate) fn end_read(self, success: bool) {
        let this = ManuallyDrop::new(self);
        // SAFETY: We own the lock (type invariant) and give it up here.
        unsafe { c::rerofs_folio_end_read(this.0.as_ptr(), success) };
    }
}

impl Drop for LockedFolio {
    fn drop(&mut self) {
        // SAFETY: We own the lock (type invariant); the read failed.
        unsafe { c::rerofs_folio_end_read(self.0.as_ptr(), false) };
    }
}

/// A page of an inode's own page cache, uptodate: read through the file system's
/// [`FileSystem::read_folio`] (and so checked as file data is) when it was not
/// cached, then served from the cache until reclaim drops it. This is how EROFS
/// reads directories (`erofs_bread` on the directory's mapping).
///
/// # Invariants
///
/// `folio` is a valid, uptodate folio on which we hold one reference, and
/// `offset` is the page-aligned offset of the page asked for inside it.
pub(crate) struct CachedPage {
    folio: NonNull<bindings::folio>,
    offset: usize,
}

impl CachedPage {
    /// Page `index` of `inode`'s page cache, read if it is not cached (`EIO` if
    /// that read fails).
    pub(crate) fn read<T: FileSystem>(inode: &Inode<T>, index: u64) -> Result<Self> {
        let idx = c_ulong::try_from(index).map_err(|_| EINVAL)?;
        // SAFETY: `inode` is a valid inode (type invariant of `Inode`), whose mapping
        // has the file system's `address_space_operations`.
        let folio = from_err_ptr(unsafe { c::rerofs_read_inode_folio(inode.as_ptr(), idx) })?;
        let folio = NonNull::new(folio).ok_or(EIO)?;
        // SAFETY: `folio` is valid: we hold the reference `read_mapping_folio` took.
        let (pos, size) = unsafe {
            (
                c::rerofs_folio_pos(folio.as_ptr()),
                c::rerofs_folio_size(folio.as_ptr()),
            )
        };
        let offset = index
            .checked_mul(PAGE_SIZE as u64)
            .and_then(|p| p.checked_sub(u64::try_from(pos).ok()?))
            .and_then(|o| usize::try_from(o).ok())
            .filter(|&o| o < size);
        let Some(offset) = offset else {
            // SAFETY: We hold one reference and give it back.
            unsafe { c::rerofs_folio_put(folio.as_ptr()) };
            return Err(EINVAL);
        };
        // INVARIANT: `read_mapping_folio` returned the folio with a reference, and
        // only once it is uptodate; the page lies inside it (checked above).
        Ok(Self { folio, offset })
    }

    /// Runs `f` on the page's bytes, mapped.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        // SAFETY: The folio is valid and `offset` is a page inside it (type invariant).
        let addr = unsafe { c::rerofs_kmap_local_folio(self.folio.as_ptr(), self.offset) };
        // SAFETY: `kmap_local_folio` maps the whole page. The folio is uptodate and
        // belongs to a read-only file system's mapping: nothing writes it while we
        // hold our reference.
        let page = unsafe { core::slice::from_raw_parts(addr.cast::<u8>(), PAGE_SIZE) };
        let r = f(page);
        // SAFETY: `addr` came from `kmap_local_folio` above and is unmapped once, after
        // the last use of `page`.
        unsafe { c::rerofs_kunmap_local(addr) };
        r
    }
}

impl Drop for CachedPage {
    fn drop(&mut self) {
        // SAFETY: We hold one reference (type invariant) and give it back.
        unsafe { c::rerofs_folio_put(self.folio.as_ptr()) };
    }
}

/// The most folios in a [`FolioBatch`] (and read with one backing-file read).
pub(crate) const MAX_BATCH: usize = c::RERO_MAX_BATCH as usize;

/// Up to [`MAX_BATCH`] locked folios of one readahead request, in file order
/// (each ends its read when taken out and ended, or as a failure when dropped).
pub(crate) struct FolioBatch {
    folios: [Option<LockedFolio>; MAX_BATCH],
    len: usize,
}

impl FolioBatch {
    fn new() -> Self {
        Self {
            folios: [const { None }; MAX_BATCH],
            len: 0,
        }
    }

    /// A batch of the one folio `folio`.
    pub(crate) fn one(folio: LockedFolio) -> Self {
        let mut b = Self::new();
        // Cannot fail: the batch is empty.
        let _ = b.push(folio);
        b
    }

    /// Appends `folio`, or gives it back when the batch is full.
    fn push(&mut self, folio: LockedFolio) -> core::result::Result<(), LockedFolio> {
        match self.folios.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(folio);
                self.len += 1;
                Ok(())
            }
            None => Err(folio),
        }
    }

    /// Number of folios the batch was filled with (taken ones included).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Folio `i`, unless taken.
    pub(crate) fn get(&self, i: usize) -> Option<&LockedFolio> {
        self.folios.get(i)?.as_ref()
    }

    /// Folio `i`, unless taken, mutably.
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut LockedFolio> {
        self.folios.get_mut(i)?.as_mut()
    }

    /// The slots of folios `range` (a slot is `None` once its folio was taken).
    pub(crate) fn slots_mut(
        &mut self,
        range: core::ops::Range<usize>,
    ) -> Option<&mut [Option<LockedFolio>]> {
        if range.end > self.len {
            return None;
        }
        self.folios.get_mut(range)
    }

    /// Takes folio `i` out (to end its read).
    pub(crate) fn take(&mut self, i: usize) -> Option<LockedFolio> {
        self.folios.get_mut(i)?.take()
    }

    /// The raw folios `range` (all present), for one read into them.
    pub(super) fn raw(
        &self,
        range: core::ops::Range<usize>,
        out: &mut [*mut bindings::folio; MAX_BATCH],
    ) -> Result<usize> {
        let n = range.len();
        for (dst, i) in out.iter_mut().zip(range.clone()) {
            *dst = self.get(i).ok_or(EINVAL)?.as_ptr();
        }
        if n > MAX_BATCH || range.end > self.len {
            return Err(EINVAL);
        }
        Ok(n)
    }
}

/// Folios of one inode being read asynchronously, and what finishing them
/// needs: the read's result is stored in `read` before the job runs on the read
/// workqueue.
///
/// # Invariants
///
/// `work` is the first field (the callback finds the job from it); `inode` is
/// the inode whose mapping the folios belong to. While one of the folios is
/// locked (held here), the inode cannot be evicted (eviction truncates its
/// page cache, which waits for locked folios), so it, its super block and the
/// files the super block holds are alive.
#[repr(C)]
struct Job<T: FileSystem> {
    work: Opaque<bindings::work_struct>,
    inode: NonNull<bindings::inode>,
    folios: [Option<LockedFolio>; MAX_BATCH],
    n: usize,
    read: kernel::ffi::c_long,
    ctx: Option<T::RunCtx>,
}

/// Reads `len` bytes at byte `pos` of `file` into the folios `range` of `batch`
/// (locked, of `inode`; whole folios from the first one's start) and hands them
/// to the read workqueue, where [`FileSystem::finish_run`] finishes and ends
/// them with `ctx` and the read's result. A direct read is submitted and the
/// caller goes on at once (its I/O overlaps what the reader does next); a
/// buffered one is done before this returns. Gives `ctx` back, the folios left
/// in the batch, when nothing was started (no memory, no workqueue): the
/// caller then reads and finishes them itself.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_async<T: FileSystem>(
    inode: &Inode<T>,
    batch: &mut FolioBatch,
    range: core::ops::Range<usize>,
    file: &BackingFile,
    pos: u64,
    len: usize,
    direct: bool,
    ctx: T::RunCtx,
) -> core::result::Result<(), T::RunCtx> {
    let n = range.len();
    let start = range.start;
    let Ok(off) = bindings::loff_t::try_from(pos) else {
        return Err(ctx);
    };
    if n == 0
        || n > MAX_BATCH
        || range.end > batch.len
        || (start..range.end).any(|i| batch.get(i).is_none())
    {
        return Err(ctx);
    }
    let Some(inode_ptr) = NonNull::new(inode.as_ptr()) else {
        return Err(ctx);
    };
    let Ok(mut job) = KBox::new(
        Job::<T> {
            work: Opaque::uninit(),
            inode: inode_ptr,
            folios: [const { None }; MAX_BATCH],
            n,
            read: 0,
            ctx: None,
        },
        GFP_KERNEL,
    ) else {
        return Err(ctx);
    };
    let mut raw = [core::ptr::null_mut(); MAX_BATCH];
    for ((dst, p), i) in job.folios.iter_mut().zip(raw.iter_mut()).zip(range) {
        *dst = batch.take(i);
        if let Some(f) = dst {
            *p = f.as_ptr();
        }
    }
    job.ctx = Some(ctx);
    let job = KBox::into_raw(job);
    // SAFETY: `job` is valid and ours until the helper queues its work: the
    // helper initializes `work`, reads into the `n` folios of `raw` (locked by
    // the job, not uptodate: no one else reads or writes them; whole folios,
    // checked against `len` by the helper), writes the result to `read` and
    // queues `work`, after which `run_job` owns and frees the job. On an error
    // nothing was started and the job is still ours.
    let r = unsafe {
        c::rerofs_read_folios_async(
            file.as_ptr(),
            off,
            raw.as_mut_ptr(),
            n as u32,
            len,
            direct,
            core::ptr::addr_of_mut!((*job).read),
            Opaque::raw_get(core::ptr::addr_of!((*job).work)),
            Some(run_job::<T>),
        )
    };
    if r == 0 {
        return Ok(());
    }
    // SAFETY: Nothing was started: the job is still ours, from `KBox::into_raw`.
    let mut job = unsafe { KBox::from_raw(job) };
    // Put the folios back for the caller.
    for (src, i) in job.folios.iter_mut().zip(start..start + n) {
        if let Some(slot) = batch.folios.get_mut(i) {
            *slot = src.take();
        }
    }
    match job.ctx.take() {
        Some(ctx) => Err(ctx),
        // Cannot happen: set above.
        None => Ok(()),
    }
}

/// The work function of a [`Job`]: finishes its folios with the read's result,
/// then frees it (folios not ended by the file system fail as they are dropped).
///
/// # Safety
///
/// `work` is the `work` field of a job leaked by [`read_async`] and queued once.
unsafe extern "C" fn run_job<T: FileSystem>(work: *mut bindings::work_struct) {
    // SAFETY: `work` is the first field of a `repr(C)` `Job<T>` that `read_async`
    // leaked with `KBox::into_raw`, queued once; this is its only run.
    let mut job = unsafe { KBox::from_raw(work.cast::<Job<T>>()) };
    // SAFETY: The job holds locked folios of this inode, so it is alive (type
    // invariant) while they are; it is not used after the job is dropped.
    let inode = unsafe { Inode::<T>::from_raw(job.inode.as_ptr()) };
    let read = if job.read < 0 {
        Err(Error::from_errno(job.read as c_int))
    } else {
        Ok(job.read as usize)
    };
    let n = job.n;
    if let (Some(ctx), Some(folios)) = (job.ctx.take(), job.folios.get_mut(..n)) {
        T::finish_run(inode, folios, ctx, read);
    }
    // Dropping the job ends any folio left as a failure; nothing touches the
    // inode afterwards.
    drop(job);
}

unsafe extern "C" fn read_folio_callback<T: FileSystem>(
    _file: *mut bindings::file,
    folio: *mut bindings::folio,
) -> c_int {
    let Some(folio) = NonNull::new(folio) else {
        return EINVAL.to_errno();
    };
    // SAFETY: C passes a locked folio of the mapping of an inode of our type; the
    // inode outlives the call.
    let inode = unsafe { Inode::<T>::from_raw(c::rerofs_folio_inode(folio.as_ptr())) };
    // INVARIANT: the folio is locked and `read_folio` must unlock it: that is now ours.
    let folio = LockedFolio(folio);
    from_result(|| {
        T::read_folio(inode, folio)?;
        Ok(0)
    })
}

unsafe extern "C" fn readahead_callback<T: FileSystem>(rac: *mut bindings::readahead_control) {
    // SAFETY: C passes a valid readahead control of the mapping of an inode of our
    // type; the inode outlives the call.
    let inode = unsafe { Inode::<T>::from_raw(c::rerofs_readahead_inode(rac)) };
    let mut batch = FolioBatch::new();
    // SAFETY: `rac` is valid for the whole callback; `readahead_folio` returns each
    // folio of the request locked, in file order, its lock ours to release (its
    // reference is not).
    while let Some(folio) = NonNull::new(unsafe { c::rerofs_readahead_folio(rac) }) {
        // INVARIANT: the folio is locked and we own the lock.
        if let Err(folio) = batch.push(LockedFolio(folio)) {
            // Full: read it, then start the next batch with this folio.
            T::readahead(inode, &mut batch);
            batch = FolioBatch::one(folio);
        }
    }
    if batch.len() > 0 {
        // Folios left in the batch fail when it is dropped; `read_folio` retries.
        T::readahead(inode, &mut batch);
    }
}
