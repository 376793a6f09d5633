// SPDX-License-Identifier: GPL-2.0

//! `rerofs sign`, `rerofs digest` and `rerofs verify`: the offline side of
//! in-band verification.

use crate::crypt::put_key_check;
use crate::image::Image;
use crate::util::{fe, hex, read_pieces, Pb};
use crate::verity::{
    check_blob, fmt_digest, load_cert, parse_digest_arg, slot_root_problem, verify_signature,
    Checked, Signer, TreeBuilder,
};
use anyhow::{anyhow, bail, Context, Result};
use rerofs_format::encrypt::{KeyCheck, INCOMPAT_RERO_ENCRYPTED};
use rerofs_format::superblock::SuperBlock;
use rerofs_format::verity::{build, Geometry, COMPAT_RERO_VERITY, DIGEST_SIZE};
use rerofs_format::BLOCK_SIZE;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const BS64: u64 = BLOCK_SIZE as u64;

/// Options of `rerofs sign`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Signs the image digest (the metadata blob's fs-verity digest): a PKCS#7
detached signature (SHA-256, no attributes, no certificates) over rerofs's
signed message, written into the metadata blob's trailer block in place of
any earlier signature. The message is 46 bytes: \"RerofsIm\", __le16 version
1, __le16 hash algorithm 1 (SHA-256), __le16 digest size 32, the image
digest. It is not fs-verity's formatted digest: a signature `fsverity sign`
makes is for an fs-verity file and does not pass as an image signature (nor
the reverse). The blob's tree is checked first: a damaged image is not
signed. The data area, tree and digest do not change, so the data blobs and
every digest= stay valid.

The kernel accepts the signature when the signing certificate is in its
.rerofs keyring: keyctl padd asymmetric \"\" %:.rerofs < cert.der

EXIT STATUS:
  0 signed, 1 error (the image is left as it was), 2 usage error.")]
pub struct SignArgs {
    /// Private key (PEM or DER).
    #[arg(long)]
    pub key: PathBuf,
    /// Its X.509 certificate (PEM or DER); the kernel's .rerofs keyring must hold it.
    #[arg(long)]
    pub cert: PathBuf,
    /// Metadata blob of an image built with verity.
    pub image: PathBuf,
}

/// Options of `rerofs digest`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Prints `sha256:<hex> FILE` for each FILE, as `fsverity digest
--hash-alg=sha256 --block-size=4096` prints it. For a metadata blob (an image
with verity) the data area is the superblock's block count and the digest is
the image digest; for a data blob it is the size in its trailer's descriptor.
The blob's tree and descriptor are checked against its data first, so a
damaged blob gets an error, not a digest. With --data each FILE is taken as a
plain data area (any size) and its tree is computed from scratch.

EXIT STATUS:
  0 every digest printed, 1 some FILE failed, 2 usage error.")]
pub struct DigestArgs {
    /// Take each FILE as a data area, not as a blob with a tree and trailer.
    #[arg(long)]
    pub data: bool,
    /// Metadata blobs, data blobs, or (with --data) any files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Options of `rerofs verify`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Checks everything the kernel checks, offline: the metadata blob's size,
descriptor, every data block and hash block against its tree; each data
blob's size, descriptor and tree, and that its digest is its device slot's
tag; the signature, against --cert; the image digest, against --digest.
Every problem names the blob and the block or byte offset. The image digest
is printed last (`image digest: sha256:<hex>`, or only `sha256:<hex>` with
-q).

Without --cert a signature is only reported as present; with --cert a
missing or non-verifying signature is a problem. The signature must be over
rerofs's signed message (see `rerofs sign --help`), by CERT itself, as the
kernel checks it against the certificates of its .rerofs keyring; an
fs-verity file signature (as `fsverity sign` makes) is refused and said to
be one.

EXIT STATUS:
  0 everything verified, 1 problems found or error, 2 usage error.")]
pub struct VerifyArgs {
    /// Metadata blob to verify.
    pub image: PathBuf,
    /// Data blob for each extra device, in slot order (default: BLOB_DIR/<tag>).
    #[arg(long = "device", value_name = "BLOB")]
    pub devices: Vec<PathBuf>,
    /// Directory holding the data blobs named by their digests (default: the
    /// image's directory).
    #[arg(long, value_name = "DIR", conflicts_with = "devices")]
    pub blob_dir: Option<PathBuf>,
    /// Certificate (PEM or DER) the image's signature must verify with.
    #[arg(long, value_name = "CERT")]
    pub cert: Option<PathBuf>,
    /// Expected image digest: sha256:<64 hex digits>.
    #[arg(long, value_parser = parse_digest_arg)]
    pub digest: Option<[u8; DIGEST_SIZE]>,
    /// Print only the image digest (problems still go to standard error).
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

fn open(path: &Path) -> Result<(File, u64)> {
    let f = crate::util::open(path)?;
    let len = f
        .metadata()
        .with_context(|| format!("{}: cannot stat", path.display()))?
        .len();
    Ok((f, len))
}

/// The superblock of `f` if it starts with one (checked, checksum included).
fn superblock_of(f: &File, len: u64) -> Option<Result<SuperBlock>> {
    let mut b = vec![0u8; BLOCK_SIZE];
    if len < BS64 || f.read_exact_at(&mut b, 0).is_err() {
        return None;
    }
    // Only files with the EROFS magic are taken as images.
    if b.get(1024..1028) != Some(&rerofs_format::SUPER_MAGIC.to_le_bytes()[..]) {
        return None;
    }
    Some(
        SuperBlock::parse_accepting(&b, INCOMPAT_RERO_ENCRYPTED)
            .map_err(|e| anyhow!("superblock at offset 1024: {e}")),
    )
}

/// The data area size of a metadata blob with verity, from its superblock.
fn meta_data_size(path: &Path, f: &File, len: u64) -> Result<u64> {
    match superblock_of(f, len) {
        Some(Ok(sb)) if sb.feature_compat & COMPAT_RERO_VERITY != 0 => Ok(sb.image_bytes()),
        Some(Ok(_)) => bail!(
            "{}: the image has no verity (built with --no-verity, or its rerofs_verity \
             feature bit was cleared)",
            path.display()
        ),
        Some(Err(e)) => Err(e.context(format!("{}", path.display()))),
        None => bail!("{}: not an EROFS image", path.display()),
    }
}

fn check_reporting(path: &Path, f: &File, len: u64, data: Option<u64>, pb: &Pb) -> Result<Checked> {
    let c =
        check_blob(f, len, data, &|n| pb.inc(n)).with_context(|| format!("{}", path.display()))?;
    Ok(c)
}

/// Runs `rerofs sign`.
pub fn run_sign(a: &SignArgs) -> Result<()> {
    let signer = Signer::load(&a.key, &a.cert)?;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&a.image)
        .with_context(|| format!("{}: cannot open for writing", a.image.display()))?;
    let len = f.metadata()?.len();
    let d = meta_data_size(&a.image, &f, len)?;
    let pb = Pb::new(d, "checking", false);
    let c = check_reporting(&a.image, &f, len, Some(d), &pb)?;
    drop(pb);
    if !c.problems.is_empty() {
        for p in &c.problems {
            eprintln!("rerofs sign: {}: {p}", a.image.display());
        }
        bail!(
            "{}: not signing a damaged image ({} problem(s))",
            a.image.display(),
            c.problems.len()
        );
    }
    let sig = signer.sign(&c.digest)?;
    let mut trailer = build::trailer(&c.desc, &sig).map_err(fe)?;
    let pos = Geometry::new(d).map_err(fe)?.trailer_pos();
    // An encrypted image's key check (over the digest, which signing does not
    // change) stays in the trailer's last bytes.
    let mut old = vec![0u8; trailer.len()];
    f.read_exact_at(&mut old, pos)
        .with_context(|| format!("{}: cannot read the trailer block", a.image.display()))?;
    if KeyCheck::present(&old) {
        let kc = KeyCheck::parse(&old)
            .map_err(|e| anyhow!("{}: trailer at offset {pos}: {e}", a.image.display()))?;
        put_key_check(&mut trailer, &kc, sig.len())?;
    }
    f.write_all_at(&trailer, pos)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("{}: cannot write the trailer block", a.image.display()))?;
    println!(
        "rerofs sign: {}: signed {} ({} signature bytes)",
        a.image.display(),
        fmt_digest(&c.digest),
        sig.len()
    );
    Ok(())
}

/// The digest of one FILE for `rerofs digest`.
fn digest_of(path: &Path, data: bool) -> Result<[u8; DIGEST_SIZE]> {
    let (mut f, len) = open(path)?;
    let pb = Pb::new(len, "hashing", false);
    if data {
        let mut t = TreeBuilder::default();
        read_pieces(&mut f, path, |d| {
            t.update(d);
            pb.inc(d.len() as u64);
        })?;
        return Ok(t.finish()?.digest);
    }
    // A data blob may start with anything, an EROFS image included: what
    // looks like a superblock only decides when the blob's size agrees.
    let sb = superblock_of(&f, len).and_then(Result::ok);
    let c = match &sb {
        Some(sb) if sb.feature_compat & COMPAT_RERO_VERITY != 0 => {
            check_blob(&f, len, Some(sb.image_bytes()), &|n| pb.inc(n))
                .or_else(|_| check_blob(&f, len, None, &|n| pb.inc(n)))
        }
        _ => check_blob(&f, len, None, &|n| pb.inc(n)),
    };
    let c = match (c, &sb) {
        (Ok(c), _) => c,
        (Err(_), Some(sb)) if sb.feature_compat & COMPAT_RERO_VERITY == 0 => bail!(
            "{}: an image without verity (give --data to digest the file as it is)",
            path.display()
        ),
        (Err(e), _) => return Err(e.context(format!("{}", path.display()))),
    };
    if let Some(p) = c.problems.first() {
        bail!(
            "{}: {p} ({} problem(s); `rerofs verify` lists them)",
            path.display(),
            c.problems.len()
        );
    }
    Ok(c.digest)
}

/// Runs `rerofs digest`; `Ok(false)` when some FILE failed.
pub fn run_digest(a: &DigestArgs) -> Result<bool> {
    let mut all = true;
    for p in &a.files {
        match digest_of(p, a.data) {
            Ok(d) => println!("{} {}", fmt_digest(&d), p.display()),
            Err(e) => {
                eprintln!("rerofs digest: {e:#}");
                all = false;
            }
        }
    }
    Ok(all)
}

/// Runs `rerofs verify`; `Ok(false)` when problems were found.
pub fn run_verify(a: &VerifyArgs) -> Result<bool> {
    let name = a.image.display().to_string();
    let mut problems: Vec<String> = Vec::new();
    let cert = a.cert.as_deref().map(load_cert).transpose()?;
    let (f, len) = open(&a.image)?;
    // A damaged superblock is one more problem: the trailer still tells the
    // data area's size, and the tree which block is damaged.
    let d = match superblock_of(&f, len) {
        Some(Err(e)) => {
            problems.push(format!("metadata blob: {e:#}; data blobs not checked"));
            None
        }
        _ => Some(meta_data_size(&a.image, &f, len)?),
    };
    let img = match d {
        Some(_) => {
            let mut img = Image::open(&a.image)?;
            img.open_devices(&a.devices, a.blob_dir.as_deref())?;
            Some(img)
        }
        None => None,
    };
    let devices = img.as_ref().map_or(&[][..], |i| &i.devices[..]);
    let compat = img.as_ref().map_or(0, |i| i.sb.feature_compat);
    let total = d.unwrap_or(len)
        + devices
            .iter()
            .map(|dev| u64::from(dev.slot.blocks) * BS64)
            .sum::<u64>();
    let pb = Pb::new(total, "verifying", a.quiet);
    let say = |s: String| {
        if !a.quiet {
            println!("rerofs verify: {name}: {s}");
        }
    };

    // The metadata blob.
    let meta = check_reporting(&a.image, &f, len, d, &pb)?;
    let ok_meta = meta.problems.is_empty();
    problems.extend(meta.problems.iter().map(|p| format!("metadata blob: {p}")));

    // The data blobs.
    let mut bad_devices = 0;
    for (k, dev) in devices.iter().enumerate() {
        let what = format!("device {} ({})", k + 1, dev.path.display());
        let want = (dev.slot.blocks != 0).then(|| u64::from(dev.slot.blocks) * BS64);
        let before = problems.len();
        match check_blob(&dev.file, dev.len, want, &|n| pb.inc(n)) {
            Err(e) => problems.push(format!("{what}: {e:#}")),
            Ok(c) => {
                problems.extend(c.problems.iter().map(|p| format!("{what}: {p}")));
                if !c.sig.is_empty() {
                    problems.push(format!(
                        "{what}: its descriptor has {} signature bytes: data blobs carry none",
                        c.sig.len()
                    ));
                }
                if let Some(p) = slot_root_problem(compat, &dev.slot, &c.desc) {
                    problems.push(format!("{what}: {p}"));
                }
                let tag = dev.slot.tag();
                if hex(&c.digest).as_bytes() != tag {
                    problems.push(format!(
                        "{what}: its digest is {}, but its device slot's tag is {:?}: \
                         not this image's blob",
                        hex(&c.digest),
                        String::from_utf8_lossy(tag)
                    ));
                }
            }
        }
        if problems.len() == before {
            say(format!("{what}: ok"));
        } else {
            bad_devices += 1;
        }
    }
    drop(pb);
    if ok_meta {
        say(format!(
            "metadata blob: ok ({} data blocks, {} tree blocks)",
            meta.desc.data_size / BS64,
            Geometry::new(meta.desc.data_size)
                .map(|g| g.tree_blocks())
                .unwrap_or(0)
        ));
    }

    // The signature and the expected digest.
    match (&cert, meta.sig.is_empty()) {
        (None, true) => say("signature: none".into()),
        (None, false) => say(format!(
            "signature: present ({} bytes), not checked (give --cert)",
            meta.sig.len()
        )),
        (Some(_), true) => problems.push("signature: none, but --cert was given".into()),
        (Some(c), false) => match verify_signature(&meta.sig, &meta.digest, c) {
            Ok(()) => say(format!(
                "signature: valid, by {}",
                c.subject_name()
                    .entries()
                    .filter_map(|e| e.data().to_string().ok())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Err(e) => problems.push(format!(
                "signature ({} bytes at offset {}, in the trailer block): {e:#}",
                meta.sig.len(),
                len - BS64 + rerofs_format::verity::DESCRIPTOR_SIZE as u64
            )),
        },
    }
    if let Some(want) = &a.digest {
        if *want == meta.digest {
            say("digest: matches --digest".into());
        } else {
            problems.push(format!(
                "image digest is {}, not the expected {}",
                fmt_digest(&meta.digest),
                fmt_digest(want)
            ));
        }
    }
    for p in &problems {
        eprintln!("rerofs verify: {name}: {p}");
    }
    if a.quiet {
        println!("{}", fmt_digest(&meta.digest));
    } else {
        if !problems.is_empty() {
            println!(
                "rerofs verify: {name}: {} problem(s){}",
                problems.len(),
                if bad_devices > 0 {
                    format!(", in {bad_devices} data blob(s)")
                } else {
                    String::new()
                }
            );
        }
        println!("image digest: {}", fmt_digest(&meta.digest));
    }
    Ok(problems.is_empty())
}
