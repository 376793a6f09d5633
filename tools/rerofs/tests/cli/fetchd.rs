// SPDX-License-Identifier: GPL-2.0

//! `rerofs fetchd --range`: filling lazily pulled blobs from a real registry
//! (the device loop needs the kernel module: tested in the guest).

use crate::common::*;
use crate::push::two_blob_image;
use std::fs;

#[test]
fn fetchd_fills_ranges_counts_them_and_can_corrupt_for_tests() {
    let Some(reg) = Registry::start() else { return };
    let t = tempfile::tempdir().unwrap();
    let (out, meta) = two_blob_image(t.path());
    let repo = reg.reference("f/img");
    let dest = format!("{repo}:v1");
    push_image(&meta, &out, &dest);
    let lazy = t.path().join("lazy");
    ok(&rerofs(&["pull", "-q", "--lazy", &dest, s(&lazy)]));
    let blobs = devices_of(&meta);
    // The lazy pull's range GETs, two per data blob (tree, trailer), all logged
    // before fetchd's are counted: the registry logs a request after answering
    // it, so a count taken right after the pull can miss some of them.
    let before = 2 * blobs.len() as u64;
    assert_eq!(reg.blob_gets_wait(206, before).0, before);
    let stats = t.path().join("stats.json");

    // Two 64 KiB ranges of the first blob, the map from the lazy pull (no tag).
    let b0 = &blobs[0];
    let o = rerofs(&[
        "fetchd",
        "--blob-dir",
        s(&lazy),
        "--stats",
        s(&stats),
        &repo,
        "--range",
        &format!("{b0}:0:65536"),
        "--range",
        &format!("{b0}:131072:65536"),
    ]);
    ok(&o);
    let st: serde_json::Value = serde_json::from_slice(&fs::read(&stats).unwrap()).unwrap();
    assert_eq!(st["requests"], 2);
    assert_eq!(st["bytes_fetched"], 131072);
    assert_eq!(st["failed"], 0);
    assert_eq!(reg.blob_gets_wait(206, before + 2).0, before + 2);
    let full = fs::read(out.join(b0)).unwrap();
    let part = fs::read(lazy.join(b0)).unwrap();
    assert_eq!(full[..65536], part[..65536]);
    assert!(part[65536..131072].iter().all(|&x| x == 0));
    assert_eq!(full[131072..196608], part[131072..196608]);

    // The whole of every blob (LENGTH 0), the map from the manifest: then the
    // image verifies and equals the pushed one.
    let mut args = vec![
        "fetchd".to_string(),
        "--blob-dir".into(),
        s(&lazy).into(),
        dest.clone(),
    ];
    for b in &blobs {
        args.push("--range".into());
        args.push(format!("sha256:{b}:0:0"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&rerofs(&args));
    for b in &blobs {
        assert_eq!(
            fs::read(out.join(b)).unwrap(),
            fs::read(lazy.join(b)).unwrap()
        );
    }
    ok(&rerofs(&[
        "verify",
        "--blob-dir",
        s(&lazy),
        s(&lazy.join("meta.img")),
    ]));

    // The test hook: flipped bytes, which verification catches.
    let bad = t.path().join("bad");
    ok(&rerofs(&["pull", "-q", "--lazy", &dest, s(&bad)]));
    let b1 = &blobs[1];
    ok(&rerofs(&[
        "fetchd",
        "--blob-dir",
        s(&bad),
        &repo,
        "--corrupt-for-test",
        "--range",
        &format!("{b1}:0:0"),
    ]));
    assert_ne!(
        fs::read(out.join(b1)).unwrap(),
        fs::read(bad.join(b1)).unwrap()
    );
    let o = rerofs(&["verify", "--blob-dir", s(&bad), s(&bad.join("meta.img"))]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn fetchd_errors() {
    let Some(reg) = Registry::start() else { return };
    let t = tempfile::tempdir().unwrap();
    let (out, meta) = two_blob_image(t.path());
    let repo = reg.reference("e/img");
    push_image(&meta, &out, &format!("{repo}:v1"));
    let lazy = t.path().join("lazy");
    // Nothing to serve: no map, no tag.
    fs::create_dir(&lazy).unwrap();
    let o = rerofs(&["fetchd", "--blob-dir", s(&lazy), &repo, "--range", "x:0:1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no blobs to serve"));
    ok(&rerofs(&[
        "pull",
        "-q",
        "--lazy",
        &format!("{repo}:v1"),
        s(&lazy),
    ]));
    let b0 = &devices_of(&meta)[0];
    let size = fs::metadata(out.join(b0)).unwrap().len();
    // Unknown blob, range past the end: exit 1, the message says why.
    let o = rerofs(&[
        "fetchd",
        "--blob-dir",
        s(&lazy),
        &repo,
        "--range",
        &format!("{}:0:1", "0".repeat(64)),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = rerofs(&[
        "fetchd",
        "--blob-dir",
        s(&lazy),
        &repo,
        "--range",
        &format!("{b0}:{size}:4096"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("bad range"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // No device: the message says what to do.
    let o = rerofs(&[
        "fetchd",
        "--blob-dir",
        s(&lazy),
        &repo,
        "--device",
        s(&t.path().join("nodev")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is the rerofs module loaded"));
    // --jobs is bounded.
    let o = rerofs(&["fetchd", "--blob-dir", s(&lazy), &repo, "--jobs", "0"]);
    assert_eq!(o.status.code(), Some(2));
}
