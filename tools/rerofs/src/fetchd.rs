// SPDX-License-Identifier: GPL-2.0

//! `rerofs fetchd`: the on-demand daemon. It reads the kernel's requests from
//! the module's character device (one 64-byte record per read: blob digest,
//! offset, length; `rerofs_format::ondemand`), fetches that range of the blob
//! from the registry with one HTTP range GET, writes the bytes into the blob
//! file (pwrite), and writes a completion record (request id, status) back.
//! It is not trusted: the kernel verifies every block against the blob's tree
//! after the completion, so wrong bytes fail the read with EIO, never reach a
//! reader. With `--range` it fills the given ranges and exits (prefetch,
//! tests), without the device.

use crate::oci::{Client, Reference};
use crate::pull::{fetch_layers, read_map};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use rerofs_format::ondemand::{Completion, Request, REQUEST_SIZE};
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// Largest range served by one request (the kernel asks for far less).
const MAX_RANGE: u64 = 64 << 20;

#[derive(Args)]
#[command(after_help = "\
The daemon serves the kernel's requests (mount -o blobdir=DIR,ondemand) until
SIGTERM or SIGINT, then prints its statistics (also written, as JSON, to
--stats after every request) and exits 0. Which blobs it can fetch: those of the
manifest REPO:TAG, plus those recorded in DIR/rerofs-lazy.json by
`rerofs pull --lazy`. A request for an unknown blob, a range outside it, or a
failed fetch is answered with an error status (the reader gets EIO).
Exit status: 0 stopped by a signal or all --range done, 1 error, 2 usage.")]
pub struct FetchdArgs {
    /// Directory of the blobs (as given to mount -o blobdir=).
    #[arg(long)]
    pub blob_dir: PathBuf,
    /// Where the blobs are: REGISTRY/REPO[:TAG].
    #[arg(value_parser = Reference::parse)]
    pub src: Reference,
    /// The module's request device.
    #[arg(long, default_value = "/dev/rerofs-ondemand")]
    pub device: PathBuf,
    /// Fill DIGEST:OFFSET:LENGTH (hex digest, bytes) and exit, without the
    /// device (repeatable; LENGTH 0: to the end of the blob file).
    #[arg(long, value_name = "DIGEST:OFFSET:LENGTH")]
    pub range: Vec<String>,
    /// Requests served at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: u32,
    /// Write the statistics (JSON) to this file after every request.
    #[arg(long)]
    pub stats: Option<PathBuf>,
    /// Log every request on standard error.
    #[arg(long, short)]
    pub verbose: bool,
    /// TEST HOOK, never for real use: flip the first byte of every 4 KiB block
    /// fetched before writing it (the kernel must refuse those blocks).
    #[arg(long)]
    pub corrupt_for_test: bool,
    /// TEST HOOK: wait this many milliseconds before serving each request.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub delay_for_test: u64,
}

/// Counters, shared by the workers.
#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    range_gets: AtomicU64,
}

impl Stats {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests.load(Ordering::Relaxed),
            "failed": self.failed.load(Ordering::Relaxed),
            "bytes_fetched": self.bytes.load(Ordering::Relaxed),
            "range_gets": self.range_gets.load(Ordering::Relaxed),
        })
    }
    fn line(&self) -> String {
        format!(
            "fetchd: {} requests ({} failed), {} bytes fetched in {} range requests",
            self.requests.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.range_gets.load(Ordering::Relaxed)
        )
    }
}

struct Server {
    client: Client,
    dir: PathBuf,
    /// fs-verity hex -> (OCI digest, size).
    blobs: HashMap<String, (String, u64)>,
    stats: Stats,
    stats_path: Option<PathBuf>,
    stats_lock: Mutex<()>,
    verbose: bool,
    corrupt: bool,
    delay: u64,
}

impl Server {
    /// Fetches `[offset, offset + len)` of blob `hex` into its file.
    fn fill(&self, hex: &str, offset: u64, len: u64) -> Result<()> {
        let (digest, size) = self.blobs.get(hex).ok_or_else(|| {
            anyhow!(
                "blob {hex}: not in the manifest or {}",
                crate::pull::MAP_FILE
            )
        })?;
        offset
            .checked_add(len)
            .filter(|&e| e <= *size && len > 0 && len <= MAX_RANGE)
            .ok_or_else(|| anyhow!("blob {hex}: bad range {offset}+{len} of {size} bytes"))?;
        let path = self.dir.join(hex);
        let f = OpenOptions::new()
            .write(true)
            .open(&path)
            .with_context(|| format!("{}: cannot open for writing", path.display()))?;
        self.stats.range_gets.fetch_add(1, Ordering::Relaxed);
        let mut data = self.client.get_range(digest, offset, len)?;
        if self.corrupt {
            for b in data.iter_mut().step_by(4096) {
                *b ^= 0xff;
            }
        }
        f.write_all_at(&data, offset)
            .with_context(|| format!("{}: write at {offset} failed", path.display()))?;
        self.stats.bytes.fetch_add(len, Ordering::Relaxed);
        Ok(())
    }

    /// Serves one request; returns the completion status (0 or an errno).
    fn serve(&self, hex: &str, offset: u64, len: u64) -> u32 {
        if self.delay > 0 {
            std::thread::sleep(Duration::from_millis(self.delay));
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let r = self.fill(hex, offset, len);
        let status = match &r {
            Ok(()) => 0,
            Err(e) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                eprintln!("fetchd: {hex} {offset}+{len}: {e:#}");
                libc::EIO as u32
            }
        };
        if self.verbose {
            eprintln!("fetchd: {hex} {offset}+{len}: status {status}");
        }
        self.write_stats();
        status
    }

    fn write_stats(&self) {
        if let Some(p) = &self.stats_path {
            let _g = self.stats_lock.lock().unwrap_or_else(|e| e.into_inner());
            if let Ok(b) = serde_json::to_vec(&self.stats.json()) {
                if let Err(e) = crate::util::write_atomically(p, &b) {
                    eprintln!("fetchd: {e:#}");
                }
            }
        }
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// SIGTERM and SIGINT set [`STOP`] and interrupt a blocking read (no
/// SA_RESTART).
fn install_signals() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores to an
        // atomic, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = 0;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Blocks or unblocks SIGTERM and SIGINT in the calling thread.
fn mask_signals(block: bool) {
    // SAFETY: plain calls on a local, initialized signal set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        let how = if block {
            libc::SIG_BLOCK
        } else {
            libc::SIG_UNBLOCK
        };
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

fn parse_range(s: &str, srv: &Server) -> Result<(String, u64, u64)> {
    let mut it = s.strip_prefix("sha256:").unwrap_or(s).splitn(3, ':');
    let (h, o, l) = match (it.next(), it.next(), it.next()) {
        (Some(h), Some(o), Some(l)) => (h.to_ascii_lowercase(), o, l),
        _ => bail!("--range {s:?}: expected DIGEST:OFFSET:LENGTH"),
    };
    let o: u64 = o
        .parse()
        .map_err(|_| anyhow!("--range {s:?}: bad offset"))?;
    let mut l: u64 = l
        .parse()
        .map_err(|_| anyhow!("--range {s:?}: bad length"))?;
    let size = srv
        .blobs
        .get(&h)
        .map(|b| b.1)
        .ok_or_else(|| anyhow!("--range {s:?}: unknown blob"))?;
    if l == 0 {
        l = size.saturating_sub(o);
    }
    Ok((h, o, l))
}

/// Runs `rerofs fetchd`; `Ok(false)` when some `--range` failed.
pub fn run(a: &FetchdArgs) -> Result<bool> {
    let client = Client::new(&a.src);
    let mut blobs = HashMap::new();
    for (h, d, s) in read_map(&a.blob_dir)? {
        blobs.insert(h, (d, s));
    }
    if a.src.tag.is_some() {
        for l in fetch_layers(&client, &a.src)?.into_iter().skip(1) {
            if let Some(h) = l.verity {
                blobs.insert(h, (l.digest, l.size));
            }
        }
    }
    if blobs.is_empty() {
        bail!(
            "no blobs to serve: give REGISTRY/REPO:TAG or run `rerofs pull --lazy` into {} first",
            a.blob_dir.display()
        );
    }
    let srv = Arc::new(Server {
        client,
        dir: a.blob_dir.clone(),
        blobs,
        stats: Stats::default(),
        stats_path: a.stats.clone(),
        stats_lock: Mutex::new(()),
        verbose: a.verbose,
        corrupt: a.corrupt_for_test,
        delay: a.delay_for_test,
    });
    srv.write_stats();
    if !a.range.is_empty() {
        let mut ok = true;
        for r in &a.range {
            let (h, o, l) = parse_range(r, &srv)?;
            let mut pos = o;
            while pos < o + l {
                let n = (o + l - pos).min(MAX_RANGE);
                ok &= srv.serve(&h, pos, n) == 0;
                pos += n;
            }
        }
        eprintln!("{}", srv.stats.line());
        return Ok(ok);
    }
    serve_device(a, &srv)?;
    eprintln!("{}", srv.stats.line());
    Ok(true)
}

fn serve_device(a: &FetchdArgs, srv: &Arc<Server>) -> Result<()> {
    let dev = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&a.device)
        .with_context(|| {
            format!(
                "{}: cannot open (is the rerofs module loaded, and no other fetchd running?)",
                a.device.display()
            )
        })?;
    let dev = Arc::new(dev);
    eprintln!("fetchd: serving {}", a.device.display());
    install_signals();
    // Workers never take the signals: the main thread's blocking read must be
    // the one interrupted.
    mask_signals(true);
    let (tx, rx) = mpsc::channel::<Request>();
    let rx = Arc::new(Mutex::new(rx));
    let mut workers = Vec::new();
    for _ in 0..a.jobs {
        let rx = Arc::clone(&rx);
        let srv = Arc::clone(srv);
        let dev = Arc::clone(&dev);
        workers.push(std::thread::spawn(move || loop {
            let req = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                Ok(r) => r,
                Err(_) => return,
            };
            let status = srv.serve(&crate::util::hex(&req.digest), req.offset, req.len);
            let c = Completion { id: req.id, status }.to_bytes();
            if let Err(e) = (&*dev).write_all(&c) {
                eprintln!("fetchd: completing request {}: {e}", req.id);
            }
        }));
    }
    mask_signals(false);
    let mut buf = [0u8; REQUEST_SIZE];
    let r = loop {
        if STOP.load(Ordering::SeqCst) {
            break Ok(());
        }
        match (&*dev).read(&mut buf) {
            Ok(0) => break Err(anyhow!("{}: end of file", a.device.display())),
            Ok(n) => match Request::parse(&buf[..n]) {
                Ok(req) => {
                    if tx.send(req).is_err() {
                        break Err(anyhow!("fetchd: workers gone"));
                    }
                }
                Err(e) => eprintln!("fetchd: {}: bad request record: {e}", a.device.display()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e).with_context(|| format!("{}: read failed", a.device.display())),
        }
    };
    drop(tx);
    for w in workers {
        w.join().ok();
    }
    r
}
