// SPDX-License-Identifier: GPL-2.0

//! `rerofs push`: store an image (its metadata blob and every data blob) in an
//! OCI registry as one manifest with one layer per blob (see [`crate::oci`]).

use crate::image::Image;
use crate::oci::{self, Client, Reference, BLOB_MEDIA_TYPE, META_MEDIA_TYPE};
use crate::util::{hex, open, read_pieces, Pb};
use crate::verity::{trailer_descriptor, Sha256Hasher};
use anyhow::{Context, Result};
use clap::Args;
use rerofs_format::verity::COMPAT_RERO_VERITY;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Args)]
#[command(after_help = "\
Every blob is uploaded unless the repository has it already (HEAD first): POST
then one monolithic PUT per blob, then the manifest. The manifest's first layer
is the metadata blob, then one layer per data blob in device-slot order; each
layer is annotated with the blob's fs-verity digest (dev.rerofs.verity.digest).
Plain HTTP only. Exit status: 0 pushed, 1 error (the message names the URL and
the HTTP status), 2 usage.")]
pub struct PushArgs {
    /// The metadata blob (image) to push.
    pub image: PathBuf,
    /// Directory holding the data blobs (named by their digests).
    #[arg(long)]
    pub blob_dir: Option<PathBuf>,
    /// Where: REGISTRY/REPO:TAG, e.g. 127.0.0.1:5000/app:v1.
    #[arg(value_parser = Reference::parse)]
    pub dest: Reference,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The fs-verity digest a blob's trailer names (not checked against the tree:
/// `rerofs verify` does that, and the kernel does it for every block it reads).
fn trailer_digest(path: &Path) -> Result<Option<[u8; 32]>> {
    Ok(trailer_descriptor(path)?.and_then(|d| d.digest(&Sha256Hasher).ok()))
}

/// sha256 and size of a file.
fn sha256_file(path: &Path, pb: &Pb) -> Result<(String, u64)> {
    let mut f = open(path)?;
    let mut h = Sha256::new();
    let mut n = 0u64;
    read_pieces(&mut f, path, |d| {
        h.update(d);
        n += d.len() as u64;
        pb.inc(d.len() as u64);
    })?;
    Ok((format!("sha256:{}", hex(&h.finalize())), n))
}

/// A reader that advances a progress bar.
struct Counting<'a, R> {
    inner: R,
    pb: &'a Pb,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pb.inc(n as u64);
        Ok(n)
    }
}

/// Runs `rerofs push`.
pub fn run(a: &PushArgs) -> Result<()> {
    let tag = a.dest.need_tag()?.to_string();
    let mut img = Image::open(&a.image)?;
    let verity = img.sb.feature_compat & COMPAT_RERO_VERITY != 0;
    img.open_devices(&[], a.blob_dir.as_deref())?;
    let mut paths: Vec<(PathBuf, &str, Option<String>)> = Vec::new();
    let meta_verity = if verity {
        trailer_digest(&a.image)?.map(|d| hex(&d))
    } else {
        None
    };
    paths.push((a.image.clone(), META_MEDIA_TYPE, meta_verity.clone()));
    for d in &img.devices {
        let tag = String::from_utf8_lossy(d.slot.tag()).into_owned();
        paths.push((d.path.clone(), BLOB_MEDIA_TYPE, verity.then_some(tag)));
    }
    let total: u64 =
        img.devices.iter().map(|d| d.len).sum::<u64>() + std::fs::metadata(&a.image)?.len();
    let client = Client::new(&a.dest);
    let mut layers = Vec::new();
    let mut uploaded = 0u64;
    let mut skipped = 0u64;
    {
        let pb = Pb::new(total, "hashing", a.quiet);
        for (p, mt, v) in &paths {
            let (digest, size) = sha256_file(p, &pb)?;
            layers.push((*mt, digest, size, v.clone()));
        }
    }
    {
        let pb = Pb::new(total, "pushing", a.quiet);
        let mut done = std::collections::HashSet::new();
        for ((p, _, _), (_, digest, size, _)) in paths.iter().zip(&layers) {
            if !done.insert(digest.clone()) || client.has_blob(digest)? {
                skipped += 1;
                pb.inc(*size);
                continue;
            }
            let f = open(p)?;
            client
                .upload(digest, *size, Counting { inner: f, pb: &pb })
                .with_context(|| format!("uploading {}", p.display()))?;
            uploaded += 1;
        }
    }
    let config = serde_json::json!({
        "rerofs": 1,
        "verity": verity,
        "image_digest": meta_verity.as_ref().map(|h| format!("sha256:{h}")),
        "blobs": layers.len() - 1,
    });
    let config = serde_json::to_vec(&config)?;
    let config_digest = format!("sha256:{}", hex(&Sha256::digest(&config)));
    if !client.has_blob(&config_digest)? {
        client.upload(&config_digest, config.len() as u64, &config[..])?;
    }
    let m = oci::make_manifest(
        (&config_digest, config.len() as u64),
        &layers,
        meta_verity.map(|h| format!("sha256:{h}")).as_deref(),
    );
    let body = serde_json::to_vec_pretty(&m)?;
    client.put_manifest(&tag, &body)?;
    println!(
        "pushed {}:{tag}: {} blobs ({uploaded} uploaded, {skipped} already there), {total} bytes, manifest sha256:{}",
        client.name,
        layers.len(),
        hex(&Sha256::digest(&body))
    );
    Ok(())
}
