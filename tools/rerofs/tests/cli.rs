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
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    make_tree(&src);
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let meta = out.join("meta.img");
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
    assert_eq!(
        fs::metadata(&blobs[0]).unwrap().len(),
        2 * 65536,
        "two unique chunks"
    );
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
