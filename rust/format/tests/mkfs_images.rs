// SPDX-License-Identifier: GPL-2.0
// Integration-test code: compiled only by `cargo test`, as if under #[cfg(test)].

//! Builds images with mkfs.erofs (erofs-utils) from a generated tree and checks that
//! walking them with the format crate's parsers gives back the tree byte for byte.

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;

use common::{full_tree, mkfs, scratch, source_tree, Image, LinkGroups, Nodes, Stats};
use rerofs_format::inode::FileKind;
use rerofs_format::superblock::{checksum, INCOMPAT_CHUNKED_FILE, INCOMPAT_DEVICE_TABLE};
use rerofs_format::{NULL_ADDR, SUPER_OFFSET};

type Tree = (Nodes, LinkGroups);

/// The source tree, made once per test binary.
fn source() -> &'static (PathBuf, Tree) {
    static SRC: OnceLock<(PathBuf, Tree)> = OnceLock::new();
    SRC.get_or_init(|| {
        let dir = scratch("mkfs-src").join("tree");
        full_tree(&dir);
        let tree = source_tree(&dir);
        (dir, tree)
    })
}

/// Builds an image with `opts` (and a blob device when `blob`), walks it, compares
/// it with the source tree, and returns the reader's statistics.
fn check(name: &str, opts: &[&str], blob: bool) -> (Stats, Image) {
    let (src, (expected, links)) = source();
    let dir = scratch(&format!("mkfs-{name}"));
    let img = dir.join("image.erofs");
    let blob_path = dir.join("blob");
    let mut opts: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
    if blob {
        opts.push(format!("--blobdev={}", blob_path.display()));
    }
    mkfs(src, &img, &opts);
    let blobs = if blob {
        vec![std::fs::read(&blob_path).unwrap()]
    } else {
        vec![]
    };
    let image = Image::open(std::fs::read(&img).unwrap(), blobs).unwrap();
    let (got, nids) = image
        .walk()
        .unwrap_or_else(|e| panic!("{name}: walk failed: {e}"));
    let mut expected = expected.clone();
    if let Some(excluded) = opts.iter().find_map(|o| o.strip_prefix("--exclude-path=")) {
        expected.remove(excluded.as_bytes());
    }
    compare(name, &expected, &got);
    // Hard links are one inode.
    for group in links {
        let first = nids[&group[0]];
        for p in group {
            assert_eq!(
                nids[p],
                first,
                "{name}: {} is not a hard link",
                String::from_utf8_lossy(p)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let stats = image.stats.borrow().clone();
    (stats, image)
}

fn compare(name: &str, expected: &Nodes, got: &Nodes) {
    let exp_paths: Vec<_> = expected.keys().collect();
    let got_paths: Vec<_> = got.keys().collect();
    assert_eq!(exp_paths, got_paths, "{name}: the set of paths differs");
    for (path, e) in expected {
        let g = &got[path];
        let p = String::from_utf8_lossy(path);
        assert_eq!(e.kind, g.kind, "{name}: {p}: kind");
        assert_eq!(e.perm, g.perm, "{name}: {p}: permissions");
        assert_eq!((e.uid, e.gid), (g.uid, g.gid), "{name}: {p}: owner");
        assert_eq!(e.size, g.size, "{name}: {p}: size");
        assert!(e.data == g.data, "{name}: {p}: content differs");
        assert_eq!(e.rdev, g.rdev, "{name}: {p}: rdev");
        assert_eq!(e.xattrs, g.xattrs, "{name}: {p}: xattrs");
        if e.kind != FileKind::Directory {
            assert_eq!(e.nlink, g.nlink, "{name}: {p}: nlink");
        }
    }
}

#[test]
fn default_options() {
    let (st, img) = check("default", &[], false);
    assert_eq!(
        img.sb.feature_incompat & (INCOMPAT_CHUNKED_FILE | INCOMPAT_DEVICE_TABLE),
        0
    );
    assert_eq!(st.chunk_based, 0);
    assert!(st.inline_tails > 0, "{st:?}");
    assert!(st.shared_xattrs > 0, "no shared xattrs: {st:?}");
    assert!(st.inline_xattrs > 0);
    assert!(st.dir_blocks > 3);
}

#[test]
fn force_inode_compact() {
    // `bigid` (uid 70000) cannot be compact: mkfs.erofs refuses it.
    let (st, _) = check(
        "compact",
        &["-Eforce-inode-compact", "--exclude-path=bigid"],
        false,
    );
    assert_eq!(st.extended, 0, "{st:?}");
}

#[test]
fn force_inode_extended() {
    let (st, _) = check("extended", &["-Eforce-inode-extended"], false);
    assert_eq!(st.compact, 0, "{st:?}");
}

#[test]
fn no_inline_data() {
    check("noinline", &["-Enoinline_data"], false);
}

/// mkfs.erofs 1.5 writes no null chunks (it dedupes zero chunks instead), so make
/// holes: turn the table entry of every all-zero chunk into a null address, fix the
/// superblock checksum, and check that the tree reads the same.
fn punch_holes(name: &str, img: &Image, chunk_size: u64) -> Image {
    let (_, (expected, _)) = source();
    let (_, nids) = img.walk().unwrap();
    let mut primary = img.primary.clone();
    let mut punched = 0;
    for (path, node) in expected {
        if node.kind != FileKind::Regular {
            continue;
        }
        let (ino, ipos) = img.inode(nids[path]).unwrap();
        // mkfs.erofs leaves empty and tiny files flat.
        let Some(info) = ino.chunk_info() else {
            assert!(
                node.data.len() < 4096,
                "{name}: {} is flat",
                String::from_utf8_lossy(path)
            );
            continue;
        };
        assert_eq!(info.chunk_size(), chunk_size);
        for (n, chunk) in node.data.chunks(chunk_size as usize).enumerate() {
            if chunk.iter().all(|&b| b == 0) {
                let pos = ino.chunk_entry_pos(ipos, n as u64).unwrap() as usize;
                let at = pos + info.entry_size() - 4;
                primary[at..at + 4].copy_from_slice(&NULL_ADDR.to_le_bytes());
                punched += 1;
            }
        }
    }
    assert!(punched > 0, "{name}: no all-zero chunk");
    let c = checksum(&primary).unwrap();
    primary[SUPER_OFFSET + 4..SUPER_OFFSET + 8].copy_from_slice(&c.to_le_bytes());
    let holed = Image::open(primary, img.blobs.clone()).unwrap();
    let (got, _) = holed.walk().unwrap();
    compare(&format!("{name} with holes"), expected, &got);
    let holes = holed.stats.borrow().holes;
    assert!(
        holes >= punched,
        "{name}: {holes} hole blocks read, {punched} chunks punched"
    );
    holed
}

fn chunked(name: &str, size: u32, blob: bool) -> (Stats, Image) {
    let opt = format!("--chunksize={size}");
    let (st, img) = check(name, &[opt.as_str()], blob);
    assert_ne!(img.sb.feature_incompat & INCOMPAT_CHUNKED_FILE, 0);
    assert!(st.chunk_based > 0, "{st:?}");
    punch_holes(name, &img, size.into());
    (st, img)
}

#[test]
fn chunks_4k() {
    chunked("chunk4k", 4096, false);
}

#[test]
fn chunks_64k() {
    chunked("chunk64k", 65536, false);
}

#[test]
fn chunks_1m() {
    chunked("chunk1m", 1 << 20, false);
}

fn blob_image(name: &str, size: u32) {
    let (st, img) = chunked(name, size, true);
    assert_ne!(img.sb.feature_incompat & INCOMPAT_DEVICE_TABLE, 0);
    assert_eq!(img.sb.extra_devices, 1);
    assert_eq!(img.sb.device_id_mask(), 1);
    assert!(
        st.chunk_indexes > 0,
        "blob images use chunk indexes: {st:?}"
    );
    assert!(st.blob_blocks > 0, "no data came from the blob: {st:?}");
}

#[test]
fn blob_device_4k() {
    blob_image("blob4k", 4096);
}

#[test]
fn blob_device_64k() {
    blob_image("blob64k", 65536);
}

#[test]
fn blob_device_1m() {
    blob_image("blob1m", 1 << 20);
}

/// mkfs.erofs 1.5 cannot write long xattr name prefixes: append a prefix table to a
/// real image (in a new last block), point two inline entries at it, and check the
/// names read back: `trusted.` + "" + `big` stays `trusted.big`, `user.` + `x.` +
/// `comment` becomes `user.x.comment`.
#[test]
fn long_prefixes_patched_in() {
    use rerofs_format::superblock::INCOMPAT_XATTR_PREFIXES;
    use rerofs_format::xattr::{EntryHeader, InlineXattrs, INDEX_TRUSTED, INDEX_USER, LONG_PREFIX};

    let (_, img) = check("longpfx", &[], false);
    let (_, nids) = img.walk().unwrap();
    let mut primary = img.primary.clone();
    let nblocks = (primary.len() / 4096) as u32;
    let mut table = vec![];
    for (base, infix) in [(INDEX_TRUSTED, &b""[..]), (INDEX_USER, &b"x."[..])] {
        table.extend_from_slice(&(1 + infix.len() as u16).to_le_bytes());
        table.push(base);
        table.extend_from_slice(infix);
        table.resize(table.len().next_multiple_of(4), 0);
    }
    table.resize(4096, 0);
    primary.extend_from_slice(&table);
    let sb = SUPER_OFFSET;
    primary[sb + 0x24..sb + 0x28].copy_from_slice(&(nblocks + 1).to_le_bytes());
    primary[sb + 0x50] |= INCOMPAT_XATTR_PREFIXES as u8;
    primary[sb + 0x5B] = 2;
    primary[sb + 0x5C..sb + 0x60].copy_from_slice(&(nblocks * 1024).to_le_bytes());
    for (path, index, suffix, long) in [
        ("big", INDEX_TRUSTED, &b"big"[..], LONG_PREFIX),
        ("small.txt", INDEX_USER, &b"comment"[..], LONG_PREFIX | 1),
    ] {
        let (ino, ipos) = img.inode(nids[path.as_bytes()]).unwrap();
        let xpos = ino.xattr_pos(ipos).unwrap() as usize;
        let region = &img.primary[xpos..xpos + ino.xattr_size()];
        let x = InlineXattrs::parse(region).unwrap();
        let mut off = 12 + 4 * x.shared_count();
        let mut patched = false;
        while off < region.len() {
            let h = EntryHeader::parse(&region[off..]).unwrap();
            let name = &region[off + 4..off + 4 + usize::from(h.name_len)];
            if h.name_index == index && name == suffix {
                primary[xpos + off + 1] = long;
                patched = true;
            }
            off += h.size();
        }
        assert!(patched, "no inline {path} entry to patch");
    }
    let c = checksum(&primary).unwrap();
    primary[sb + 4..sb + 8].copy_from_slice(&c.to_le_bytes());
    let patched = Image::open(primary, vec![]).unwrap();
    assert_eq!(patched.sb.xattr_prefix_count, 2);
    let (got, _) = patched.walk().unwrap();
    let mut expected = source().1 .0.clone();
    for (n, _) in &mut expected.get_mut(&b"small.txt"[..]).unwrap().xattrs {
        if n == b"user.comment" {
            *n = b"user.x.comment".to_vec();
        }
    }
    expected.get_mut(&b"small.txt"[..]).unwrap().xattrs.sort();
    compare("longpfx patched", &expected, &got);
    // Without the table the entries have no name: the reader refuses them.
    let mut no_table = patched.primary.clone();
    no_table[sb + 0x5B] = 0;
    let c = checksum(&no_table).unwrap();
    no_table[sb + 4..sb + 8].copy_from_slice(&c.to_le_bytes());
    assert!(Image::open(no_table, vec![]).unwrap().walk().is_err());
}

/// Rewrites a real blob image for the other two ways of addressing extra devices:
/// a flattened device (the blob appended to the primary device, its slot's
/// `mapped_blkaddr` pointing there, no separate devices: Linux's `flatdev` mode),
/// and unified addressing (chunk indexes with device id 0 and addresses in the
/// unified space, resolved through the slot's range). mkfs.erofs 1.5 leaves the
/// slot all zero (no tag, 0 blocks, no mapped address), so both are patched in.
#[test]
fn blob_flat_and_unified_addressing() {
    let (_, img) = check("blobaddr", &["--chunksize=65536"], true);
    let (_, nids) = img.walk().unwrap();
    let (expected, _) = &source().1;
    let primary_blocks = (img.primary.len() / 4096) as u32;
    let blob_blocks = img.blobs[0].len().div_ceil(4096) as u32;
    let slot = img.sb.device_slot_pos(0).unwrap() as usize;
    assert_eq!(
        img.slots[0].blocks, 0,
        "mkfs.erofs 1.5 leaves the slot empty"
    );
    let reseal = |b: &mut Vec<u8>| {
        let c = checksum(b).unwrap();
        b[SUPER_OFFSET + 4..SUPER_OFFSET + 8].copy_from_slice(&c.to_le_bytes());
    };

    // Flattened: primary ++ blob as one device.
    let mut flat = img.primary.clone();
    flat[slot + 64..slot + 68].copy_from_slice(&blob_blocks.to_le_bytes());
    flat[slot + 68..slot + 72].copy_from_slice(&primary_blocks.to_le_bytes());
    reseal(&mut flat);
    flat.extend_from_slice(&img.blobs[0]);
    let flat = Image::open(flat, vec![]).unwrap();
    assert!(flat.flat);
    let (got, _) = flat.walk().unwrap();
    compare("flattened device", expected, &got);
    assert_eq!(flat.stats.borrow().blob_blocks, 0);

    // Unified: device 1 mapped at `base`, chunk indexes moved to device id 0.
    let base = primary_blocks + 1000;
    let mut uni = img.primary.clone();
    uni[slot + 64..slot + 68].copy_from_slice(&blob_blocks.to_le_bytes());
    uni[slot + 68..slot + 72].copy_from_slice(&base.to_le_bytes());
    let mut moved = 0;
    for (path, node) in expected {
        if node.kind != FileKind::Regular {
            continue;
        }
        let (ino, ipos) = img.inode(nids[path]).unwrap();
        let Ok(count) = ino.chunk_count() else {
            continue;
        };
        for n in 0..count {
            let pos = ino.chunk_entry_pos(ipos, n).unwrap() as usize;
            let dev = u16::from_le_bytes([uni[pos + 2], uni[pos + 3]]);
            let blk = u32::from_le_bytes(uni[pos + 4..pos + 8].try_into().unwrap());
            if dev == 1 && blk != NULL_ADDR {
                uni[pos + 2..pos + 4].copy_from_slice(&0u16.to_le_bytes());
                uni[pos + 4..pos + 8].copy_from_slice(&(blk + base).to_le_bytes());
                moved += 1;
            }
        }
    }
    assert!(moved > 0);
    reseal(&mut uni);
    let uni = Image::open(uni, img.blobs.clone()).unwrap();
    let (got, _) = uni.walk().unwrap();
    compare("unified addressing", expected, &got);
    assert!(uni.stats.borrow().blob_blocks > 0);
}
