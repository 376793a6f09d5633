// SPDX-License-Identifier: GPL-2.0

//! `rerofs mkfs` with tar layers: whiteouts, `--blob-per-layer`, blobs
//! shared between images.

use crate::common::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
    ok(&mkfs(&["-q", "--blob-per-layer"], &meta, &[&l1, &l2]));
    let x = t.path().join("x");
    ok(&rerofs(&["fsck", "--extract", s(&x), s(&meta)]));
    assert!(!x.join("a").exists());
    assert_eq!(fs::read(x.join("b")).unwrap(), b"b2");
    assert!(!x.join("d/x").exists());
    assert_eq!(fs::read(x.join("d/y")).unwrap(), b"y2");
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
    ok(&mkfs(
        &["-q", "--blob-per-layer", "--chunk-size", "16384"],
        &meta,
        &[&l1, &l2, &l3],
    ));
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
    ok(&mkfs(
        &["-q", "--blob-per-layer"],
        &meta_d,
        &[&dirs[0], &dirs[1], &dirs[2]],
    ));
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

fn mkfs_layers(meta: &Path, extra: &[&str], layers: &[&Path]) -> Output {
    let opts = [
        &["-v", "--blob-per-layer", "--chunk-size", "16384"][..],
        extra,
    ]
    .concat();
    mkfs(&opts, meta, layers)
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
    ok(&mkfs(&["-q", "--chunk-size", "16384"], &meta2, &[&l1, &l2]));
    let tags2 = devices_of(&meta2);
    assert_eq!(tags2.len(), 1);
    assert_eq!(size(&tags2[0]), 5 * cs + 2 * 4096);
}
