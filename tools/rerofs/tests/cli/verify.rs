// SPDX-License-Identifier: GPL-2.0

//! `rerofs verify`: every kind of damage found and named.

use crate::common::*;
use std::fs;
use std::path::Path;

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
    ok(&mkfs(
        &["-q", "--key", CA_KEY, "--cert", CA_CERT],
        &meta,
        &[&src],
    ));
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
    ok(&mkfs(&["-q", "--blob-dir", s(&other)], &ometa, &[&other]));
    let otag = devices_of(&ometa).pop().unwrap();
    let o = verify(&good, &["--device", s(&other.join(&otag))]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not this image's blob"));
    // A stripped signature fails with --cert and passes without.
    let dir = t.path().join("unsigned");
    fs::create_dir(&dir).unwrap();
    ok(&mkfs(&["-q"], &dir.join("meta.img"), &[&src]));
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
