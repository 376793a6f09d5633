// SPDX-License-Identifier: GPL-2.0

//! The in-memory file tree `mkfs` builds from its sources (directories and
//! tar layers, applied in order with OCI whiteouts).

use anyhow::{bail, Context, Result};
use std::collections::{BTreeMap, HashMap};
use std::ffi::{CString, OsStr};
use std::fs;
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Longest name an EROFS directory entry may hold.
pub const NAME_MAX: usize = rerofs_format::NAME_LEN;

/// Index of a node in [`Tree::nodes`].
pub type NodeId = usize;

/// Where a regular file's bytes come from.
#[derive(Debug, Clone)]
pub enum FileSource {
    /// A file on disk, read when the image is written.
    Path(PathBuf),
    /// Bytes held in memory (a tar member).
    Bytes(std::sync::Arc<Vec<u8>>),
}

/// What a node is.
#[derive(Debug, Clone)]
pub enum Content {
    /// A directory: name → child.
    Dir(BTreeMap<Vec<u8>, NodeId>),
    /// A regular file of `size` bytes.
    File { src: FileSource, size: u64 },
    /// A symbolic link and its target.
    Symlink(Vec<u8>),
    /// A character or block device, FIFO or socket: the encoded rdev (0 for the last two).
    Special(u32),
}

/// One inode of the tree.
#[derive(Debug, Clone)]
pub struct Node {
    /// Full mode: type and permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds.
    pub mtime: i64,
    /// Nanoseconds of `mtime`.
    pub mtime_nsec: u32,
    /// Extended attributes: full name → value, sorted.
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Kind and data.
    pub content: Content,
    /// Layer (source index) the node came from.
    pub layer: usize,
}

/// A file tree: `nodes[0]` is the root directory.
#[derive(Debug, Default)]
pub struct Tree {
    /// All nodes; hard links are several directory entries naming one node.
    pub nodes: Vec<Node>,
}

/// `S_IFMT` and friends, as `u32`.
pub mod mode {
    /// File type mask.
    pub const S_IFMT: u32 = 0o170000;
    /// Directory.
    pub const S_IFDIR: u32 = 0o040000;
    /// Regular file.
    pub const S_IFREG: u32 = 0o100000;
    /// Symbolic link.
    pub const S_IFLNK: u32 = 0o120000;
    /// Character device.
    pub const S_IFCHR: u32 = 0o020000;
    /// Block device.
    pub const S_IFBLK: u32 = 0o060000;
    /// FIFO.
    pub const S_IFIFO: u32 = 0o010000;
    /// Socket.
    pub const S_IFSOCK: u32 = 0o140000;
}

/// Checks a single path component from a source: not empty, no `/`, not `.`
/// or `..`, at most 255 bytes.
pub fn check_name(name: &[u8], ctx: &dyn Fn() -> String) -> Result<()> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
    {
        bail!(
            "{}: invalid file name {:?}",
            ctx(),
            String::from_utf8_lossy(name)
        );
    }
    if name.len() > NAME_MAX {
        bail!(
            "{}: file name is {} bytes, longer than the {NAME_MAX}-byte limit",
            ctx(),
            name.len()
        );
    }
    Ok(())
}

/// Reads all extended attributes of `path` (not following symlinks).
pub fn read_xattrs(path: &Path) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let c = CString::new(path.as_os_str().as_bytes())?;
    let mut out = BTreeMap::new();
    // SAFETY: `c` is a valid NUL-terminated path; a null buffer with size 0 asks for the size.
    let n = unsafe { libc::llistxattr(c.as_ptr(), std::ptr::null_mut(), 0) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOTSUP) {
            return Ok(out);
        }
        return Err(e).with_context(|| format!("{}: listing xattrs", path.display()));
    }
    let mut names = vec![0u8; n as usize];
    // SAFETY: `names` has room for `names.len()` bytes.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n < 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("{}: listing xattrs", path.display()));
    }
    names.truncate(n as usize);
    for name in names.split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let cn = CString::new(name)?;
        // SAFETY: valid C strings; null buffer asks for the size.
        let len = unsafe { libc::lgetxattr(c.as_ptr(), cn.as_ptr(), std::ptr::null_mut(), 0) };
        if len < 0 {
            return Err(std::io::Error::last_os_error()).with_context(|| {
                format!(
                    "{}: reading xattr {}",
                    path.display(),
                    String::from_utf8_lossy(name)
                )
            });
        }
        let mut v = vec![0u8; len as usize];
        // SAFETY: `v` has room for `v.len()` bytes.
        let len =
            unsafe { libc::lgetxattr(c.as_ptr(), cn.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
        if len < 0 {
            return Err(std::io::Error::last_os_error()).with_context(|| {
                format!(
                    "{}: reading xattr {}",
                    path.display(),
                    String::from_utf8_lossy(name)
                )
            });
        }
        v.truncate(len as usize);
        out.insert(name.to_vec(), v);
    }
    Ok(out)
}

/// Linux `new_encode_dev`.
pub fn encode_dev(rdev: u64) -> u32 {
    let major = libc::major(rdev);
    let minor = libc::minor(rdev);
    rerofs_format::build::encode_rdev(major, minor)
}

/// A tar hard link waiting for its target: (link path, target path, context).
type PendingLink = (Vec<Vec<u8>>, Vec<Vec<u8>>, String);

const WH_PREFIX: &[u8] = b".wh.";
const WH_OPAQUE: &[u8] = b".wh..wh..opq";

impl Tree {
    /// A tree holding only a root directory with the given metadata.
    pub fn new() -> Self {
        Tree {
            nodes: vec![Node {
                mode: mode::S_IFDIR | 0o755,
                uid: 0,
                gid: 0,
                mtime: 0,
                mtime_nsec: 0,
                xattrs: BTreeMap::new(),
                content: Content::Dir(BTreeMap::new()),
                layer: 0,
            }],
        }
    }

    fn add(&mut self, n: Node) -> NodeId {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn dir_mut(&mut self, id: NodeId) -> &mut BTreeMap<Vec<u8>, NodeId> {
        match &mut self.nodes[id].content {
            Content::Dir(d) => d,
            _ => unreachable!("node {id} is not a directory"),
        }
    }

    /// Child `name` of directory `dir`.
    pub fn child(&self, dir: NodeId, name: &[u8]) -> Option<NodeId> {
        match &self.nodes[dir].content {
            Content::Dir(d) => d.get(name).copied(),
            _ => None,
        }
    }

    /// Applies a directory as a layer: its entries are merged over the tree,
    /// with `.wh.NAME` deleting NAME and `.wh..wh..opq` emptying the directory
    /// first. The source root's metadata becomes the root's.
    pub fn apply_dir(&mut self, root: &Path, layer: usize) -> Result<()> {
        let md = fs::symlink_metadata(root)
            .with_context(|| format!("{}: cannot read source", root.display()))?;
        if !md.is_dir() {
            bail!("{}: not a directory", root.display());
        }
        let mut links: HashMap<(u64, u64), NodeId> = HashMap::new();
        let meta = self.node_from_fs(root, &md, layer)?;
        let r = &mut self.nodes[0];
        r.mode = meta.mode;
        r.uid = meta.uid;
        r.gid = meta.gid;
        r.mtime = meta.mtime;
        r.mtime_nsec = meta.mtime_nsec;
        r.xattrs = meta.xattrs;
        self.merge_dir(root, 0, layer, &mut links)
    }

    fn node_from_fs(&self, path: &Path, md: &fs::Metadata, layer: usize) -> Result<Node> {
        let m = md.mode();
        let content = match m & mode::S_IFMT {
            mode::S_IFDIR => Content::Dir(BTreeMap::new()),
            mode::S_IFREG => Content::File {
                src: FileSource::Path(path.to_path_buf()),
                size: md.len(),
            },
            mode::S_IFLNK => {
                let t = fs::read_link(path)
                    .with_context(|| format!("{}: reading symlink", path.display()))?;
                let t = t.into_os_string().into_vec();
                if t.len() > 4095 {
                    bail!("{}: symlink target longer than 4095 bytes", path.display());
                }
                Content::Symlink(t)
            }
            mode::S_IFCHR | mode::S_IFBLK => Content::Special(encode_dev(md.rdev())),
            mode::S_IFIFO | mode::S_IFSOCK => Content::Special(0),
            other => bail!("{}: unsupported file type {other:#o}", path.display()),
        };
        Ok(Node {
            mode: m,
            uid: md.uid(),
            gid: md.gid(),
            mtime: md.mtime(),
            mtime_nsec: md.mtime_nsec() as u32,
            xattrs: read_xattrs(path)?,
            content,
            layer,
        })
    }

    fn merge_dir(
        &mut self,
        src: &Path,
        dir: NodeId,
        layer: usize,
        links: &mut HashMap<(u64, u64), NodeId>,
    ) -> Result<()> {
        let mut names: Vec<Vec<u8>> = Vec::new();
        for e in fs::read_dir(src)
            .with_context(|| format!("{}: cannot list directory", src.display()))?
        {
            let e = e.with_context(|| format!("{}: cannot list directory", src.display()))?;
            names.push(e.file_name().as_bytes().to_vec());
        }
        names.sort();
        // Whiteouts first, so that a layer's own entries survive its opaque marker.
        if names.iter().any(|n| n == WH_OPAQUE) {
            self.dir_mut(dir).clear();
        }
        for n in &names {
            if n != WH_OPAQUE && n.starts_with(WH_PREFIX) {
                let victim = &n[WH_PREFIX.len()..];
                check_name(victim, &|| {
                    src.join(OsStr::from_bytes(n)).display().to_string()
                })?;
                self.dir_mut(dir).remove(victim);
            }
        }
        for n in names {
            if n.starts_with(WH_PREFIX) {
                continue;
            }
            let path = src.join(OsStr::from_bytes(&n));
            check_name(&n, &|| path.display().to_string())?;
            let md = fs::symlink_metadata(&path)
                .with_context(|| format!("{}: cannot stat", path.display()))?;
            let existing = self.child(dir, &n);
            if md.is_dir() {
                let meta = self.node_from_fs(&path, &md, layer)?;
                let id = match existing {
                    Some(id) if matches!(self.nodes[id].content, Content::Dir(_)) => {
                        let keep = std::mem::replace(
                            &mut self.nodes[id].content,
                            Content::Dir(BTreeMap::new()),
                        );
                        self.nodes[id] = Node {
                            content: keep,
                            ..meta
                        };
                        id
                    }
                    _ => {
                        let id = self.add(meta);
                        self.dir_mut(dir).insert(n.clone(), id);
                        id
                    }
                };
                self.merge_dir(&path, id, layer, links)?;
                continue;
            }
            let key = (md.dev(), md.ino());
            let id = match links.get(&key) {
                Some(&id) if md.nlink() > 1 => id,
                _ => {
                    let node = self.node_from_fs(&path, &md, layer)?;
                    let id = self.add(node);
                    if md.nlink() > 1 {
                        links.insert(key, id);
                    }
                    id
                }
            };
            self.dir_mut(dir).insert(n, id);
        }
        Ok(())
    }

    /// Applies a tar layer (plain, gzip or zstd, detected by magic), with OCI
    /// whiteouts. Member paths must stay inside the root. The layer is read
    /// whole first, then merged: its whiteouts and opaque markers hide only
    /// what lower layers supplied, wherever they stand in the archive.
    pub fn apply_tar(&mut self, path: &Path, layer: usize) -> Result<()> {
        let mut f = crate::util::open(path)?;
        let mut magic = [0u8; 4];
        let got = f
            .read(&mut magic)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        drop(f);
        let f = crate::util::open(path)?;
        let reader: Box<dyn Read> = if got >= 2 && magic[..2] == [0x1f, 0x8b] {
            Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
                f,
            )))
        } else if got == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] {
            Box::new(
                zstd::stream::read::Decoder::new(f)
                    .with_context(|| format!("{}: zstd", path.display()))?,
            )
        } else {
            Box::new(std::io::BufReader::new(f))
        };
        let mut ar = tar::Archive::new(reader);
        let mut links: Vec<PendingLink> = Vec::new();
        let mut top = LayerDir::default();
        let entries = ar
            .entries()
            .with_context(|| format!("{}: not a tar archive", path.display()))?;
        for e in entries {
            let mut e = e.with_context(|| format!("{}: corrupt tar archive", path.display()))?;
            let off = e.raw_header_position();
            let raw = e.path_bytes().into_owned();
            let ctx = || {
                format!(
                    "{}: member {:?} at offset {off}",
                    path.display(),
                    String::from_utf8_lossy(&raw)
                )
            };
            let comps = tar_components(&raw, &ctx)?;
            let h = e.header().clone();
            let et = h.entry_type();
            if matches!(
                et,
                tar::EntryType::XGlobalHeader
                    | tar::EntryType::XHeader
                    | tar::EntryType::GNULongName
                    | tar::EntryType::GNULongLink
            ) {
                continue;
            }
            let Some((name, parents)) = comps.split_last() else {
                // The root itself ("./"): take its metadata.
                if et.is_dir() {
                    top.meta = Some(tar_node(
                        &h,
                        &mut e,
                        layer,
                        Content::Dir(BTreeMap::new()),
                        &ctx,
                    )?);
                }
                continue;
            };
            let dir = top.walk(parents, &ctx)?;
            if name.as_slice() == WH_OPAQUE {
                dir.opaque = true;
                continue;
            }
            if let Some(victim) = name.strip_prefix(WH_PREFIX) {
                check_name(victim, &ctx)?;
                dir.whiteouts.insert(victim.to_vec());
                continue;
            }
            if et.is_hard_link() {
                let target = e
                    .link_name_bytes()
                    .with_context(|| format!("{}: hard link without target", ctx()))?
                    .into_owned();
                let tcomps = tar_components(&target, &ctx)?;
                if tcomps.is_empty() {
                    bail!("{}: hard link to the root directory", ctx());
                }
                links.push((comps.clone(), tcomps, ctx()));
                dir.entries
                    .insert(name.clone(), LayerEntry::Link(links.len() - 1));
                continue;
            }
            let content = if et.is_dir() {
                Content::Dir(BTreeMap::new())
            } else if et.is_file() || et == tar::EntryType::Continuous {
                let mut data = Vec::with_capacity(h.size().unwrap_or(0) as usize);
                e.read_to_end(&mut data)
                    .with_context(|| format!("{}: reading data", ctx()))?;
                let size = data.len() as u64;
                Content::File {
                    src: FileSource::Bytes(std::sync::Arc::new(data)),
                    size,
                }
            } else if et.is_symlink() {
                let t = e
                    .link_name_bytes()
                    .with_context(|| format!("{}: symlink without target", ctx()))?
                    .into_owned();
                if t.is_empty() || t.len() > 4095 {
                    bail!(
                        "{}: symlink target length {} is not 1..=4095",
                        ctx(),
                        t.len()
                    );
                }
                Content::Symlink(t)
            } else if et.is_character_special() || et.is_block_special() {
                let major = h.device_major().ok().flatten().unwrap_or(0);
                let minor = h.device_minor().ok().flatten().unwrap_or(0);
                Content::Special(rerofs_format::build::encode_rdev(major, minor))
            } else if et.is_fifo() {
                Content::Special(0)
            } else {
                bail!("{}: unsupported tar entry type {:?}", ctx(), et);
            };
            let node = tar_node(&h, &mut e, layer, content, &ctx)?;
            if matches!(node.content, Content::Dir(_)) {
                match dir.entries.get_mut(name.as_slice()) {
                    Some(LayerEntry::Dir(d)) => d.meta = Some(node),
                    _ => {
                        let d = LayerDir {
                            meta: Some(node),
                            ctx: ctx(),
                            ..LayerDir::default()
                        };
                        dir.entries.insert(name.clone(), LayerEntry::Dir(d));
                    }
                }
            } else {
                // Nodes are created in member order: the order of the layer's blob.
                let id = self.add(node);
                dir.entries.insert(name.clone(), LayerEntry::Node(id));
            }
        }

        if let Some(meta) = top.meta.take() {
            let keep = std::mem::replace(&mut self.nodes[0].content, Content::Dir(BTreeMap::new()));
            self.nodes[0] = Node {
                content: keep,
                ..meta
            };
        }
        let mut pending: Vec<(NodeId, Vec<u8>, usize)> = Vec::new();
        self.merge_layer(top, 0, layer, &mut pending)?;
        pending.sort_by_key(|p| p.2);
        for (dir, name, k) in pending {
            let (_, target, ctx) = &links[k];
            let Some(id) = self.lookup(target) else {
                bail!("{ctx}: hard link target does not exist");
            };
            if matches!(self.nodes[id].content, Content::Dir(_)) {
                bail!("{ctx}: hard link to a directory");
            }
            self.dir_mut(dir).insert(name, id);
        }
        Ok(())
    }

    /// Merges one directory of a tar layer into directory `dir`: opaque
    /// marker and whiteouts first (they hide lower layers only), then the
    /// layer's own entries. Hard links are left in `pending`.
    fn merge_layer(
        &mut self,
        ld: LayerDir,
        dir: NodeId,
        layer: usize,
        pending: &mut Vec<(NodeId, Vec<u8>, usize)>,
    ) -> Result<()> {
        if ld.opaque {
            self.dir_mut(dir).clear();
        }
        for v in &ld.whiteouts {
            self.dir_mut(dir).remove(v);
        }
        for (name, e) in ld.entries {
            match e {
                LayerEntry::Node(id) => {
                    self.dir_mut(dir).insert(name, id);
                }
                LayerEntry::Link(k) => pending.push((dir, name, k)),
                LayerEntry::Dir(mut sub) => {
                    let existing = self
                        .child(dir, &name)
                        .filter(|&id| matches!(self.nodes[id].content, Content::Dir(_)));
                    let id = match (existing, sub.meta.take()) {
                        (Some(id), Some(meta)) => {
                            let keep = std::mem::replace(
                                &mut self.nodes[id].content,
                                Content::Dir(BTreeMap::new()),
                            );
                            self.nodes[id] = Node {
                                content: keep,
                                ..meta
                            };
                            id
                        }
                        (Some(id), None) => id,
                        (None, meta) => {
                            if meta.is_none() && self.child(dir, &name).is_some() {
                                // Never write through a lower symlink or file.
                                bail!(
                                    "{}: parent {:?} is not a directory",
                                    sub.ctx,
                                    String::from_utf8_lossy(&name)
                                );
                            }
                            let n = meta.unwrap_or_else(|| {
                                let mut n = self.nodes[0].clone();
                                n.mode = mode::S_IFDIR | 0o755;
                                n.content = Content::Dir(BTreeMap::new());
                                n.xattrs.clear();
                                n.layer = layer;
                                n
                            });
                            let id = self.add(n);
                            self.dir_mut(dir).insert(name, id);
                            id
                        }
                    };
                    self.merge_layer(sub, id, layer, pending)?;
                }
            }
        }
        Ok(())
    }

    fn lookup(&self, comps: &[Vec<u8>]) -> Option<NodeId> {
        let mut cur = 0;
        for c in comps {
            cur = self.child(cur, c)?;
        }
        Some(cur)
    }
}

/// One directory of a tar layer as the layer gives it, before merging.
#[derive(Default)]
struct LayerDir {
    /// The directory's own member, if the layer has one.
    meta: Option<Node>,
    /// An opaque marker (`.wh..wh..opq`) is present.
    opaque: bool,
    /// Names whited out (`.wh.NAME`).
    whiteouts: std::collections::BTreeSet<Vec<u8>>,
    /// The layer's own entries.
    entries: BTreeMap<Vec<u8>, LayerEntry>,
    /// The member that first needed this directory (for errors).
    ctx: String,
}

enum LayerEntry {
    Dir(LayerDir),
    /// A non-directory node.
    Node(NodeId),
    /// A hard link: index into the pending links.
    Link(usize),
}

impl LayerDir {
    /// The layer directory at `comps`, created (implicit) as needed; a
    /// non-directory member on the way is an error.
    fn walk(&mut self, comps: &[Vec<u8>], ctx: &dyn Fn() -> String) -> Result<&mut LayerDir> {
        let mut d = self;
        for c in comps {
            let e = d.entries.entry(c.clone()).or_insert_with(|| {
                LayerEntry::Dir(LayerDir {
                    ctx: ctx(),
                    ..LayerDir::default()
                })
            });
            d = match e {
                LayerEntry::Dir(x) => x,
                _ => bail!(
                    "{}: parent {:?} is not a directory",
                    ctx(),
                    String::from_utf8_lossy(c)
                ),
            };
        }
        Ok(d)
    }
}

/// Splits a tar member path into components, refusing absolute paths, `..`
/// and over-long names: nothing may land outside the root.
fn tar_components(raw: &[u8], ctx: &dyn Fn() -> String) -> Result<Vec<Vec<u8>>> {
    if raw.first() == Some(&b'/') {
        bail!("{}: absolute path in archive", ctx());
    }
    let comps: Vec<&[u8]> = raw
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    let mut out = Vec::with_capacity(comps.len());
    for (k, c) in comps.iter().enumerate() {
        if *c == b".." {
            bail!("{}: path escapes the root (contains \"..\")", ctx());
        }
        // A whiteout names a file of up to 255 bytes, so may itself be longer.
        let named = match c.strip_prefix(WH_PREFIX) {
            Some(victim) if k + 1 == comps.len() && *c != WH_OPAQUE => victim,
            _ => c,
        };
        check_name(named, ctx)?;
        out.push(c.to_vec());
    }
    Ok(out)
}

fn tar_node<R: Read>(
    h: &tar::Header,
    e: &mut tar::Entry<'_, R>,
    layer: usize,
    content: Content,
    ctx: &dyn Fn() -> String,
) -> Result<Node> {
    let ftype = match &content {
        Content::Dir(_) => mode::S_IFDIR,
        Content::File { .. } => mode::S_IFREG,
        Content::Symlink(_) => mode::S_IFLNK,
        Content::Special(_) => {
            let et = h.entry_type();
            if et.is_character_special() {
                mode::S_IFCHR
            } else if et.is_block_special() {
                mode::S_IFBLK
            } else {
                mode::S_IFIFO
            }
        }
    };
    let perm = h.mode().with_context(|| format!("{}: bad mode", ctx()))? & 0o7777;
    let mut mtime = h.mtime().with_context(|| format!("{}: bad mtime", ctx()))? as i64;
    let mut nsec = 0u32;
    let mut xattrs = BTreeMap::new();
    if let Ok(Some(exts)) = e.pax_extensions() {
        for ext in exts.flatten() {
            let k = ext.key_bytes();
            if let Some(name) = k.strip_prefix(b"SCHILY.xattr.") {
                xattrs.insert(name.to_vec(), ext.value_bytes().to_vec());
            } else if k == b"mtime" {
                let v = String::from_utf8_lossy(ext.value_bytes()).into_owned();
                let (s, f) = v.split_once('.').unwrap_or((&v, ""));
                if let Ok(s) = s.parse::<i64>() {
                    mtime = s;
                    let mut f = f.to_string();
                    f.truncate(9);
                    while f.len() < 9 {
                        f.push('0');
                    }
                    nsec = f.parse().unwrap_or(0);
                }
            }
        }
    }
    let uid = h.uid().with_context(|| format!("{}: bad uid", ctx()))?;
    let gid = h.gid().with_context(|| format!("{}: bad gid", ctx()))?;
    Ok(Node {
        mode: ftype | perm,
        uid: u32::try_from(uid).with_context(|| format!("{}: uid {uid} too large", ctx()))?,
        gid: u32::try_from(gid).with_context(|| format!("{}: gid {gid} too large", ctx()))?,
        mtime,
        mtime_nsec: nsec,
        xattrs,
        content,
        layer,
    })
}
