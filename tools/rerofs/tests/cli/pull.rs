// SPDX-License-Identifier: GPL-2.0

//! `rerofs pull --lazy` against a real registry: the metadata blob whole, each
//! data blob sparse with only its tree and trailer (two range requests).

use crate::common::*;
use crate::push::two_blob_image;
use std::fs;
use std::os::unix::fs::MetadataExt;

#[test]
fn lazy_pull_fetches_only_metadata_trees_and_trailers() {
    let Some(reg) = Registry::start() else { return };
    let t = tempfile::tempdir().unwrap();
    let (out, meta) = two_blob_image(t.path());
    let dest = format!("{}:v1", reg.reference("lazy/img"));
    push_image(&meta, &out, &dest);
    let lazy = t.path().join("lazy");
    let o = rerofs(&["pull", "-q", "--lazy", &dest, s(&lazy)]);
    ok(&o);
    assert_eq!(
        fs::read(&meta).unwrap(),
        fs::read(lazy.join("meta.img")).unwrap()
    );
    let mut range_bytes = 0;
    for b in blobs_in(&out) {
        let name = b.file_name().unwrap();
        let l = lazy.join(name);
        let full = fs::read(&b).unwrap();
        let part = fs::read(&l).unwrap();
        assert_eq!(full.len(), part.len());
        let d = blob_data_size(&b) as usize;
        // The tree and trailer are there, the data area is a hole.
        assert_eq!(full[d..], part[d..]);
        assert!(part[..d].iter().all(|&x| x == 0));
        let md = fs::metadata(&l).unwrap();
        assert!(
            md.blocks() * 512 <= (full.len() - d) as u64 + 65536,
            "{name:?} not sparse"
        );
        range_bytes += (full.len() - d) as u64;
    }
    // The metadata blob by one whole GET; two range GETs per data blob.
    assert_eq!(reg.blob_gets_wait(200, 1).0, 1);
    assert_eq!(reg.blob_gets_wait(206, 4), (4, range_bytes));
    assert!(stdout_of(&o).contains(&format!(
        "{} of",
        fs::metadata(&meta).unwrap().len() + range_bytes
    )));
    // The lazy map names every data blob.
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(lazy.join("rerofs-lazy.json")).unwrap()).unwrap();
    for b in devices_of(&meta) {
        assert!(m["blobs"][&b]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:"));
    }
    // Not yet readable: verify finds the holes.
    let o = rerofs(&["verify", "--blob-dir", s(&lazy), s(&lazy.join("meta.img"))]);
    assert_eq!(o.status.code(), Some(1));
    // Pulling again into the same directory fetches no blob again.
    ok(&rerofs(&["pull", "-q", "--lazy", &dest, s(&lazy)]));
    assert_eq!(reg.blob_gets_wait(206, 4).0, 4);
}

#[test]
fn lazy_pull_refuses_an_image_without_verity() {
    let Some(reg) = Registry::start() else { return };
    let (_t, src, out, meta) = tree_and_out();
    ok(&mkfs(
        &["--no-verity", "--blob-dir", s(&out)],
        &meta,
        &[&src],
    ));
    let dest = format!("{}:plain", reg.reference("p"));
    push_image(&meta, &out, &dest);
    let o = rerofs(&["pull", "--lazy", &dest, s(&out.join("l"))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("without verity"));
    // A full pull works, and names blobs by their sha256 as mkfs did.
    let got = out.join("full");
    ok(&rerofs(&["pull", "-q", &dest, s(&got)]));
    ok(&rerofs(&[
        "fsck",
        "--blob-dir",
        s(&got),
        s(&got.join("meta.img")),
    ]));
}
