// SPDX-License-Identifier: GPL-2.0
// Integration-test code: compiled only by `cargo test`, as if under #[cfg(test)].

//! The whole-image walk (`rerofs_format::walk`, what the `image` fuzz target
//! runs): it reads clean images of every layout without one error, verified
//! ones too, stops at its limits, and reports damage as errors.

mod common;

use common::{mkfs, scratch, small_tree};
use rerofs_format::superblock::checksum;
use rerofs_format::verity::build::{merkle_tree, trailer};
use rerofs_format::verity::{Descriptor, Hasher, COMPAT_RERO_VERITY, DIGEST_SIZE};
use rerofs_format::walk::{Limits, Stats, Walk};
use rerofs_format::{Error, BLOCK_SIZE, SUPER_OFFSET};

/// A stand-in for SHA-256 (the walk is generic over the hash): eight CRC32Cs
/// with different seeds. Enough to tell a changed block from the original.
struct Crc;

impl Hasher for Crc {
    type Error = Error;
    fn sha256(&self, data: &[u8]) -> Result<[u8; DIGEST_SIZE], Error> {
        let mut d = [0u8; DIGEST_SIZE];
        for (i, c) in d.chunks_mut(4).enumerate() {
            let h = rerofs_format::crc32c::crc32c(0x9E37_79B9u32.wrapping_mul(i as u32 + 1), data);
            c.copy_from_slice(&h.to_le_bytes());
        }
        Ok(d)
    }
}

/// The image built by mkfs.erofs from the small tree with `opts`, and its blob
/// with `--blobdev`.
fn image(name: &str, opts: &[&str], blob: bool) -> (Vec<u8>, Vec<Vec<u8>>) {
    let dir = scratch(&format!("walk-{name}"));
    small_tree(&dir.join("src"));
    let mut opts: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
    let blob_path = dir.join("blob");
    if blob {
        opts.push(format!("--blobdev={}", blob_path.display()));
    }
    mkfs(&dir.join("src"), &dir.join("img"), &opts);
    let img = std::fs::read(dir.join("img")).unwrap();
    let blobs = if blob {
        vec![std::fs::read(&blob_path).unwrap()]
    } else {
        vec![]
    };
    let _ = std::fs::remove_dir_all(&dir);
    (img, blobs)
}

fn walk(img: &[u8], blobs: &[Vec<u8>], verify: bool, limits: Limits) -> Result<Stats, Error> {
    let refs: Vec<&[u8]> = blobs.iter().map(|b| &b[..]).collect();
    let mut w = Walk::mount(img, &refs, verify, &Crc, limits)?;
    Ok(w.walk().clone())
}

/// Every file of the small tree: the root, `d`, 5 files at the top, 40 in `d`.
const FILES: usize = 2 + 5 + 40;

fn assert_clean(name: &str, s: &Stats) {
    assert_eq!(s.errors, 0, "{name}: {s:?}");
    assert!(!s.truncated, "{name}: {s:?}");
    assert_eq!(s.inodes, FILES, "{name}: {s:?}");
    assert_eq!(s.dirs, 2, "{name}");
    // Every name read by readdir (but . and ..) is found again by lookup.
    assert_eq!(s.lookups, FILES - 1, "{name}");
    assert_eq!(s.found, s.lookups, "{name}");
    // user.common on 40 files, trusted.t on 14, security.selinux, user.dir.
    assert_eq!(s.xattrs, 40 + 14 + 2, "{name}");
}

#[test]
fn walks_every_layout_cleanly() {
    for (name, opts, blob) in [
        ("plain", &[][..], false),
        ("noinline", &["-Enoinline_data"][..], false),
        ("extended", &["-Eforce-inode-extended"][..], false),
        ("blockmap", &["--chunksize=4096"][..], false),
        ("blobdev", &["--chunksize=8192"][..], true),
    ] {
        let (img, blobs) = image(name, opts, blob);
        let s = walk(&img, &blobs, true, Limits::default()).unwrap();
        assert_clean(name, &s);
        assert_eq!(
            s.verified_blocks, 0,
            "{name}: no verity bit, nothing verified"
        );
        assert_eq!(s.device_blocks > 0, blob, "{name}");
        // Missing the blob: the mount fails, as the kernel's without device=.
        if blob {
            assert!(walk(&img, &[], false, Limits::default()).is_err());
        }
    }
}

/// Gives a single-blob image its tree and trailer and the rerofs verity bit, as
/// `rerofs mkfs --verity` lays them out.
fn seal(img: &mut Vec<u8>) {
    let compat = u32::from_le_bytes(img[SUPER_OFFSET + 8..SUPER_OFFSET + 12].try_into().unwrap());
    img[SUPER_OFFSET + 8..SUPER_OFFSET + 12]
        .copy_from_slice(&(compat | COMPAT_RERO_VERITY).to_le_bytes());
    let c = checksum(img).unwrap();
    img[SUPER_OFFSET + 4..SUPER_OFFSET + 8].copy_from_slice(&c.to_le_bytes());
    let (tree, root) = merkle_tree(&Crc, img).unwrap();
    let desc = Descriptor {
        data_size: img.len() as u64,
        root_hash: root,
        sig_size: 0,
    };
    img.extend_from_slice(&tree);
    img.extend_from_slice(&trailer(&desc, b"").unwrap());
}

#[test]
fn walks_verified_and_catches_damage() {
    let (mut img, _) = image("verity", &[], false);
    let data_blocks = img.len() / BLOCK_SIZE;
    seal(&mut img);
    let s = walk(&img, &[], true, Limits::default()).unwrap();
    assert_clean("verity", &s);
    assert!(s.verified_blocks >= data_blocks as u64, "{s:?}");
    // verity=off reads the same tree without checking it.
    let off = walk(&img, &[], false, Limits::default()).unwrap();
    assert_clean("verity off", &off);
    assert_eq!(off.verified_blocks, 0);
    // A changed byte in any block of the data area: the mount fails (superblock,
    // root, ...) or the walk meets errors, and verity=off does not notice.
    let mut caught = 0;
    for blk in 0..data_blocks {
        let mut bad = img.clone();
        bad[blk * BLOCK_SIZE + 2000] ^= 0x40;
        match walk(&bad, &[], true, Limits::default()) {
            Err(_) => caught += 1,
            Ok(s) if s.errors > 0 => caught += 1,
            Ok(s) => assert_clean("damage in an unread block", &s),
        }
    }
    assert!(
        caught > data_blocks / 2,
        "{caught} of {data_blocks} damaged blocks caught"
    );
    // A changed byte in the tree or the trailer: caught as well.
    let tree_byte = data_blocks * BLOCK_SIZE + 5;
    let mut bad = img.clone();
    bad[tree_byte] ^= 1;
    assert!(walk(&bad, &[], true, Limits::default()).is_err_or_errors());
    let mut bad = img.clone();
    let t = bad.len() - BLOCK_SIZE + 20;
    bad[t] ^= 1;
    assert!(walk(&bad, &[], true, Limits::default()).is_err_or_errors());
}

trait Caught {
    fn is_err_or_errors(&self) -> bool;
}

impl Caught for Result<Stats, Error> {
    fn is_err_or_errors(&self) -> bool {
        self.as_ref().map_or(true, |s| s.errors > 0)
    }
}

#[test]
fn stops_at_its_limits() {
    let (img, blobs) = image("limits", &["--chunksize=4096"], false);
    for limits in [
        Limits {
            max_blocks: 3,
            ..Limits::default()
        },
        Limits {
            max_inodes: 4,
            ..Limits::default()
        },
        Limits {
            max_lookups: 2,
            ..Limits::default()
        },
        Limits {
            max_depth: 0,
            ..Limits::default()
        },
    ] {
        let s = walk(&img, &blobs, false, limits).unwrap();
        assert!(s.truncated, "{limits:?}: {s:?}");
        assert!(s.blocks <= limits.max_blocks && s.inodes <= limits.max_inodes);
        assert!(s.lookups <= limits.max_lookups);
    }
    let s = walk(
        &img,
        &blobs,
        false,
        Limits {
            max_seen: 5,
            ..Limits::default()
        },
    )
    .unwrap();
    assert_eq!(s.seen.len(), 5);
}
