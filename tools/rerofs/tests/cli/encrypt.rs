// SPDX-License-Identifier: GPL-2.0

//! Keyed convergent encryption: `rerofs keygen`, `mkfs --encrypt`, `fsck
//! --image-key`, `rewrap`, and what an encrypted image must not show.

use crate::common::*;
use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Every output of `rerofs` in these tests, to check no key bytes leak.
struct Outputs(Vec<u8>);

impl Outputs {
    fn run(&mut self, args: &[&str]) -> Output {
        let o = rerofs(args);
        self.0.extend_from_slice(&o.stdout);
        self.0.extend_from_slice(&o.stderr);
        o
    }
    fn mkfs(&mut self, opts: &[&str], meta: &Path, sources: &[&Path]) -> Output {
        let o = mkfs(opts, meta, sources);
        self.0.extend_from_slice(&o.stdout);
        self.0.extend_from_slice(&o.stderr);
        o
    }
    /// Fails if `key` appears raw or in hex (either case) in any output.
    fn check_no_key(&self, key: &[u8]) {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let text = String::from_utf8_lossy(&self.0).to_lowercase();
        assert!(!text.contains(&hex), "key bytes in hex in the tool output");
        assert!(
            !self.0.windows(key.len()).any(|w| w == key),
            "raw key bytes in the tool output"
        );
    }
}

fn keygen(o: &mut Outputs, p: &Path) -> Vec<u8> {
    ok(&o.run(&["keygen", s(p)]));
    fs::read(p).unwrap()
}

/// The data area of a verity blob (without its tree and trailer).
fn data_area(p: &Path) -> Vec<u8> {
    let mut b = fs::read(p).unwrap();
    b.truncate(blob_data_size(p) as usize);
    b
}

/// The 4096-byte blocks of a data area.
fn blocks_of(b: &[u8]) -> HashSet<Vec<u8>> {
    b.chunks(4096).map(<[u8]>::to_vec).collect()
}

fn enc_opts<'a>(d: &'a Path, i: &'a Path) -> Vec<&'a str> {
    vec!["-q", "--encrypt", "--domain-key", s(d), "--image-key", s(i)]
}

/// Every 4096-byte-aligned block of every regular file under `root` (the
/// last one as it is, if at least 32 bytes), but all-zero ones.
fn plaintext_blocks(root: &Path, out: &mut Vec<(PathBuf, usize, Vec<u8>)>) {
    for e in fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        let md = fs::symlink_metadata(&p).unwrap();
        if md.is_dir() {
            plaintext_blocks(&p, out);
        } else if md.is_file() {
            for (k, b) in fs::read(&p).unwrap().chunks(4096).enumerate() {
                if b.len() >= 32 && b.iter().any(|&x| x != 0) {
                    out.push((p.clone(), k, b.to_vec()));
                }
            }
        }
    }
}

/// Fails if any of `needles` occurs anywhere (at any byte offset) in `hay`.
fn assert_absent(hay: &[u8], what: &Path, needles: &[(PathBuf, usize, Vec<u8>)]) {
    let heads: HashSet<&[u8]> = needles.iter().map(|n| &n.2[..32]).collect();
    for off in 0..hay.len().saturating_sub(31) {
        if !heads.contains(&hay[off..off + 32]) {
            continue;
        }
        for (p, k, n) in needles {
            assert!(
                !hay[off..].starts_with(n),
                "block {k} of {} in plaintext at offset {off} of {}",
                p.display(),
                what.display()
            );
        }
    }
}

#[test]
fn encrypted_images_round_trip_and_show_no_plaintext() {
    let (t, src, out, meta) = tree_and_out();
    let mut o = Outputs(Vec::new());
    let (dk, ik, ik2) = (
        t.path().join("d.key"),
        t.path().join("i.key"),
        t.path().join("i2.key"),
    );
    let (d, i, i2) = (
        keygen(&mut o, &dk),
        keygen(&mut o, &ik),
        keygen(&mut o, &ik2),
    );
    assert_eq!(
        fs::metadata(&ik).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_ne!(d, i);
    ok(&o.mkfs(&enc_opts(&dk, &ik), &meta, &[&src]));

    // The whole tree comes back through the image key.
    let x = t.path().join("x");
    ok(&o.run(&["fsck", "--image-key", s(&ik), "--extract", s(&x), s(&meta)]));
    same_tree(&src, &x, true);

    // No plaintext block of any file in any blob, the metadata blob included.
    let mut needles = Vec::new();
    plaintext_blocks(&src, &mut needles);
    assert!(needles.len() > 100, "{} plaintext blocks", needles.len());
    // The scan finds plaintext where there is some (a source file itself).
    let big = src.join("big");
    let hay = fs::read(&big).unwrap();
    let found = std::panic::catch_unwind(|| assert_absent(&hay[1000..], &big, &needles));
    assert!(
        found.is_err(),
        "the scan misses plaintext at an unaligned offset"
    );
    let blobs = blobs_in(&out);
    assert_eq!(blobs.len(), 1);
    for f in blobs.iter().chain([&meta]) {
        assert_absent(&fs::read(f).unwrap(), f, &needles);
    }
    // The small file's data is not inline in the metadata blob either.
    let meta_bytes = fs::read(&meta).unwrap();
    let inode_text = b"hello\n";
    assert!(!meta_bytes.windows(6).any(|w| w == inode_text));

    // Without a key, with the wrong one, with a short one: refused.
    let e = o.run(&["fsck", s(&meta)]);
    assert_eq!(e.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&e.stderr).contains("--image-key"));
    let e = o.run(&["fsck", "--image-key", s(&ik2), s(&meta)]);
    assert_eq!(e.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&e.stderr).contains("wrong image key"));
    let short = t.path().join("short.key");
    fs::write(&short, &i[..31]).unwrap();
    fs::set_permissions(&short, fs::Permissions::from_mode(0o600)).unwrap();
    let e = o.run(&["fsck", "--image-key", s(&short), s(&meta)]);
    assert_eq!(e.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&e.stderr).contains("exactly 32 bytes"));

    // Anyone can verify an encrypted image without a key; inspect shows the
    // header; a signature keeps the key check.
    ok(&o.run(&["verify", s(&meta)]));
    let insp = o.run(&["inspect", s(&meta)]);
    ok(&insp);
    let text = stdout_of(&insp);
    assert!(
        text.contains("rerofs_encrypted") && text.contains("key check present"),
        "{text}"
    );
    sign_with_ca(&meta);
    ok(&o.run(&["verify", s(&meta)]));
    ok(&o.run(&["fsck", "--image-key", s(&ik), s(&meta)]));

    // Rewrap: every data blob stays byte for byte, the new key opens the image
    // and the old one no longer does.
    let before: Vec<Vec<u8>> = blobs.iter().map(|b| fs::read(b).unwrap()).collect();
    let r = o.run(&[
        "rewrap",
        "--image-key",
        s(&ik),
        "--new-image-key",
        s(&ik2),
        s(&meta),
    ]);
    ok(&r);
    assert!(String::from_utf8_lossy(&r.stderr).contains("signature was dropped"));
    let after: Vec<Vec<u8>> = blobs_in(&out)
        .iter()
        .map(|b| fs::read(b).unwrap())
        .collect();
    assert!(before == after, "rewrap changed a data blob");
    let x2 = t.path().join("x2");
    ok(&o.run(&[
        "fsck",
        "--image-key",
        s(&ik2),
        "--extract",
        s(&x2),
        s(&meta),
    ]));
    same_tree(&src, &x2, true);
    let e = o.run(&["fsck", "--image-key", s(&ik), s(&meta)]);
    assert!(String::from_utf8_lossy(&e.stderr).contains("wrong image key"));
    ok(&o.run(&["verify", s(&meta)]));

    for k in [&d, &i, &i2] {
        o.check_no_key(k);
    }
}

#[test]
fn same_domain_shares_ciphertext_other_domains_share_none() {
    let t = tempfile::tempdir().unwrap();
    let mut o = Outputs(Vec::new());
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    fs::write(a.join("shared"), noise(7, 200_000)).unwrap();
    fs::write(a.join("own-a"), noise(8, 50_000)).unwrap();
    fs::write(b.join("shared-too"), noise(7, 200_000)).unwrap();
    fs::write(b.join("own-b"), noise(9, 70_000)).unwrap();
    let keys: Vec<PathBuf> = ["d1", "d2", "ia", "ib", "ic"]
        .iter()
        .map(|n| t.path().join(n))
        .collect();
    for k in &keys {
        keygen(&mut o, k);
    }
    let build = |o: &mut Outputs, name: &str, src: &Path, d: &Path, i: &Path| -> Vec<u8> {
        let dir = t.path().join(name);
        fs::create_dir(&dir).unwrap();
        ok(&o.mkfs(&enc_opts(d, i), &dir.join("meta.img"), &[src]));
        let blobs = blobs_in(&dir);
        assert_eq!(blobs.len(), 1);
        data_area(&blobs[0])
    };
    let ba = build(&mut o, "A", &a, &keys[0], &keys[2]);
    let bb = build(&mut o, "B", &b, &keys[0], &keys[3]);
    let bc = build(&mut o, "C", &b, &keys[1], &keys[4]);
    let (sa, sb, sc) = (blocks_of(&ba), blocks_of(&bb), blocks_of(&bc));
    // The shared file: 200,000 bytes in 64 KiB chunks, 49 blocks.
    assert_eq!(sa.intersection(&sb).count(), 49, "same domain key");
    assert_eq!(sa.intersection(&sc).count(), 0, "another domain key");
    // Same domain, same tree, another image key: the same data blob.
    let bb2 = build(&mut o, "B2", &b, &keys[0], &keys[4]);
    assert!(bb2 == bb, "the data blob depends on the image key");
}

#[test]
fn encryption_options_are_checked() {
    let (t, src, out, meta) = tree_and_out();
    let mut o = Outputs(Vec::new());
    let (dk, ik) = (t.path().join("d.key"), t.path().join("i.key"));
    keygen(&mut o, &dk);
    let i = keygen(&mut o, &ik);
    // keygen never overwrites.
    let e = o.run(&["keygen", s(&ik)]);
    assert_eq!(e.status.code(), Some(1));
    assert_eq!(fs::read(&ik).unwrap(), i);
    // Usage errors (exit 2): --encrypt without keys, keys without --encrypt,
    // --encrypt with --no-verity.
    for bad in [
        vec!["--encrypt"],
        vec!["--encrypt", "--domain-key", s(&dk)],
        vec!["--domain-key", s(&dk), "--image-key", s(&ik)],
        vec![
            "--encrypt",
            "--no-verity",
            "--domain-key",
            s(&dk),
            "--image-key",
            s(&ik),
        ],
    ] {
        let e = o.mkfs(&bad, &meta, &[&src]);
        assert_eq!(e.status.code(), Some(2), "{bad:?}");
    }
    assert!(!meta.exists());
    // The same file as both keys: refused.
    let e = o.mkfs(&enc_opts(&dk, &dk), &meta, &[&src]);
    assert_eq!(e.status.code(), Some(1));
    // A key readable by others: a warning, and the image is built.
    fs::set_permissions(&ik, fs::Permissions::from_mode(0o644)).unwrap();
    let w = o.mkfs(&enc_opts(&dk, &ik), &meta, &[&src]);
    ok(&w);
    assert!(
        String::from_utf8_lossy(&w.stderr).contains("accessible by group or others"),
        "{}",
        String::from_utf8_lossy(&w.stderr)
    );
    assert_eq!(blobs_in(&out).len(), 1);
    for sub in ["keygen", "rewrap"] {
        let h = o.run(&[sub, "--help"]);
        ok(&h);
        assert!(stdout_of(&h).contains("Usage"), "{sub} --help");
    }
    o.check_no_key(&i);
    o.check_no_key(&fs::read(&dk).unwrap());
}

/// Signed at build time, one blob per layer, and a second image of the same
/// domain reusing the first one's blobs: everything that works on plaintext
/// blobs works on ciphertext.
#[test]
fn encrypted_layers_are_signed_and_reused() {
    let t = tempfile::tempdir().unwrap();
    let mut o = Outputs(Vec::new());
    let (l1, l2) = (t.path().join("l1"), t.path().join("l2"));
    fs::create_dir_all(l1.join("usr")).unwrap();
    fs::create_dir_all(&l2).unwrap();
    fs::write(l1.join("usr/lib"), noise(20, 150_000)).unwrap();
    fs::write(
        l1.join("tiny"),
        b"a tiny file, still in a blob when encrypted",
    )
    .unwrap();
    fs::write(l2.join("app"), noise(21, 90_000)).unwrap();
    let (dk, ia, ib) = (t.path().join("d"), t.path().join("ia"), t.path().join("ib"));
    for k in [&dk, &ia, &ib] {
        keygen(&mut o, k);
    }
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    fs::create_dir(&a).unwrap();
    fs::create_dir(&b).unwrap();
    let mut opts = enc_opts(&dk, &ia);
    opts.extend(["--blob-per-layer", "--key", CA_KEY, "--cert", CA_CERT]);
    let r = o.mkfs(&opts, &a.join("meta.img"), &[&l1, &l2]);
    ok(&r);
    assert_eq!(blobs_in(&a).len(), 2);
    let v = o.run(&["verify", "--cert", CA_CERT, s(&a.join("meta.img"))]);
    ok(&v);
    assert!(
        stdout_of(&v).contains("signature: valid"),
        "{}",
        stdout_of(&v)
    );
    let x = t.path().join("x");
    ok(&o.run(&[
        "fsck",
        "--image-key",
        s(&ia),
        "--extract",
        s(&x),
        s(&a.join("meta.img")),
    ]));
    assert_eq!(fs::read(x.join("usr/lib")).unwrap(), noise(20, 150_000));
    assert_eq!(fs::read(x.join("app")).unwrap(), noise(21, 90_000));
    // Image B: same domain, its own image key, the first layer reused.
    let mut opts = enc_opts(&dk, &ib);
    opts.extend(["-v", "--blob-per-layer", "--reuse", s(&a), "--"]);
    let r = o.mkfs(&opts, &b.join("meta.img"), &[&l1]);
    ok(&r);
    assert!(
        stdout_of(&r).contains("reused, hard-linked"),
        "{}",
        stdout_of(&r)
    );
    let names = |d: &Path| -> Vec<_> {
        blobs_in(d)
            .iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect()
    };
    let (na, nb) = (names(&a), names(&b));
    assert_eq!(nb.len(), 1);
    assert!(na.contains(&nb[0]), "B's blob is A's first layer's");
    ok(&o.run(&["fsck", "--image-key", s(&ib), s(&b.join("meta.img"))]));
    // A's key does not open B, although B's blob is one of A's.
    let e = o.run(&["fsck", "--image-key", s(&ia), s(&b.join("meta.img"))]);
    assert!(String::from_utf8_lossy(&e.stderr).contains("wrong image key"));
}
