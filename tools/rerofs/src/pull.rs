// SPDX-License-Identifier: GPL-2.0

//! `rerofs pull`: fetch an image pushed by `rerofs push`, whole or lazily.
//!
//! A lazy pull fetches the metadata blob whole and, of each data blob, only
//! what the kernel needs before its first data read: the trailer block (read
//! when the blob is opened at mount) and the Merkle tree (about 1/128 of the
//! data: fetched eagerly by one range request per blob, so that a later
//! on-demand request is only ever for data). The blob file is created sparse at
//! its full size; its data area stays a hole until `rerofs fetchd` fills it.
//! The map from each blob's fs-verity digest to its OCI digest is kept in
//! `DIR/rerofs-lazy.json` for `fetchd`.

use crate::oci::{self, Client, Layer, Reference};
use crate::util::{hex, tmp_path, Pb, TmpGuard};
use crate::verity::Sha256Hasher;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use rerofs_format::verity::{Descriptor, Geometry};
use rerofs_format::BLOCK_SIZE;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Name of the lazy-pull map in the blob directory.
pub const MAP_FILE: &str = "rerofs-lazy.json";

#[derive(Args)]
#[command(after_help = "\
Writes the metadata blob to DIR/meta.img (--meta-name) and each data blob to
DIR/<its fs-verity digest>, ready for mount -t rerofs -o blobdir=DIR DIR/meta.img.
Every whole blob fetched is checked against its OCI sha256 digest, and each data
blob's trailer against its fs-verity digest; the kernel verifies every block it
reads against the trees. With --lazy, data blobs are created sparse holding only
their Merkle tree and trailer: mount with -o blobdir=DIR,ondemand and run
`rerofs fetchd`. Plain HTTP only. Exit status: 0 pulled, 1 error, 2 usage.")]
pub struct PullArgs {
    /// What: REGISTRY/REPO:TAG.
    #[arg(value_parser = Reference::parse)]
    pub src: Reference,
    /// Directory to write the blobs into (created if missing).
    pub dir: PathBuf,
    /// Fetch only the metadata blob and each data blob's tree and trailer.
    #[arg(long)]
    pub lazy: bool,
    /// File name of the metadata blob in DIR.
    #[arg(long, default_value = "meta.img")]
    pub meta_name: String,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The manifest of `r` (which must have a tag), parsed.
pub fn fetch_layers(client: &Client, r: &Reference) -> Result<Vec<Layer>> {
    let tag = r.need_tag()?;
    let body = client.get_manifest(tag)?;
    oci::parse_manifest(&body, &format!("{}:{tag}", client.name))
}

/// Downloads a whole blob to `dst` (through a temporary file), checking its
/// sha256 and size.
fn download(client: &Client, l: &Layer, dst: &Path, pb: &Pb) -> Result<()> {
    let (url, mut r) = client.get_blob(&l.digest)?;
    let tmp = TmpGuard::new(tmp_path(dst));
    let mut f = File::create(tmp.path())
        .with_context(|| format!("{}: cannot create", tmp.path().display()))?;
    let mut h = Sha256::new();
    let mut n = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let k = r
            .read(&mut buf)
            .with_context(|| format!("GET {url}: reading the body"))?;
        if k == 0 {
            break;
        }
        let piece = &buf[..k];
        h.update(piece);
        f.write_all(piece)
            .with_context(|| format!("{}: write failed", tmp.path().display()))?;
        n += k as u64;
        pb.inc(k as u64);
        if n > l.size {
            bail!("GET {url}: more than the manifest's {} bytes", l.size);
        }
    }
    let got = format!("sha256:{}", hex(&h.finalize()));
    if n != l.size || got != l.digest {
        bail!(
            "GET {url}: {n} bytes with digest {got}, expected {} bytes with {}",
            l.size,
            l.digest
        );
    }
    drop(f);
    tmp.persist(dst)
}

/// Checks a data blob's trailer against its fs-verity digest; returns its
/// geometry (and checks that the blob's size fits it).
fn check_trailer(l: &Layer, verity: &str, trailer: &[u8]) -> Result<Geometry> {
    let desc = Descriptor::parse(trailer)
        .map_err(|e| anyhow!("blob {}: trailer is no verity descriptor: {e}", l.digest))?;
    let d = desc.digest(&Sha256Hasher).map_err(crate::util::fe)?;
    if hex(&d) != verity {
        bail!(
            "blob {}: its trailer's fs-verity digest is {}, the manifest says {verity}",
            l.digest,
            hex(&d)
        );
    }
    let g = Geometry::new(desc.data_size).map_err(crate::util::fe)?;
    if g.blob_size() != l.size {
        bail!(
            "blob {}: {} bytes, but its data area of {} bytes needs {}",
            l.digest,
            l.size,
            desc.data_size,
            g.blob_size()
        );
    }
    Ok(g)
}

/// Creates a data blob sparse, with only its tree and trailer.
fn lazy_blob(client: &Client, l: &Layer, verity: &str, dst: &Path, pb: &Pb) -> Result<u64> {
    let bs = BLOCK_SIZE as u64;
    if l.size < bs || !l.size.is_multiple_of(bs) {
        bail!("blob {}: {} bytes is no verity blob", l.digest, l.size);
    }
    let trailer = client.get_range(&l.digest, l.size - bs, bs)?;
    let g = check_trailer(l, verity, &trailer)?;
    let tree = client.get_range(&l.digest, g.tree_pos(), g.trailer_pos() - g.tree_pos())?;
    let tmp = TmpGuard::new(tmp_path(dst));
    let f = File::create(tmp.path())
        .with_context(|| format!("{}: cannot create", tmp.path().display()))?;
    let werr = || format!("{}: write failed", tmp.path().display());
    f.set_len(l.size).with_context(werr)?;
    f.write_all_at(&tree, g.tree_pos()).with_context(werr)?;
    f.write_all_at(&trailer, g.trailer_pos())
        .with_context(werr)?;
    pb.inc(l.size);
    drop(f);
    tmp.persist(dst)?;
    Ok(bs + tree.len() as u64)
}

/// Adds the blobs of `layers` to the lazy map in `dir`.
fn update_map(dir: &Path, client: &Client, layers: &[Layer]) -> Result<()> {
    let p = dir.join(MAP_FILE);
    let mut v: Value = match fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|_| json!({})),
        Err(_) => json!({}),
    };
    v["version"] = json!(1);
    if !v.get("blobs").is_some_and(Value::is_object) {
        v["blobs"] = json!({});
    }
    for l in layers.iter().skip(1) {
        if let Some(h) = &l.verity {
            v["blobs"][h] = json!({"repository": client.name, "digest": l.digest, "size": l.size});
        }
    }
    crate::util::write_atomically(&p, &serde_json::to_vec_pretty(&v)?)
}

/// Reads the lazy map of `dir`: fs-verity hex -> (OCI digest, size).
pub fn read_map(dir: &Path) -> Result<Vec<(String, String, u64)>> {
    let p = dir.join(MAP_FILE);
    let b = match fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", p.display())),
    };
    let v: Value =
        serde_json::from_slice(&b).with_context(|| format!("{}: not JSON", p.display()))?;
    let mut out = Vec::new();
    if let Some(m) = v.get("blobs").and_then(Value::as_object) {
        for (h, e) in m {
            let d = e.get("digest").and_then(Value::as_str).unwrap_or("");
            let s = e.get("size").and_then(Value::as_u64);
            match s {
                Some(s) if oci::is_oci_digest(d) && crate::image::is_digest_tag(h.as_bytes()) => {
                    out.push((h.clone(), d.to_string(), s))
                }
                _ => bail!("{}: bad entry for {h:?}", p.display()),
            }
        }
    }
    Ok(out)
}

/// Runs `rerofs pull`.
pub fn run(a: &PullArgs) -> Result<()> {
    if a.meta_name.is_empty()
        || a.meta_name.contains('/')
        || a.meta_name == "."
        || a.meta_name == ".."
        || crate::image::is_digest_tag(a.meta_name.as_bytes())
    {
        bail!(
            "--meta-name {:?}: a plain file name that is not a blob digest",
            a.meta_name
        );
    }
    let client = Client::new(&a.src);
    let layers = fetch_layers(&client, &a.src)?;
    fs::create_dir_all(&a.dir).with_context(|| format!("{}: cannot create", a.dir.display()))?;
    let meta = &layers[0];
    let data = &layers[1..];
    let total: u64 = layers.iter().map(|l| l.size).sum();
    let pb = Pb::new(
        total,
        if a.lazy { "pulling (lazy)" } else { "pulling" },
        a.quiet,
    );
    download(&client, meta, &a.dir.join(&a.meta_name), &pb)?;
    let mut fetched = meta.size;
    for l in data {
        let verity = l.verity.as_deref();
        let name = match verity {
            Some(h) => h.to_string(),
            None if a.lazy => bail!(
                "{}: blob {} has no {} annotation: an image without verity cannot be pulled lazily",
                client.name,
                l.digest,
                oci::VERITY_ANNOTATION
            ),
            // A plain image names its data blobs by their sha256.
            None => l.digest.trim_start_matches("sha256:").to_string(),
        };
        let dst = a.dir.join(&name);
        if a.lazy {
            let v = verity.unwrap_or_default();
            if dst.exists() {
                pb.inc(l.size);
                continue;
            }
            fetched += lazy_blob(&client, l, v, &dst, &pb)?;
        } else {
            download(&client, l, &dst, &pb)?;
            if let Some(h) = verity {
                let f = crate::util::open(&dst)?;
                let mut t = vec![0u8; BLOCK_SIZE];
                f.read_exact_at(&mut t, l.size.saturating_sub(BLOCK_SIZE as u64))
                    .with_context(|| format!("{}: cannot read its trailer", dst.display()))?;
                check_trailer(l, h, &t)?;
            }
            fetched += l.size;
        }
    }
    if a.lazy {
        update_map(&a.dir, &client, &layers)?;
    }
    drop(pb);
    println!(
        "pulled {}:{}{}: {} data blobs into {}, {fetched} of {total} bytes fetched",
        client.name,
        a.src.tag.as_deref().unwrap_or(""),
        if a.lazy { " (lazy)" } else { "" },
        data.len(),
        a.dir.display(),
    );
    Ok(())
}
