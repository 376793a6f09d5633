// SPDX-License-Identifier: GPL-2.0

//! `rerofs mkfs`: builds an EROFS metadata blob plus chunk-deduplicated data blobs.

use crate::tree::{mode, Content, FileSource, NodeId, Tree};
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use rerofs_format::build::{self as b, InodeCore};
use rerofs_format::dir::{file_type as ft, Dirent, DIRENT_SIZE};
use rerofs_format::superblock::{
    SuperBlock, COMPAT_MTIME, COMPAT_SB_CHKSUM, INCOMPAT_CHUNKED_FILE, INCOMPAT_DEVICE_TABLE,
};
use rerofs_format::{BLOCK_SIZE, NULL_ADDR, SUPER_OFFSET};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs;
use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

const BS: usize = BLOCK_SIZE;
const BS64: u64 = BLOCK_SIZE as u64;

/// Options of `rerofs mkfs`.
#[derive(Debug, clap::Args)]
pub struct MkfsArgs {
    /// Chunk size in bytes: a power of two, at least 4096.
    #[arg(long, default_value_t = 65536, value_parser = parse_chunk_size)]
    pub chunk_size: u64,
    /// Directory for the data blobs (named by the hex SHA-256 of their
    /// contents); default: the metadata blob's directory.
    #[arg(long)]
    pub blob_dir: Option<PathBuf>,
    /// One data blob per SOURCE instead of one shared blob (chunks already
    /// stored for an earlier layer are not stored again).
    #[arg(long)]
    pub blob_per_layer: bool,
    /// Set every inode's time (and the build time) to this UNIX time. Without it,
    /// SOURCE_DATE_EPOCH, if set, clamps newer times to itself.
    #[arg(long, short = 'T')]
    pub timestamp: Option<i64>,
    /// Filesystem UUID (default: derived from the image contents).
    #[arg(long, value_parser = parse_uuid)]
    pub uuid: Option<[u8; 16]>,
    /// Volume label (up to 16 bytes).
    #[arg(long, short = 'L')]
    pub label: Option<String>,
    /// Store all-zero chunks as (deduplicated) data instead of holes. Needed
    /// for `fsck.erofs --extract` of erofs-utils <= 1.5, which drops holes of
    /// chunk-based files when extracting; the kernel reads holes correctly.
    #[arg(long)]
    pub no_holes: bool,
    /// Do not print the summary line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Metadata blob to write.
    pub meta_blob: PathBuf,
    /// Source directories or tar layers (plain, gzip, zstd), applied in order
    /// with OCI whiteouts.
    #[arg(required = true)]
    pub sources: Vec<PathBuf>,
}

fn parse_chunk_size(s: &str) -> std::result::Result<u64, String> {
    let (num, mul) = match s.to_ascii_lowercase() {
        x if x.ends_with('k') => (x[..x.len() - 1].to_string(), 1024),
        x if x.ends_with('m') => (x[..x.len() - 1].to_string(), 1 << 20),
        x => (x, 1),
    };
    let v: u64 = num.parse().map_err(|e| format!("{s:?}: {e}"))?;
    let v = v * mul;
    if !v.is_power_of_two() || !(4096..=(1 << 30)).contains(&v) {
        return Err(format!("{v} is not a power of two between 4096 and 1 GiB"));
    }
    Ok(v)
}

fn parse_uuid(s: &str) -> std::result::Result<[u8; 16], String> {
    let hex: String = s.chars().filter(|&c| c != '-').collect();
    if hex.len() != 32 {
        return Err(format!("{s:?} is not a UUID (32 hex digits)"));
    }
    let mut u = [0u8; 16];
    for (i, byte) in u.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
            .map_err(|_| format!("{s:?} is not a UUID"))?;
    }
    Ok(u)
}

/// Content hash of one chunk, or a hole.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Chunk {
    Zero,
    Data([u8; 32], u32),
}

/// How an inode's data is stored.
enum Data {
    None,
    /// FLAT_INLINE: `blocks` full blocks in the metadata blob, then the inline tail.
    Inline {
        blocks: Vec<u8>,
        tail: Vec<u8>,
    },
    /// FLAT_PLAIN: whole blocks in the metadata blob.
    Plain(Vec<u8>),
    /// CHUNK_BASED: one entry per chunk.
    Chunked(Vec<(u32, u16)>),
}

struct Placed {
    node: NodeId,
    pos: u64,
    core: InodeCore,
    xattrs: Vec<u8>,
    data: Data,
    startblk: u32,
}

/// Converts a format-crate error (which is `no_std`) into an `anyhow` one.
pub fn fe(e: rerofs_format::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// Rounds up to a multiple of `a` (a power of two).
fn align(v: u64, a: u64) -> u64 {
    (v + a - 1) & !(a - 1)
}

fn xattr_area(xattrs: &BTreeMap<Vec<u8>, Vec<u8>>, ctx: &dyn Fn() -> String) -> Result<Vec<u8>> {
    if xattrs.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = vec![0u8; b::XATTR_IBODY_HEADER_SIZE];
    b::write_xattr_ibody_header(&mut out, 0, &[]).map_err(fe)?;
    for (name, value) in xattrs {
        let (idx, suffix): (u8, &[u8]) = if name == b"system.posix_acl_access" {
            (2, b"")
        } else if name == b"system.posix_acl_default" {
            (3, b"")
        } else if let Some(s) = name.strip_prefix(b"user.") {
            (1, s)
        } else if let Some(s) = name.strip_prefix(b"trusted.") {
            (4, s)
        } else if let Some(s) = name.strip_prefix(b"security.") {
            (6, s)
        } else {
            bail!(
                "{}: xattr {:?} has a prefix EROFS cannot store",
                ctx(),
                String::from_utf8_lossy(name)
            );
        };
        let start = out.len();
        out.resize(start + b::xattr_entry_size(suffix.len(), value.len()), 0);
        b::write_xattr_entry(&mut out[start..], idx, suffix, value).map_err(|e| {
            anyhow::anyhow!("{}: xattr {:?}: {e}", ctx(), String::from_utf8_lossy(name))
        })?;
    }
    if out.len() > BS - 64 {
        bail!(
            "{}: {} bytes of xattrs do not fit in an inode block",
            ctx(),
            out.len()
        );
    }
    Ok(out)
}

fn dirent_type(m: u32) -> u8 {
    match m & mode::S_IFMT {
        mode::S_IFREG => ft::REG,
        mode::S_IFDIR => ft::DIR,
        mode::S_IFLNK => ft::SYMLINK,
        mode::S_IFCHR => ft::CHRDEV,
        mode::S_IFBLK => ft::BLKDEV,
        mode::S_IFIFO => ft::FIFO,
        mode::S_IFSOCK => ft::SOCK,
        _ => ft::UNKNOWN,
    }
}

/// Reads the whole of a file source through `f` in `chunk`-sized pieces.
fn for_each_chunk(
    src: &FileSource,
    size: u64,
    chunk: u64,
    mut f: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    match src {
        FileSource::Bytes(v) => {
            for c in v.chunks(chunk as usize) {
                f(c)?;
            }
        }
        FileSource::Path(p) => {
            let mut file =
                fs::File::open(p).with_context(|| format!("{}: cannot open", p.display()))?;
            let mut buf = vec![0u8; chunk as usize];
            let mut off = 0u64;
            while off < size {
                let want = std::cmp::min(chunk, size - off) as usize;
                file.read_exact(&mut buf[..want]).with_context(|| {
                    format!(
                        "{}: read failed at offset {off} (file changed or unreadable)",
                        p.display()
                    )
                })?;
                f(&buf[..want])?;
                off += want as u64;
            }
        }
    }
    Ok(())
}

fn hash_chunk(c: &[u8], holes: bool) -> Chunk {
    if holes && c.iter().all(|&b| b == 0) {
        Chunk::Zero
    } else {
        Chunk::Data(Sha256::digest(c).into(), c.len() as u32)
    }
}

/// Hex of a digest.
pub fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

struct Blob {
    /// (node, chunk index) of each chunk stored, in order, and its first block.
    chunks: Vec<(NodeId, u64, u32)>,
    blocks: u32,
}

/// Runs `rerofs mkfs`.
pub fn run(a: &MkfsArgs) -> Result<()> {
    let t0 = Instant::now();
    let mut tree = Tree::new();
    for (i, s) in a.sources.iter().enumerate() {
        let md = fs::metadata(s).with_context(|| format!("{}: cannot read source", s.display()))?;
        if md.is_dir() {
            tree.apply_dir(s, i)?;
        } else {
            tree.apply_tar(s, i)?;
        }
    }

    // Times: --timestamp overrides, SOURCE_DATE_EPOCH clamps.
    let epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if a.timestamp.is_none() => Some(
            v.trim()
                .parse::<i64>()
                .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number"))?,
        ),
        _ => None,
    };
    for n in &mut tree.nodes {
        if let Some(t) = a.timestamp {
            n.mtime = t;
            n.mtime_nsec = 0;
        } else if let Some(e) = epoch {
            if n.mtime > e {
                n.mtime = e;
                n.mtime_nsec = 0;
            }
        }
        if n.mtime < 0 {
            n.mtime = 0;
            n.mtime_nsec = 0;
        }
    }

    // Inode order: breadth first from the root, names sorted; hard links once.
    let mut order: Vec<NodeId> = Vec::new();
    let mut seen: HashMap<NodeId, usize> = HashMap::new();
    let mut nlink: HashMap<NodeId, u32> = HashMap::new();
    let mut parent: HashMap<NodeId, NodeId> = HashMap::from([(0, 0)]);
    let mut queue = VecDeque::from([0usize]);
    seen.insert(0, 0);
    order.push(0);
    while let Some(d) = queue.pop_front() {
        let Content::Dir(children) = &tree.nodes[d].content else {
            continue;
        };
        let mut subdirs = 0;
        for &c in children.values() {
            *nlink.entry(c).or_default() += 1;
            if matches!(tree.nodes[c].content, Content::Dir(_)) {
                subdirs += 1;
                parent.insert(c, d);
                queue.push_back(c);
            }
            if let std::collections::hash_map::Entry::Vacant(v) = seen.entry(c) {
                v.insert(order.len());
                order.push(c);
            }
        }
        nlink.insert(d, 2 + subdirs);
    }

    let build_time = match a.timestamp {
        Some(t) => (t.max(0) as u64, 0u32),
        None => {
            let mut freq: BTreeMap<(i64, u32), usize> = BTreeMap::new();
            for &id in &order {
                *freq
                    .entry((tree.nodes[id].mtime, tree.nodes[id].mtime_nsec))
                    .or_default() += 1;
            }
            let best = freq
                .iter()
                .max_by(|x, y| x.1.cmp(y.1).then(y.0.cmp(x.0)))
                .map(|(k, _)| *k)
                .unwrap_or((0, 0));
            (best.0 as u64, best.1)
        }
    };

    // Which files are chunked; hash their chunks in parallel.
    let chunk = a.chunk_size;
    let chunkbits = (chunk.trailing_zeros() - BLOCK_SIZE.trailing_zeros()) as u8;
    let mut cores: Vec<InodeCore> = Vec::with_capacity(order.len());
    let mut xattrs: Vec<Vec<u8>> = Vec::with_capacity(order.len());
    let mut chunked: Vec<usize> = Vec::new();
    let path_of = |id: NodeId| format!("inode of source node {id}");
    for (i, &id) in order.iter().enumerate() {
        let n = &tree.nodes[id];
        let xa = xattr_area(&n.xattrs, &|| path_of(id))?;
        let size = match &n.content {
            Content::File { size, .. } => *size,
            Content::Symlink(t) => t.len() as u64,
            _ => 0,
        };
        let mut core = InodeCore {
            extended: true,
            layout: b::LAYOUT_FLAT_PLAIN,
            xattr_icount: b::xattr_icount(xa.len()).map_err(fe)?,
            mode: n.mode as u16,
            nlink: nlink[&id],
            size,
            raw_u: match n.content {
                Content::Special(r) => r,
                _ => 0,
            },
            ino: i as u32 + 1,
            uid: n.uid,
            gid: n.gid,
            mtime: n.mtime as u64,
            mtime_nsec: n.mtime_nsec,
        };
        core.extended = !core.fits_compact(build_time.0, build_time.1);
        if let Content::File { size, .. } = n.content {
            if size >= BS64 || core.core_size() + xa.len() + size as usize > BS {
                chunked.push(i);
            }
        }
        cores.push(core);
        xattrs.push(xa);
    }

    let total_in: u64 = order
        .iter()
        .map(|&id| match tree.nodes[id].content {
            Content::File { size, .. } => size,
            _ => 0,
        })
        .sum();
    let pb = if std::io::stderr().is_terminal() && !a.quiet {
        let pb = indicatif::ProgressBar::new(total_in);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:8} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb.set_message("hashing");
        Some(pb)
    } else {
        None
    };
    let holes = !a.no_holes;
    let hashes: Vec<Vec<Chunk>> = chunked
        .par_iter()
        .map(|&i| {
            let Content::File { src, size } = &tree.nodes[order[i]].content else {
                unreachable!()
            };
            let n = size.div_ceil(chunk) as usize;
            let mut v = Vec::with_capacity(n);
            for_each_chunk(src, *size, chunk, |c| {
                v.push(hash_chunk(c, holes));
                if let Some(pb) = &pb {
                    pb.inc(c.len() as u64);
                }
                Ok(())
            })?;
            Ok(v)
        })
        .collect::<Result<_>>()?;

    // Assign chunks to blobs, first occurrence wins.
    let nlayers = a.sources.len();
    let nblobs = if a.blob_per_layer { nlayers } else { 1 };
    let mut blobs: Vec<Blob> = (0..nblobs)
        .map(|_| Blob {
            chunks: Vec::new(),
            blocks: 0,
        })
        .collect();
    let mut dedup: HashMap<Chunk, (usize, u32)> = HashMap::new();
    let mut refs: Vec<Vec<(Option<usize>, u32)>> = Vec::with_capacity(chunked.len());
    for (k, &i) in chunked.iter().enumerate() {
        let id = order[i];
        let blob = if a.blob_per_layer {
            tree.nodes[id].layer
        } else {
            0
        };
        let mut r = Vec::with_capacity(hashes[k].len());
        for (ci, c) in hashes[k].iter().enumerate() {
            match c {
                Chunk::Zero => r.push((None, NULL_ADDR)),
                Chunk::Data(_, len) => {
                    let (bi, blk) = *dedup.entry(*c).or_insert_with(|| {
                        let bl = &mut blobs[blob];
                        let blk = bl.blocks;
                        bl.chunks.push((id, ci as u64, blk));
                        bl.blocks += (*len as u64).div_ceil(BS64) as u32;
                        (blob, blk)
                    });
                    r.push((Some(bi), blk));
                }
            }
        }
        refs.push(r);
    }
    // Device ids: non-empty blobs in order, from 1.
    let mut dev_of: Vec<Option<u16>> = vec![None; nblobs];
    let mut devices: Vec<usize> = Vec::new();
    for (bi, bl) in blobs.iter().enumerate() {
        if bl.blocks > 0 {
            devices.push(bi);
            dev_of[bi] = Some(devices.len() as u16);
        }
    }
    if devices.len() > 0xFFFF {
        bail!("too many data blobs");
    }

    // Write the data blobs.
    let blob_dir = match &a.blob_dir {
        Some(d) => d.clone(),
        None => a
            .meta_blob
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    if !devices.is_empty() {
        fs::create_dir_all(&blob_dir)
            .with_context(|| format!("{}: cannot create blob directory", blob_dir.display()))?;
    }
    if let Some(pb) = &pb {
        pb.set_position(0);
        pb.set_length(
            devices
                .iter()
                .map(|&bi| blobs[bi].blocks as u64 * BS64)
                .sum(),
        );
        pb.set_message("writing");
    }
    let digests: Vec<String> = devices
        .par_iter()
        .map(|&bi| write_blob(&tree, &blobs[bi], &blob_dir, chunk, pb.as_ref()))
        .collect::<Result<_>>()?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let stored: u64 = devices
        .iter()
        .map(|&bi| blobs[bi].blocks as u64 * BS64)
        .sum();

    // Lay out the metadata: superblock, device table, inodes, then flat data blocks.
    let devt_pos = (SUPER_OFFSET + 128) as u64;
    let mut pos = align(
        devt_pos + devices.len() as u64 * b::DEVICE_SLOT_SIZE as u64,
        32,
    );
    let mut placed: Vec<Placed> = Vec::with_capacity(order.len());
    let mut chunked_iter = chunked.iter().zip(refs).peekable();
    let mut any_chunked = false;
    for (i, &id) in order.iter().enumerate() {
        let n = &tree.nodes[id];
        let mut core = cores[i].clone();
        let xa = std::mem::take(&mut xattrs[i]);
        let head = core.core_size() + xa.len();
        let mut data = Data::None;
        match &n.content {
            Content::Dir(children) => {
                // Sized now; nids are filled in once every inode is placed.
                let mut names: Vec<&[u8]> = vec![b".", b".."];
                names.extend(children.keys().map(Vec::as_slice));
                names.sort();
                let ents: Vec<Dirent> = names
                    .iter()
                    .map(|n| Dirent {
                        nid: 0,
                        name: n,
                        file_type: 0,
                    })
                    .collect();
                let (full, last) = dir_split(&ents);
                let size = full as u64 * BS64 + last as u64;
                core.size = size;
                if head + last <= BS {
                    core.layout = b::LAYOUT_FLAT_INLINE;
                    data = Data::Inline {
                        blocks: vec![0; full * BS],
                        tail: vec![0; last],
                    };
                } else {
                    data = Data::Plain(vec![0; (full + 1) * BS]);
                }
            }
            Content::Symlink(t) => {
                if head + t.len() <= BS {
                    core.layout = b::LAYOUT_FLAT_INLINE;
                    data = Data::Inline {
                        blocks: Vec::new(),
                        tail: t.clone(),
                    };
                } else {
                    let mut v = t.clone();
                    v.resize(BS, 0);
                    data = Data::Plain(v);
                }
            }
            Content::File { src, size } => {
                if chunked_iter.peek().is_some_and(|(&ci, _)| ci == i) {
                    let (_, r) = chunked_iter.next().expect("peeked");
                    core.layout = b::LAYOUT_CHUNK_BASED;
                    core.raw_u = b::chunk_info(chunkbits, true).map_err(fe)?;
                    any_chunked = true;
                    data = Data::Chunked(
                        r.into_iter()
                            .map(|(bi, blk)| (blk, bi.and_then(|bi| dev_of[bi]).unwrap_or(0)))
                            .collect(),
                    );
                } else if *size > 0 {
                    core.layout = b::LAYOUT_FLAT_INLINE;
                    let mut v = Vec::with_capacity(*size as usize);
                    for_each_chunk(src, *size, chunk, |c| {
                        v.extend_from_slice(c);
                        Ok(())
                    })?;
                    data = Data::Inline {
                        blocks: Vec::new(),
                        tail: v,
                    };
                }
            }
            Content::Special(_) => {}
        }
        let inline = match &data {
            Data::Inline { tail, .. } => tail.len(),
            _ => 0,
        };
        if (pos % BS64) as usize + head + inline > BS {
            pos = align(pos, BS64);
        }
        let footprint = match &data {
            Data::Chunked(v) => {
                b::chunk_array_pos(pos, core.core_size(), xa.len(), 8).expect("small") - pos
                    + 8 * v.len() as u64
            }
            _ => (head + inline) as u64,
        };
        placed.push(Placed {
            node: id,
            pos,
            core,
            xattrs: xa,
            data,
            startblk: 0,
        });
        pos = align(pos + footprint, 32);
    }
    let nid_of: HashMap<NodeId, u64> = placed.iter().map(|p| (p.node, p.pos / 32)).collect();
    if nid_of[&0] > u16::MAX as u64 {
        bail!("root inode placed beyond nid 65535");
    }
    let mut blk = align(pos, BS64) / BS64;
    for p in &mut placed {
        let nb = match &p.data {
            Data::Inline { blocks, .. } => blocks.len() / BS,
            Data::Plain(v) => v.len() / BS,
            _ => 0,
        };
        if nb > 0 {
            p.startblk = u32::try_from(blk).context("metadata blob larger than 2^32 blocks")?;
            p.core.raw_u = p.startblk;
            blk += nb as u64;
        }
    }
    let total_blocks = u32::try_from(blk).context("metadata blob larger than 2^32 blocks")?;
    let mut img = vec![0u8; blk as usize * BS];

    // Directory contents, now that nids are known.
    for p in &mut placed {
        let Content::Dir(children) = &tree.nodes[p.node].content else {
            continue;
        };
        let mut ents: Vec<Dirent> = vec![
            Dirent {
                nid: nid_of[&p.node],
                name: b".",
                file_type: ft::DIR,
            },
            Dirent {
                nid: nid_of[&parent[&p.node]],
                name: b"..",
                file_type: ft::DIR,
            },
        ];
        for (name, &c) in children {
            ents.push(Dirent {
                nid: nid_of[&c],
                name,
                file_type: dirent_type(tree.nodes[c].mode),
            });
        }
        ents.sort_by(|x, y| x.name.cmp(y.name));
        let mut bytes = Vec::new();
        let mut rest = &ents[..];
        while !rest.is_empty() {
            let k = b::dirents_fitting(rest, BS);
            let mut blkbuf = vec![0u8; BS];
            let used = b::write_dir_block(&mut blkbuf, &rest[..k]).map_err(fe)?;
            rest = &rest[k..];
            if rest.is_empty() {
                blkbuf.truncate(used);
            }
            bytes.extend_from_slice(&blkbuf);
        }
        match &mut p.data {
            Data::Inline { blocks, tail } => {
                let full = blocks.len();
                blocks.copy_from_slice(&bytes[..full]);
                tail.copy_from_slice(&bytes[full..]);
            }
            Data::Plain(v) => v[..bytes.len()].copy_from_slice(&bytes),
            _ => unreachable!(),
        }
    }

    // Device table.
    for (k, &bi) in devices.iter().enumerate() {
        let off = devt_pos as usize + k * b::DEVICE_SLOT_SIZE;
        b::write_device_slot(&mut img[off..], digests[k].as_bytes(), blobs[bi].blocks, 0)
            .map_err(fe)?;
    }
    // Inodes.
    for p in &placed {
        let at = p.pos as usize;
        let c = b::write_inode(&mut img[at..], &p.core).map_err(fe)?;
        img[at + c..at + c + p.xattrs.len()].copy_from_slice(&p.xattrs);
        let after = at + c + p.xattrs.len();
        match &p.data {
            Data::Inline { blocks, tail } => {
                img[after..after + tail.len()].copy_from_slice(tail);
                let s = p.startblk as usize * BS;
                img[s..s + blocks.len()].copy_from_slice(blocks);
            }
            Data::Plain(v) => {
                let s = p.startblk as usize * BS;
                img[s..s + v.len()].copy_from_slice(v);
            }
            Data::Chunked(v) => {
                let arr = b::chunk_array_pos(p.pos, p.core.core_size(), p.xattrs.len(), 8)
                    .expect("small") as usize;
                for (k, &(blk, dev)) in v.iter().enumerate() {
                    b::write_chunk_index(&mut img[arr + 8 * k..], blk, dev).map_err(fe)?;
                }
            }
            Data::None => {}
        }
    }

    let mut volume_name = [0u8; 16];
    if let Some(l) = &a.label {
        if l.len() > 16 {
            bail!("volume label {l:?} is longer than 16 bytes");
        }
        volume_name[..l.len()].copy_from_slice(l.as_bytes());
    }
    let mut sb = SuperBlock {
        feature_compat: COMPAT_SB_CHKSUM | COMPAT_MTIME,
        feature_incompat: if any_chunked {
            INCOMPAT_CHUNKED_FILE
        } else {
            0
        } | if devices.is_empty() {
            0
        } else {
            INCOMPAT_DEVICE_TABLE
        },
        root_nid: nid_of[&0],
        inos: order.len() as u64,
        build_time: build_time.0,
        build_time_nsec: build_time.1,
        blocks: total_blocks,
        meta_blkaddr: 0,
        xattr_blkaddr: 0,
        uuid: [0; 16],
        volume_name,
        extra_devices: devices.len() as u16,
        devt_slotoff: if devices.is_empty() {
            0
        } else {
            (devt_pos / 128) as u16
        },
        xattr_prefix_count: 0,
        xattr_prefix_start: 0,
        xattr_filter_reserved: 0,
        packed_nid: 0,
    };
    b::write_superblock(&mut img[..BS], &sb).map_err(fe)?;
    sb.uuid = match a.uuid {
        Some(u) => u,
        None => {
            let d = Sha256::digest(&img);
            let mut u = [0u8; 16];
            u.copy_from_slice(&d[..16]);
            u[6] = (u[6] & 0x0f) | 0x50; // name-based (version 5 style) marker
            u[8] = (u[8] & 0x3f) | 0x80;
            u
        }
    };
    b::write_superblock(&mut img[..BS], &sb).map_err(fe)?;

    let tmp = tmp_path(&a.meta_blob);
    {
        let mut f =
            fs::File::create(&tmp).with_context(|| format!("{}: cannot create", tmp.display()))?;
        f.write_all(&img)
            .with_context(|| format!("{}: write failed", tmp.display()))?;
        f.sync_all().ok();
    }
    fs::rename(&tmp, &a.meta_blob)
        .with_context(|| format!("{}: cannot rename into place", a.meta_blob.display()))?;

    if !a.quiet {
        let files = order
            .iter()
            .filter(|&&id| matches!(tree.nodes[id].content, Content::File { .. }))
            .count();
        let ratio = if stored == 0 {
            0.0
        } else {
            total_in as f64 / stored as f64
        };
        println!(
            "rerofs mkfs: {} inodes ({} files), {} bytes in, {} bytes stored in {} blob(s) + {} metadata bytes, dedup ratio {:.2}, {:.2}s",
            order.len(),
            files,
            total_in,
            stored,
            devices.len(),
            img.len(),
            ratio,
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Splits sorted dirents into blocks: returns (full blocks, bytes used in the last).
fn dir_split(ents: &[Dirent]) -> (usize, usize) {
    let mut rest = ents;
    let mut full = 0;
    loop {
        let k = b::dirents_fitting(rest, BS).max(1);
        if k == rest.len() {
            return (full, rest.iter().map(|e| DIRENT_SIZE + e.name.len()).sum());
        }
        rest = &rest[k..];
        full += 1;
    }
}

fn tmp_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(format!(".tmp.{}", std::process::id()));
    PathBuf::from(s)
}

/// Writes one data blob as `dir/<sha256 hex>`; returns the hex digest. A blob
/// already present under that name (same contents by construction) is kept.
fn write_blob(
    tree: &Tree,
    blob: &Blob,
    dir: &Path,
    chunk: u64,
    pb: Option<&indicatif::ProgressBar>,
) -> Result<String> {
    let tmp = dir.join(format!(
        ".rerofs-blob.tmp.{}.{}",
        std::process::id(),
        blob.chunks.first().map_or(0, |c| c.0)
    ));
    let mut f = std::io::BufWriter::new(
        fs::File::create(&tmp).with_context(|| format!("{}: cannot create", tmp.display()))?,
    );
    let mut h = Sha256::new();
    let mut open: Option<(NodeId, fs::File)> = None;
    let zero = vec![0u8; BS];
    let mut written = 0u64;
    let mut buf = vec![0u8; chunk as usize];
    for &(id, ci, blk) in &blob.chunks {
        debug_assert_eq!(written, blk as u64 * BS64);
        let Content::File { src, size } = &tree.nodes[id].content else {
            unreachable!()
        };
        let off = ci * chunk;
        let len = std::cmp::min(chunk, size - off) as usize;
        let data: &[u8] = match src {
            FileSource::Bytes(v) => &v[off as usize..off as usize + len],
            FileSource::Path(p) => {
                if open.as_ref().map(|o| o.0) != Some(id) {
                    open = Some((
                        id,
                        fs::File::open(p)
                            .with_context(|| format!("{}: cannot open", p.display()))?,
                    ));
                }
                let file = &mut open.as_mut().expect("opened").1;
                file.seek(SeekFrom::Start(off))?;
                file.read_exact(&mut buf[..len]).with_context(|| {
                    format!(
                        "{}: read failed at offset {off} (file changed?)",
                        p.display()
                    )
                })?;
                &buf[..len]
            }
        };
        f.write_all(data)
            .with_context(|| format!("{}: write failed", tmp.display()))?;
        h.update(data);
        let pad = (BS - len % BS) % BS;
        f.write_all(&zero[..pad])?;
        h.update(&zero[..pad]);
        written += (len + pad) as u64;
        if let Some(pb) = pb {
            pb.inc((len + pad) as u64);
        }
    }
    f.flush()
        .with_context(|| format!("{}: write failed", tmp.display()))?;
    drop(f);
    let hexd = hex(&h.finalize());
    let dst = dir.join(&hexd);
    if fs::metadata(&dst)
        .map(|m| m.len() == written)
        .unwrap_or(false)
    {
        fs::remove_file(&tmp).ok();
    } else {
        fs::rename(&tmp, &dst)
            .with_context(|| format!("{}: cannot rename into place", dst.display()))?;
    }
    Ok(hexd)
}
