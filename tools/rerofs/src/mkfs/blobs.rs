// SPDX-License-Identifier: GPL-2.0

//! `rerofs mkfs`, data blobs: streaming a blob's chunks from the sources,
//! hashing it (plain SHA-256 or its fs-verity tree), writing it, or reusing an
//! identical existing blob (see REUSE in `rerofs mkfs --help`).

use crate::crypt::{encrypt_units, ChunkKeys};
use crate::image::is_digest_tag;
use crate::tree::{Content, FileSource, NodeId, Tree};
use crate::util::{hex, read_pieces, TmpGuard};
use crate::verity::{check_blob, Built, TreeBuilder};
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use rerofs_format::verity::Geometry;
use rerofs_format::BLOCK_SIZE;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const BS: usize = BLOCK_SIZE;
const BS64: u64 = BLOCK_SIZE as u64;

/// The chunks one data blob stores.
pub struct Blob {
    /// (node, chunk index) of each chunk stored, in order, its first block,
    /// and the SHA-256 of its plaintext.
    pub chunks: Vec<(NodeId, u64, u32, [u8; 32])>,
    pub blocks: u32,
}

/// Feeds a blob's bytes to `sink`: its chunks in order, each padded with
/// zeros to a whole block. The sources are read by a second thread, in
/// batches of about a MiB, while `sink` works on the previous ones.
fn stream_blob(
    tree: &Tree,
    blob: &Blob,
    chunk: u64,
    keys: Option<&ChunkKeys>,
    mut sink: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    const BATCH: usize = 1 << 20;
    let cap = std::cmp::max(BATCH, chunk as usize) + BS;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(Vec<u8>, usize)>>(4);
    let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|sc| {
        sc.spawn(move || {
            let fill = || -> Result<()> {
                let mut open: Option<(NodeId, fs::File)> = None;
                let mut buf = vec![0u8; cap];
                let mut pos = 0;
                for &(id, ci, _, hash) in &blob.chunks {
                    let Content::File { src, size } = &tree.nodes[id].content else {
                        unreachable!()
                    };
                    let off = ci * chunk;
                    let len = std::cmp::min(chunk, size - off) as usize;
                    let padded = len.next_multiple_of(BS);
                    if pos + padded > cap {
                        let next = back_rx.try_recv().unwrap_or_else(|_| vec![0u8; cap]);
                        if tx
                            .send(Ok((std::mem::replace(&mut buf, next), pos)))
                            .is_err()
                        {
                            return Ok(()); // the consumer gave up
                        }
                        pos = 0;
                    }
                    let dst = &mut buf[pos..pos + len];
                    match src {
                        FileSource::Bytes(v) => {
                            dst.copy_from_slice(&v[off as usize..off as usize + len])
                        }
                        FileSource::Path(p) => {
                            if open.as_ref().map(|o| o.0) != Some(id) {
                                open = Some((id, crate::util::open(p)?));
                            }
                            let file = &mut open.as_mut().expect("opened").1;
                            file.seek(SeekFrom::Start(off)).with_context(|| {
                                format!("{}: seek to {off} failed", p.display())
                            })?;
                            file.read_exact(dst).with_context(|| {
                                format!(
                                    "{}: read failed at offset {off} (file changed?)",
                                    p.display()
                                )
                            })?;
                        }
                    }
                    buf[pos + len..pos + padded].fill(0);
                    if let Some(keys) = keys {
                        // The key comes from the hash taken when the chunk was
                        // deduplicated: the bytes must still be those.
                        if <Sha256 as Digest>::digest(&buf[pos..pos + len])[..] != hash[..] {
                            bail!(
                                "node {id} chunk {ci}: a source file changed while mkfs was running"
                            );
                        }
                        encrypt_units(&keys.derive(&hash), &mut buf[pos..pos + padded]);
                    }
                    pos += padded;
                }
                if pos > 0 {
                    tx.send(Ok((buf, pos))).ok();
                }
                Ok(())
            };
            if let Err(e) = fill() {
                tx.send(Err(e)).ok();
            }
        });
        for batch in rx {
            let (buf, len) = batch?;
            sink(&buf[..len])?;
            back_tx.send(buf).ok();
        }
        Ok(())
    })
}

/// Size of the file of a data blob of `blocks` data blocks.
fn blob_file_size(blocks: u32, verity: bool) -> u64 {
    let d = u64::from(blocks) * BS64;
    match Geometry::new(d) {
        Ok(g) if verity => g.blob_size(),
        _ => d,
    }
}

/// A blob's digest being computed: plain SHA-256, or its fs-verity tree.
enum BlobHash {
    Plain(Sha256),
    Verity(TreeBuilder),
}

impl BlobHash {
    fn new(verity: bool) -> Self {
        if verity {
            BlobHash::Verity(TreeBuilder::default())
        } else {
            BlobHash::Plain(Sha256::new())
        }
    }
    fn update(&mut self, d: &[u8]) {
        match self {
            BlobHash::Plain(h) => h.update(d),
            BlobHash::Verity(t) => t.update(d),
        }
    }
    /// The digest in hex, and the tree when it is a verity digest.
    fn finish(self) -> Result<(String, Option<Built>)> {
        Ok(match self {
            BlobHash::Plain(h) => (hex(&h.finalize()), None),
            BlobHash::Verity(t) => {
                let b = t.finish()?;
                (hex(&b.digest), Some(b))
            }
        })
    }
}

/// Digest (hex) of a blob this run would write, computed without writing it.
fn blob_digest(
    tree: &Tree,
    blob: &Blob,
    chunk: u64,
    keys: Option<&ChunkKeys>,
    verity: bool,
    pb: Option<&indicatif::ProgressBar>,
) -> Result<String> {
    let mut h = BlobHash::new(verity);
    stream_blob(tree, blob, chunk, keys, |d| {
        h.update(d);
        if let Some(pb) = pb {
            pb.inc(d.len() as u64);
        }
        Ok(())
    })?;
    Ok(h.finish()?.0)
}

/// Digest (hex) of an existing blob file: its fs-verity digest once its tree
/// and descriptor check out, or its plain SHA-256.
fn file_digest(p: &Path, verity: bool) -> Result<String> {
    let mut f = crate::util::open(p)?;
    if verity {
        let len = f.metadata()?.len();
        let c = check_blob(&f, len, None, &|_| {})
            .with_context(|| format!("{}: not a valid blob", p.display()))?;
        if let Some(e) = c.problems.first() {
            bail!("{}: not a valid blob: {e}", p.display());
        }
        if !c.sig.is_empty() {
            bail!(
                "{}: has a signature: a metadata blob, not a data blob",
                p.display()
            );
        }
        return Ok(hex(&c.digest));
    }
    let mut h = Sha256::new();
    read_pieces(&mut f, p, |d| h.update(d))?;
    Ok(hex(&h.finalize()))
}

/// Writes one data blob as `dir/<digest hex>` (through a temporary file), with
/// its tree and trailer after the data when `verity`; returns the digest, which
/// must be `expect` when that is known.
#[allow(clippy::too_many_arguments)]
fn write_blob(
    tree: &Tree,
    blob: &Blob,
    dir: &Path,
    slot: usize,
    chunk: u64,
    keys: Option<&ChunkKeys>,
    verity: bool,
    expect: Option<&str>,
    pb: Option<&indicatif::ProgressBar>,
) -> Result<String> {
    let tmp = TmpGuard::new(dir.join(format!(".rerofs-blob.tmp.{}.{slot}", std::process::id())));
    let file = fs::File::create(tmp.path())
        .with_context(|| format!("{}: cannot create", tmp.path().display()))?;
    let mut f = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut h = BlobHash::new(verity);
    stream_blob(tree, blob, chunk, keys, |d| {
        f.write_all(d)
            .with_context(|| format!("{}: write failed", tmp.path().display()))?;
        h.update(d);
        if let Some(pb) = pb {
            pb.inc(d.len() as u64);
        }
        Ok(())
    })?;
    let (hexd, built) = h.finish()?;
    if let Some(b) = built {
        let trailer = b.trailer(&[])?;
        f.write_all(&b.tree)
            .and_then(|()| f.write_all(&trailer))
            .with_context(|| format!("{}: write failed", tmp.path().display()))?;
    }
    f.flush()
        .with_context(|| format!("{}: write failed", tmp.path().display()))?;
    drop(f);
    if let Some(e) = expect {
        if e != hexd {
            bail!(
                "data blob {slot}: digest changed between two reads of the sources \
                 ({e} then {hexd}): a source file changed while mkfs was running"
            );
        }
    }
    tmp.persist(&dir.join(&hexd))?;
    Ok(hexd)
}

/// What became of one data blob.
pub enum Fate {
    Written,
    /// Already in the blob directory.
    Reused,
    /// Hard-linked into the blob directory from here.
    Linked(PathBuf),
    /// Copied into the blob directory from here (no hard link possible).
    Copied(PathBuf),
}

pub struct PlacedBlob {
    pub digest: String,
    pub fate: Fate,
}

/// An existing file that may be one of the blobs to write.
struct Candidate {
    path: PathBuf,
    size: u64,
    /// Its file name: the digest it claims to have.
    name: String,
    /// Given as a `--reuse` file (not found in a directory).
    explicit: bool,
}

fn file_name_str(p: &Path) -> Option<&str> {
    p.file_name().and_then(|n| n.to_str())
}

fn scan_blob_dir(dir: &Path, out: &mut Vec<Candidate>) -> Result<()> {
    for e in fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))? {
        let e = e.with_context(|| format!("{}: cannot list", dir.display()))?;
        let path = e.path();
        let Some(name) = file_name_str(&path).filter(|n| is_digest_tag(n.as_bytes())) else {
            continue;
        };
        let name = name.to_string();
        if let Ok(md) = fs::metadata(&path) {
            if md.is_file() {
                out.push(Candidate {
                    path,
                    size: md.len(),
                    name,
                    explicit: false,
                });
            }
        }
    }
    Ok(())
}

fn same_file(x: &Path, y: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(x), fs::metadata(y)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Puts the blob `src` into place as `dst`: a hard link, or a copy.
fn link_blob(src: &Path, dst: &Path, slot: usize) -> Result<Fate> {
    let src =
        fs::canonicalize(src).with_context(|| format!("{}: cannot resolve", src.display()))?;
    let dir = dst.parent().expect("in a directory");
    let tmp = TmpGuard::new(dir.join(format!(".rerofs-blob.tmp.{}.{slot}", std::process::id())));
    let fate = if fs::hard_link(&src, tmp.path()).is_ok() {
        Fate::Linked(src)
    } else {
        fs::copy(&src, tmp.path()).with_context(|| {
            format!("{}: cannot copy to {}", src.display(), tmp.path().display())
        })?;
        Fate::Copied(src)
    };
    tmp.persist(dst)?;
    Ok(fate)
}

/// Writes the data blobs into `dir`, or reuses existing identical ones (see
/// REUSE in `rerofs mkfs --help`). Returns one entry per device, in order.
#[allow(clippy::too_many_arguments)]
pub fn place_blobs(
    tree: &Tree,
    blobs: &[Blob],
    devices: &[usize],
    dir: &Path,
    reuse: &[PathBuf],
    chunk: u64,
    keys: Option<&ChunkKeys>,
    verity: bool,
    pb: Option<&indicatif::ProgressBar>,
) -> Result<Vec<PlacedBlob>> {
    // The size of a blob's file, and of its data area (what is streamed).
    let size_of = |bi: usize| blob_file_size(blobs[bi].blocks, verity);
    let data_of = |bi: usize| u64::from(blobs[bi].blocks) * BS64;

    // Existing files that may be some of our blobs.
    let mut cands: Vec<Candidate> = Vec::new();
    if dir.is_dir() && !devices.is_empty() {
        scan_blob_dir(dir, &mut cands)?;
    }
    for r in reuse {
        let md = fs::metadata(r)
            .with_context(|| format!("{}: cannot read --reuse blob", r.display()))?;
        if md.is_dir() {
            scan_blob_dir(r, &mut cands)?;
        } else if md.is_file() {
            let Some(name) = file_name_str(r).filter(|n| is_digest_tag(n.as_bytes())) else {
                bail!(
                    "{}: a --reuse blob must be named by the 64 lowercase hex digits of its digest",
                    r.display()
                );
            };
            cands.push(Candidate {
                path: r.clone(),
                size: md.len(),
                name: name.to_string(),
                explicit: true,
            });
        } else {
            bail!(
                "{}: --reuse wants a blob file or a directory of blobs",
                r.display()
            );
        }
    }

    // Digests of the blobs an existing file may be (same size), computed
    // without writing anything.
    let sizes: std::collections::HashSet<u64> = cands.iter().map(|c| c.size).collect();
    let need: Vec<bool> = devices
        .iter()
        .map(|&bi| sizes.contains(&size_of(bi)))
        .collect();
    if let Some(pb) = pb {
        pb.set_position(0);
        pb.set_length(
            devices
                .iter()
                .zip(&need)
                .filter(|(_, &n)| n)
                .map(|(&bi, _)| data_of(bi))
                .sum(),
        );
        pb.set_message("checking");
    }
    let pre: Vec<Option<String>> = devices
        .par_iter()
        .zip(&need)
        .map(|(&bi, &n)| {
            if n {
                blob_digest(tree, &blobs[bi], chunk, keys, verity, pb).map(Some)
            } else {
                Ok(None)
            }
        })
        .collect::<Result<_>>()?;

    // Every --reuse file must be one of our blobs, by name and by contents.
    let ours = |c: &Candidate| {
        devices
            .iter()
            .zip(&pre)
            .any(|(&bi, d)| d.as_deref() == Some(c.name.as_str()) && size_of(bi) == c.size)
    };
    let explicit: Vec<&Candidate> = cands.iter().filter(|c| c.explicit).collect();
    for c in &explicit {
        if !ours(c) {
            bail!(
                "{}: not a data blob of this image (no blob to write has this name and size {})",
                c.path.display(),
                c.size
            );
        }
    }
    explicit.par_iter().try_for_each(|c| {
        let got = file_digest(&c.path, verity)?;
        if got != c.name {
            bail!(
                "{}: not a valid blob: its contents hash to {got}, not to its name",
                c.path.display()
            );
        }
        Ok(())
    })?;

    // For each blob, a verified existing file: BLOB_DIR/D first, then a
    // --reuse file (verified above), then one in a --reuse directory.
    let chosen: Vec<Option<PathBuf>> = devices
        .par_iter()
        .zip(&pre)
        .map(|(&bi, d)| {
            let Some(d) = d else {
                return Ok(None);
            };
            let home = dir.join(d);
            let mut list: Vec<&Candidate> = cands
                .iter()
                .filter(|c| c.name == *d && c.size == size_of(bi))
                .collect();
            list.sort_by_key(|c| (c.path != home, !c.explicit));
            for c in list {
                if c.explicit || file_digest(&c.path, verity).is_ok_and(|g| g == *d) {
                    return Ok(Some(c.path.clone()));
                }
            }
            Ok(None)
        })
        .collect::<Result<_>>()?;

    // Write the others.
    if !devices.is_empty() {
        fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create blob directory", dir.display()))?;
    }
    if let Some(pb) = pb {
        pb.set_position(0);
        pb.set_length(
            devices
                .iter()
                .zip(&chosen)
                .filter(|(_, c)| c.is_none())
                .map(|(&bi, _)| data_of(bi))
                .sum(),
        );
        pb.set_message("writing");
    }
    devices
        .par_iter()
        .enumerate()
        .map(|(k, &bi)| {
            let slot = k + 1;
            match (&chosen[k], &pre[k]) {
                (Some(src), Some(d)) => {
                    let dst = dir.join(d);
                    let fate = if same_file(src, &dst) {
                        Fate::Reused
                    } else {
                        link_blob(src, &dst, slot)?
                    };
                    Ok(PlacedBlob {
                        digest: d.clone(),
                        fate,
                    })
                }
                _ => Ok(PlacedBlob {
                    digest: write_blob(
                        tree,
                        &blobs[bi],
                        dir,
                        slot,
                        chunk,
                        keys,
                        verity,
                        pre[k].as_deref(),
                        pb,
                    )?,
                    fate: Fate::Written,
                }),
            }
        })
        .collect()
}
