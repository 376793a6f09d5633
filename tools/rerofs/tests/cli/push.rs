// SPDX-License-Identifier: GPL-2.0

//! `rerofs push` and a full `rerofs pull` against a real registry
//! (Debian's docker-registry, started per test on 127.0.0.1).

use crate::common::*;
use std::fs;
use std::path::{Path, PathBuf};

/// An image of two blobs (make_tree and a 2 MiB layer) in `t/out`.
pub fn two_blob_image(t: &Path) -> (PathBuf, PathBuf) {
    let src = t.join("src");
    make_tree(&src);
    let src2 = t.join("src2");
    fs::create_dir_all(src2.join("x")).unwrap();
    fs::write(src2.join("x/two-mib"), noise(9, 2 << 20)).unwrap();
    let out = t.join("out");
    fs::create_dir(&out).unwrap();
    let meta = out.join("meta.img");
    ok(&mkfs(
        &[
            "--chunk-size",
            "65536",
            "--blob-per-layer",
            "--blob-dir",
            s(&out),
        ],
        &meta,
        &[&src, &src2],
    ));
    (out, meta)
}

#[test]
fn push_then_pull_gives_the_same_blobs() {
    let Some(reg) = Registry::start() else { return };
    let t = tempfile::tempdir().unwrap();
    let (out, meta) = two_blob_image(t.path());
    let blobs = blobs_in(&out);
    assert_eq!(blobs.len(), 2);
    let dest = format!("{}:v1", reg.reference("rerofs/test"));
    let o = rerofs(&["push", "-q", s(&meta), "--blob-dir", s(&out), &dest]);
    ok(&o);
    assert!(
        stdout_of(&o).contains("3 blobs (3 uploaded, 0 already there)"),
        "{}",
        stdout_of(&o)
    );
    // Again: nothing uploaded.
    let o = rerofs(&["push", "-q", s(&meta), "--blob-dir", s(&out), &dest]);
    ok(&o);
    assert!(stdout_of(&o).contains("(0 uploaded, 3 already there)"));

    // The manifest: the metadata blob first, each layer annotated with its
    // fs-verity digest (the data blobs' file names).
    let m = http_get(reg.port, "/v2/rerofs/test/manifests/v1");
    let body = m.split_once("\r\n\r\n").unwrap().1;
    let j: serde_json::Value = serde_json::from_str(body).unwrap();
    let layers = j["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    assert_eq!(layers[0]["mediaType"], "application/vnd.rerofs.metadata.v1");
    let image_digest = rerofs_digest(&[s(&meta)]);
    assert_eq!(
        layers[0]["annotations"]["dev.rerofs.verity.digest"],
        image_digest
    );
    for (l, b) in layers[1..].iter().zip(devices_of(&meta)) {
        assert_eq!(l["mediaType"], "application/vnd.rerofs.blob.v1");
        assert_eq!(
            l["annotations"]["dev.rerofs.verity.digest"],
            format!("sha256:{b}")
        );
        assert_eq!(l["size"], fs::metadata(out.join(&b)).unwrap().len());
    }

    let got = t.path().join("got");
    let o = rerofs(&["pull", "-q", &dest, s(&got)]);
    ok(&o);
    assert_eq!(
        fs::read(&meta).unwrap(),
        fs::read(got.join("meta.img")).unwrap()
    );
    for b in &blobs {
        let name = b.file_name().unwrap();
        assert_eq!(fs::read(b).unwrap(), fs::read(got.join(name)).unwrap());
    }
    ok(&rerofs(&[
        "verify",
        "--blob-dir",
        s(&got),
        s(&got.join("meta.img")),
    ]));
    // A full pull is whole GETs only.
    assert_eq!(reg.blob_gets(206).0, 0);
    assert_eq!(reg.blob_gets_wait(200, 3).0, 3);
}

#[test]
fn push_and_pull_errors_name_the_url_and_status() {
    let Some(reg) = Registry::start() else { return };
    let t = tempfile::tempdir().unwrap();
    let (out, meta) = two_blob_image(t.path());
    // No tag.
    let o = rerofs(&[
        "push",
        "-q",
        s(&meta),
        "--blob-dir",
        s(&out),
        &reg.reference("r"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("a tag is needed"));
    // Malformed references are usage errors.
    for bad in [
        "noslash",
        "127.0.0.1:1/UPPER:t",
        "https://127.0.0.1/r:t",
        "h/r:bad tag",
    ] {
        let o = rerofs(&["push", s(&meta), "--blob-dir", s(&out), bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
    }
    // Unknown tag: 404, named.
    let o = rerofs(&[
        "pull",
        &format!("{}:nope", reg.reference("r")),
        s(&t.path().join("x")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        e.contains(&format!(
            "GET http://127.0.0.1:{}/v2/r/manifests/nope: HTTP 404",
            reg.port
        )),
        "{e}"
    );
    // Nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = rerofs(&[
        "pull",
        &format!("127.0.0.1:{port}/r:v1"),
        s(&t.path().join("x")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        e.contains(&format!("127.0.0.1:{port}/v2/r/manifests/v1")) && e.contains("refused"),
        "{e}"
    );
    // A missing blob directory.
    let o = rerofs(&[
        "push",
        s(&meta),
        "--blob-dir",
        "/nonexistent",
        &format!("{}:v1", reg.reference("r")),
    ]);
    assert_eq!(o.status.code(), Some(1));
}
