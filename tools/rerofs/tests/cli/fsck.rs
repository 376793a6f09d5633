// SPDX-License-Identifier: GPL-2.0

//! `rerofs fsck`: extraction against erofs-utils, images of `mkfs.erofs`,
//! hostile and broken inputs, `fsck -t rerofs`.

use crate::common::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[test]
fn our_images_pass_fsck_erofs_and_extract_identically() {
    let (t, src, out, meta) = tree_and_out();
    // --no-holes: fsck.erofs 1.5 drops holes of chunk-based files when extracting.
    ok(&mkfs(
        &["-q", "--no-holes", "--chunk-size", "4096"],
        &meta,
        &[&src],
    ));
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
    ok(&mkfs(&["-q", "--chunk-size", "4096"], &meta2, &[&src]));
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
    ok(&mkfs(&["-q"], Path::new(m), &[&fine]));
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
    ok(&mkfs(&["-q"], Path::new(m), &[&wl1, &wl2]));
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
    ok(&mkfs(&["-q"], Path::new(m), &[&src]));
    let other = root.join("other");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("f"), noise(3, 50_000)).unwrap();
    let meta2 = out.join("other.img");
    ok(&mkfs(&["-q"], &meta2, &[&other]));
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
