// SPDX-License-Identifier: GPL-2.0
// Integration-test code: compiled only by `cargo test`, as if under #[cfg(test)].

//! Test-only helpers: source trees, `mkfs.erofs` runs, and a small reader that walks
//! an image with the format crate's parsers only.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use rerofs_format::devtable::{map_dev, DeviceSlot};
use rerofs_format::dir::DirBlock;
use rerofs_format::inode::{
    parse_chunk_entry, ChunkMapping, FileKind, Inode, Layout, Mapping, EXTENDED_SIZE,
};
use rerofs_format::superblock::SuperBlock;
use rerofs_format::xattr::{Entry, InlineXattrs, LongPrefixTable, NoLongPrefixes};
use rerofs_format::Error;

type Result<T> = core::result::Result<T, Error>;

/// A fresh, empty scratch directory for `name` (per process; those left behind by
/// processes that are gone are removed).
pub fn scratch(name: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    if let Ok(entries) = std::fs::read_dir(base) {
        for e in entries.flatten() {
            let file = e.file_name();
            let Some(pid) = file
                .to_str()
                .and_then(|f| f.strip_prefix(name)?.strip_prefix('-'))
            else {
                continue;
            };
            if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let d = base.join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs a command, panicking with its output on failure.
pub fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// xorshift64* pseudo-random bytes.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn hex(v: &[u8]) -> String {
    let mut s = String::from("0x");
    for b in v {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

pub fn setfattr(path: &Path, name: &str, value: &[u8]) {
    let mut c = Command::new("setfattr");
    c.arg("-h").arg("-n").arg(name);
    if !value.is_empty() {
        c.arg("-v").arg(hex(value));
    }
    run(c.arg(path));
}

fn write(path: &Path, data: &[u8]) {
    std::fs::write(path, data).unwrap();
}

/// Writes `chunks` (offset, bytes) into a sparse file of `size` bytes.
fn sparse(path: &Path, size: u64, chunks: &[(u64, &[u8])]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::create(path).unwrap();
    f.set_len(size).unwrap();
    for (off, data) in chunks {
        f.write_all_at(data, *off).unwrap();
    }
}

/// The full source tree: every inode kind, hard links, sparse files, multi-block
/// and long-name directories, and xattrs of user., trusted. and security., some of
/// them on many files (so that mkfs.erofs shares them).
pub fn full_tree(root: &Path) {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    std::fs::create_dir_all(root).unwrap();
    let p = |s: &str| root.join(s);
    write(&p("empty"), b"");
    write(&p("small.txt"), b"hello, rerofs\n");
    write(&p("b4096"), &rng.bytes(4096));
    write(&p("b4097"), &rng.bytes(4097));
    write(&p("b65537"), &rng.bytes(65537));
    write(&p("big"), &rng.bytes(3 * 1024 * 1024 + 123));
    write(&p("zeros"), &[0u8; 128 * 1024]);
    let a = rng.bytes(777);
    let b = rng.bytes(4106);
    let c = rng.bytes(3);
    sparse(
        &p("sparse"),
        5 << 20,
        &[(0, &a), (5 << 19, &b), ((5 << 20) - 3, &c)],
    );
    sparse(&p("allholes"), (2 << 20) + 1, &[]);
    let d = rng.bytes(5000);
    sparse(&p("midhole"), 3 << 20, &[(0, &d), ((2 << 20) + 100, &d)]);
    std::os::unix::fs::symlink("small.txt", p("link")).unwrap();
    std::os::unix::fs::symlink("x".repeat(300), p("longlink")).unwrap();
    std::fs::hard_link(p("b4097"), p("hard1")).unwrap();
    std::fs::hard_link(p("b4097"), p("hard2")).unwrap();
    run(Command::new("mkfifo").arg(p("fifo")));
    run(Command::new("mknod").arg(p("chr")).args(["c", "1", "3"]));
    run(Command::new("mknod").arg(p("blk")).args(["b", "7", "200"]));
    drop(std::os::unix::net::UnixListener::bind(p("sock")).unwrap());
    write(&p("owned"), b"owned by 1000");
    std::os::unix::fs::chown(p("owned"), Some(1000), Some(1001)).unwrap();
    write(&p("bigid"), b"owned by 70000");
    std::os::unix::fs::chown(p("bigid"), Some(70000), Some(70001)).unwrap();
    write(&p("setuid"), b"#!/bin/sh\n");
    std::fs::set_permissions(p("setuid"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::create_dir(p("sticky")).unwrap();
    std::fs::set_permissions(p("sticky"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::create_dir(p("emptydir")).unwrap();
    std::fs::create_dir_all(p("nested/a/b/c")).unwrap();
    write(&p("nested/a/b/c/deep"), b"deep");
    std::fs::create_dir(p("dir300")).unwrap();
    for i in 0..300 {
        let name = format!("entry-{i:03}-{}", "n".repeat(i % 40));
        write(&p(&format!("dir300/{name}")), format!("{i}").as_bytes());
    }
    std::fs::create_dir(p("longnames")).unwrap();
    for i in 0..20u8 {
        let mut name = vec![b'a' + i; 254];
        name[0] = b'L';
        let path = p("longnames").join(std::ffi::OsStr::from_bytes(&name));
        write(&path, &[i; 10]);
    }
    // Xattrs: unique ones, big ones, and common ones that get shared.
    setfattr(&p("small.txt"), "user.comment", b"a small file");
    setfattr(&p("small.txt"), "user.empty", b"");
    setfattr(&p("big"), "user.bigvalue", &rng.bytes(1000));
    setfattr(&p("big"), "trusted.big", &rng.bytes(300));
    setfattr(
        &p("big"),
        "security.capability",
        &[
            1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    );
    setfattr(
        &p("sparse"),
        "security.selinux",
        b"system_u:object_r:bin_t:s0\0",
    );
    setfattr(&p("emptydir"), "user.dir", b"on a directory");
    setfattr(&p("fifo"), "trusted.onfifo", b"x");
    setfattr(&p("link"), "trusted.onlink", b"symlink xattr");
    std::fs::create_dir(p("shared")).unwrap();
    for i in 0..12 {
        let f = p(&format!("shared/f{i}"));
        write(&f, format!("shared {i}").as_bytes());
        setfattr(&f, "user.common", b"the same value everywhere");
        setfattr(&f, "trusted.common", b"trusted common");
        setfattr(&f, "security.label", b"label\0");
        setfattr(&f, &format!("user.own{i}"), format!("v{i}").as_bytes());
    }
    let long_name = format!("user.{}", "k".repeat(200));
    setfattr(&p("b65537"), &long_name, &rng.bytes(64));
}

/// A small tree for the fuzz smoke test (fast to walk).
pub fn small_tree(root: &Path) {
    let mut rng = Rng(42);
    std::fs::create_dir_all(root.join("d")).unwrap();
    let p = |s: &str| root.join(s);
    write(&p("a"), &rng.bytes(9000));
    write(&p("t"), b"tail");
    let x = rng.bytes(100);
    sparse(&p("s"), 200_000, &[(70_000, &x)]);
    std::os::unix::fs::symlink("a", p("l")).unwrap();
    run(Command::new("mknod").arg(p("c")).args(["c", "4", "5"]));
    for i in 0..40 {
        let f = p(&format!("d/file-{i:02}"));
        write(&f, &rng.bytes(i * 37));
        setfattr(&f, "user.common", b"shared value");
        if i % 3 == 0 {
            setfattr(&f, "trusted.t", format!("{i}").as_bytes());
        }
    }
    setfattr(&p("a"), "security.selinux", b"ctx\0");
    setfattr(&p("d"), "user.dir", b"d");
}

/// Runs mkfs.erofs on `src` with fixed time and UUID plus `opts`.
pub fn mkfs(src: &Path, img: &Path, opts: &[String]) {
    run(Command::new("mkfs.erofs")
        .arg("--quiet")
        .arg("-T0")
        .arg("-U01234567-89ab-cdef-0123-456789abcdef")
        .args(opts)
        .arg(img)
        .arg(src));
}

/// One file as seen in a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: FileKind,
    pub perm: u16,
    pub uid: u32,
    pub gid: u32,
    /// File content or symlink target (empty for the rest).
    pub data: Vec<u8>,
    pub size: u64,
    pub rdev: (u32, u32),
    pub nlink: u32,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

fn kind_of(mode: u32) -> FileKind {
    match mode & 0o170000 {
        0o100000 => FileKind::Regular,
        0o040000 => FileKind::Directory,
        0o120000 => FileKind::Symlink,
        0o020000 => FileKind::CharDevice,
        0o060000 => FileKind::BlockDevice,
        0o010000 => FileKind::Fifo,
        0o140000 => FileKind::Socket,
        m => panic!("mode {m:o}"),
    }
}

fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim_start_matches("0x");
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// All xattrs of `path` (not following symlinks), sorted, via getfattr.
pub fn source_xattrs(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let out = Command::new("getfattr")
        .args(["--absolute-names", "-h", "-d", "-m", "-", "-e", "hex"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "getfattr {path:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Vec<_> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('=') {
            Some((n, "\"\"")) => (n.as_bytes().to_vec(), vec![]),
            Some((n, v)) => (n.as_bytes().to_vec(), unhex(v)),
            None => (l.as_bytes().to_vec(), vec![]),
        })
        .collect();
    v.sort();
    v
}

/// The source tree under `root`, keyed by relative path ("" is the root), and the
/// groups of paths that are hard links of one another.
/// Nodes by relative path.
pub type Nodes = BTreeMap<Vec<u8>, Node>;
/// Groups of paths that are hard links of one another.
pub type LinkGroups = Vec<Vec<Vec<u8>>>;

pub fn source_tree(root: &Path) -> (Nodes, LinkGroups) {
    let mut map = BTreeMap::new();
    let mut by_ino: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let path = root.join(&rel);
        let md = std::fs::symlink_metadata(&path).unwrap();
        let kind = kind_of(md.mode());
        let key = rel.as_os_str().as_bytes().to_vec();
        let data = match kind {
            FileKind::Regular => std::fs::read(&path).unwrap(),
            FileKind::Symlink => std::fs::read_link(&path)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec(),
            _ => vec![],
        };
        if kind == FileKind::Directory {
            for e in std::fs::read_dir(&path).unwrap() {
                stack.push(rel.join(e.unwrap().file_name()));
            }
        } else {
            by_ino.entry(md.ino()).or_default().push(key.clone());
        }
        let dev = md.rdev();
        let major = (((dev >> 32) & 0xFFFF_F000) | ((dev >> 8) & 0xFFF)) as u32;
        let minor = (((dev >> 12) & 0xFFFF_FF00) | (dev & 0xFF)) as u32;
        map.insert(
            key,
            Node {
                kind,
                perm: (md.mode() & 0o7777) as u16,
                uid: md.uid(),
                gid: md.gid(),
                size: if kind == FileKind::Directory {
                    0
                } else {
                    md.size()
                },
                data,
                rdev: (major, minor),
                nlink: md.nlink() as u32,
                xattrs: source_xattrs(&path),
            },
        );
    }
    let mut links: Vec<_> = by_ino.into_values().filter(|v| v.len() > 1).collect();
    for l in &mut links {
        l.sort();
    }
    links.sort();
    (map, links)
}

/// Largest file the reader agrees to read (fuzzed sizes may be huge).
const MAX_READ: u64 = 64 << 20;

fn corrupt(what: &'static str) -> Error {
    Error::Corrupted(what, 0)
}

/// A read-only view of an image: the primary device and the extra devices.
pub struct Image {
    pub primary: Vec<u8>,
    pub blobs: Vec<Vec<u8>>,
    pub sb: SuperBlock,
    pub slots: Vec<DeviceSlot>,
    prefixes: Vec<u8>,
    /// Flattened-device mode: every device is inside `primary` (no `device=`).
    pub flat: bool,
    /// Largest file the reader agrees to read (fuzzed sizes may be huge).
    pub max_read: u64,
    /// Statistics of what the walk met, for asserting coverage.
    pub stats: std::cell::RefCell<Stats>,
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub chunk_based: usize,
    pub chunk_indexes: usize,
    pub holes: usize,
    pub blob_blocks: usize,
    pub shared_xattrs: usize,
    pub inline_xattrs: usize,
    pub inline_tails: usize,
    pub extended: usize,
    pub compact: usize,
    pub dir_blocks: usize,
    /// Metadata blocks of the primary device the walk read.
    pub meta_blocks: HashSet<u64>,
}

impl Image {
    pub fn open(primary: Vec<u8>, blobs: Vec<Vec<u8>>) -> Result<Image> {
        let sb = SuperBlock::parse(&primary)?;
        if sb.image_bytes() > primary.len() as u64 {
            return Err(corrupt("image shorter than its superblock says"));
        }
        let mut slots = vec![];
        for i in 0..sb.extra_devices {
            let pos = sb.device_slot_pos(i).ok_or(corrupt("slot"))?;
            slots.push(DeviceSlot::parse(Self::at(&primary, pos, 128)?)?);
        }
        let flat = blobs.is_empty() && !slots.is_empty();
        if !flat && blobs.len() != slots.len() {
            return Err(corrupt("device count"));
        }
        let mut prefixes = vec![];
        if let Some(pos) = sb.xattr_prefix_pos() {
            let start = usize::try_from(pos).map_err(|_| corrupt("prefix pos"))?;
            let rest = primary.get(start..).ok_or(corrupt("prefix pos"))?;
            LongPrefixTable::parse(rest, sb.xattr_prefix_count)?;
            prefixes = rest.to_vec();
        }
        Ok(Image {
            primary,
            blobs,
            sb,
            slots,
            prefixes,
            flat,
            max_read: MAX_READ,
            stats: Default::default(),
        })
    }

    fn at(dev: &[u8], pos: u64, len: usize) -> Result<&[u8]> {
        let start = usize::try_from(pos).map_err(|_| Error::Truncated("read"))?;
        let end = start.checked_add(len).ok_or(Error::Truncated("read"))?;
        dev.get(start..end)
            .ok_or(Error::Truncated("read beyond the device"))
    }

    /// `len` bytes at `pos` of the primary device, noted as metadata.
    pub fn meta(&self, pos: u64, len: usize) -> Result<&[u8]> {
        let b = Self::at(&self.primary, pos, len)?;
        let mut st = self.stats.borrow_mut();
        for blk in pos / 4096..=(pos + len.max(1) as u64 - 1) / 4096 {
            st.meta_blocks.insert(blk);
        }
        Ok(b)
    }

    fn prefix_table(&self) -> Result<LongPrefixTable<'_>> {
        LongPrefixTable::parse(&self.prefixes, self.sb.xattr_prefix_count)
    }

    /// Inode `nid` and its byte position.
    pub fn inode(&self, nid: u64) -> Result<(Inode, u64)> {
        let pos = self.sb.inode_pos(nid).ok_or(corrupt("nid"))?;
        let avail = (self.primary.len() as u64)
            .saturating_sub(pos)
            .min(EXTENDED_SIZE as u64) as usize;
        let ino = Inode::parse(self.meta(pos, avail)?, nid, &self.sb)?;
        let mut st = self.stats.borrow_mut();
        if ino.extended {
            st.extended += 1;
        } else {
            st.compact += 1;
        }
        Ok((ino, pos))
    }

    /// Block `index` of the file: its bytes (up to EOF), `None` past EOF.
    pub fn block(&self, ino: &Inode, ipos: u64, index: u64) -> Result<Option<Vec<u8>>> {
        if let Layout::ChunkBased(info) = ino.layout {
            let Some(epos) = ino.chunk_entry_pos_for_block(ipos, index)? else {
                return Ok(None);
            };
            let entry = self.meta(epos, info.entry_size())?;
            let addr = parse_chunk_entry(entry, &info, self.sb.device_id_mask())?;
            return match ino.map_chunked(index, addr)? {
                None => Ok(None),
                Some(ChunkMapping::Hole { len }) => {
                    self.stats.borrow_mut().holes += 1;
                    Ok(Some(vec![0; len]))
                }
                Some(ChunkMapping::Mapped {
                    device_id,
                    chunk_blk,
                    block_in_chunk,
                    len,
                }) => {
                    let at = map_dev(device_id, chunk_blk, self.flat, &self.slots)?
                        .add(block_in_chunk)
                        .ok_or(corrupt("block overflow"))?;
                    let dev = if at.device == 0 {
                        &self.primary
                    } else {
                        self.stats.borrow_mut().blob_blocks += 1;
                        self.blobs
                            .get(usize::from(at.device) - 1)
                            .ok_or(corrupt("device"))?
                    };
                    let pos = at.blk.checked_mul(4096).ok_or(corrupt("block overflow"))?;
                    Ok(Some(Self::at(dev, pos, len)?.to_vec()))
                }
            };
        }
        match ino.map_flat(ipos, index, self.sb.blocks)? {
            None => Ok(None),
            Some(Mapping::Block { blk, len }) => Ok(Some(
                Self::at(&self.primary, u64::from(blk) * 4096, len)?.to_vec(),
            )),
            Some(Mapping::Inline { pos, len }) => {
                self.stats.borrow_mut().inline_tails += 1;
                Ok(Some(self.meta(pos, len)?.to_vec()))
            }
        }
    }

    /// The whole content of a file.
    pub fn read(&self, ino: &Inode, ipos: u64) -> Result<Vec<u8>> {
        if ino.size > self.max_read {
            return Err(corrupt("file too big for the test reader"));
        }
        if let Layout::ChunkBased(info) = ino.layout {
            let mut st = self.stats.borrow_mut();
            st.chunk_based += 1;
            if info.indexes() {
                st.chunk_indexes += 1;
            }
        }
        let mut out = Vec::with_capacity(ino.size as usize);
        for index in 0..ino.nblocks() {
            out.extend(
                self.block(ino, ipos, index)?
                    .ok_or(corrupt("block missing"))?,
            );
        }
        if out.len() as u64 != ino.size {
            return Err(corrupt("short file"));
        }
        Ok(out)
    }

    /// The entries of a directory, in on-disk order, checked to be sorted.
    pub fn dir(&self, ino: &Inode, ipos: u64) -> Result<Vec<(Vec<u8>, u64, u8)>> {
        let mut out: Vec<(Vec<u8>, u64, u8)> = vec![];
        for index in 0..ino.nblocks() {
            let blk = self.block(ino, ipos, index)?.ok_or(corrupt("dir block"))?;
            if let Some(Mapping::Block { blk: b, .. }) =
                ino.map_flat(ipos, index, self.sb.blocks).ok().flatten()
            {
                self.stats.borrow_mut().meta_blocks.insert(b.into());
            }
            self.stats.borrow_mut().dir_blocks += 1;
            let d = DirBlock::new(&blk)?;
            for i in 0..d.len() {
                let e = d.get(i)?;
                if let Some(last) = out.last() {
                    if last.0.as_slice() >= e.name {
                        return Err(corrupt("directory not sorted"));
                    }
                }
                // Lookup finds every name in its block.
                if d.search(e.name)? != Ok(i) {
                    return Err(corrupt("search"));
                }
                out.push((e.name.to_vec(), e.nid, e.file_type));
            }
        }
        Ok(out)
    }

    /// All xattrs of an inode, sorted by name.
    pub fn xattrs(&self, ino: &Inode, ipos: u64) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let xpos = ino.xattr_pos(ipos).ok_or(corrupt("xattr pos"))?;
        let region = self.meta(xpos, ino.xattr_size())?;
        let x = InlineXattrs::parse(region)?;
        let table = self.prefix_table()?;
        let mut out = vec![];
        let mut push = |e: Entry<'_>| -> Result<()> {
            let n = e.full_name(&table).ok_or(corrupt("xattr prefix"))?;
            let mut name = vec![0; n.len()];
            n.write_to(&mut name).ok_or(corrupt("name"))?;
            assert!(e.matches(&name, &table));
            assert!(e.matches_index(n.base_index, &name[n.prefix.len()..], &table));
            assert!(!e.matches(&name, &NoLongPrefixes) || n.infix.is_empty());
            out.push((name, e.value.to_vec()));
            Ok(())
        };
        for id in x.shared_ids() {
            self.stats.borrow_mut().shared_xattrs += 1;
            let pos = self.sb.shared_xattr_pos(id);
            let avail = (self.primary.len() as u64)
                .saturating_sub(pos)
                .min(4 + 255 + 65535) as usize;
            let (e, _) = Entry::parse(self.meta(pos, avail)?)?;
            push(e)?;
        }
        for e in x.entries() {
            self.stats.borrow_mut().inline_xattrs += 1;
            push(e?)?;
        }
        out.sort();
        Ok(out)
    }

    /// Walks the whole tree from the root: every path with its node, the nid of
    /// every path, in a map keyed by relative path.
    pub fn walk(&self) -> Result<(Nodes, BTreeMap<Vec<u8>, u64>)> {
        let mut nodes = BTreeMap::new();
        let mut nids = BTreeMap::new();
        let mut seen_dirs = HashSet::new();
        let root = self.sb.root_nid;
        let mut stack = vec![(Vec::new(), root, root)];
        while let Some((path, nid, parent)) = stack.pop() {
            if nodes.len() > 100_000 {
                return Err(corrupt("too many files"));
            }
            let (ino, ipos) = self.inode(nid)?;
            let kind = ino.kind()?;
            if ino.mtime != 0 {
                return Err(corrupt("mtime"));
            }
            let mut data = vec![];
            match kind {
                FileKind::Regular | FileKind::Symlink => data = self.read(&ino, ipos)?,
                FileKind::Directory => {
                    if !seen_dirs.insert(nid) {
                        return Err(corrupt("directory cycle"));
                    }
                    for (name, child, ft) in self.dir(&ino, ipos)? {
                        match name.as_slice() {
                            b"." if child == nid => {}
                            b".." if child == parent => {}
                            b"." | b".." => return Err(corrupt("dot entries")),
                            _ => {
                                let (cino, _) = self.inode(child)?;
                                if ft != file_type(cino.kind()?) {
                                    return Err(corrupt("dirent file type"));
                                }
                                let mut p = path.clone();
                                if !p.is_empty() {
                                    p.push(b'/');
                                }
                                p.extend_from_slice(&name);
                                stack.push((p, child, nid));
                            }
                        }
                    }
                }
                _ => {}
            }
            let xattrs = self.xattrs(&ino, ipos)?;
            nids.insert(path.clone(), nid);
            nodes.insert(
                path,
                Node {
                    kind,
                    perm: ino.mode & 0o7777,
                    uid: ino.uid,
                    gid: ino.gid,
                    data,
                    size: if kind == FileKind::Directory {
                        0
                    } else {
                        ino.size
                    },
                    rdev: match kind {
                        FileKind::CharDevice | FileKind::BlockDevice => ino.rdev(),
                        _ => (0, 0),
                    },
                    nlink: ino.nlink,
                    xattrs,
                },
            );
        }
        Ok((nodes, nids))
    }
}

/// The dirent `file_type` of a kind.
pub fn file_type(k: FileKind) -> u8 {
    use rerofs_format::dir::file_type as ft;
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
