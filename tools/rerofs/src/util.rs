// SPDX-License-Identifier: GPL-2.0

//! Helpers shared by the subcommands: hex, error context for file access and
//! format-crate errors, progress bars, temporary files put into place.

use anyhow::{Context, Result};
use std::fs;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

/// Hex of a digest (lowercase, no separator).
pub fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Converts a format-crate error (which is `no_std`) into an `anyhow` one.
pub fn fe(e: rerofs_format::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Rounds up to a multiple of `a` (a power of two).
pub fn align(v: u64, a: u64) -> u64 {
    (v + a - 1) & !(a - 1)
}

/// Opens `p` for reading; the error names the file.
pub fn open(p: &Path) -> Result<fs::File> {
    fs::File::open(p).with_context(|| format!("{}: cannot open", p.display()))
}

/// Reads the whole of `p`; the error names the file.
pub fn read(p: &Path) -> Result<Vec<u8>> {
    fs::read(p).with_context(|| format!("{}: cannot read", p.display()))
}

/// Reads `f` (the file at `p`) to its end, giving `sink` each piece read.
pub fn read_pieces(f: &mut impl Read, p: &Path, mut sink: impl FnMut(&[u8])) -> Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("{}: read failed", p.display()))?;
        if n == 0 {
            return Ok(());
        }
        sink(&buf[..n]);
    }
}

/// A progress bar of `len` bytes on standard error, only when that is a
/// terminal (and not `quiet`).
pub fn progress_bar(len: u64, msg: &'static str, quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:8} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb.set_message(msg);
    Some(pb)
}

/// An optional progress bar, cleared when dropped.
pub struct Pb(pub Option<indicatif::ProgressBar>);

impl Pb {
    pub fn new(len: u64, msg: &'static str, quiet: bool) -> Pb {
        Pb(progress_bar(len, msg, quiet))
    }
    pub fn inc(&self, n: u64) {
        if let Some(p) = &self.0 {
            p.inc(n);
        }
    }
}

impl Drop for Pb {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            p.finish_and_clear();
        }
    }
}

/// `p` with `.tmp.<pid>` appended: where a file is written before it is
/// renamed into place.
pub fn tmp_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(format!(".tmp.{}", std::process::id()));
    PathBuf::from(s)
}

/// Removes a temporary file when dropped, unless kept.
pub struct TmpGuard(Option<PathBuf>);

impl TmpGuard {
    pub fn new(p: PathBuf) -> Self {
        TmpGuard(Some(p))
    }
    pub fn path(&self) -> &Path {
        self.0.as_deref().expect("armed")
    }
    /// Renames the file to `dst` and disarms the guard.
    pub fn persist(mut self, dst: &Path) -> Result<()> {
        let p = self.0.take().expect("armed");
        if let Err(e) = fs::rename(&p, dst) {
            fs::remove_file(&p).ok();
            return Err(e).with_context(|| format!("{}: cannot rename into place", dst.display()));
        }
        Ok(())
    }
}

impl Drop for TmpGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            fs::remove_file(p).ok();
        }
    }
}

/// Writes `data` to `dst` through a temporary file beside it, synced, then
/// renamed into place (a reader sees the old file or the whole new one).
pub fn write_atomically(dst: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = TmpGuard::new(tmp_path(dst));
    {
        let mut f = fs::File::create(tmp.path())
            .with_context(|| format!("{}: cannot create", tmp.path().display()))?;
        f.write_all(data)
            .with_context(|| format!("{}: write failed", tmp.path().display()))?;
        f.sync_all().ok();
    }
    tmp.persist(dst)
}
