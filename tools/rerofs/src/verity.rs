// SPDX-License-Identifier: GPL-2.0

//! In-band verification, userspace side: the SHA-256 behind the format crate's
//! Merkle code, trees built while a blob streams by, checking a blob against its
//! tree and descriptor, and PKCS#7 image signatures over rerofs's own signed
//! message.
//!
//! The layout itself (geometry, descriptor, trailer, signed message) is
//! `rerofs_format::verity`; nothing here re-defines it.

use crate::util::{fe, hex};
use anyhow::{anyhow, bail, Context, Result};
use openssl::pkcs7::{Pkcs7, Pkcs7Flags};
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;
use rayon::prelude::*;
use rerofs_format::devtable::DeviceSlot;
use rerofs_format::encrypt::{KeyCheck, KEY_CHECK_POS};
use rerofs_format::verity::{
    build, formatted_digest, hash_slot, parse_hex_digest, signed_message, Descriptor, Geometry,
    Hasher, COMPAT_RERO_SLOT_ROOT, DESCRIPTOR_SIZE, DIGEST_SIZE,
};
use rerofs_format::BLOCK_SIZE;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

const BS: usize = BLOCK_SIZE;
const BS64: u64 = BLOCK_SIZE as u64;

/// [`Hasher`] over the `sha2` crate.
pub struct Sha256Hasher;

impl Hasher for Sha256Hasher {
    type Error = rerofs_format::Error;
    fn sha256(&self, data: &[u8]) -> Result<[u8; DIGEST_SIZE], Self::Error> {
        Ok(Sha256::digest(data).into())
    }
}

fn sha256(data: &[u8]) -> [u8; DIGEST_SIZE] {
    Sha256::digest(data).into()
}

/// A data area's tree, descriptor (signature size 0) and digest.
pub struct Built {
    /// The tree, root level first (empty for at most one data block).
    pub tree: Vec<u8>,
    /// The descriptor.
    pub desc: Descriptor,
    /// The blob's fs-verity digest.
    pub digest: [u8; DIGEST_SIZE],
}

impl Built {
    /// The trailer block with `sig` after the descriptor.
    pub fn trailer(&self, sig: &[u8]) -> Result<Vec<u8>> {
        build::trailer(&self.desc, sig).map_err(fe)
    }
}

/// The verity descriptor in the last block of the blob at `path` (its trailer),
/// parsed but not checked against the tree; `None` when the file is shorter than
/// a block or that block holds no descriptor.
pub fn trailer_descriptor(path: &Path) -> Result<Option<Descriptor>> {
    let f = crate::util::open(path)?;
    let len = f.metadata()?.len();
    if len < BS64 {
        return Ok(None);
    }
    let mut b = vec![0u8; BS];
    f.read_exact_at(&mut b, len - BS64)
        .with_context(|| format!("{}: cannot read its trailer", path.display()))?;
    Ok(Descriptor::parse(&b).ok())
}

/// With `COMPAT_RERO_SLOT_ROOT` in `compat` the kernel takes a data blob's root
/// hash from its device slot, not from its trailer: a slot whose root hash is
/// not the one of the blob's checked tree (`desc`) is a problem (the mount fails).
pub fn slot_root_problem(compat: u32, slot: &DeviceSlot, desc: &Descriptor) -> Option<String> {
    (compat & COMPAT_RERO_SLOT_ROOT != 0 && slot.root_hash != desc.root_hash).then(|| {
        format!(
            "root hash in its slot is {}, its tree's is {}",
            hex(&slot.root_hash),
            hex(&desc.root_hash)
        )
    })
}

/// `sha256:<hex>`, as `fsverity digest` prints a digest.
pub fn fmt_digest(d: &[u8; DIGEST_SIZE]) -> String {
    format!("sha256:{}", hex(d))
}

/// Parses `sha256:<64 hex>` or plain `<64 hex>` (either case).
pub fn parse_digest_arg(s: &str) -> std::result::Result<[u8; DIGEST_SIZE], String> {
    let h = s.strip_prefix("sha256:").unwrap_or(s).to_ascii_lowercase();
    parse_hex_digest(h.as_bytes())
        .ok_or_else(|| format!("{s:?} is not a SHA-256 digest (sha256:<64 hex digits>)"))
}

/// Hashes of whole 4096-byte blocks, concatenated, computed in parallel.
fn leaf_hashes(data: &[u8]) -> Vec<u8> {
    data.par_chunks(BS).map(sha256).collect::<Vec<_>>().concat()
}

/// Builds a data area's tree while the data streams by, in pieces of any size.
#[derive(Default)]
pub struct TreeBuilder {
    /// Level 0 of the tree so far: one hash per complete data block.
    leaves: Vec<u8>,
    /// An incomplete block carried to the next piece.
    partial: Vec<u8>,
    size: u64,
}

impl TreeBuilder {
    /// Adds the next bytes of the data area.
    pub fn update(&mut self, mut data: &[u8]) {
        self.size += data.len() as u64;
        if !self.partial.is_empty() {
            let take = (BS - self.partial.len()).min(data.len());
            self.partial.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.partial.len() == BS {
                self.leaves.extend_from_slice(&sha256(&self.partial));
                self.partial.clear();
            }
        }
        let full = data.len() / BS * BS;
        self.leaves.extend(leaf_hashes(&data[..full]));
        self.partial.extend_from_slice(&data[full..]);
    }

    /// The tree of everything added (a last partial block is zero padded, as
    /// fs-verity pads it; the descriptor keeps the exact size).
    pub fn finish(mut self) -> Result<Built> {
        if !self.partial.is_empty() {
            self.partial.resize(BS, 0);
            self.leaves.extend_from_slice(&sha256(&self.partial));
        }
        // Level 0 is the leaves, zero padded to whole blocks; the levels above
        // it are the tree of level 0 taken as a data area.
        let (tree, root_hash) = match self.leaves.len() / DIGEST_SIZE {
            0 => (Vec::new(), [0u8; DIGEST_SIZE]),
            1 => {
                let mut r = [0u8; DIGEST_SIZE];
                r.copy_from_slice(&self.leaves);
                (Vec::new(), r)
            }
            _ => {
                let mut l0 = self.leaves;
                l0.resize(l0.len().next_multiple_of(BS), 0);
                let (mut tree, root) = build::merkle_tree(&Sha256Hasher, &l0).map_err(fe)?;
                tree.extend_from_slice(&l0);
                (tree, root)
            }
        };
        let desc = Descriptor {
            data_size: self.size,
            root_hash,
            sig_size: 0,
        };
        let digest = desc.digest(&Sha256Hasher).map_err(fe)?;
        Ok(Built { tree, desc, digest })
    }
}

/// The tree of a data area held in memory.
pub fn build_tree(data: &[u8]) -> Result<Built> {
    let mut t = TreeBuilder::default();
    t.update(data);
    t.finish()
}

/// What [`check_blob`] found in a well-formed blob.
pub struct Checked {
    /// The descriptor in the trailer.
    pub desc: Descriptor,
    /// The blob's digest (from the descriptor).
    pub digest: [u8; DIGEST_SIZE],
    /// The signature in the trailer (empty when there is none).
    pub sig: Vec<u8>,
    /// Mismatches: which block of which region, at which offset.
    pub problems: Vec<String>,
}

/// Most mismatches reported one by one per region.
const MAX_LISTED: usize = 8;

struct Problems {
    list: Vec<String>,
    region_count: usize,
    region_name: &'static str,
}

impl Problems {
    fn region(&mut self, name: &'static str) {
        self.flush();
        self.region_name = name;
    }
    fn push(&mut self, p: String) {
        self.region_count += 1;
        if self.region_count <= MAX_LISTED {
            self.list.push(p);
        }
    }
    fn flush(&mut self) {
        if self.region_count > MAX_LISTED {
            self.list.push(format!(
                "... {} more mismatching {} not listed",
                self.region_count - MAX_LISTED,
                self.region_name
            ));
        }
        self.region_count = 0;
    }
}

/// Checks a verity blob, `len` bytes of `file`, whose data area is `data_size`
/// bytes (`None`: as its trailer's descriptor says): its size, its descriptor,
/// every data block against level 0 (or the root hash), every hash block
/// against the level above, and the top block against the root hash.
///
/// Returns `Err` when the blob cannot be read or its trailer is no descriptor;
/// the mismatches found in a readable blob are in [`Checked::problems`].
/// `progress` is called with the bytes of each piece of data read.
pub fn check_blob(
    file: &File,
    len: u64,
    data_size: Option<u64>,
    progress: &dyn Fn(u64),
) -> Result<Checked> {
    let read = |pos: u64, n: usize| -> Result<Vec<u8>> {
        let mut v = vec![0u8; n];
        file.read_exact_at(&mut v, pos)
            .with_context(|| format!("short read of {n} bytes at offset {pos}"))?;
        Ok(v)
    };
    if len < BS64 || !len.is_multiple_of(BS64) {
        bail!("{len} bytes: not a whole number of 4096-byte blocks ending in a verity trailer");
    }
    let d = match data_size {
        Some(d) => d,
        None => {
            Descriptor::parse(&read(len - BS64, BS)?)
                .map_err(|e| anyhow!("verity descriptor at offset {}: {e}", len - BS64))?
                .data_size
        }
    };
    let g = Geometry::new(d).map_err(|e| anyhow!("data area of {d} bytes: {e}"))?;
    if len != g.blob_size() {
        bail!(
            "{len} bytes, but a data area of {d} bytes needs {} bytes with its tree and trailer: {}",
            g.blob_size(),
            if len < g.blob_size() {
                "truncated"
            } else {
                "not a verity blob of this size"
            }
        );
    }
    let tpos = g.trailer_pos();
    let trailer = read(tpos, BS)?;
    let desc = Descriptor::parse(&trailer)
        .map_err(|e| anyhow!("verity descriptor at offset {tpos}: {e}"))?;
    let sig = desc
        .signature(&trailer)
        .map_err(|e| anyhow!("verity descriptor at offset {tpos}: {e}"))?
        .to_vec();
    let mut p = Problems {
        list: Vec::new(),
        region_count: 0,
        region_name: "",
    };
    if desc.data_size != d {
        p.push(format!(
            "verity descriptor at offset {tpos}: data size {} but the data area is {d} bytes",
            desc.data_size
        ));
    }
    let used = DESCRIPTOR_SIZE + sig.len();
    // An encrypted metadata blob's key check is in the trailer's last bytes.
    let end = if KeyCheck::parse(&trailer).is_ok() && used <= KEY_CHECK_POS {
        KEY_CHECK_POS
    } else {
        BS
    };
    if let Some(k) = trailer[used..end].iter().position(|&b| b != 0) {
        p.push(format!(
            "trailer block: non-zero byte at offset {} after the descriptor and {} signature bytes",
            tpos + (used + k) as u64,
            sig.len()
        ));
    }
    let tree = read(g.tree_pos(), (tpos - g.tree_pos()) as usize)?;
    // The hash block of level `level` holding the hash of block `i` of the level
    // below: its offset in `tree` and the slot's offset in it.
    let slot = |level: usize, i: u64| -> (usize, usize) {
        let (blk, off) = hash_slot(i);
        let b = g.tree_block(level, blk).expect("inside the geometry");
        (b as usize * BS, off)
    };

    // Data blocks.
    p.region("data blocks");
    let data_blocks = g.data_blocks();
    let step = 256u64; // blocks per read
    let mut first = 0u64;
    let mut top_computed: Option<[u8; DIGEST_SIZE]> = None;
    while first < data_blocks {
        let n = step.min(data_blocks - first);
        let buf = read(first * BS64, (n * BS64) as usize)?;
        let hashes = leaf_hashes(&buf);
        for (k, h) in hashes.chunks(DIGEST_SIZE).enumerate() {
            let i = first + k as u64;
            if g.levels == 0 {
                top_computed = h.try_into().ok();
                continue;
            }
            let (at, off) = slot(0, i);
            if tree[at + off..at + off + DIGEST_SIZE] != *h {
                p.push(format!(
                    "data block {i} (offset {}) does not match its hash in tree level 0 \
                     (block at offset {}, byte {off})",
                    i * BS64,
                    g.tree_pos() + at as u64
                ));
            }
        }
        progress(n * BS64);
        first += n;
    }
    // Hash blocks, level by level.
    p.region("hash blocks");
    for level in 0..g.levels {
        for i in 0..g.level_blocks[level] {
            let at = g.tree_block(level, i).expect("inside the geometry") as usize * BS;
            let h = sha256(&tree[at..at + BS]);
            let pos = g.tree_pos() + at as u64;
            if level + 1 == g.levels {
                top_computed = Some(h);
                continue;
            }
            let (pat, off) = slot(level + 1, i);
            if tree[pat + off..pat + off + DIGEST_SIZE] != h {
                p.push(format!(
                    "tree level {level} block {i} (offset {pos}) does not match its hash in \
                     level {} (block at offset {}, byte {off})",
                    level + 1,
                    g.tree_pos() + pat as u64
                ));
            }
        }
    }
    p.flush();
    let top = top_computed.unwrap_or([0u8; DIGEST_SIZE]);
    if top != desc.root_hash {
        let what = if g.levels == 0 {
            if data_blocks == 0 {
                "an empty data area".to_string()
            } else {
                "data block 0 (offset 0)".to_string()
            }
        } else {
            format!(
                "the top tree block (offset {})",
                g.tree_pos() + g.level_start[g.levels - 1] * BS64
            )
        };
        p.push(format!(
            "root hash in the verity descriptor (offset {}) is {}, but {what} hashes to {}",
            tpos + 16,
            hex(&desc.root_hash),
            hex(&top)
        ));
    }
    let digest = desc.digest(&Sha256Hasher).map_err(fe)?;
    Ok(Checked {
        desc,
        digest,
        sig,
        problems: p.list,
    })
}

/// A private key and its certificate, from PEM files.
pub struct Signer {
    key: PKey<Private>,
    cert: X509,
}

/// Reads a certificate (PEM, or DER).
pub fn load_cert(path: &Path) -> Result<X509> {
    let b = crate::util::read(path)?;
    X509::from_pem(&b)
        .or_else(|_| X509::from_der(&b))
        .map_err(|e| {
            anyhow!(
                "{}: not an X.509 certificate (PEM or DER): {e}",
                path.display()
            )
        })
}

impl Signer {
    /// Loads `key` (PEM) and `cert` and checks that they belong together.
    pub fn load(key: &Path, cert: &Path) -> Result<Signer> {
        let kb = crate::util::read(key)?;
        let key_ = PKey::private_key_from_pem(&kb)
            .or_else(|_| PKey::private_key_from_der(&kb))
            .map_err(|e| anyhow!("{}: not a private key (PEM or DER): {e}", key.display()))?;
        let cert_ = load_cert(cert)?;
        let pubk = cert_
            .public_key()
            .map_err(|e| anyhow!("{}: no usable public key: {e}", cert.display()))?;
        if !pubk.public_eq(&key_) {
            bail!(
                "{}: the key does not match the certificate {}",
                key.display(),
                cert.display()
            );
        }
        Ok(Signer {
            key: key_,
            cert: cert_,
        })
    }

    /// A PKCS#7 detached signature (DER) over the signed message of the image
    /// digest `digest` ([`signed_message`]: "RerofsIm", version, algorithm, size,
    /// digest; not fs-verity's formatted digest). Binary, no attributes, no
    /// certificates (the kernel finds the signer in its `.rerofs` keyring), the
    /// key's default digest (SHA-256 for RSA and EC keys).
    pub fn sign(&self, digest: &[u8; DIGEST_SIZE]) -> Result<Vec<u8>> {
        let msg = signed_message(digest);
        let certs = Stack::new()?;
        let flags =
            Pkcs7Flags::BINARY | Pkcs7Flags::DETACHED | Pkcs7Flags::NOATTR | Pkcs7Flags::NOCERTS;
        let p7 = Pkcs7::sign(&self.cert, &self.key, &certs, &msg, flags)
            .map_err(|e| anyhow!("PKCS#7 signing failed: {e}"))?;
        let der = p7.to_der()?;
        if der.len() > rerofs_format::verity::MAX_SIG_SIZE {
            bail!(
                "the signature is {} bytes, more than the {} that fit in the trailer block (use a smaller key)",
                der.len(),
                rerofs_format::verity::MAX_SIG_SIZE
            );
        }
        Ok(der)
    }
}

/// Checks that `sig` (DER PKCS#7) is a signature by `cert` over the signed
/// message of the image digest `digest` ([`signed_message`]), as the kernel
/// checks it. The signer must be `cert` itself (the signature carries no
/// certificates, as the kernel's keyring check expects). A signature over
/// fs-verity's formatted digest (what `fsverity sign` makes) is refused, and
/// said to be one.
pub fn verify_signature(sig: &[u8], digest: &[u8; DIGEST_SIZE], cert: &X509) -> Result<()> {
    let p7 = Pkcs7::from_der(sig).map_err(|e| anyhow!("not a DER PKCS#7 message: {e}"))?;
    let mut certs = Stack::new()?;
    certs.push(cert.clone())?;
    let store = X509StoreBuilder::new()?.build();
    let check = |msg: &[u8]| {
        p7.verify(
            &certs,
            &store,
            Some(msg),
            None,
            Pkcs7Flags::BINARY | Pkcs7Flags::NOINTERN | Pkcs7Flags::NOVERIFY,
        )
    };
    match check(&signed_message(digest)) {
        Ok(()) => Ok(()),
        Err(_) if check(&formatted_digest(digest)).is_ok() => bail!(
            "is an fs-verity file signature (over fs-verity's formatted digest, as \
             `fsverity sign` makes), not a rerofs image signature: refused, as the kernel \
             refuses it (sign the image with `rerofs sign`)"
        ),
        Err(e) => bail!(
            "does not verify with this certificate ({})",
            ssl_reasons(&e)
        ),
    }
}

/// The reasons in an OpenSSL error stack, without the file and line noise.
fn ssl_reasons(e: &openssl::error::ErrorStack) -> String {
    let mut v: Vec<&str> = e.errors().iter().filter_map(|x| x.reason()).collect();
    v.dedup();
    if v.is_empty() {
        e.to_string()
    } else {
        v.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_root_hash_must_be_the_trees() {
        let mut raw = [0u8; 128];
        rerofs_format::build::write_device_slot(&mut raw, b"t", 3, 0, Some(&[5; 32])).unwrap();
        let slot = DeviceSlot::parse(&raw).unwrap();
        let mut desc = Descriptor {
            data_size: 3 * 4096,
            root_hash: [5; 32],
            sig_size: 0,
        };
        assert_eq!(slot_root_problem(COMPAT_RERO_SLOT_ROOT, &slot, &desc), None);
        desc.root_hash[31] ^= 1;
        let p = slot_root_problem(COMPAT_RERO_SLOT_ROOT, &slot, &desc).unwrap();
        assert!(p.starts_with("root hash in its slot is 0505"), "{p}");
        // Without the bit the slot's bytes mean nothing.
        assert_eq!(slot_root_problem(0, &slot, &desc), None);
    }

    #[test]
    fn streamed_tree_equals_the_format_crates() {
        for blocks in [0usize, 1, 2, 3, 128, 129, 300] {
            let data: Vec<u8> = (0..blocks * BS).map(|i| (i * 7 / 3) as u8).collect();
            let (tree, root) = build::merkle_tree(&Sha256Hasher, &data).unwrap();
            let mut t = TreeBuilder::default();
            for piece in data.chunks(1000) {
                t.update(piece);
            }
            let b = t.finish().unwrap();
            assert_eq!(b.tree, tree, "{blocks} blocks");
            assert_eq!(b.desc.root_hash, root, "{blocks} blocks");
            assert_eq!(b.desc.data_size, data.len() as u64);
        }
    }

    #[test]
    fn digest_args() {
        let h = "ab".repeat(32);
        assert_eq!(
            parse_digest_arg(&format!("sha256:{h}")).unwrap(),
            [0xab; 32]
        );
        assert_eq!(parse_digest_arg(&h.to_uppercase()).unwrap(), [0xab; 32]);
        assert!(parse_digest_arg("sha256:ab").is_err());
    }
}
