// SPDX-License-Identifier: GPL-2.0

//! Keyed convergent encryption in the tools: key files, chunk keys, XTS over
//! data units, wrapping chunk keys under the image key, the key check, and the
//! `keygen` and `rewrap` subcommands. The on-disk structures are in
//! `rerofs_format::encrypt`. Key bytes are wiped when dropped and never printed.

use crate::image::Image;
use crate::util::write_atomically;
use crate::verity::{build_tree, fmt_digest};
use aes::cipher::KeyInit;
use aes::Aes256;
use aes_gcm::aead::{AeadInPlace, Nonce};
use aes_gcm::Aes256Gcm;
use anyhow::{bail, Context, Result};
use hkdf::Hkdf;
use rerofs_format::encrypt::{
    chunk_key_info, key_check_ad, wrap_ad, Entry, KeyCheck, CHUNK_KEY_SIZE, DATA_UNIT_SIZE,
    ENTRY_SIZE, KEY_CHECK_POS, KEY_CHECK_SIZE, NONCE_SIZE,
};
use rerofs_format::verity::MAX_SIG_SIZE;
use sha2::Sha256;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use xts_mode::{get_tweak_default, Xts128};
use zeroize::Zeroizing;

/// A 32-byte key (domain or image key), wiped when dropped.
pub type Key32 = Zeroizing<[u8; 32]>;
/// A chunk key, wiped when dropped.
pub type ChunkKey = Zeroizing<[u8; CHUNK_KEY_SIZE]>;

/// Largest signature that fits beside the key check in the trailer.
pub const MAX_SIG_SIZE_ENCRYPTED: usize = MAX_SIG_SIZE - KEY_CHECK_SIZE;

/// Reads a key file: exactly 32 bytes. Warns when the file is readable by
/// group or others. Errors name the file and its size, never its bytes.
pub fn load_key(path: &Path, what: &str) -> Result<Key32> {
    let md =
        fs::metadata(path).with_context(|| format!("{}: cannot read {what}", path.display()))?;
    if !md.is_file() {
        bail!("{}: {what} must be a regular file", path.display());
    }
    if md.permissions().mode() & 0o077 != 0 {
        eprintln!(
            "rerofs: warning: {}: {what} is accessible by group or others (mode {:04o}); chmod 600 it",
            path.display(),
            md.permissions().mode() & 0o7777
        );
    }
    let bytes = Zeroizing::new(crate::util::read(path)?);
    if bytes.len() != 32 {
        bail!(
            "{}: {what} must be exactly 32 bytes (`rerofs keygen` makes one), not {}",
            path.display(),
            bytes.len()
        );
    }
    let mut k = Zeroizing::new([0u8; 32]);
    k.copy_from_slice(&bytes);
    Ok(k)
}

/// Fills `buf` with random bytes from the system's generator.
fn random(buf: &mut [u8]) -> Result<()> {
    openssl::rand::rand_bytes(buf).context("no random bytes from the system")
}

/// Derives chunk keys from a domain key: `K_c = HKDF-SHA256(D, info = "rerofs
/// chunk v1" || SHA-256(chunk))`.
pub struct ChunkKeys(Hkdf<Sha256>);

impl ChunkKeys {
    pub fn new(domain: &Key32) -> ChunkKeys {
        ChunkKeys(Hkdf::<Sha256>::new(None, &domain[..]))
    }
    /// The key of the chunk whose plaintext has SHA-256 `hash`.
    pub fn derive(&self, hash: &[u8; 32]) -> ChunkKey {
        let mut k = Zeroizing::new([0u8; CHUNK_KEY_SIZE]);
        self.0
            .expand(&chunk_key_info(hash), &mut k[..])
            .expect("64 bytes is a valid HKDF-SHA256 length");
        k
    }
}

fn xts(key: &ChunkKey) -> Xts128<Aes256> {
    let data = Aes256::new_from_slice(&key[..32]).expect("32-byte key");
    let tweak = Aes256::new_from_slice(&key[32..]).expect("32-byte key");
    Xts128::new(data, tweak)
}

/// Encrypts a chunk's data units in place (`buf`: whole 4096-byte units, the
/// first being unit 0 of the chunk).
pub fn encrypt_units(key: &ChunkKey, buf: &mut [u8]) {
    debug_assert!(buf.len().is_multiple_of(DATA_UNIT_SIZE));
    xts(key).encrypt_area(buf, DATA_UNIT_SIZE, 0, get_tweak_default);
}

/// Decrypts a chunk's data units in place (as [`encrypt_units`]).
pub fn decrypt_units(key: &ChunkKey, buf: &mut [u8]) {
    debug_assert!(buf.len().is_multiple_of(DATA_UNIT_SIZE));
    xts(key).decrypt_area(buf, DATA_UNIT_SIZE, 0, get_tweak_default);
}

fn gcm(key: &Key32) -> Aes256Gcm {
    Aes256Gcm::new_from_slice(&key[..]).expect("32-byte key")
}

/// Wraps `k` under the image key for the chunk at `startblk` (`blocks` long)
/// of device `device`, whose blob has digest `blob`: a fresh random nonce.
pub fn wrap(
    image: &Key32,
    k: &ChunkKey,
    device: u16,
    blob: &[u8; 32],
    startblk: u32,
    blocks: u32,
) -> Result<Entry> {
    let mut nonce = [0u8; NONCE_SIZE];
    random(&mut nonce)?;
    let mut wrapped = Zeroizing::new(**k);
    let tag = gcm(image)
        .encrypt_in_place_detached(
            Nonce::<Aes256Gcm>::from_slice(&nonce),
            &wrap_ad(blob, startblk, blocks),
            &mut wrapped[..],
        )
        .map_err(|_| anyhow::anyhow!("AES-GCM wrap failed"))?;
    Ok(Entry {
        nonce,
        wrapped: *wrapped,
        tag: tag.into(),
        device,
        startblk,
        blocks,
    })
}

/// Unwraps an entry's chunk key; `None` when the tag does not match (wrong
/// image key, or an entry moved or altered).
pub fn unwrap(image: &Key32, e: &Entry, blob: &[u8; 32]) -> Option<ChunkKey> {
    let mut k = Zeroizing::new(e.wrapped);
    gcm(image)
        .decrypt_in_place_detached(
            Nonce::<Aes256Gcm>::from_slice(&e.nonce),
            &wrap_ad(blob, e.startblk, e.blocks),
            &mut k[..],
            e.tag[..].into(),
        )
        .ok()?;
    Some(k)
}

/// The key check of `image_digest` under the image key.
pub fn key_check(image: &Key32, image_digest: &[u8; 32]) -> Result<KeyCheck> {
    let mut nonce = [0u8; NONCE_SIZE];
    random(&mut nonce)?;
    let tag = gcm(image)
        .encrypt_in_place_detached(
            Nonce::<Aes256Gcm>::from_slice(&nonce),
            &key_check_ad(image_digest),
            &mut [],
        )
        .map_err(|_| anyhow::anyhow!("AES-GCM failed"))?;
    Ok(KeyCheck {
        nonce,
        tag: tag.into(),
    })
}

/// Whether `kc` is the key check of `image_digest` under this image key.
pub fn key_matches(image: &Key32, kc: &KeyCheck, image_digest: &[u8; 32]) -> bool {
    gcm(image)
        .decrypt_in_place_detached(
            Nonce::<Aes256Gcm>::from_slice(&kc.nonce),
            &key_check_ad(image_digest),
            &mut [],
            kc.tag[..].into(),
        )
        .is_ok()
}

/// Puts the key check into a trailer block (its last 64 bytes); the
/// signature must leave room for it.
pub fn put_key_check(trailer: &mut [u8], kc: &KeyCheck, sig_len: usize) -> Result<()> {
    if sig_len > MAX_SIG_SIZE_ENCRYPTED {
        bail!(
            "a {sig_len}-byte signature does not fit beside the key check \
             (at most {MAX_SIG_SIZE_ENCRYPTED} bytes in an encrypted image)"
        );
    }
    trailer[KEY_CHECK_POS..KEY_CHECK_POS + KEY_CHECK_SIZE].copy_from_slice(&kc.to_bytes());
    Ok(())
}

/// Options of `rerofs keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// The key file to create: 32 random bytes, mode 0600. An existing file
    /// is never overwritten.
    pub file: PathBuf,
}

/// Runs `rerofs keygen`.
pub fn run_keygen(a: &KeygenArgs) -> Result<()> {
    let mut k = Zeroizing::new([0u8; 32]);
    random(&mut k[..])?;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&a.file)
        .with_context(|| {
            format!(
                "{}: cannot create (an existing key is never overwritten)",
                a.file.display()
            )
        })?;
    // The mode given to open() is masked by the umask: make sure it is 0600.
    f.set_permissions(fs::Permissions::from_mode(0o600))
        .and_then(|()| f.write_all(&k[..]))
        .and_then(|()| f.sync_all())
        .with_context(|| format!("{}: write failed", a.file.display()))?;
    println!(
        "rerofs keygen: {}: 32-byte key written (mode 0600)",
        a.file.display()
    );
    Ok(())
}

/// Options of `rerofs rewrap`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Rewrites the key table of an encrypted metadata blob: every chunk key is
unwrapped with the old image key and wrapped again with the new one (fresh
nonces), the metadata blob's tree and key check are made anew, and the image
digest changes. No data blob is read or touched: per-tenant keys and key
rotation without copying data. A signature is dropped (the digest it signed is
gone): sign again with `rerofs sign`. The old key no longer opens the new
metadata blob; keep or delete the old metadata blob as you need.")]
pub struct RewrapArgs {
    /// The current image key (a 32-byte file).
    #[arg(long, value_name = "FILE")]
    pub image_key: PathBuf,
    /// The new image key (a 32-byte file, e.g. from `rerofs keygen`).
    #[arg(long, value_name = "FILE")]
    pub new_image_key: PathBuf,
    /// The encrypted metadata blob, rewritten in place (atomically).
    pub image: PathBuf,
}

/// Runs `rerofs rewrap`.
pub fn run_rewrap(a: &RewrapArgs) -> Result<()> {
    let old = load_key(&a.image_key, "image key")?;
    let new = load_key(&a.new_image_key, "new image key")?;
    let mut img = Image::open(&a.image)?;
    let Some(hdr) = img.enc else {
        bail!("{}: not an encrypted image", a.image.display());
    };
    img.set_image_key(old)?;
    let d = img.sb.image_bytes() as usize;
    let mut data = img.meta[..d].to_vec();
    for idx in 0..hdr.entries as u32 {
        let (pos, e) = img.entry(idx)?;
        let blob = img.blob_digest(e.device)?;
        let k = img.unwrap_entry(idx, &e, &blob)?;
        let ne = wrap(&new, &k, e.device, &blob, e.startblk, e.blocks)?;
        data[pos as usize..pos as usize + ENTRY_SIZE].copy_from_slice(&ne.to_bytes());
    }
    let built = build_tree(&data)?;
    let mut trailer = built.trailer(&[])?;
    put_key_check(&mut trailer, &key_check(&new, &built.digest)?, 0)?;
    let had_sig = img.signed;
    data.extend_from_slice(&built.tree);
    data.extend_from_slice(&trailer);
    write_atomically(&a.image, &data)?;
    println!(
        "rerofs rewrap: {}: {} chunk keys wrapped under the new image key; image digest {}",
        a.image.display(),
        hdr.entries,
        fmt_digest(&built.digest)
    );
    if had_sig {
        eprintln!(
            "rerofs: warning: {}: the signature was dropped (it signed the old digest); sign again with `rerofs sign`",
            a.image.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::symm::{encrypt_aead, Cipher, Crypter, Mode};

    fn key32(b: u8) -> Key32 {
        Zeroizing::new([b; 32])
    }

    /// The data units are what Linux's `xts(aes)` (and dm-crypt's
    /// aes-xts-plain64) compute: OpenSSL's AES-256-XTS with the 16-byte
    /// little-endian unit index as IV is the oracle.
    #[test]
    fn xts_units_match_openssl_with_plain64_tweaks() {
        let keys = ChunkKeys::new(&key32(1));
        let k = keys.derive(&[2; 32]);
        assert_ne!(k[..32], k[32..], "XTS halves must differ");
        let plain: Vec<u8> = (0..3 * DATA_UNIT_SIZE)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut ours = plain.clone();
        encrypt_units(&k, &mut ours);
        for (u, unit) in plain.chunks(DATA_UNIT_SIZE).enumerate() {
            let iv = rerofs_format::encrypt::xts_tweak(u as u64);
            let mut c =
                Crypter::new(Cipher::aes_256_xts(), Mode::Encrypt, &k[..], Some(&iv)).unwrap();
            let mut out = vec![0u8; DATA_UNIT_SIZE + 16];
            let n = c.update(unit, &mut out).unwrap();
            let n = n + c.finalize(&mut out[n..]).unwrap();
            assert_eq!(
                &out[..n],
                &ours[u * DATA_UNIT_SIZE..(u + 1) * DATA_UNIT_SIZE],
                "unit {u}"
            );
        }
        decrypt_units(&k, &mut ours);
        assert!(ours == plain);
    }

    /// Chunk keys are HKDF-SHA256 as specified (OpenSSL's HKDF as oracle),
    /// depend on the domain key and the chunk hash, and on nothing else.
    #[test]
    fn chunk_keys_are_hkdf_of_the_domain_and_the_chunk_hash() {
        use openssl::md::Md;
        use openssl::pkey::Id;
        use openssl::pkey_ctx::PkeyCtx;
        let (d, h) = (key32(3), [4u8; 32]);
        let ours = ChunkKeys::new(&d).derive(&h);
        let mut ctx = PkeyCtx::new_id(Id::HKDF).unwrap();
        ctx.derive_init().unwrap();
        ctx.set_hkdf_md(Md::sha256()).unwrap();
        ctx.set_hkdf_key(&d[..]).unwrap();
        ctx.add_hkdf_info(&chunk_key_info(&h)).unwrap();
        let mut theirs = [0u8; 64];
        ctx.derive(Some(&mut theirs)).unwrap();
        assert_eq!(ours[..], theirs[..]);
        assert_eq!(ChunkKeys::new(&d).derive(&h)[..], ours[..]);
        assert_ne!(ChunkKeys::new(&key32(5)).derive(&h)[..], ours[..]);
        assert_ne!(ChunkKeys::new(&d).derive(&[6; 32])[..], ours[..]);
    }

    /// An entry unwraps only with its image key, for its blob and place; the
    /// wrap is AES-256-GCM as specified (OpenSSL as oracle).
    #[test]
    fn entries_are_bound_to_key_blob_and_place() {
        let (i, k) = (key32(7), ChunkKeys::new(&key32(8)).derive(&[9; 32]));
        let blob = [10u8; 32];
        let e = wrap(&i, &k, 1, &blob, 16, 4).unwrap();
        let mut tag = [0u8; 16];
        let c = encrypt_aead(
            Cipher::aes_256_gcm(),
            &i[..],
            Some(&e.nonce),
            &wrap_ad(&blob, 16, 4),
            &k[..],
            &mut tag,
        )
        .unwrap();
        assert_eq!((&c[..], tag), (&e.wrapped[..], e.tag));
        assert_eq!(unwrap(&i, &e, &blob).unwrap()[..], k[..]);
        assert!(unwrap(&key32(11), &e, &blob).is_none(), "another image key");
        assert!(unwrap(&i, &e, &[12; 32]).is_none(), "another blob");
        assert!(
            unwrap(&i, &Entry { startblk: 0, ..e }, &blob).is_none(),
            "another place"
        );
        assert!(
            unwrap(&i, &Entry { blocks: 5, ..e }, &blob).is_none(),
            "another length"
        );
        let mut t = e;
        t.wrapped[0] ^= 1;
        assert!(unwrap(&i, &t, &blob).is_none(), "altered");
        // Fresh nonces: wrapping twice gives two different entries.
        assert_ne!(wrap(&i, &k, 1, &blob, 16, 4).unwrap().nonce, e.nonce);
    }

    #[test]
    fn key_check_accepts_only_its_key_and_digest() {
        let (i, d) = (key32(13), [14u8; 32]);
        let kc = key_check(&i, &d).unwrap();
        assert!(key_matches(&i, &kc, &d));
        assert!(!key_matches(&key32(15), &kc, &d));
        assert!(!key_matches(&i, &kc, &[16; 32]));
        let mut t = [0u8; 4096];
        put_key_check(&mut t, &kc, MAX_SIG_SIZE_ENCRYPTED).unwrap();
        assert_eq!(KeyCheck::parse(&t).unwrap(), kc);
        assert!(put_key_check(&mut t, &kc, MAX_SIG_SIZE_ENCRYPTED + 1).is_err());
    }
}
