// SPDX-License-Identifier: GPL-2.0

//! `rerofs fsck`: checks every structure of an image and optionally extracts it.

use crate::image::{is_digest_tag, Image};
use crate::util::{hex, progress_bar};
use crate::verity::{check_blob, slot_root_problem};
use anyhow::{anyhow, bail, Context, Result};
use rerofs_format::dir::file_type as ft;
use rerofs_format::inode::{FileKind, Inode};
use rerofs_format::verity::COMPAT_RERO_VERITY;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::ffi::{CString, OsStr};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Options of `rerofs fsck`.
#[derive(Debug, clap::Args)]
pub struct FsckArgs {
    /// Metadata blob to check.
    pub image: PathBuf,
    /// Data blob for each extra device, in slot order (default: BLOB_DIR/<tag>).
    #[arg(long = "device")]
    pub devices: Vec<PathBuf>,
    /// Directory holding the data blobs named by their digests (default: the
    /// image's directory).
    #[arg(long)]
    pub blob_dir: Option<PathBuf>,
    /// Extract the tree into this directory (created; must not exist or be empty).
    #[arg(long)]
    pub extract: Option<PathBuf>,
    /// Do not verify blob digests: neither each digest-named blob's SHA-256
    /// against its tag nor, with verity, every blob's Merkle tree.
    #[arg(long)]
    pub no_blob_digest: bool,
    /// The image key of an encrypted image (a 32-byte file): checked against
    /// the image's key check, then used to decrypt every file's data.
    #[arg(long, value_name = "FILE")]
    pub image_key: Option<PathBuf>,
}

struct Ctx<'a> {
    img: &'a Image,
    problems: Vec<String>,
    /// nid → (references seen, expected nlink, first extracted path)
    links: HashMap<u64, (u32, u32, Option<PathBuf>)>,
    dirs_seen: HashSet<u64>,
    /// Directories whose times are set after their contents.
    dir_times: Vec<(PathBuf, Inode)>,
}

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| anyhow!("{}: NUL in path", p.display()))
}

fn kind_type(k: FileKind) -> u8 {
    match k {
        FileKind::Regular => ft::REG,
        FileKind::Directory => ft::DIR,
        FileKind::Symlink => ft::SYMLINK,
        FileKind::CharDevice => ft::CHRDEV,
        FileKind::BlockDevice => ft::BLKDEV,
        FileKind::Fifo => ft::FIFO,
        FileKind::Socket => ft::SOCK,
    }
}

/// Checks every blob of an image with verity against its tree, and each data
/// blob's digest against its slot's tag.
fn check_verity(img: &Image, problems: &mut Vec<String>) -> Result<()> {
    let total = img.sb.image_bytes()
        + img
            .devices
            .iter()
            .map(|d| u64::from(d.slot.blocks) * 4096)
            .sum::<u64>();
    let pb = progress_bar(total, "verity", false);
    let inc = |n| {
        if let Some(p) = &pb {
            p.inc(n)
        }
    };
    let f = crate::util::open(&img.path)?;
    match check_blob(&f, img.meta.len() as u64, Some(img.sb.image_bytes()), &inc) {
        Ok(c) => problems.extend(c.problems.iter().map(|p| format!("metadata blob: {p}"))),
        Err(e) => problems.push(format!("metadata blob: {e:#}")),
    }
    for (i, d) in img.devices.iter().enumerate() {
        let what = format!("device {} ({})", i + 1, d.path.display());
        let want = (d.slot.blocks != 0).then(|| u64::from(d.slot.blocks) * 4096);
        let tag = String::from_utf8_lossy(d.slot.tag());
        let before = problems.len();
        match check_blob(&d.file, d.len, want, &inc) {
            Ok(c) => {
                problems.extend(c.problems.iter().map(|p| format!("{what}: {p}")));
                if hex(&c.digest).as_bytes() != d.slot.tag() {
                    problems.push(format!(
                        "{what}: fs-verity digest is {}, but the slot's tag is {tag}",
                        hex(&c.digest),
                    ));
                }
                if let Some(p) = slot_root_problem(img.sb.feature_compat, &d.slot, &c.desc) {
                    problems.push(format!("{what}: {p}"));
                }
            }
            Err(e) => problems.push(format!("{what}: {e:#}")),
        }
        if problems.len() > before {
            problems.push(format!(
                "{what}: does not verify as the blob tagged {tag}: not this image's blob (or damaged)"
            ));
        }
    }
    if let Some(p) = pb {
        p.finish_and_clear();
    }
    Ok(())
}

/// Runs `rerofs fsck`; `Ok(false)` when problems were found.
pub fn run(a: &FsckArgs) -> Result<bool> {
    let mut img = Image::open(&a.image)?;
    match (&a.image_key, img.enc.is_some()) {
        (Some(k), _) => img.set_image_key(crate::crypt::load_key(k, "image key")?)?,
        (None, true) => bail!(
            "{}: the image is encrypted: give --image-key (`rerofs verify` checks it without a key)",
            a.image.display()
        ),
        (None, false) => {}
    }
    img.open_devices(&a.devices, a.blob_dir.as_deref())?;
    let mut problems = img.check_key_table();
    let verity = img.sb.feature_compat & COMPAT_RERO_VERITY != 0;
    if verity && !a.no_blob_digest {
        check_verity(&img, &mut problems)?;
    }
    for (i, d) in img.devices.iter().enumerate() {
        let need = u64::from(d.slot.blocks) * 4096;
        if verity {
            // Checked above, tree and size included.
        } else if d.len < need {
            problems.push(format!(
                "device {} ({}): {} bytes, but its slot says {} blocks ({need} bytes): truncated or not this image's blob",
                i + 1,
                d.path.display(),
                d.len,
                d.slot.blocks
            ));
        } else if is_digest_tag(d.slot.tag()) && !a.no_blob_digest {
            let mut h = Sha256::new();
            let mut f = std::io::BufReader::with_capacity(1 << 20, &d.file);
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = f
                    .read(&mut buf)
                    .with_context(|| format!("{}: read failed", d.path.display()))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            let got = hex(&h.finalize());
            if got.as_bytes() != d.slot.tag() {
                problems.push(format!(
                    "device {} ({}): SHA-256 is {got}, but the slot's tag is {}: not this image's blob",
                    i + 1,
                    d.path.display(),
                    String::from_utf8_lossy(d.slot.tag())
                ));
            }
        }
    }
    if let Some(x) = &a.extract {
        match std::fs::read_dir(x) {
            Ok(mut it) => {
                if it.next().is_some() {
                    bail!("{}: extraction directory is not empty", x.display());
                }
            }
            Err(_) => std::fs::create_dir_all(x)
                .with_context(|| format!("{}: cannot create", x.display()))?,
        }
    }
    let mut c = Ctx {
        img: &img,
        problems,
        links: HashMap::new(),
        dirs_seen: HashSet::new(),
        dir_times: Vec::new(),
    };
    let root = c.img.sb.root_nid;
    c.walk_dir(root, root, Path::new("/"), a.extract.clone())?;
    for (nid, (seen, want, path)) in &c.links {
        if seen != want {
            c.problems.push(format!(
                "inode {nid} ({}): nlink is {want} but {seen} directory entries name it",
                path.as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
        }
    }
    // Directory times last, deepest first, so creating entries does not change them.
    for (p, i) in c.dir_times.iter().rev() {
        set_times(p, i)?;
    }
    for p in &c.problems {
        eprintln!("rerofs fsck: {}: {p}", a.image.display());
    }
    let n = c.problems.len();
    println!(
        "rerofs fsck: {}: {} inodes checked, {} problem(s){}",
        a.image.display(),
        c.dirs_seen.len() + c.links.len(),
        n,
        a.extract
            .as_ref()
            .map(|x| format!(", extracted to {}", x.display()))
            .unwrap_or_default()
    );
    Ok(n == 0)
}

fn set_times(p: &Path, i: &Inode) -> Result<()> {
    let c = cstr(p)?;
    let ts = [
        libc::timespec {
            tv_sec: i.mtime as libc::time_t,
            tv_nsec: i.mtime_nsec as _,
        },
        libc::timespec {
            tv_sec: i.mtime as libc::time_t,
            tv_nsec: i.mtime_nsec as _,
        },
    ];
    // SAFETY: valid path and two timespecs.
    if unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    } != 0
    {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("{}: setting times", p.display()));
    }
    Ok(())
}

/// Applies owner, mode and xattrs (times are separate).
fn set_meta(p: &Path, i: &Inode, xattrs: &[(Vec<u8>, Vec<u8>)], symlink: bool) -> Result<()> {
    let c = cstr(p)?;
    // SAFETY: valid path.
    if unsafe { libc::lchown(c.as_ptr(), i.uid, i.gid) } != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("{}: chown", p.display()));
    }
    for (name, value) in xattrs {
        let n = CString::new(name.clone())?;
        // SAFETY: valid strings and buffer.
        if unsafe {
            libc::lsetxattr(
                c.as_ptr(),
                n.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        } != 0
        {
            return Err(std::io::Error::last_os_error()).with_context(|| {
                format!(
                    "{}: setting xattr {}",
                    p.display(),
                    String::from_utf8_lossy(name)
                )
            });
        }
    }
    if !symlink {
        // SAFETY: valid path.
        if unsafe { libc::chmod(c.as_ptr(), u32::from(i.mode) & 0o7777) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("{}: chmod", p.display()));
        }
    }
    Ok(())
}

impl Ctx<'_> {
    fn problem(&mut self, s: String) {
        self.problems.push(s);
    }

    fn walk_dir(&mut self, nid: u64, parent: u64, path: &Path, out: Option<PathBuf>) -> Result<()> {
        if !self.dirs_seen.insert(nid) {
            self.problem(format!(
                "{}: directory inode {nid} reached twice (loop or hard-linked directory)",
                path.display()
            ));
            return Ok(());
        }
        let (i, ipos) = match self.img.inode(nid) {
            Ok(v) => v,
            Err(e) => {
                self.problem(format!("{}: {e}", path.display()));
                return Ok(());
            }
        };
        if i.kind().ok() != Some(FileKind::Directory) {
            self.problem(format!(
                "{}: inode {nid} is not a directory",
                path.display()
            ));
            return Ok(());
        }
        let xattrs = self.img.xattrs(&i, ipos).unwrap_or_else(|e| {
            self.problems.push(format!("{}: {e}", path.display()));
            Vec::new()
        });
        let ents = match self.img.dir_entries(&i, ipos) {
            Ok(e) => e,
            Err(e) => {
                self.problem(format!("{}: {e}", path.display()));
                return Ok(());
            }
        };
        for w in ents.windows(2) {
            if w[0].name >= w[1].name {
                self.problem(format!(
                    "{}: directory inode {nid}: entries {:?} and {:?} are not in sorted order",
                    path.display(),
                    String::from_utf8_lossy(&w[0].name),
                    String::from_utf8_lossy(&w[1].name)
                ));
            }
        }
        let mut subdirs = 0u32;
        let mut children = Vec::new();
        for e in &ents {
            match e.name.as_slice() {
                b"." => {
                    if e.nid != nid {
                        self.problem(format!(
                            "{}: \".\" names inode {} instead of {nid}",
                            path.display(),
                            e.nid
                        ));
                    }
                }
                b".." => {
                    if e.nid != parent {
                        self.problem(format!(
                            "{}: \"..\" names inode {} instead of {parent}",
                            path.display(),
                            e.nid
                        ));
                    }
                }
                n if n.contains(&b'/') || n.contains(&0) => {
                    self.problem(format!(
                        "{}: invalid entry name {:?}",
                        path.display(),
                        String::from_utf8_lossy(n)
                    ));
                }
                _ => children.push(e.clone()),
            }
        }
        if !ents.iter().any(|e| e.name == b".") || !ents.iter().any(|e| e.name == b"..") {
            self.problem(format!(
                "{}: directory inode {nid} lacks \".\" or \"..\"",
                path.display()
            ));
        }
        if let Some(o) = &out {
            if nid != self.img.sb.root_nid {
                std::fs::create_dir(o)
                    .with_context(|| format!("{}: cannot create", o.display()))?;
            }
        }
        for e in children {
            let cpath = path.join(OsStr::from_bytes(&e.name));
            let cout = out.as_ref().map(|o| o.join(OsStr::from_bytes(&e.name)));
            let (ci, _) = match self.img.inode(e.nid) {
                Ok(v) => v,
                Err(err) => {
                    self.problem(format!("{}: {err}", cpath.display()));
                    continue;
                }
            };
            let kind = match ci.kind() {
                Ok(k) => k,
                Err(err) => {
                    self.problem(format!("{}: inode {}: {err}", cpath.display(), e.nid));
                    continue;
                }
            };
            if e.file_type != kind_type(kind) {
                self.problem(format!(
                    "{}: entry file type {} does not match inode {} mode {:o}",
                    cpath.display(),
                    e.file_type,
                    e.nid,
                    ci.mode
                ));
            }
            if kind == FileKind::Directory {
                subdirs += 1;
                self.walk_dir(e.nid, nid, &cpath, cout)?;
            } else {
                self.check_file(e.nid, &cpath, cout)?;
            }
        }
        if i.nlink != 2 + subdirs {
            self.problem(format!(
                "{}: directory nlink is {} but it has {subdirs} subdirectories",
                path.display(),
                i.nlink
            ));
        }
        if let Some(o) = &out {
            set_meta(o, &i, &xattrs, false)?;
            self.dir_times.push((o.clone(), i));
        }
        Ok(())
    }

    fn check_file(&mut self, nid: u64, path: &Path, out: Option<PathBuf>) -> Result<()> {
        let (i, ipos) = self.img.inode(nid)?;
        let entry = self.links.entry(nid).or_insert((0, i.nlink, None));
        entry.0 += 1;
        if entry.0 > 1 {
            // A hard link: data already checked.
            if let (Some(o), Some(first)) = (&out, entry.2.clone()) {
                std::fs::hard_link(&first, o).with_context(|| {
                    format!("{}: cannot link to {}", o.display(), first.display())
                })?;
            }
            return Ok(());
        }
        entry.2 = out.clone().or_else(|| Some(path.to_path_buf()));
        let xattrs = match self.img.xattrs(&i, ipos) {
            Ok(x) => x,
            Err(e) => {
                self.problem(format!("{}: {e}", path.display()));
                Vec::new()
            }
        };
        let kind = i.kind().map_err(|e| anyhow!("{e}"))?;
        let mut file = match (&out, kind) {
            (Some(o), FileKind::Regular) => Some(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(o)
                    .with_context(|| format!("{}: cannot create", o.display()))?,
            ),
            _ => None,
        };
        if self.img.enc.is_some()
            && kind == FileKind::Regular
            && i.size > 0
            && !matches!(i.layout, rerofs_format::inode::Layout::ChunkBased(_))
        {
            self.problem(format!(
                "{}: inode {nid}: plaintext file data in an encrypted image (not chunk-based)",
                path.display()
            ));
        }
        let mut data = Vec::new();
        let mut total = 0u64;
        let r = self.img.read_data(&i, ipos, |d| {
            total += d.len() as u64;
            if let Some(f) = &mut file {
                f.write_all(d)?;
            } else if kind == FileKind::Symlink {
                data.extend_from_slice(d);
            }
            Ok(())
        });
        if let Err(e) = r {
            self.problem(format!("{}: {e:#}", path.display()));
        } else if total != i.size {
            self.problem(format!(
                "{}: inode {nid} data is {total} bytes, size says {}",
                path.display(),
                i.size
            ));
        }
        if let Some(f) = &mut file {
            f.flush()?;
        }
        drop(file);
        match kind {
            FileKind::Symlink => {
                if i.size == 0 || i.size > 4095 || data.contains(&0) {
                    self.problem(format!(
                        "{}: symlink target of {} bytes is invalid",
                        path.display(),
                        i.size
                    ));
                }
                if let Some(o) = &out {
                    std::os::unix::fs::symlink(OsStr::from_bytes(&data), o)
                        .with_context(|| format!("{}: cannot create symlink", o.display()))?;
                }
            }
            FileKind::CharDevice | FileKind::BlockDevice | FileKind::Fifo | FileKind::Socket => {
                if i.size != 0 {
                    self.problem(format!(
                        "{}: special file with size {}",
                        path.display(),
                        i.size
                    ));
                }
                if let Some(o) = &out {
                    let (maj, min) = i.rdev();
                    let dev = if matches!(kind, FileKind::CharDevice | FileKind::BlockDevice) {
                        libc::makedev(maj, min)
                    } else {
                        0
                    };
                    let c = cstr(o)?;
                    // SAFETY: valid path.
                    if unsafe { libc::mknod(c.as_ptr(), u32::from(i.mode), dev) } != 0 {
                        return Err(std::io::Error::last_os_error())
                            .with_context(|| format!("{}: mknod", o.display()));
                    }
                }
            }
            _ => {}
        }
        if let Some(o) = &out {
            set_meta(o, &i, &xattrs, kind == FileKind::Symlink)?;
            set_times(o, &i)?;
        }
        Ok(())
    }
}
