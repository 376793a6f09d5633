// SPDX-License-Identifier: GPL-2.0

//! `rerofs mkfs`: dedup, reproducible builds, bad inputs, `dump.erofs`,
//! `--no-verity`.

use crate::common::*;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

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
    ok(&mkfs(&["-q", "--chunk-size", "65536"], &meta, &[&src]));
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
        ok(&mkfs(&["-q", "--timestamp", "1700000000"], &meta, &[&src]));
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

#[test]
fn bad_inputs_fail_cleanly() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let meta = out.join("meta.img");

    // Usage errors exit 2.
    assert_eq!(rerofs(&[]).status.code(), Some(2));
    assert_eq!(mkfs(&[], &meta, &[]).status.code(), Some(2));
    assert_eq!(
        rerofs(&["mkfs", "--chunk-size", "5000", s(&meta), "x"])
            .status
            .code(),
        Some(2)
    );

    // A tar escaping the root.
    let evil = t.path().join("evil.tar");
    tar_layer(&evil, &[("../escaped", Some(b"boom"))]);
    let o = mkfs(&["-q"], &meta, &[&evil]);
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
    let o = mkfs(&["-q"], &meta, &[&long]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("255-byte limit"));

    // A missing source.
    let o = mkfs(&["-q"], &meta, &[&t.path().join("nope")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope"));

    // A good image, then damage it.
    fs::write(src.join("f"), noise(5, 100_000)).unwrap();
    ok(&mkfs(&["-q"], &meta, &[&src]));
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

/// `dump.erofs --ls` of every directory of an image made by `rerofs mkfs` lists the
/// source tree's names, and `dump.erofs --path` gives every file's size.
#[test]
fn dump_erofs_shows_the_source_tree() {
    assert!(have("dump.erofs"), "dump.erofs (erofs-utils) is required");
    let (_t, src, out, meta) = tree_and_out();
    ok(&mkfs(&["-q", "--chunk-size", "65536"], &meta, &[&src]));
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

#[test]
fn no_verity_keeps_plain_images() {
    let (t, src, out, meta) = tree_and_out();
    ok(&mkfs(&["-q", "--no-verity"], &meta, &[&src]));
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
    ok(&mkfs(&["-q", "--blob-dir", s(&iblobs)], &imeta, &[&inner]));
    let itag = devices_of(&imeta).pop().unwrap();
    let iblob = iblobs.join(&itag);
    assert!(fs::read(&iblob).unwrap()[1024..1028] == 0xE0F5_E1E2u32.to_le_bytes());
    assert_eq!(rerofs_digest(&[s(&iblob)]), format!("sha256:{itag}"));
    // --verity after --no-verity wins; --key wants --cert and verity.
    ok(&mkfs(&["-q", "--no-verity", "--verity"], &meta, &[&src]));
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
