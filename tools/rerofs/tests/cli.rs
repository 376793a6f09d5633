// SPDX-License-Identifier: GPL-2.0

//! End-to-end tests of the `rerofs` binary, with erofs-utils as the oracle.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rerofs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rerofs"))
        .args(args)
        .output()
        .expect("run rerofs")
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "failed: {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `rerofs sign` with the test CA's key and certificate; must succeed.
fn sign_with_ca(image: &Path) {
    ok(&rerofs(&[
        "sign",
        "--key",
        CA_KEY,
        "--cert",
        CA_CERT,
        s(image),
    ]));
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--help").output().is_ok()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Deterministic pseudo-random bytes.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A source tree with most kinds of things in it.
fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("d/e")).unwrap();
    fs::write(root.join("small"), b"hello\n").unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    fs::write(root.join("big"), noise(1, 300_000)).unwrap();
    fs::write(root.join("d/big-copy"), noise(1, 300_000)).unwrap();
    fs::write(root.join("d/e/block"), noise(2, 8192)).unwrap();
    let mut mixed = noise(3, 4096);
    mixed.extend(vec![0u8; 16384]);
    mixed.extend(noise(4, 5000));
    fs::write(root.join("d/mixed"), mixed).unwrap();
    fs::hard_link(root.join("small"), root.join("d/small-link")).unwrap();
    symlink("../small", root.join("d/sym")).unwrap();
    symlink("x".repeat(3000), root.join("longsym")).unwrap();
    for i in 0..400 {
        fs::write(
            root.join(format!("d/e/f{i:04}-with-a-longer-name")),
            format!("{i}\n"),
        )
        .unwrap();
    }
    let c = std::ffi::CString::new(s(&root.join("small"))).unwrap();
    // SAFETY: valid C strings.
    unsafe {
        libc::setxattr(
            c.as_ptr(),
            c"user.test".as_ptr(),
            b"value".as_ptr().cast(),
            5,
            0,
        );
    }
}

/// Compares two trees: names, types, contents, modes, owners, mtimes, link counts, xattrs.
fn same_tree(a: &Path, b: &Path, check_nlink: bool) {
    let mut names_a: Vec<_> = fs::read_dir(a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut names_b: Vec<_> = fs::read_dir(b)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names_a.sort();
    names_b.sort();
    assert_eq!(
        names_a,
        names_b,
        "entries of {} vs {}",
        a.display(),
        b.display()
    );
    for n in names_a {
        let (pa, pb) = (a.join(&n), b.join(&n));
        let (ma, mb) = (
            fs::symlink_metadata(&pa).unwrap(),
            fs::symlink_metadata(&pb).unwrap(),
        );
        assert_eq!(ma.mode(), mb.mode(), "mode of {}", pa.display());
        assert_eq!(
            (ma.uid(), ma.gid()),
            (mb.uid(), mb.gid()),
            "owner of {}",
            pa.display()
        );
        assert_eq!(ma.rdev(), mb.rdev(), "rdev of {}", pa.display());
        if !ma.is_dir() {
            assert_eq!(
                (ma.mtime(), ma.mtime_nsec()),
                (mb.mtime(), mb.mtime_nsec()),
                "mtime of {}",
                pa.display()
            );
        }
        if check_nlink {
            assert_eq!(ma.nlink(), mb.nlink(), "nlink of {}", pa.display());
        }
        if ma.is_dir() {
            same_tree(&pa, &pb, check_nlink);
        } else if ma.file_type().is_symlink() {
            assert_eq!(fs::read_link(&pa).unwrap(), fs::read_link(&pb).unwrap());
        } else if ma.is_file() {
            assert!(
                fs::read(&pa).unwrap() == fs::read(&pb).unwrap(),
                "contents of {}",
                pa.display()
            );
        }
    }
}

fn diff_r(a: &Path, b: &Path) {
    let o = Command::new("diff")
        .args(["-r", "--no-dereference", s(a), s(b)])
        .output()
        .unwrap();
    ok(&o);
}

/// The data area size of a verity blob, from the descriptor in its trailer.
fn blob_data_size(p: &Path) -> u64 {
    let b = fs::read(p).unwrap();
    let t = &b[b.len() - 4096..];
    u64::from_le_bytes(t[8..16].try_into().unwrap())
}

/// A temporary directory with `make_tree` in `src`, an empty `out` and the
/// path `out/meta.img`.
fn tree_and_out() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    make_tree(&src);
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let meta = out.join("meta.img");
    (t, src, out, meta)
}

fn blobs_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.len() == 64 && n.bytes().all(|c| c.is_ascii_hexdigit())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn our_images_pass_fsck_erofs_and_extract_identically() {
    let (t, src, out, meta) = tree_and_out();
    // --no-holes: fsck.erofs 1.5 drops holes of chunk-based files when extracting.
    ok(&rerofs(&[
        "mkfs",
        "-q",
        "--no-holes",
        "--chunk-size",
        "4096",
        s(&meta),
        s(&src),
    ]));
    let blobs = blobs_in(&out);
    assert_eq!(blobs.len(), 1);

    // Our own checker, extracting losslessly.
    let x = t.path().join("x-rerofs");
    ok(&rerofs(&["fsck", "--extract", s(&x), s(&meta)]));
    diff_r(&src, &x);
    same_tree(&src, &x, true);

    // inspect --devices names the blob.
    let o = rerofs(&["inspect", "--devices", s(&meta)]);
    ok(&o);
    let name = blobs[0].file_name().unwrap().to_str().unwrap().to_string();
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{name}\n"));
    ok(&rerofs(&["inspect", "--json", s(&meta)]));

    if !have("fsck.erofs") {
        eprintln!("fsck.erofs not installed: skipping the erofs-utils half");
        return;
    }
    let x2 = t.path().join("x-erofs");
    let dev = format!("--device={}", s(&blobs[0]));
    let ex = format!("--extract={}", s(&x2));
    let o = Command::new("fsck.erofs")
        .args([dev.as_str(), ex.as_str(), s(&meta)])
        .output()
        .unwrap();
    ok(&o);
    diff_r(&src, &x2);
    // fsck.erofs 1.5 restores neither hard links nor xattrs; the rest must match.
    same_tree(&src, &x2, false);

    // Holes (the default) also pass fsck.erofs' checks.
    let meta2 = out.join("holes.img");
    ok(&rerofs(&[
        "mkfs",
        "-q",
        "--chunk-size",
        "4096",
        s(&meta2),
        s(&src),
    ]));
    let o = rerofs(&["inspect", "--devices", s(&meta2)]);
    let tag = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let dev = format!("--device={}", s(&out.join(&tag)));
    ok(&Command::new("fsck.erofs")
        .args([dev.as_str(), s(&meta2)])
        .output()
        .unwrap());
    let x3 = t.path().join("x-holes");
    ok(&rerofs(&["fsck", "--extract", s(&x3), s(&meta2)]));
    same_tree(&src, &x3, true);
}

#[test]
fn mkfs_erofs_images_are_read_back() {
    if !have("mkfs.erofs") {
        eprintln!("mkfs.erofs not installed: skipping");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    make_tree(&src);
    let cases: [&[&str]; 3] = [
        &[],
        &["--chunksize=8192"],
        &["--chunksize=4096", "--blobdev=BLOB"],
    ];
    for (k, extra) in cases.iter().enumerate() {
        let img = t.path().join(format!("img{k}"));
        let blob = t.path().join(format!("blob{k}"));
        let mut args: Vec<String> = extra.iter().map(|a| a.replace("BLOB", s(&blob))).collect();
        args.push("--preserve-mtime".into());
        args.push(s(&img).into());
        args.push(s(&src).into());
        ok(&Command::new("mkfs.erofs").args(&args).output().unwrap());
        let x = t.path().join(format!("x{k}"));
        let mut f = vec!["fsck", "--extract", s(&x)];
        if extra.iter().any(|a| a.starts_with("--blobdev")) {
            f.extend(["--device", s(&blob)]);
        }
        f.push(s(&img));
        ok(&rerofs(&f));
        diff_r(&src, &x);
        same_tree(&src, &x, true);
    }
}

#[test]
fn identical_chunks_are_stored_once() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir_all(src.join("a/b")).unwrap();
    let unit = noise(9, 65536);
    for i in 0..5 {
        fs::write(src.join(format!("a/copy{i}")), &unit).unwrap();
    }
    // Two chunks, the second equal to the first.
    fs::write(
        src.join("a/b/twice"),
        [unit.as_slice(), unit.as_slice()].concat(),
    )
    .unwrap();
    fs::write(src.join("a/b/other"), noise(10, 65536)).unwrap();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let meta = out.join("meta.img");
    ok(&rerofs(&[
        "mkfs",
        "-q",
        "--chunk-size",
        "65536",
        s(&meta),
        s(&src),
    ]));
    let blobs = blobs_in(&out);
    assert_eq!(blobs.len(), 1);
    assert_eq!(blob_data_size(&blobs[0]), 2 * 65536, "two unique chunks");
    let x = t.path().join("x");
    ok(&rerofs(&["fsck", "--extract", s(&x), s(&meta)]));
    same_tree(&src, &x, true);
}

#[test]
fn builds_are_reproducible() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    make_tree(&src);
    let mut metas = Vec::new();
    for k in 0..2 {
        let out = t.path().join(format!("out{k}"));
        fs::create_dir(&out).unwrap();
        let meta = out.join("meta.img");
        ok(&rerofs(&[
            "mkfs",
            "-q",
            "--timestamp",
            "1700000000",
            s(&meta),
            s(&src),
        ]));
        metas.push((
            fs::read(&meta).unwrap(),
            blobs_in(&out)
                .iter()
                .map(|p| p.file_name().unwrap().to_owned())
                .collect::<Vec<_>>(),
        ));
    }
    assert!(metas[0].0 == metas[1].0, "metadata blobs differ");
    assert_eq!(metas[0].1, metas[1].1);
}

/// Writes a tar layer: (path, contents or None for a directory).
fn tar_layer(path: &Path, entries: &[(&str, Option<&[u8]>)]) {
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        match data {
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                h.set_mode(0o644);
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
            }
        }
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        // `append_data` would refuse "..": write the raw name like a hostile archive.
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_cksum();
        b.append(&h, data.unwrap_or(&[])).unwrap();
    }
    b.finish().unwrap();
}

#[test]
fn tar_layers_apply_whiteouts() {
    let t = tempfile::tempdir().unwrap();
    let l1 = t.path().join("l1.tar");
    let l2 = t.path().join("l2.tar");
    tar_layer(
        &l1,
        &[
            ("a", Some(b"a1")),
            ("b", Some(b"b1")),
            ("d/", None),
            ("d/x", Some(b"x1")),
        ],
    );
    tar_layer(
        &l2,
        &[
            (".wh.a", Some(b"")),
            ("d/", None),
            ("d/.wh..wh..opq", Some(b"")),
            ("d/y", Some(b"y2")),
            ("b", Some(b"b2")),
        ],
    );
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let meta = out.join("meta.img");
    ok(&rerofs(&[
        "mkfs",
        "-q",
        "--blob-per-layer",
        s(&meta),
        s(&l1),
        s(&l2),
    ]));
    let x = t.path().join("x");
    ok(&rerofs(&["fsck", "--extract", s(&x), s(&meta)]));
    assert!(!x.join("a").exists());
    assert_eq!(fs::read(x.join("b")).unwrap(), b"b2");
    assert!(!x.join("d/x").exists());
    assert_eq!(fs::read(x.join("d/y")).unwrap(), b"y2");
}

#[test]
fn bad_inputs_fail_cleanly() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let meta = out.join("meta.img");

    // Usage errors exit 2.
    assert_eq!(rerofs(&[]).status.code(), Some(2));
    assert_eq!(rerofs(&["mkfs", s(&meta)]).status.code(), Some(2));
    assert_eq!(
        rerofs(&["mkfs", "--chunk-size", "5000", s(&meta), "x"])
            .status
            .code(),
        Some(2)
    );

    // A tar escaping the root.
    let evil = t.path().join("evil.tar");
    tar_layer(&evil, &[("../escaped", Some(b"boom"))]);
    let o = rerofs(&["mkfs", "-q", s(&meta), s(&evil)]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("escapes the root") && err.contains("evil.tar"),
        "{err}"
    );
    assert!(!t.path().join("escaped").exists() && !meta.exists());

    // A name longer than 255 bytes.
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    let long = t.path().join("long.tar");
    let name = "n".repeat(256);
    let mut b = tar::Builder::new(fs::File::create(&long).unwrap());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    b.append_data(&mut h, &name, &b"x"[..]).unwrap();
    b.finish().unwrap();
    let o = rerofs(&["mkfs", "-q", s(&meta), s(&long)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("255-byte limit"));

    // A missing source.
    let o = rerofs(&["mkfs", "-q", s(&meta), s(&t.path().join("nope"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope"));

    // A good image, then damage it.
    fs::write(src.join("f"), noise(5, 100_000)).unwrap();
    ok(&rerofs(&["mkfs", "-q", s(&meta), s(&src)]));
    let img = fs::read(&meta).unwrap();
    let trunc = out.join("trunc.img");
    fs::write(&trunc, &img[..img.len() - 4096]).unwrap();
    let o = rerofs(&["fsck", s(&trunc)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("truncated"));

    // A blob that is not the image's.
    let blob = blobs_in(&out).pop().unwrap();
    let mut data = fs::read(&blob).unwrap();
    data[10] ^= 0xff;
    fs::write(&blob, &data).unwrap();
    let o = rerofs(&["fsck", s(&meta)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not this image's blob"));

    // Not an image at all.
    let o = rerofs(&["fsck", s(&blob)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("magic"));
}

/// One member of a tar layer built by [`write_layer`].
enum Ent {
    Dir(&'static str, u32, u32),
    File(&'static str, Vec<u8>, u32, u32),
    Sym(&'static str, &'static str),
    Hard(&'static str, &'static str),
}

fn dir(p: &'static str) -> Ent {
    Ent::Dir(p, 0o755, 0)
}
fn file(p: &'static str, data: impl Into<Vec<u8>>) -> Ent {
    Ent::File(p, data.into(), 0o644, 0)
}
/// A whiteout (`.wh.NAME`) or opaque marker: an empty file.
fn wh(p: &'static str) -> Ent {
    Ent::File(p, Vec::new(), 0o644, 0)
}

/// Writes a tar layer, member names written raw (hostile ones included).
fn write_layer(path: &Path, mtime: u64, ents: &[Ent]) {
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    for e in ents {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        let (name, data, link): (&str, &[u8], Option<&str>) = match e {
            Ent::Dir(p, m, uid) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*m);
                h.set_uid(*uid as u64);
                h.set_gid(*uid as u64);
                (p, &[], None)
            }
            Ent::File(p, d, m, uid) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*m);
                h.set_uid(*uid as u64);
                h.set_gid(*uid as u64);
                h.set_size(d.len() as u64);
                (p, d, None)
            }
            Ent::Sym(p, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                (p, &[], Some(t))
            }
            Ent::Hard(p, t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                (p, &[], Some(t))
            }
        };
        if let Some(t) = link {
            h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
        }
        if name.len() <= 100 {
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, data).unwrap();
        } else {
            // A GNU long-name member first.
            b.append_data(&mut h, name, data).unwrap();
        }
    }
    b.finish().unwrap();
}

/// Removes whatever is at `p` (not following symlinks), if anything.
fn remove_any(p: &Path) {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p).unwrap(),
        Ok(_) => fs::remove_file(p).unwrap(),
        Err(_) => {}
    }
}

/// Applies an extracted layer `src` onto `dst` the OCI way, by hand: in each
/// directory the opaque marker and whiteouts first (hiding lower entries),
/// then the layer's own entries, files moved over (keeping their metadata
/// and hard links), directories merged.
fn merge_by_hand(src: &Path, dst: &Path) {
    let mut names: Vec<String> = fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    if names.iter().any(|n| n == ".wh..wh..opq") {
        for e in fs::read_dir(dst).unwrap() {
            remove_any(&e.unwrap().path());
        }
    }
    for n in &names {
        if let Some(v) = n.strip_prefix(".wh.") {
            if n != ".wh..wh..opq" {
                remove_any(&dst.join(v));
            }
        }
    }
    for n in names.iter().filter(|n| !n.starts_with(".wh.")) {
        let (s, d) = (src.join(n), dst.join(n));
        let m = fs::symlink_metadata(&s).unwrap();
        if m.is_dir() {
            if !fs::symlink_metadata(&d).is_ok_and(|m| m.is_dir()) {
                remove_any(&d);
                fs::create_dir(&d).unwrap();
            }
            merge_by_hand(&s, &d);
            fs::set_permissions(&d, m.permissions()).unwrap();
            std::os::unix::fs::chown(&d, Some(m.uid()), Some(m.gid())).unwrap();
        } else {
            remove_any(&d);
            fs::rename(&s, &d).unwrap();
        }
    }
}

/// Extracts each tar with GNU tar and applies it by hand onto `merged`.
fn apply_layers_by_hand(layers: &[&Path], merged: &Path, scratch: &Path) {
    fs::create_dir_all(merged).unwrap();
    for (i, l) in layers.iter().enumerate() {
        let st = scratch.join(format!("layer{i}"));
        fs::create_dir_all(&st).unwrap();
        ok(&Command::new("tar")
            .args(["-xpf", s(l), "-C", s(&st), "--numeric-owner"])
            .output()
            .unwrap());
        merge_by_hand(&st, merged);
    }
}

/// The device tags (blob digests) of an image, in slot order.
fn devices_of(meta: &Path) -> Vec<String> {
    let o = rerofs(&["inspect", "--devices", s(meta)]);
    ok(&o);
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// All paths under `root`, recursively, sorted.
fn listing(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The three layers of the stack tests; `variant` changes only layer 3.
fn layer_stack(at: &Path, variant: u8) -> [PathBuf; 3] {
    let big = |seed| noise(seed, 200_000);
    let l1 = at.join("l1.tar");
    write_layer(
        &l1,
        1_600_000_001,
        &[
            dir("bin/"),
            dir("etc/"),
            file("etc/conf", "v1\n"),
            file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"),
            file("bin/tool", big(1)),
            Ent::Hard("bin/tool2", "bin/tool"),
            Ent::Dir("lib/", 0o750, 1000),
            Ent::File("lib/liba", big(2), 0o755, 1000),
            file("lib/libb", big(3)),
            Ent::Sym("lib/liba.so", "liba"),
            Ent::Sym("sbin", "/bin"),
            dir("data/"),
            file("data/a", big(4)),
            file("data/b", noise(5, 10_000)),
            dir("data/sub/"),
            file("data/sub/deep", big(6)),
            file("data/keep", "keep\n"),
            file("empty", ""),
        ],
    );
    let l2 = at.join("l2.tar");
    write_layer(
        &l2,
        1_600_000_002,
        &[
            // Members in an order where a naive one-pass merge would hide
            // this layer's own lib/libc behind its opaque marker.
            dir("lib/"),
            file("lib/libc", big(7)),
            wh("lib/.wh..wh..opq"),
            wh("data/.wh.a"),
            file("etc/conf", "v2\n"),
            // Same content as bin/tool of layer 1: stored once.
            file("bin/tool-copy", big(1)),
            dir("opt/"),
            file("opt/app", big(8)),
            file("opt/app.cfg", "cfg\n"),
            // Added and whited out in the same layer: the file stays.
            file("etc/extra", noise(9, 5000)),
            wh("etc/.wh.extra"),
        ],
    );
    let l3 = at.join(format!("l3-{variant}.tar"));
    let mut ents = vec![
        wh(".wh.opt"),
        wh("bin/.wh.tool2"),
        dir("data/"),
        wh("data/.wh..wh..opq"),
        file("data/fresh", big(10 + variant as u64)),
        // Resurrects a name deleted by layer 2, with other content.
        file("data/a", noise(11, 3000)),
        Ent::File("etc/conf", b"v3\n".to_vec(), 0o600, 1000),
        wh("etc/.wh.passwd"),
    ];
    if variant == 1 {
        ents.push(wh("lib/.wh.libc"));
        ents.push(file("lib/libd", big(12)));
        ents.push(wh("bin/.wh.tool"));
    }
    write_layer(&l3, 1_600_000_003, &ents);
    [l1, l2, l3]
}

#[test]
fn layer_stack_matches_applying_layers_by_hand() {
    let t = tempfile::tempdir().unwrap();
    let [l1, l2, l3] = layer_stack(t.path(), 0);
    let expected = t.path().join("expected");
    apply_layers_by_hand(&[&l1, &l2, &l3], &expected, &t.path().join("scratch"));

    // A few things the stack must do, checked on the hand-made tree itself.
    assert!(!expected.join("opt").exists() && !expected.join("etc/passwd").exists());
    assert_eq!(fs::read(expected.join("etc/conf")).unwrap(), b"v3\n");
    assert!(expected.join("lib/libc").exists() && !expected.join("lib/liba").exists());
    assert!(expected.join("etc/extra").exists() && !expected.join("data/keep").exists());
    assert_eq!(fs::read(expected.join("data/a")).unwrap(), noise(11, 3000));
    assert_eq!(fs::metadata(expected.join("bin/tool")).unwrap().nlink(), 1);

    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let meta = out.join("meta.img");
    ok(&rerofs(&[
        "mkfs",
        "-q",
        "--blob-per-layer",
        "--chunk-size",
        "16384",
        s(&meta),
        s(&l1),
        s(&l2),
        s(&l3),
    ]));
    let tags = devices_of(&meta);
    assert_eq!(tags.len(), 3, "one blob per layer");

    let x = t.path().join("x-rerofs");
    ok(&rerofs(&["fsck", "--extract", s(&x), s(&meta)]));
    diff_r(&expected, &x);
    same_tree(&expected, &x, true);

    // The same stack from directories (the layers extracted) gives the same tree.
    let dirs: Vec<PathBuf> = (0..3)
        .map(|i| t.path().join(format!("scratch-d{i}")))
        .collect();
    for (d, l) in dirs.iter().zip([&l1, &l2, &l3]) {
        fs::create_dir(d).unwrap();
        ok(&Command::new("tar")
            .args(["-xpf", s(l), "-C", s(d), "--numeric-owner"])
            .output()
            .unwrap());
    }
    let meta_d = out.join("meta-dirs.img");
    ok(&rerofs(&[
        "mkfs",
        "-q",
        "--blob-per-layer",
        s(&meta_d),
        s(&dirs[0]),
        s(&dirs[1]),
        s(&dirs[2]),
    ]));
    let xd = t.path().join("x-dirs");
    ok(&rerofs(&["fsck", "--extract", s(&xd), s(&meta_d)]));
    same_tree(&expected, &xd, true);

    if !have("fsck.erofs") {
        eprintln!("fsck.erofs not installed: skipping the erofs-utils half");
        return;
    }
    let x2 = t.path().join("x-erofs");
    let mut args: Vec<String> = tags
        .iter()
        .map(|tag| format!("--device={}", s(&out.join(tag))))
        .collect();
    args.push(format!("--extract={}", s(&x2)));
    args.push(s(&meta).to_string());
    ok(&Command::new("fsck.erofs").args(&args).output().unwrap());
    diff_r(&expected, &x2);
    // fsck.erofs 1.5 does not restore hard links.
    same_tree(&expected, &x2, false);
}

fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn mkfs_layers(meta: &Path, extra: &[&str], layers: &[&Path]) -> Output {
    let mut args = vec!["mkfs", "-v", "--blob-per-layer", "--chunk-size", "16384"];
    args.extend(extra);
    args.push(s(meta));
    args.extend(layers.iter().map(|l| s(l)));
    rerofs(&args)
}

#[test]
fn images_sharing_layers_share_their_blobs_byte_for_byte() {
    let t = tempfile::tempdir().unwrap();
    let [l1, l2, l3] = layer_stack(t.path(), 0);
    // Layer 3 of the second image deletes files of layers 1 and 2 and stores
    // new ones: layers 1 and 2's blobs must not change.
    let [_, _, l3b] = layer_stack(t.path(), 1);

    let a = t.path().join("a");
    fs::create_dir(&a).unwrap();
    let meta_a = a.join("meta.img");
    let o = mkfs_layers(&meta_a, &[], &[&l1, &l2, &l3]);
    ok(&o);
    assert!(
        stdout_of(&o).contains("3 blob(s) (0 reused"),
        "{}",
        stdout_of(&o)
    );
    let tags_a = devices_of(&meta_a);
    assert_eq!(tags_a.len(), 3);

    // Built alone in another directory: the first two blobs are the same
    // files, by name and by content.
    let b = t.path().join("b");
    fs::create_dir(&b).unwrap();
    let meta_b = b.join("meta.img");
    ok(&mkfs_layers(&meta_b, &[], &[&l1, &l2, &l3b]));
    let tags_b = devices_of(&meta_b);
    assert_eq!(tags_b.len(), 3);
    assert_eq!(tags_a[..2], tags_b[..2]);
    assert_ne!(tags_a[2], tags_b[2]);
    for tag in &tags_a[..2] {
        assert!(
            fs::read(a.join(tag)).unwrap() == fs::read(b.join(tag)).unwrap(),
            "blob {tag} differs"
        );
    }
    // Every blob is named by its digest.
    for tag in tags_a.iter().chain(&tags_b) {
        let blob = if a.join(tag).exists() {
            a.join(tag)
        } else {
            b.join(tag)
        };
        let o = rerofs(&["digest", s(&blob)]);
        ok(&o);
        assert_eq!(stdout_of(&o), format!("sha256:{tag} {}\n", s(&blob)));
    }
    // So are the first two layers built on their own.
    let c = t.path().join("c");
    fs::create_dir(&c).unwrap();
    ok(&mkfs_layers(&c.join("meta.img"), &[], &[&l1, &l2]));
    assert_eq!(devices_of(&c.join("meta.img")), tags_a[..2]);

    // Into the first image's blob directory: the shared blobs are reused,
    // not rewritten (same inodes, same times).
    let before: Vec<_> = tags_a[..2]
        .iter()
        .map(|tag| {
            let m = fs::metadata(a.join(tag)).unwrap();
            (m.ino(), m.mtime(), m.mtime_nsec())
        })
        .collect();
    let meta_b2 = a.join("meta-b.img");
    let o = mkfs_layers(&meta_b2, &[], &[&l1, &l2, &l3b]);
    ok(&o);
    let out = stdout_of(&o);
    assert!(out.contains("3 blob(s) (2 reused"), "{out}");
    assert_eq!(out.matches(", reused").count(), 2, "{out}");
    let after: Vec<_> = tags_a[..2]
        .iter()
        .map(|tag| {
            let m = fs::metadata(a.join(tag)).unwrap();
            (m.ino(), m.mtime(), m.mtime_nsec())
        })
        .collect();
    assert_eq!(before, after);
    assert_eq!(devices_of(&meta_b2), tags_b);
    ok(&rerofs(&["fsck", s(&meta_b2)]));
    ok(&rerofs(&["fsck", s(&meta_a)]));

    // --reuse BLOB from elsewhere: hard-linked into the new blob directory.
    let d = t.path().join("d");
    fs::create_dir(&d).unwrap();
    let meta_d = d.join("meta.img");
    let reuse: Vec<PathBuf> = tags_a[..2].iter().map(|tag| a.join(tag)).collect();
    let o = mkfs_layers(
        &meta_d,
        &[
            "--blob-dir",
            s(&d.join("blobs")),
            "--reuse",
            s(&reuse[0]),
            s(&reuse[1]),
            "--",
        ],
        &[&l1, &l2, &l3b],
    );
    ok(&o);
    let out = stdout_of(&o);
    assert!(out.contains("(2 reused"), "{out}");
    assert_eq!(out.matches("hard-linked from").count(), 2, "{out}");
    for (tag, src) in tags_a[..2].iter().zip(&reuse) {
        let (x, y) = (
            fs::metadata(d.join("blobs").join(tag)).unwrap(),
            fs::metadata(src).unwrap(),
        );
        assert_eq!((x.dev(), x.ino()), (y.dev(), y.ino()));
    }
    let x = t.path().join("x-d");
    ok(&rerofs(&[
        "fsck",
        "--blob-dir",
        s(&d.join("blobs")),
        "--extract",
        s(&x),
        s(&meta_d),
    ]));
    let xb = t.path().join("x-b");
    ok(&rerofs(&["fsck", "--extract", s(&xb), s(&meta_b)]));
    same_tree(&xb, &x, true);

    // --reuse DIR: a pool; what does not match is left alone.
    let e = t.path().join("e");
    fs::create_dir(&e).unwrap();
    let o = mkfs_layers(
        &e.join("meta.img"),
        &["--reuse", s(&a), "--"],
        &[&l1, &l2, &l3],
    );
    ok(&o);
    assert!(
        stdout_of(&o).contains("3 blob(s) (3 reused"),
        "{}",
        stdout_of(&o)
    );

    // A --reuse blob that is not one of this image's: error, nothing written.
    let f = t.path().join("f");
    fs::create_dir(&f).unwrap();
    let o = mkfs_layers(
        &f.join("meta.img"),
        &["--reuse", s(&a.join(&tags_a[2])), "--"],
        &[&l1, &l2, &l3b],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not a data blob of this image") && err.contains(&tags_a[2]),
        "{err}"
    );
    assert!(listing(&f).is_empty(), "nothing may be written");
    // Named like one of ours but with other contents: error too.
    let fake = t.path().join("fake");
    fs::create_dir(&fake).unwrap();
    let mut bytes = fs::read(a.join(&tags_a[0])).unwrap();
    bytes[100] ^= 1;
    fs::write(fake.join(&tags_a[0]), &bytes).unwrap();
    let o = mkfs_layers(
        &f.join("meta.img"),
        &["--reuse", s(&fake.join(&tags_a[0])), "--"],
        &[&l1, &l2, &l3b],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not a valid blob"), "{err}");
    assert!(listing(&f).is_empty(), "nothing may be written");
    // ... but in a pool it is just not used, and a corrupt file in the blob
    // directory itself is replaced.
    fs::copy(fake.join(&tags_a[0]), a.join(&tags_a[0])).unwrap();
    let o = mkfs_layers(&meta_a, &["--reuse", s(&fake), "--"], &[&l1, &l2, &l3]);
    ok(&o);
    assert!(stdout_of(&o).contains("(2 reused"), "{}", stdout_of(&o));
    ok(&rerofs(&["fsck", s(&meta_a)]));
}

#[test]
fn layers_store_each_chunk_once() {
    let t = tempfile::tempdir().unwrap();
    let cs = 16384usize;
    let unit = |k| noise(100 + k, cs);
    let cat = |ks: &[u64]| ks.iter().flat_map(|&k| unit(k)).collect::<Vec<u8>>();
    let l1 = t.path().join("l1.tar");
    let l2 = t.path().join("l2.tar");
    write_layer(
        &l1,
        1,
        &[
            file("a", cat(&[1, 2, 3])),
            file("b", cat(&[3, 2, 1, 1])),
            file("c", cat(&[1])),
            // The same 5000-byte tail twice: stored once, padded to two blocks.
            file("t1", [unit(4), noise(7, 5000)].concat()),
            file("t2", [unit(1), noise(7, 5000)].concat()),
        ],
    );
    write_layer(
        &l2,
        2,
        &[
            file("a", cat(&[1, 2, 3])),
            file("d", cat(&[2, 5, 5])),
            wh(".wh.c"),
        ],
    );
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let meta = out.join("meta.img");
    let o = mkfs_layers(&meta, &[], &[&l1, &l2]);
    ok(&o);
    let tags = devices_of(&meta);
    assert_eq!(tags.len(), 2);
    let size = |tag: &String| blob_data_size(&out.join(tag)) as usize;
    // Layer 1: units 1-4 and the tail (5000 bytes, two blocks); layer 2: unit 5 only.
    assert_eq!(size(&tags[0]), 4 * cs + 2 * 4096);
    assert_eq!(size(&tags[1]), cs);
    let x = t.path().join("x");
    ok(&rerofs(&["fsck", "--extract", s(&x), s(&meta)]));
    assert_eq!(fs::read(x.join("d")).unwrap(), cat(&[2, 5, 5]));
    assert!(!x.join("c").exists());

    // One shared blob: the final tree's chunks only (c's unit 1 is still used by a).
    let meta2 = out.join("shared.img");
    ok(&rerofs(&[
        "mkfs",
        "-q",
        "--chunk-size",
        "16384",
        s(&meta2),
        s(&l1),
        s(&l2),
    ]));
    let tags2 = devices_of(&meta2);
    assert_eq!(tags2.len(), 1);
    assert_eq!(size(&tags2[0]), 5 * cs + 2 * 4096);
}

/// Runs `rerofs mkfs` expecting failure: exit code 1, an error naming
/// `needle`, and nothing written anywhere under `root`.
fn mkfs_fails(root: &Path, args: &[&str], needles: &[&str]) {
    let before = listing(root);
    let o = rerofs(&[&["mkfs", "-q"], args].concat());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {n:?} not in {err:?}");
    }
    assert!(err.starts_with("rerofs: error: "), "{err}");
    assert_eq!(listing(root), before, "{args:?} wrote something");
}

/// Runs `rerofs fsck` expecting failure (exit code 1) with `needle` in its output.
fn fsck_fails(args: &[&str], needle: &str) {
    let o = rerofs(&[&["fsck"], args].concat());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(1), "{args:?}: {all}");
    assert!(all.contains(needle), "{args:?}: {needle:?} not in {all:?}");
}

#[test]
fn hostile_and_broken_inputs_fail_cleanly() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let out = root.join("out");
    fs::create_dir(&out).unwrap();
    let meta = out.join("meta.img");
    let m = s(&meta);
    // A directory a hostile layer would like to write into.
    let outside = root.join("outside");
    fs::create_dir(&outside).unwrap();
    let outside_abs = s(&outside).to_string();
    let layer = |name: &str, ents: &[Ent]| {
        let p = root.join(name);
        write_layer(&p, 1, ents);
        p
    };

    // Tar members escaping the root, directly or through symlinks.
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            layer("dotdot.tar", &[file("a/../../pwned", "x")]),
            "escapes the root",
        ),
        (
            layer("abs.tar", &[file("/tmp/pwned", "x")]),
            "absolute path",
        ),
        (
            layer("hl-dotdot.tar", &[Ent::Hard("h", "../../etc/passwd")]),
            "escapes the root",
        ),
        (
            layer("hl-abs.tar", &[Ent::Hard("h", "/etc/passwd")]),
            "absolute path",
        ),
        (
            layer(
                "sym-abs.tar",
                &[
                    Ent::Sym("evil", Box::leak(outside_abs.clone().into_boxed_str())),
                    file("evil/pwned", "x"),
                ],
            ),
            "not a directory",
        ),
        (
            layer(
                "sym-up.tar",
                &[Ent::Sym("up", "../.."), file("up/outside/pwned", "x")],
            ),
            "not a directory",
        ),
        (
            layer(
                "hl-sym.tar",
                &[Ent::Sym("etc", "/etc"), Ent::Hard("h", "etc/passwd")],
            ),
            "does not exist",
        ),
    ];
    for (tarp, msg) in &cases {
        mkfs_fails(root, &[m, s(tarp)], &[msg, s(tarp)]);
    }
    // Through a symlink of a lower layer.
    let lower = layer("lower.tar", &[Ent::Sym("evil", "/tmp")]);
    let upper = layer("upper.tar", &[file("evil/pwned", "x")]);
    mkfs_fails(
        root,
        &[m, s(&lower), s(&upper)],
        &["not a directory", "upper.tar"],
    );
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    // Absolute and upward symlinks as such are only data, stored as given.
    let fine = layer(
        "fine.tar",
        &[Ent::Sym("abs", "/etc/passwd"), Ent::Sym("up", "../../..")],
    );
    ok(&rerofs(&["mkfs", "-q", m, s(&fine)]));
    let x = root.join("x-fine");
    ok(&rerofs(&["fsck", "--extract", s(&x), m]));
    assert_eq!(
        fs::read_link(x.join("abs")).unwrap(),
        Path::new("/etc/passwd")
    );
    assert_eq!(fs::read_link(x.join("up")).unwrap(), Path::new("../../.."));
    fs::remove_file(&meta).unwrap();
    fs::remove_dir_all(&x).unwrap();

    // Names longer than 255 bytes, as a file or as a directory on the way.
    let long = "n".repeat(256);
    for (k, name) in [long.clone(), format!("{long}/f"), format!("d/{long}")]
        .into_iter()
        .enumerate()
    {
        let p = root.join(format!("long{k}.tar"));
        let mut b = tar::Builder::new(fs::File::create(&p).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        b.append_data(&mut h, &name, &b"x"[..]).unwrap();
        b.finish().unwrap();
        mkfs_fails(
            root,
            &[m, s(&p)],
            &["256 bytes, longer than the 255-byte limit", s(&p)],
        );
    }
    // A whiteout of a 255-byte name is itself longer, and fine.
    let n255: &'static str = Box::leak("w".repeat(255).into_boxed_str());
    let wl1 = layer("w1.tar", &[file(n255, "x"), file("other", "y")]);
    let wl2 = layer(
        "w2.tar",
        &[wh(Box::leak(format!(".wh.{n255}").into_boxed_str()))],
    );
    ok(&rerofs(&["mkfs", "-q", m, s(&wl1), s(&wl2)]));
    let x = root.join("x-wh");
    ok(&rerofs(&["fsck", "--extract", s(&x), m]));
    assert_eq!(fs::read_dir(&x).unwrap().count(), 1);
    fs::remove_file(&meta).unwrap();
    fs::remove_dir_all(&x).unwrap();

    // Unreadable source files and directories. Root reads anything, so drop
    // the capabilities that let it when running as root.
    let src = root.join("src");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("ok"), noise(1, 10_000)).unwrap();
    fs::write(src.join("sub/secret"), noise(2, 10_000)).unwrap();
    fs::write(src.join("sub/tiny"), "inline data\n").unwrap();
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let cmd: Option<Vec<String>> = if euid != 0 {
        Some(vec![])
    } else if have("setpriv") {
        Some(vec![
            "setpriv".into(),
            "--bounding-set=-dac_override,-dac_read_search".into(),
        ])
    } else {
        None
    };
    match cmd {
        None => eprintln!("root without setpriv: skipping the unreadable-file cases"),
        Some(prefix) => {
            let run = |args: &[&str]| -> Output {
                let before = listing(root);
                let mut c = match prefix.first() {
                    Some(p) => {
                        let mut c = Command::new(p);
                        c.args(&prefix[1..]).arg(env!("CARGO_BIN_EXE_rerofs"));
                        c
                    }
                    None => Command::new(env!("CARGO_BIN_EXE_rerofs")),
                };
                let o = c.args(args).output().unwrap();
                assert_eq!(listing(root), before, "{args:?} wrote something");
                o
            };
            use std::os::unix::fs::PermissionsExt;
            for (what, path, needle) in [
                ("file", src.join("sub/secret"), "cannot open"),
                ("small file", src.join("sub/tiny"), "cannot open"),
                ("directory", src.join("sub"), "cannot list directory"),
            ] {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
                let o = run(&["mkfs", "-q", m, s(&src)]);
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
                let err = String::from_utf8_lossy(&o.stderr);
                assert_eq!(o.status.code(), Some(1), "unreadable {what}: {err}");
                assert!(
                    err.contains(s(&path))
                        && err.contains(needle)
                        && err.contains("Permission denied"),
                    "unreadable {what}: {err}"
                );
            }
        }
    }
    // An unreadable tar layer (reading /proc/self/mem at 0 fails).
    mkfs_fails(root, &[m, "/proc/self/mem"], &["/proc/self/mem"]);
    // A missing --reuse blob.
    mkfs_fails(
        root,
        &["--reuse", s(&root.join("nope")), "--", m, s(&src)],
        &["nope", "--reuse"],
    );

    // Two good images; then blobs that are not theirs, and truncated images.
    ok(&rerofs(&["mkfs", "-q", m, s(&src)]));
    let other = root.join("other");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("f"), noise(3, 50_000)).unwrap();
    let meta2 = out.join("other.img");
    ok(&rerofs(&["mkfs", "-q", s(&meta2), s(&other)]));
    let tag2 = devices_of(&meta2).pop().unwrap();
    let tag1 = devices_of(&meta).pop().unwrap();
    // The other image's blob given as this one's device.
    fsck_fails(
        &["--device", s(&out.join(&tag2)), m],
        "not this image's blob",
    );
    // A file that is no blob at all.
    fsck_fails(
        &["--device", s(&src.join("ok")), m],
        "not this image's blob",
    );
    // A truncated blob.
    let short = root.join("short");
    fs::write(&short, &fs::read(out.join(&tag1)).unwrap()[..4096]).unwrap();
    fsck_fails(&["--device", s(&short), m], "truncated");
    // Truncated metadata blobs: in the middle, inside the superblock, empty.
    let img = fs::read(&meta).unwrap();
    for (k, len) in [img.len() - 4096, 1100, 0].into_iter().enumerate() {
        let p = out.join(format!("trunc{k}.img"));
        fs::write(&p, &img[..len]).unwrap();
        let o = rerofs(&["fsck", s(&p)]);
        assert_eq!(o.status.code(), Some(1), "truncated to {len}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(s(&p)), "truncated to {len}: {err}");
        let o = rerofs(&["inspect", s(&p)]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "inspect of an image truncated to {len}"
        );
    }
    // The untouched images still check out.
    ok(&rerofs(&["fsck", m]));
    ok(&rerofs(&["fsck", s(&meta2)]));
}

/// `dump.erofs --ls` of every directory of an image made by `rerofs mkfs` lists the
/// source tree's names, and `dump.erofs --path` gives every file's size.
#[test]
fn dump_erofs_shows_the_source_tree() {
    assert!(have("dump.erofs"), "dump.erofs (erofs-utils) is required");
    let (_t, src, out, meta) = tree_and_out();
    ok(&rerofs(&[
        "mkfs",
        "-q",
        "--chunk-size",
        "65536",
        s(&meta),
        s(&src),
    ]));
    let blobs = blobs_in(&out);
    let device = format!("--device={}", s(&blobs[0]));
    let dump = |args: &[&str]| {
        let o = Command::new("dump.erofs")
            .args(args)
            .arg(&device)
            .arg(&meta)
            .output()
            .unwrap();
        ok(&o);
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let mut dirs = vec![PathBuf::new()];
    let mut checked = 0;
    while let Some(rel) = dirs.pop() {
        let path = format!("--path=/{}", rel.display());
        let text = dump(&["--ls", &path]);
        let mut listed: Vec<String> = text
            .lines()
            .skip_while(|l| !l.contains("FILENAME"))
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
            .filter(|n| n != "." && n != "..")
            .collect();
        listed.sort();
        let mut expected: Vec<String> = fs::read_dir(src.join(&rel))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_str().unwrap().to_string())
            .collect();
        expected.sort();
        assert_eq!(listed, expected, "dump.erofs --ls {path}");
        for name in expected {
            let r = rel.join(&name);
            let md = fs::symlink_metadata(src.join(&r)).unwrap();
            if md.is_dir() {
                dirs.push(r);
            } else if md.is_file() {
                let info = dump(&[&format!("--path=/{}", r.display())]);
                assert!(
                    info.contains(&format!("Size: {} ", md.len())),
                    "dump.erofs --path=/{}: size {} not in\n{info}",
                    r.display(),
                    md.len()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 400, "only {checked} files checked");
}

// ---- In-band verification (verity, signatures) ----

const CA_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../kernel/certs/rerofs-test-ca.key"
);
const CA_CERT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../kernel/certs/rerofs-test-ca.pem"
);

/// `fsverity digest --hash-alg=sha256 --block-size=4096` of a file: `sha256:<hex>`.
fn fsverity_digest(p: &Path) -> String {
    let o = Command::new("fsverity")
        .args(["digest", "--hash-alg=sha256", "--block-size=4096"])
        .arg(p)
        .output()
        .unwrap();
    ok(&o);
    stdout_of(&o).split_whitespace().next().unwrap().to_string()
}

/// The first `len` bytes of `p`, copied out with `head -c` (the data area).
fn head_c(p: &Path, len: u64, to: &Path) {
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("head -c {len} \"$1\" > \"$2\""))
        .args(["sh", s(p), s(to)])
        .output()
        .unwrap();
    ok(&o);
    assert_eq!(fs::metadata(to).unwrap().len(), len);
}

/// The superblock block count and each device slot's block count of an image.
fn block_counts(meta: &Path) -> (u64, Vec<u64>) {
    let o = rerofs(&["inspect", "--json", s(meta)]);
    ok(&o);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let devs = j["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["blocks"].as_u64().unwrap())
        .collect();
    (j["superblock"]["blocks"].as_u64().unwrap(), devs)
}

/// The first line `rerofs digest` prints for `p`.
fn rerofs_digest(args: &[&str]) -> String {
    let o = rerofs(&[&["digest"], args].concat());
    ok(&o);
    stdout_of(&o).split_whitespace().next().unwrap().to_string()
}

#[test]
fn verity_digests_match_fsverity() {
    if !have("fsverity") {
        eprintln!("fsverity not installed: skipping");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    // Tree shapes: no tree (0 and 1 block), one level (2 blocks), two levels
    // (129 blocks), three levels (16385 blocks), and a size that is no
    // multiple of the block size, as plain files.
    let shapes: [u64; 6] = [0, 1, 2, 129, 16385, 0];
    for (k, blocks) in shapes.iter().enumerate() {
        let len = if k == 5 { 5000 } else { blocks * 4096 };
        let p = t.path().join(format!("data{k}"));
        fs::write(&p, noise(100 + k as u64, len as usize)).unwrap();
        assert_eq!(
            rerofs_digest(&["--data", s(&p)]),
            fsverity_digest(&p),
            "{len} bytes"
        );
    }
    // A multi-blob image whose data blobs have those shapes (a blob is never
    // empty), one layer each.
    let mut layers = Vec::new();
    for (k, blocks) in [1u64, 2, 129, 16385].iter().enumerate() {
        let l = t.path().join(format!("layer{k}"));
        fs::create_dir(&l).unwrap();
        fs::write(
            l.join(format!("f{k}")),
            noise(200 + k as u64, (blocks * 4096) as usize),
        )
        .unwrap();
        layers.push(l);
    }
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let meta = out.join("meta.img");
    let mut args = vec!["mkfs", "-q", "--blob-per-layer", s(&meta)];
    args.extend(layers.iter().map(|l| s(l)));
    ok(&rerofs(&args));
    let tags = devices_of(&meta);
    let (meta_blocks, dev_blocks) = block_counts(&meta);
    assert_eq!(dev_blocks, [1, 2, 129, 16385]);
    for (tag, blocks) in tags.iter().zip(&dev_blocks) {
        let blob = out.join(tag);
        assert!(blob.exists(), "blob {tag} is named by its tag");
        let area = t.path().join("area");
        head_c(&blob, blocks * 4096, &area);
        let want = format!("sha256:{tag}");
        assert_eq!(fsverity_digest(&area), want, "{blocks}-block blob");
        assert_eq!(rerofs_digest(&[s(&blob)]), want, "{blocks}-block blob");
    }
    // The metadata blob: its data area's fs-verity digest is the image digest.
    let area = t.path().join("meta-area");
    head_c(&meta, meta_blocks * 4096, &area);
    let image_digest = fsverity_digest(&area);
    assert_eq!(rerofs_digest(&[s(&meta)]), image_digest);
    let o = rerofs(&["verify", "-q", s(&meta)]);
    ok(&o);
    assert_eq!(stdout_of(&o).trim(), image_digest);
    let o = rerofs(&["inspect", s(&meta)]);
    ok(&o);
    assert!(stdout_of(&o).contains(&format!("image digest: {image_digest}")));
    assert!(stdout_of(&o).contains("rerofs_verity"));

    // erofs-utils read the image (unverified), the trees and trailers after
    // the data areas notwithstanding; so does our fsck, trees checked.
    let devs: Vec<String> = tags
        .iter()
        .map(|t| format!("--device={}", s(&out.join(t))))
        .collect();
    if have("fsck.erofs") {
        let x = t.path().join("x-erofs");
        ok(&Command::new("fsck.erofs")
            .args(&devs)
            .arg(format!("--extract={}", s(&x)))
            .arg(&meta)
            .output()
            .unwrap());
        for (k, l) in layers.iter().enumerate() {
            let f = format!("f{k}");
            assert!(fs::read(x.join(&f)).unwrap() == fs::read(l.join(&f)).unwrap());
        }
    }
    if have("dump.erofs") {
        let o = Command::new("dump.erofs")
            .args(&devs)
            .arg("--path=/f3")
            .arg(&meta)
            .output()
            .unwrap();
        ok(&o);
        assert!(stdout_of(&o).contains(&format!("Size: {} ", 16385 * 4096)));
    }
    ok(&rerofs(&["fsck", s(&meta)]));
}

/// Bytes of the signature in a metadata blob's trailer.
fn embedded_signature(meta: &Path) -> Vec<u8> {
    let b = fs::read(meta).unwrap();
    let t = &b[b.len() - 4096..];
    let n = u32::from_le_bytes(t[4..8].try_into().unwrap()) as usize;
    t[256..256 + n].to_vec()
}

/// Puts `sig` into the trailer of the metadata blob `meta` in place of its
/// signature (as `rerofs sign` does, but with any bytes).
fn set_signature(meta: &Path, sig: &[u8]) {
    let mut b = fs::read(meta).unwrap();
    let at = b.len() - 4096;
    let t = &mut b[at..];
    t[4..8].copy_from_slice(&(sig.len() as u32).to_le_bytes());
    t[256..].fill(0);
    t[256..256 + sig.len()].copy_from_slice(sig);
    fs::write(meta, b).unwrap();
}

/// The message a rerofs image signature signs, written out here byte by byte
/// (an oracle independent of the format crate): "RerofsIm", le16 version 1,
/// le16 hash algorithm 1, le16 digest size 32, the image digest.
fn rerofs_signed_message(digest: &str) -> Vec<u8> {
    let hexd = digest.strip_prefix("sha256:").unwrap();
    let mut msg = b"RerofsIm\x01\x00\x01\x00\x20\x00".to_vec();
    msg.extend((0..32).map(|i| u8::from_str_radix(&hexd[2 * i..2 * i + 2], 16).unwrap()));
    assert_eq!(msg.len(), 46);
    msg
}

/// fs-verity's formatted digest ("FSVerity", le16 1, le16 32, the digest).
fn fsverity_formatted_digest(digest: &str) -> Vec<u8> {
    let hexd = digest.strip_prefix("sha256:").unwrap();
    let mut msg = b"FSVerity\x01\x00\x20\x00".to_vec();
    msg.extend((0..32).map(|i| u8::from_str_radix(&hexd[2 * i..2 * i + 2], 16).unwrap()));
    msg
}

/// `openssl cms -verify` of the DER detached signature `sig` over `msg`, signer
/// `cert` (which is also the trust anchor): true when it verifies.
fn openssl_cms_verifies(dir: &Path, sig: &[u8], msg: &[u8], cert: &str) -> bool {
    let sigf = dir.join("cms.sig.der");
    let msgf = dir.join("cms.msg");
    fs::write(&sigf, sig).unwrap();
    fs::write(&msgf, msg).unwrap();
    let o = Command::new("openssl")
        .args(["cms", "-verify", "-binary", "-inform", "DER"])
        .args(["-in", s(&sigf), "-content", s(&msgf)])
        .args(["-certfile", cert, "-CAfile", cert])
        .args(["-purpose", "any", "-out", "/dev/null"])
        .output()
        .unwrap();
    o.status.success()
}

#[test]
fn signatures_sign_the_rerofs_message_not_fsverity_s() {
    let (t, src, _out, meta) = tree_and_out();
    let mk = |extra: &[&str]| {
        ok(&rerofs(
            &[
                &["mkfs", "-q", "-T", "1000"][..],
                extra,
                &[s(&meta), s(&src)],
            ]
            .concat(),
        ))
    };
    mk(&["--key", CA_KEY, "--cert", CA_CERT]);
    let sig = embedded_signature(&meta);
    assert!(!sig.is_empty());
    let o = rerofs(&["verify", "--cert", CA_CERT, s(&meta)]);
    ok(&o);
    assert!(
        stdout_of(&o).contains("signature: valid"),
        "{}",
        stdout_of(&o)
    );

    // `rerofs sign` on the unsigned build writes the same signature, and
    // changes nothing else.
    let signed = fs::read(&meta).unwrap();
    mk(&[]);
    assert!(embedded_signature(&meta).is_empty());
    let o = rerofs(&["verify", s(&meta)]);
    ok(&o);
    assert!(stdout_of(&o).contains("signature: none"));
    sign_with_ca(&meta);
    assert!(
        fs::read(&meta).unwrap() == signed,
        "rerofs sign differs from mkfs --key"
    );

    // OpenSSL (an independent oracle) verifies it over the rerofs message
    // written out by hand, and not over fs-verity's formatted digest.
    let d = rerofs_digest(&[s(&meta)]);
    if have("openssl") {
        assert!(
            openssl_cms_verifies(t.path(), &sig, &rerofs_signed_message(&d), CA_CERT),
            "openssl cms -verify refuses our signature over the rerofs message"
        );
        assert!(
            !openssl_cms_verifies(t.path(), &sig, &fsverity_formatted_digest(&d), CA_CERT),
            "our signature also verifies over fs-verity's formatted digest"
        );
    }

    // fsverity-utils' signature over the metadata data area (the same digest,
    // signed by the same key) is an fs-verity file signature: refused.
    let (blocks, _) = block_counts(&meta);
    let area = t.path().join("area");
    head_c(&meta, blocks * 4096, &area);
    if have("fsverity") {
        let theirs = t.path().join("sig.der");
        ok(&Command::new("fsverity")
            .args([
                "sign",
                s(&area),
                s(&theirs),
                "--key",
                CA_KEY,
                "--cert",
                CA_CERT,
            ])
            .output()
            .unwrap());
        let theirs = fs::read(&theirs).unwrap();
        assert!(theirs != sig, "fsverity sign made our signature");
        if have("openssl") {
            // The oracle agrees it is fs-verity's message that it signs.
            assert!(openssl_cms_verifies(
                t.path(),
                &theirs,
                &fsverity_formatted_digest(&d),
                CA_CERT
            ));
            assert!(!openssl_cms_verifies(
                t.path(),
                &theirs,
                &rerofs_signed_message(&d),
                CA_CERT
            ));
        }
        let fsv = meta.with_file_name("fsverity-signed.img");
        fs::copy(&meta, &fsv).unwrap();
        set_signature(&fsv, &theirs);
        assert_eq!(embedded_signature(&fsv), theirs);
        let o = rerofs(&["verify", "--cert", CA_CERT, s(&fsv)]);
        assert_eq!(o.status.code(), Some(1), "{}", stdout_of(&o));
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(err.contains("fs-verity file signature"), "{err}");
        // The digest is the same: only the signature is refused.
        assert_eq!(rerofs_digest(&[s(&fsv)]), d);
        // Re-signed with `rerofs sign`, the image verifies again.
        sign_with_ca(&fsv);
        assert!(fs::read(&fsv).unwrap() == signed);
    }

    // Signed by another key: does not verify with the CA's certificate.
    if have("openssl") {
        let k2 = t.path().join("k2.pem");
        let c2 = t.path().join("c2.pem");
        ok(&Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=other", "-keyout", s(&k2), "-out", s(&c2)])
            .output()
            .unwrap());
        ok(&rerofs(&[
            "sign",
            "--key",
            s(&k2),
            "--cert",
            s(&c2),
            s(&meta),
        ]));
        let o = rerofs(&["verify", "--cert", CA_CERT, s(&meta)]);
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stderr).contains("signature"));
        ok(&rerofs(&["verify", "--cert", s(&c2), s(&meta)]));
        // A key that is not the certificate's is refused before anything is written.
        let before = fs::read(&meta).unwrap();
        let o = rerofs(&["sign", "--key", CA_KEY, "--cert", s(&c2), s(&meta)]);
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stderr).contains("does not match"));
        assert!(fs::read(&meta).unwrap() == before);
    }
}

/// Flips one bit of byte `pos` of `p`.
fn flip(p: &Path, pos: u64) {
    let mut b = fs::read(p).unwrap();
    b[pos as usize] ^= 0x10;
    fs::write(p, b).unwrap();
}

#[test]
fn verify_catches_every_kind_of_damage() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir(&src).unwrap();
    // One data blob of 200 blocks: a two-level tree.
    fs::write(src.join("big"), noise(7, 200 * 4096)).unwrap();
    fs::write(src.join("small"), b"tiny\n").unwrap();
    let good = t.path().join("good");
    fs::create_dir(&good).unwrap();
    let meta = good.join("meta.img");
    ok(&rerofs(&[
        "mkfs",
        "-q",
        "--key",
        CA_KEY,
        "--cert",
        CA_CERT,
        s(&meta),
        s(&src),
    ]));
    let tag = devices_of(&meta).pop().unwrap();
    let digest = rerofs_digest(&[s(&meta)]);
    let (mblocks, dblocks) = block_counts(&meta);
    assert_eq!(dblocks, [200]);
    let md = mblocks * 4096;
    let dd = 200 * 4096;
    let mlen = fs::metadata(&meta).unwrap().len();
    let dlen = fs::metadata(good.join(&tag)).unwrap().len();
    // 200 blocks: level 0 has 2 blocks, level 1 (stored first) one.
    assert_eq!(dlen, dd + 3 * 4096 + 4096);
    let verify = |dir: &Path, extra: &[&str]| {
        rerofs(
            &[
                &["verify", "--cert", CA_CERT][..],
                extra,
                &[s(&dir.join("meta.img"))],
            ]
            .concat(),
        )
    };
    let o = verify(&good, &["--digest", &digest]);
    ok(&o);
    assert!(stdout_of(&o).ends_with(&format!("image digest: {digest}\n")));

    // (name, file, byte, what the error must say)
    let meta_name = "meta.img".to_string();
    let cases: Vec<(&str, &String, u64, String)> = vec![
        (
            "metadata data area",
            &meta_name,
            md - 1,
            format!("data block {} (offset", mblocks - 1),
        ),
        (
            "superblock",
            &meta_name,
            1024 + 0x24,
            "data block 0 (offset 0)".into(),
        ),
        (
            "data blob data area",
            &tag,
            5 * 4096 + 7,
            "data block 5 (offset 20480)".into(),
        ),
        (
            "data blob top tree block",
            &tag,
            dd + 10,
            "the top tree block".into(),
        ),
        (
            "data blob level-0 tree block",
            &tag,
            dd + 2 * 4096 + 40,
            "tree level 0 block 1".into(),
        ),
        (
            "data blob descriptor",
            &tag,
            dlen - 4096 + 20,
            "root hash in the verity descriptor".into(),
        ),
        (
            "metadata descriptor",
            &meta_name,
            mlen - 4096 + 9,
            "metadata blob: verity descriptor".into(),
        ),
        (
            "signature",
            &meta_name,
            mlen - 4096 + 256 + 200,
            "signature".into(),
        ),
        (
            "trailer padding",
            &meta_name,
            mlen - 1,
            "non-zero byte".into(),
        ),
    ];
    for (k, (name, file, pos, needle)) in cases.iter().enumerate() {
        let dir = t.path().join(format!("case{k}"));
        fs::create_dir(&dir).unwrap();
        for f in ["meta.img", tag.as_str()] {
            fs::copy(good.join(f), dir.join(f)).unwrap();
        }
        flip(&dir.join(file), *pos);
        let o = verify(&dir, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        assert!(
            err.contains(needle.as_str()),
            "{name}: {needle:?} not in {err}"
        );
        if file.as_str() == meta_name.as_str() {
            assert!(
                err.contains("metadata blob") || *name == "signature",
                "{name}: {err}"
            );
        } else {
            assert!(
                err.contains(&format!("device 1 ({}", s(&dir.join(&tag)))),
                "{name}: {err}"
            );
            // fsck checks the trees too; digest refuses the blob.
            let o = rerofs(&["fsck", s(&dir.join("meta.img"))]);
            assert_eq!(o.status.code(), Some(1), "fsck, {name}");
            let o = rerofs(&["digest", s(&dir.join(&tag))]);
            assert_eq!(o.status.code(), Some(1), "digest, {name}");
        }
    }
    // A wrong expected digest.
    let wrong = format!("sha256:{}", "0".repeat(64));
    let o = verify(&good, &["--digest", &wrong]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not the expected"));
    // Another image's blob in the slot.
    let other = t.path().join("other");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("x"), noise(8, 200 * 4096)).unwrap();
    let ometa = t.path().join("other.img");
    ok(&rerofs(&[
        "mkfs",
        "-q",
        "--blob-dir",
        s(&other),
        s(&ometa),
        s(&other),
    ]));
    let otag = devices_of(&ometa).pop().unwrap();
    let o = verify(&good, &["--device", s(&other.join(&otag))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not this image's blob"));
    // A stripped signature fails with --cert and passes without.
    let dir = t.path().join("unsigned");
    fs::create_dir(&dir).unwrap();
    ok(&rerofs(&["mkfs", "-q", s(&dir.join("meta.img")), s(&src)]));
    let o = verify(&dir, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("signature: none"));
    ok(&rerofs(&["verify", s(&dir.join("meta.img"))]));
    // The good image is still good.
    ok(&verify(
        &good,
        &["--digest", &digest, "--blob-dir", s(&good)],
    ));
}

#[test]
fn no_verity_keeps_plain_images() {
    let (t, src, out, meta) = tree_and_out();
    ok(&rerofs(&["mkfs", "-q", "--no-verity", s(&meta), s(&src)]));
    let (blocks, devs) = block_counts(&meta);
    assert_eq!(fs::metadata(&meta).unwrap().len(), blocks * 4096);
    let tag = devices_of(&meta).pop().unwrap();
    let blob = out.join(&tag);
    // The blob is its data, named by its plain SHA-256.
    assert_eq!(fs::metadata(&blob).unwrap().len(), devs[0] * 4096);
    let o = Command::new("sha256sum").arg(&blob).output().unwrap();
    assert!(stdout_of(&o).starts_with(tag.as_str()));
    let o = rerofs(&["inspect", s(&meta)]);
    assert!(!stdout_of(&o).contains("rerofs_verity"));
    assert!(stdout_of(&o).contains("verity:       no"));
    ok(&rerofs(&["fsck", s(&meta)]));
    // verify, sign and digest say clearly that there is no verity.
    for args in [
        vec!["verify", s(&meta)],
        vec!["sign", "--key", CA_KEY, "--cert", CA_CERT, s(&meta)],
        vec!["digest", s(&meta)],
    ] {
        let o = rerofs(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("without verity") || err.contains("no verity"),
            "{args:?}: {err}"
        );
    }
    // A data blob that starts with an EROFS image is still digested as a blob.
    let inner = t.path().join("inner");
    fs::create_dir(&inner).unwrap();
    fs::copy(&meta, inner.join("image.img")).unwrap();
    let iblobs = t.path().join("iblobs");
    let imeta = t.path().join("inner.img");
    ok(&rerofs(&[
        "mkfs",
        "-q",
        "--blob-dir",
        s(&iblobs),
        s(&imeta),
        s(&inner),
    ]));
    let itag = devices_of(&imeta).pop().unwrap();
    let iblob = iblobs.join(&itag);
    assert!(fs::read(&iblob).unwrap()[1024..1028] == 0xE0F5_E1E2u32.to_le_bytes());
    assert_eq!(rerofs_digest(&[s(&iblob)]), format!("sha256:{itag}"));
    // --verity after --no-verity wins; --key wants --cert and verity.
    ok(&rerofs(&[
        "mkfs",
        "-q",
        "--no-verity",
        "--verity",
        s(&meta),
        s(&src),
    ]));
    ok(&rerofs(&["verify", s(&meta)]));
    for bad in [
        vec!["mkfs", "--key", CA_KEY, s(&meta), s(&src)],
        vec![
            "mkfs",
            "--no-verity",
            "--key",
            CA_KEY,
            "--cert",
            CA_CERT,
            s(&meta),
            s(&src),
        ],
        vec!["verify", "--digest", "sha256:12", s(&meta)],
        vec!["sign", s(&meta)],
        vec!["digest"],
    ] {
        assert_eq!(rerofs(&bad).status.code(), Some(2), "{bad:?}");
    }
    // Missing or unreadable key material: a clear error, exit 1.
    let o = rerofs(&[
        "sign",
        "--key",
        "/nonexistent.pem",
        "--cert",
        CA_CERT,
        s(&meta),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent.pem"));
    let o = rerofs(&["sign", "--key", CA_CERT, "--cert", CA_CERT, s(&meta)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a private key"));
    for sub in ["mkfs", "fsck", "inspect", "sign", "digest", "verify"] {
        let o = rerofs(&[sub, "--help"]);
        ok(&o);
        assert!(stdout_of(&o).contains("Usage"), "{sub} --help");
    }
}

/// `make install` puts `mkfs.rerofs` and `fsck.rerofs` beside `rerofs`; util-linux's
/// `mkfs -t rerofs` then runs `mkfs.rerofs`, and `fsck` runs `fsck.rerofs` for an
/// fstab entry of type rerofs. (For a device that is not in fstab, fsck(8) goes by
/// what blkid probes, `erofs`, and runs `fsck.erofs`: our images are EROFS images.)
#[test]
fn mkfs_t_and_fsck_t_find_our_tools() {
    if !have("mkfs") || !have("fsck") {
        eprintln!("util-linux mkfs/fsck not found: skipped");
        return;
    }
    let (t, src, out, meta) = tree_and_out();
    let bin = t.path().join("bin");
    fs::create_dir(&bin).unwrap();
    symlink(env!("CARGO_BIN_EXE_rerofs"), bin.join("mkfs.rerofs")).unwrap();
    symlink(env!("CARGO_BIN_EXE_rerofs"), bin.join("fsck.rerofs")).unwrap();
    let path = format!("{}:{}", s(&bin), std::env::var("PATH").unwrap_or_default());
    let o = Command::new("mkfs")
        .env("PATH", &path)
        .args(["-t", "rerofs", "--chunk-size", "65536", s(&meta), s(&src)])
        .output()
        .expect("run mkfs");
    ok(&o);
    assert!(meta.is_file(), "mkfs -t rerofs wrote no image");
    let fstab = t.path().join("fstab");
    fs::write(&fstab, format!("{} /mnt rerofs ro 0 2\n", s(&meta))).unwrap();
    let fsck = || {
        Command::new("fsck")
            .env("PATH", &path)
            .env("FSTAB_FILE", &fstab)
            .args(["-t", "rerofs", s(&meta)])
            .output()
            .expect("run fsck")
    };
    let o = fsck();
    ok(&o);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("rerofs fsck"),
        "fsck did not run fsck.rerofs: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    // A damaged blob makes `fsck` fail.
    let blob = blobs_in(&out).into_iter().next().expect("a data blob");
    let mut b = fs::read(&blob).unwrap();
    b[100] ^= 1;
    fs::write(&blob, b).unwrap();
    assert!(!fsck().status.success(), "fsck passed a damaged blob");
}
