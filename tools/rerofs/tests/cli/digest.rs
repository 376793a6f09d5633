// SPDX-License-Identifier: GPL-2.0

//! `rerofs digest`: fs-verity digests against `fsverity digest`.

use crate::common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

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
    let layers: Vec<&Path> = layers.iter().map(PathBuf::as_path).collect();
    ok(&mkfs(&["-q", "--blob-per-layer"], &meta, &layers));
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
