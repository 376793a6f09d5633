// SPDX-License-Identifier: GPL-2.0

//! `rerofs mkfs`: builds an EROFS metadata blob plus chunk-deduplicated data
//! blobs. `run` calls one function per phase: check the outputs, load the
//! sources, order the inodes, hash the chunks, assign them to blobs, write the
//! blobs (`blobs.rs`), lay out and fill the metadata, seal it, report.

mod blobs;

use crate::crypt::{key_check, load_key, put_key_check, wrap, ChunkKeys, Key32};
use crate::tree::{mode, Content, FileSource, Node, NodeId, Tree};
use crate::util::{align, fe, hex, progress_bar, write_atomically};
use crate::verity::{build_tree, fmt_digest, trailer_descriptor, Sha256Hasher, Signer};
use anyhow::{bail, Context, Result};
use blobs::{place_blobs, Blob, Fate, PlacedBlob};
use rayon::prelude::*;
use rerofs_format::build::{self as b, InodeCore};
use rerofs_format::dir::{file_type as ft, Dirent, DIRENT_SIZE};
use rerofs_format::encrypt::{
    DevRecord, Header, DEVREC_SIZE, ENTRY_SIZE, HEADER_POS, HEADER_SIZE, INCOMPAT_RERO_ENCRYPTED,
    MAP_ENTRY_SIZE, NO_ENTRY,
};
use rerofs_format::inode::EXTENDED_SIZE;
use rerofs_format::superblock::{
    SuperBlock, COMPAT_MTIME, COMPAT_SB_CHKSUM, INCOMPAT_CHUNKED_FILE, INCOMPAT_DEVICE_TABLE,
};
use rerofs_format::verity::{parse_hex_digest, COMPAT_RERO_SLOT_ROOT, COMPAT_RERO_VERITY};
use rerofs_format::{BLOCK_SIZE, NULL_ADDR, SUPER_OFFSET};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

const BS: usize = BLOCK_SIZE;
const BS64: u64 = BLOCK_SIZE as u64;

/// How `rerofs mkfs` places file data, in detail (shown by `--help`).
const MKFS_LONG_HELP: &str = "\
DATA BLOBS:
  A regular file of 4096 bytes or more, or a smaller one that would not fit
  inline in its inode block with a 64-byte inode core, is a chunk-based file:
  it is cut into --chunk-size chunks and each distinct chunk (by SHA-256 and
  length) is stored once, in the first blob that needs it, padded to a
  4096-byte block. All-zero chunks are holes and not stored (unless
  --no-holes). Other files are stored inline in the metadata blob. Each blob
  is written as BLOB_DIR/<digest>, and its device slot's tag is the same 64
  hex digits. A blob left empty is not written and gets no device slot.

VERITY (the default; --no-verity turns it off):
  Every blob, the metadata blob included, is its data area followed by its
  fs-verity Merkle tree (SHA-256, 4096-byte blocks, no salt, root level
  first) and one 4096-byte trailer block holding the fs-verity descriptor
  (and, in the metadata blob, the PKCS#7 signature if the image is signed).
  A blob's digest is its fs-verity digest: what `fsverity digest
  --hash-alg=sha256 --block-size=4096` prints for its data area, and what
  `rerofs digest` prints for the blob. The image digest is the metadata
  blob's. With --key and --cert the image is signed at once (see `rerofs
  sign`). Without verity a blob's digest is the SHA-256 of its contents.

  Default (one shared blob): the chunks of the files of the final tree, in
  inode order (breadth first, names sorted).

  --blob-per-layer: the blob of SOURCE i holds the chunks of every regular
  file that SOURCE i itself supplies, as given (including files that later
  layers delete with whiteouts or replace, as in OCI), in the order the layer
  supplies them (tar member order; sorted depth first for a directory),
  except chunks already stored in the blob of an earlier SOURCE or earlier in
  the same SOURCE, which are referenced where they are. So blob i depends
  only on SOURCEs 1..=i, --chunk-size and --no-holes: images whose first k
  SOURCEs are the same have the same first k blobs, byte for byte and by
  name.

REUSE:
  Before writing a blob whose size equals that of an existing candidate,
  mkfs computes the blob's digest D; a candidate named D whose contents hash
  to D is used instead of writing the blob, and counted as reused in the
  summary. Candidates: BLOB_DIR/D, D inside a --reuse directory, and a
  --reuse file named D; one outside BLOB_DIR is hard-linked into BLOB_DIR as
  D (copied if it cannot be linked), so that BLOB_DIR holds every blob of the
  image. A --reuse file must be named by 64 lowercase hex digits and must be
  one of this image's blobs (same name and contents), or mkfs fails before
  writing anything; a --reuse directory is only a pool to pick from.

ENCRYPTION (--encrypt --domain-key D --image-key I):
  Every byte of regular file data goes to the data blobs, even of small
  files (no inline data, no holes): each chunk is encrypted with AES-256-XTS
  (4096-byte data units, the unit's index in the chunk as tweak) under its
  own key K_c = HKDF-SHA256(D, \"rerofs chunk v1\" || SHA-256(chunk)). Equal
  chunks under the same D give equal ciphertext, so blobs still deduplicate
  within the trust domain; without D a guess about a chunk cannot be
  checked. The metadata blob holds each K_c wrapped with AES-256-GCM under
  I, bound to its blob and place, and a key check (a GCM tag under I over the
  image digest) in its trailer. Names, sizes, modes, owners, times, xattrs,
  directory contents and symlink targets stay plaintext (integrity-protected
  by verity). Keys are read from files only. The kernel module mounts them
  with -o key=NAME, NAME naming the logon key rerofs:NAME that holds I
  (keyctl padd logon rerofs:NAME @u < I); `rerofs fsck --image-key` reads
  them, `rerofs rewrap` changes I without touching a data blob.

EXIT STATUS:
  0 success, 1 error (nothing but data blobs in BLOB_DIR is left behind;
  the metadata blob is written last), 2 usage error.";

/// Options of `rerofs mkfs`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = MKFS_LONG_HELP)]
pub struct MkfsArgs {
    /// Chunk size in bytes: a power of two, at least 4096 (suffix k or m allowed).
    #[arg(long, default_value_t = 65536, value_parser = parse_chunk_size)]
    pub chunk_size: u64,
    /// Directory for the data blobs (named by their digest in hex); default:
    /// the metadata blob's directory.
    #[arg(long)]
    pub blob_dir: Option<PathBuf>,
    /// One data blob per SOURCE, holding the chunks that SOURCE supplies and
    /// no earlier SOURCE did (see DATA BLOBS in --help).
    #[arg(long)]
    pub blob_per_layer: bool,
    /// Existing blobs (files named by their digest) or directories of them to
    /// use instead of writing identical blobs; takes several values, so end
    /// the list with `--` or give it after the SOURCEs (see REUSE in --help).
    #[arg(long, value_name = "BLOB", num_args = 1..)]
    pub reuse: Vec<PathBuf>,
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
    /// Give every blob an fs-verity Merkle tree and descriptor, and name data
    /// blobs by their fs-verity digest (the default; see VERITY in --help).
    #[arg(long, overrides_with = "no_verity")]
    pub verity: bool,
    /// Build a plain EROFS image: no trees, data blobs named by their SHA-256.
    #[arg(long, overrides_with = "verity")]
    pub no_verity: bool,
    /// Sign the image with this private key (PEM; needs --cert and verity).
    #[arg(long, requires = "cert", conflicts_with = "no_verity")]
    pub key: Option<PathBuf>,
    /// Certificate of --key (PEM).
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// Encrypt the file data (keyed convergent encryption; needs verity,
    /// --domain-key and --image-key; see ENCRYPTION in --help).
    #[arg(long, requires_all = ["domain_key", "image_key"], conflicts_with = "no_verity")]
    pub encrypt: bool,
    /// The trust domain's secret: a 32-byte key file (`rerofs keygen`). Chunk
    /// keys derive from it; only image builders hold it.
    #[arg(long, value_name = "FILE", requires = "encrypt")]
    pub domain_key: Option<PathBuf>,
    /// This image's key: a 32-byte key file (`rerofs keygen`), random per
    /// image. Readers need only this one.
    #[arg(long, value_name = "FILE", requires = "encrypt")]
    pub image_key: Option<PathBuf>,
    /// Do not print the summary line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Also print one line per data blob: slot, layer, digest, size, and
    /// whether it was written or reused.
    #[arg(long, short = 'v')]
    pub verbose: bool,
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
            let mut file = crate::util::open(p)?;
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

/// Runs `rerofs mkfs`: each phase below, in order.
pub fn run(a: &MkfsArgs) -> Result<()> {
    let t0 = Instant::now();
    let verity = !a.no_verity;
    let signer = check_outputs(a)?;
    let keys = load_keys(a)?;
    let tree = load_sources(a)?;
    let order = inode_order(&tree);
    let build_time = build_time(a, &tree, &order.ids);
    let inodes = inode_cores(&tree, &order, build_time, a.encrypt)?;
    let pb = progress_bar(0, "hashing", a.quiet);
    let hashed = hash_chunks(a, &tree, &order.ids, &inodes.chunked, pb.as_ref())?;
    let inline = read_inline(&tree, &order.ids, &inodes.chunked, a.chunk_size)?;
    let mut assigned = assign_chunks(a, &tree, hashed)?;
    let refs = std::mem::take(&mut assigned.refs);

    // Write (or reuse) the data blobs.
    let blob_dir = match &a.blob_dir {
        Some(d) => d.clone(),
        None => a
            .meta_blob
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    let placed_blobs = place_blobs(
        &tree,
        &assigned.blobs,
        &assigned.devices,
        &blob_dir,
        &a.reuse,
        a.chunk_size,
        keys.as_ref().map(|k| &k.0),
        verity,
        pb.as_ref(),
    )?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }

    let mut layout = lay_out(a, &tree, &order, inodes, inline, refs, &assigned)?;
    fill_dirs(&tree, &order, &mut layout)?;
    let digests: Vec<&str> = placed_blobs.iter().map(|p| p.digest.as_str()).collect();
    let roots = if verity {
        Some(slot_roots(&blob_dir, &assigned, &digests)?)
    } else {
        None
    };
    let mut img = write_metadata(&layout, &assigned, &digests, roots.as_deref())?;
    let wrapped = match &keys {
        Some((ck, ik)) => Some(append_key_area(&mut img, &assigned, &digests, ck, ik)?),
        None => None,
    };
    write_superblock(a, &mut img, &order, &layout, &assigned, build_time, verity)?;
    let meta_bytes = img.len();
    let image_key = keys.as_ref().map(|k| &k.1);
    let image_digest = seal_and_write(a, img, verity, signer.as_ref(), image_key)?;
    if let (Some(n), false) = (wrapped, a.quiet) {
        println!("encrypted: {n} chunk keys wrapped under the image key");
    }

    report(
        a,
        &tree,
        &order,
        &assigned,
        &placed_blobs,
        meta_bytes,
        image_digest.as_ref().map(|d| (d, signer.is_some())),
        t0,
    );
    Ok(())
}

/// With --encrypt, reads the domain key (as its chunk key derivation) and the
/// image key from their files.
fn load_keys(a: &MkfsArgs) -> Result<Option<(ChunkKeys, Key32)>> {
    let (Some(d), Some(i)) = (&a.domain_key, &a.image_key) else {
        return Ok(None);
    };
    let dk = load_key(d, "domain key")?;
    let ik = load_key(i, "image key")?;
    if dk[..] == ik[..] {
        bail!(
            "{} and {}: the image key must not be the domain key",
            d.display(),
            i.display()
        );
    }
    Ok(Some((ChunkKeys::new(&dk), ik)))
}

/// Appends the key area to the metadata blob's data area `img` and writes the
/// encryption header: the key table (each stored chunk's key wrapped under
/// the image key, device by device, chunk by chunk), the device records and
/// each device's block map. Returns the number of entries.
fn append_key_area(
    img: &mut Vec<u8>,
    assigned: &Assigned,
    digests: &[&str],
    keys: &ChunkKeys,
    image_key: &Key32,
) -> Result<u64> {
    let entries_pos = img.len() as u64;
    let mut entries: Vec<u8> = Vec::new();
    let mut maps: Vec<Vec<u32>> = Vec::new();
    for (k, &bi) in assigned.devices.iter().enumerate() {
        let device = (k + 1) as u16;
        let blob = &assigned.blobs[bi];
        let digest = parse_hex_digest(digests[k].as_bytes()).context("blob digest")?;
        let mut map = vec![NO_ENTRY; blob.blocks as usize];
        for (j, &(_, _, start, hash)) in blob.chunks.iter().enumerate() {
            let end = blob.chunks.get(j + 1).map_or(blob.blocks, |c| c.2);
            let idx = u32::try_from(entries.len() / ENTRY_SIZE)
                .ok()
                .filter(|&i| i != NO_ENTRY)
                .context("more than 2^32 - 1 encrypted chunks")?;
            let e = wrap(
                image_key,
                &keys.derive(&hash),
                device,
                &digest,
                start,
                end - start,
            )?;
            entries.extend_from_slice(&e.to_bytes());
            map[start as usize..end as usize].fill(idx);
        }
        maps.push(map);
    }
    let n = (entries.len() / ENTRY_SIZE) as u64;
    entries.resize(entries.len().next_multiple_of(BS), 0);
    img.extend_from_slice(&entries);
    let devrec_pos = img.len() as u64;
    let mut map_pos = devrec_pos + (maps.len() * DEVREC_SIZE) as u64;
    for m in &maps {
        let r = DevRecord {
            map_pos,
            blocks: m.len() as u32,
        };
        img.extend_from_slice(&r.to_bytes());
        map_pos += (m.len() * MAP_ENTRY_SIZE) as u64;
    }
    for m in &maps {
        for v in m {
            img.extend_from_slice(&v.to_le_bytes());
        }
    }
    img.resize(img.len().next_multiple_of(BS), 0);
    let h = Header {
        devices: maps.len() as u32,
        devrec_pos,
        entries_pos,
        entries: n,
    };
    let at = HEADER_POS as usize;
    img[at..at + HEADER_SIZE].copy_from_slice(&h.to_bytes());
    Ok(n)
}

/// Loads the signing key and checks that the metadata blob can go where
/// asked, so that either fails before any work.
fn check_outputs(a: &MkfsArgs) -> Result<Option<Signer>> {
    let signer = match (&a.key, &a.cert) {
        (Some(k), Some(c)) => Some(Signer::load(k, c)?),
        _ => None,
    };
    let meta_dir = a
        .meta_blob
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !meta_dir.is_dir() {
        bail!(
            "{}: cannot create: {} is not a directory",
            a.meta_blob.display(),
            meta_dir.display()
        );
    }
    Ok(signer)
}

/// Applies the sources in order into one tree, and sets its times:
/// --timestamp overrides, SOURCE_DATE_EPOCH clamps, negative times become 0.
fn load_sources(a: &MkfsArgs) -> Result<Tree> {
    let mut tree = Tree::new();
    for (i, s) in a.sources.iter().enumerate() {
        let md = fs::metadata(s).with_context(|| format!("{}: cannot read source", s.display()))?;
        if md.is_dir() {
            tree.apply_dir(s, i)?;
        } else {
            tree.apply_tar(s, i)?;
        }
    }
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
    Ok(tree)
}

/// The inodes in nid order, with link counts and directory parents.
struct Order {
    /// Breadth first from the root, names sorted; hard links once.
    ids: Vec<NodeId>,
    nlink: HashMap<NodeId, u32>,
    parent: HashMap<NodeId, NodeId>,
}

fn inode_order(tree: &Tree) -> Order {
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
    Order {
        ids: order,
        nlink,
        parent,
    }
}

/// The build time: --timestamp, else the most common inode time (so that
/// most inodes fit the compact form).
fn build_time(a: &MkfsArgs, tree: &Tree, order: &[NodeId]) -> (u64, u32) {
    match a.timestamp {
        Some(t) => (t.max(0) as u64, 0u32),
        None => {
            let mut freq: BTreeMap<(i64, u32), usize> = BTreeMap::new();
            for &id in order {
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
    }
}

/// Inode cores and xattr areas in nid order, and which files are chunk-based.
struct Inodes {
    cores: Vec<InodeCore>,
    xattrs: Vec<Vec<u8>>,
    chunked: Vec<bool>,
}

fn inode_cores(
    tree: &Tree,
    order: &Order,
    build_time: (u64, u32),
    encrypt: bool,
) -> Result<Inodes> {
    let n = order.ids.len();
    let mut cores: Vec<InodeCore> = Vec::with_capacity(n);
    let mut xattrs: Vec<Vec<u8>> = Vec::with_capacity(n);
    let mut chunked: Vec<bool> = Vec::with_capacity(n);
    let path_of = |id: NodeId| format!("inode of source node {id}");
    for (i, &id) in order.ids.iter().enumerate() {
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
            nlink: order.nlink[&id],
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
        chunked.push(stored_in_blobs(n, encrypt));
        cores.push(core);
        xattrs.push(xa);
    }
    Ok(Inodes {
        cores,
        xattrs,
        chunked,
    })
}

/// Bytes of regular file data among `ids`.
fn file_bytes(tree: &Tree, ids: &[NodeId]) -> u64 {
    ids.iter()
        .map(|&id| match tree.nodes[id].content {
            Content::File { size, .. } => size,
            _ => 0,
        })
        .sum()
}

/// The files whose chunks go to the blobs, in blob order, and the content
/// hash of each of their chunks.
struct Hashed {
    to_hash: Vec<NodeId>,
    hashes: Vec<Vec<Chunk>>,
}

/// Hashes the chunks of the files whose data goes to the blobs: per layer,
/// every file each layer supplies (whether or not it survives into the final
/// tree), in the order the layer supplied it, which is node order; shared,
/// the files of the final tree in inode order.
fn hash_chunks(
    a: &MkfsArgs,
    tree: &Tree,
    order: &[NodeId],
    chunked: &[bool],
    pb: Option<&indicatif::ProgressBar>,
) -> Result<Hashed> {
    let to_hash: Vec<NodeId> = if a.blob_per_layer {
        (0..tree.nodes.len())
            .filter(|&id| stored_in_blobs(&tree.nodes[id], a.encrypt))
            .collect()
    } else {
        order
            .iter()
            .zip(chunked)
            .filter(|(_, &c)| c)
            .map(|(&id, _)| id)
            .collect()
    };
    if let Some(pb) = pb {
        pb.set_length(file_bytes(tree, &to_hash));
    }
    let chunk = a.chunk_size;
    // Encrypting, an all-zero chunk is data like any other: a hole would
    // show where the zeros are.
    let holes = !a.no_holes && !a.encrypt;
    let hashes: Vec<Vec<Chunk>> = to_hash
        .par_iter()
        .map(|&id| {
            let Content::File { src, size } = &tree.nodes[id].content else {
                unreachable!()
            };
            let n = size.div_ceil(chunk) as usize;
            let mut v = Vec::with_capacity(n);
            for_each_chunk(src, *size, chunk, |c| {
                v.push(hash_chunk(c, holes));
                if let Some(pb) = pb {
                    pb.inc(c.len() as u64);
                }
                Ok(())
            })?;
            Ok(v)
        })
        .collect::<Result<_>>()?;
    Ok(Hashed { to_hash, hashes })
}

/// The data of inline files, read now so that an unreadable one stops mkfs
/// before it writes anything.
fn read_inline(
    tree: &Tree,
    order: &[NodeId],
    chunked: &[bool],
    chunk: u64,
) -> Result<Vec<Option<Vec<u8>>>> {
    order
        .par_iter()
        .zip(chunked)
        .map(|(&id, &c)| match &tree.nodes[id].content {
            Content::File { src, size } if !c && *size > 0 => {
                let mut v = Vec::with_capacity(*size as usize);
                for_each_chunk(src, *size, chunk, |c| {
                    v.extend_from_slice(c);
                    Ok(())
                })?;
                Ok(Some(v))
            }
            _ => Ok(None),
        })
        .collect()
}

/// Chunks assigned to blobs, and blobs to device slots.
struct Assigned {
    blobs: Vec<Blob>,
    /// Per chunk-based file: (blob, block) of each chunk, `None` for a hole.
    refs: HashMap<NodeId, Vec<(Option<usize>, u32)>>,
    /// The non-empty blobs, in device order (device k + 1 is blob devices[k]).
    devices: Vec<usize>,
    /// The device id of each blob, if it has one.
    dev_of: Vec<Option<u16>>,
}

/// Assigns each distinct chunk to a blob, first occurrence wins; device ids
/// go to the non-empty blobs in order, from 1.
fn assign_chunks(a: &MkfsArgs, tree: &Tree, hashed: Hashed) -> Result<Assigned> {
    let nblobs = if a.blob_per_layer { a.sources.len() } else { 1 };
    let mut blobs: Vec<Blob> = (0..nblobs)
        .map(|_| Blob {
            chunks: Vec::new(),
            blocks: 0,
        })
        .collect();
    let mut dedup: HashMap<Chunk, (usize, u32)> = HashMap::new();
    let mut refs: HashMap<NodeId, Vec<(Option<usize>, u32)>> = HashMap::new();
    for (&id, hs) in hashed.to_hash.iter().zip(hashed.hashes) {
        let blob = if a.blob_per_layer {
            tree.nodes[id].layer
        } else {
            0
        };
        let mut r = Vec::with_capacity(hs.len());
        for (ci, c) in hs.into_iter().enumerate() {
            match c {
                Chunk::Zero => r.push((None, NULL_ADDR)),
                Chunk::Data(_, len) => {
                    let (bi, blk) = match dedup.entry(c) {
                        std::collections::hash_map::Entry::Occupied(o) => *o.get(),
                        std::collections::hash_map::Entry::Vacant(v) => {
                            let bl = &mut blobs[blob];
                            let blk = bl.blocks;
                            let Chunk::Data(hash, _) = c else {
                                unreachable!()
                            };
                            bl.chunks.push((id, ci as u64, blk, hash));
                            bl.blocks = u64::from(blk)
                                .checked_add((len as u64).div_ceil(BS64))
                                .and_then(|x| u32::try_from(x).ok())
                                .context("a data blob would exceed 2^32 blocks")?;
                            *v.insert((blob, blk))
                        }
                    };
                    r.push((Some(bi), blk));
                }
            }
        }
        refs.insert(id, r);
    }
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
    Ok(Assigned {
        blobs,
        refs,
        devices,
        dev_of,
    })
}

/// Where everything goes in the metadata blob.
struct Layout {
    placed: Vec<Placed>,
    nid_of: HashMap<NodeId, u64>,
    devt_pos: u64,
    total_blocks: u32,
    any_chunked: bool,
}

/// Lays out the metadata: superblock, device table, inodes (each with its
/// xattrs, inline data or chunk indexes), then the blocks of flat data.
fn lay_out(
    a: &MkfsArgs,
    tree: &Tree,
    order: &Order,
    inodes: Inodes,
    mut inline: Vec<Option<Vec<u8>>>,
    mut refs: HashMap<NodeId, Vec<(Option<usize>, u32)>>,
    assigned: &Assigned,
) -> Result<Layout> {
    let chunkbits = (a.chunk_size.trailing_zeros() - BLOCK_SIZE.trailing_zeros()) as u8;
    let Inodes {
        cores,
        mut xattrs,
        chunked,
    } = inodes;
    // An encrypted image's header comes right after the superblock.
    let devt_pos = if a.encrypt {
        HEADER_POS + HEADER_SIZE as u64
    } else {
        (SUPER_OFFSET + 128) as u64
    };
    let mut pos = align(
        devt_pos + assigned.devices.len() as u64 * b::DEVICE_SLOT_SIZE as u64,
        32,
    );
    let mut placed: Vec<Placed> = Vec::with_capacity(order.ids.len());
    let mut any_chunked = false;
    for (i, &id) in order.ids.iter().enumerate() {
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
            Content::File { size, .. } => {
                if chunked[i] {
                    let r = refs.remove(&id).expect("hashed");
                    core.layout = b::LAYOUT_CHUNK_BASED;
                    core.raw_u = b::chunk_info(chunkbits, true).map_err(fe)?;
                    any_chunked = true;
                    data = Data::Chunked(
                        r.into_iter()
                            .map(|(bi, blk)| {
                                (blk, bi.and_then(|bi| assigned.dev_of[bi]).unwrap_or(0))
                            })
                            .collect(),
                    );
                } else if *size > 0 {
                    core.layout = b::LAYOUT_FLAT_INLINE;
                    data = Data::Inline {
                        blocks: Vec::new(),
                        tail: inline[i].take().expect("read above"),
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
    Ok(Layout {
        placed,
        nid_of,
        devt_pos,
        total_blocks,
        any_chunked,
    })
}

/// Fills in the directories' blocks, now that every nid is known.
fn fill_dirs(tree: &Tree, order: &Order, layout: &mut Layout) -> Result<()> {
    let nid_of = &layout.nid_of;
    for p in &mut layout.placed {
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
                nid: nid_of[&order.parent[&p.node]],
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
    Ok(())
}

/// The root hash of each device's blob (`COMPAT_RERO_SLOT_ROOT`), from the
/// trailer of the blob as placed in `blob_dir` (written or reused): its
/// descriptor must cover the slot's blocks and have the slot's digest.
fn slot_roots(blob_dir: &Path, assigned: &Assigned, digests: &[&str]) -> Result<Vec<[u8; 32]>> {
    let mut roots = Vec::with_capacity(assigned.devices.len());
    for (k, &bi) in assigned.devices.iter().enumerate() {
        let path = blob_dir.join(digests[k]);
        let data_size = u64::from(assigned.blobs[bi].blocks) * BLOCK_SIZE as u64;
        let desc = trailer_descriptor(&path)?
            .filter(|d| d.data_size == data_size)
            .filter(|d| d.digest(&Sha256Hasher).is_ok_and(|g| hex(&g) == digests[k]));
        let Some(desc) = desc else {
            bail!(
                "{}: its trailer does not describe blob {} of {data_size} bytes",
                path.display(),
                digests[k]
            );
        };
        roots.push(desc.root_hash);
    }
    Ok(roots)
}

/// The metadata blob's data area, but for the superblock: device table (with
/// each blob's root hash when `roots` is given), inodes with their xattrs,
/// inline data and chunk indexes, flat data blocks.
fn write_metadata(
    layout: &Layout,
    assigned: &Assigned,
    digests: &[&str],
    roots: Option<&[[u8; 32]]>,
) -> Result<Vec<u8>> {
    let mut img = vec![0u8; layout.total_blocks as usize * BS];
    for (k, &bi) in assigned.devices.iter().enumerate() {
        let off = layout.devt_pos as usize + k * b::DEVICE_SLOT_SIZE;
        b::write_device_slot(
            &mut img[off..],
            digests[k].as_bytes(),
            assigned.blobs[bi].blocks,
            0,
            roots.and_then(|r| r.get(k)),
        )
        .map_err(fe)?;
    }
    for p in &layout.placed {
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
    Ok(img)
}

/// Writes the superblock into `img`; the UUID, unless given, is derived from
/// the image with a zero UUID.
fn write_superblock(
    a: &MkfsArgs,
    img: &mut [u8],
    order: &Order,
    layout: &Layout,
    assigned: &Assigned,
    build_time: (u64, u32),
    verity: bool,
) -> Result<()> {
    let mut volume_name = [0u8; 16];
    if let Some(l) = &a.label {
        if l.len() > 16 {
            bail!("volume label {l:?} is longer than 16 bytes");
        }
        volume_name[..l.len()].copy_from_slice(l.as_bytes());
    }
    let ndev = assigned.devices.len();
    let mut sb = SuperBlock {
        feature_compat: COMPAT_SB_CHKSUM
            | COMPAT_MTIME
            | if verity {
                COMPAT_RERO_VERITY | COMPAT_RERO_SLOT_ROOT
            } else {
                0
            },
        feature_incompat: if layout.any_chunked {
            INCOMPAT_CHUNKED_FILE
        } else {
            0
        } | if ndev == 0 { 0 } else { INCOMPAT_DEVICE_TABLE }
            | if a.encrypt {
                INCOMPAT_RERO_ENCRYPTED
            } else {
                0
            },
        root_nid: layout.nid_of[&0],
        inos: order.ids.len() as u64,
        build_time: build_time.0,
        build_time_nsec: build_time.1,
        blocks: u32::try_from(img.len() / BS).context("metadata blob larger than 2^32 blocks")?,
        meta_blkaddr: 0,
        xattr_blkaddr: 0,
        uuid: [0; 16],
        volume_name,
        extra_devices: ndev as u16,
        devt_slotoff: if ndev == 0 {
            0
        } else {
            (layout.devt_pos / 128) as u16
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
            let d = Sha256::digest(&*img);
            let mut u = [0u8; 16];
            u.copy_from_slice(&d[..16]);
            u[6] = (u[6] & 0x0f) | 0x50; // name-based (version 5 style) marker
            u[8] = (u[8] & 0x3f) | 0x80;
            u
        }
    };
    b::write_superblock(&mut img[..BS], &sb).map_err(fe)?;
    Ok(())
}

/// Appends the metadata blob's tree and trailer (signed if asked) when
/// `verity`, and writes it (last of all: through a temporary file renamed
/// into place). Returns the image digest.
fn seal_and_write(
    a: &MkfsArgs,
    mut img: Vec<u8>,
    verity: bool,
    signer: Option<&Signer>,
    image_key: Option<&Key32>,
) -> Result<Option<[u8; 32]>> {
    let image_digest = if verity {
        let built = build_tree(&img)?;
        let sig = match signer {
            Some(s) => s.sign(&built.digest)?,
            None => Vec::new(),
        };
        let mut trailer = built.trailer(&sig)?;
        if let Some(k) = image_key {
            put_key_check(&mut trailer, &key_check(k, &built.digest)?, sig.len())?;
        }
        img.extend_from_slice(&built.tree);
        img.extend_from_slice(&trailer);
        Some(built.digest)
    } else {
        None
    };
    write_atomically(&a.meta_blob, &img)?;
    Ok(image_digest)
}

/// Prints the per-blob lines (--verbose) and the summary (unless --quiet).
#[allow(clippy::too_many_arguments)]
fn report(
    a: &MkfsArgs,
    tree: &Tree,
    order: &Order,
    assigned: &Assigned,
    placed_blobs: &[PlacedBlob],
    meta_bytes: usize,
    digest: Option<(&[u8; 32], bool)>,
    t0: Instant,
) {
    let (blobs, devices) = (&assigned.blobs, &assigned.devices);
    if a.verbose {
        for (k, (&bi, p)) in devices.iter().zip(placed_blobs).enumerate() {
            let what = match &p.fate {
                Fate::Written => "written".to_string(),
                Fate::Reused => "reused".to_string(),
                Fate::Linked(f) => format!("reused, hard-linked from {}", f.display()),
                Fate::Copied(f) => format!("reused, copied from {}", f.display()),
            };
            let whose = if a.blob_per_layer {
                format!("source {}", bi + 1)
            } else {
                "shared".to_string()
            };
            println!(
                "blob {} ({whose}): {} {} bytes, {what}",
                k + 1,
                p.digest,
                blobs[bi].blocks as u64 * BS64
            );
        }
    }
    if a.quiet {
        return;
    }
    let stored: u64 = devices
        .iter()
        .map(|&bi| blobs[bi].blocks as u64 * BS64)
        .sum();
    let total_in = file_bytes(tree, &order.ids);
    let files = order
        .ids
        .iter()
        .filter(|&&id| matches!(tree.nodes[id].content, Content::File { .. }))
        .count();
    let ratio = if stored == 0 {
        0.0
    } else {
        total_in as f64 / stored as f64
    };
    let reused = placed_blobs
        .iter()
        .filter(|p| !matches!(p.fate, Fate::Written))
        .count();
    let written: u64 = devices
        .iter()
        .zip(placed_blobs)
        .filter(|(_, p)| matches!(p.fate, Fate::Written))
        .map(|(&bi, _)| blobs[bi].blocks as u64 * BS64)
        .sum();
    println!(
        "rerofs mkfs: {} inodes ({} files), {} bytes in, {} bytes stored in {} blob(s) ({} reused, {} bytes written) + {} metadata bytes, dedup ratio {:.2}, {:.2}s",
        order.ids.len(),
        files,
        total_in,
        stored,
        devices.len(),
        reused,
        written,
        meta_bytes,
        ratio,
        t0.elapsed().as_secs_f64()
    );
    if let Some((d, signed)) = digest {
        println!(
            "image digest: {}{}",
            fmt_digest(d),
            if signed { " (signed)" } else { "" }
        );
    }
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

/// Whether a regular file is chunk-based (its data in the data blobs) rather
/// than inline: always when encrypting (no plaintext file data in the
/// metadata blob). Decided from the file alone, its size and xattrs, assuming
/// the larger (64-byte) inode core, so that what a layer puts in its blob
/// does not depend on the rest of the image.
fn stored_in_blobs(n: &Node, encrypt: bool) -> bool {
    let Content::File { size, .. } = n.content else {
        return false;
    };
    if size >= BS64 || (encrypt && size > 0) {
        return true;
    }
    let xa = xattr_area(&n.xattrs, &String::new).map_or(BS, |v| v.len());
    EXTENDED_SIZE + xa + size as usize > BS
}
