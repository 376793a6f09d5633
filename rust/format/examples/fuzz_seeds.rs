// SPDX-License-Identifier: GPL-2.0

//! Seed corpora for the fuzz targets (`rust/format/fuzz`), cut from real images.
//!
//! Usage: `fuzz_seeds OUTDIR IMAGE[,BLOB...]...`: each IMAGE is a metadata blob,
//! with its data blobs in slot order after commas. Walks each image with
//! `rerofs_format::walk` (unverified: the structures are the same), then writes
//! under `OUTDIR/<target>/` the inputs of every target, in each target's input
//! format (see the targets' comments): the first block, inodes, directory
//! blocks, xattr regions, chunk tables, device tables, trailers, and the whole
//! image (metadata blob and blobs concatenated). Also writes a few long xattr
//! prefix tables, which no image builder at hand makes.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rerofs_format::encrypt::INCOMPAT_RERO_ENCRYPTED;
use rerofs_format::inode::Inode;
use rerofs_format::ondemand::{Completion, Request};
use rerofs_format::superblock::SuperBlock;
use rerofs_format::verity::{Geometry, Hasher, COMPAT_RERO_VERITY, DIGEST_SIZE};
use rerofs_format::walk::{Limits, Structure, Walk};
use rerofs_format::{Error, BLOCK_SIZE};

/// Never called: the walk here does not verify.
struct NoHash;

impl Hasher for NoHash {
    type Error = Error;
    fn sha256(&self, _: &[u8]) -> Result<[u8; DIGEST_SIZE], Error> {
        Err(Error::Corrupted("no hasher", 0))
    }
}

struct Out {
    dir: PathBuf,
    seen: HashSet<(String, Vec<u8>)>,
    written: usize,
}

impl Out {
    fn put(&mut self, target: &str, bytes: Vec<u8>) {
        if !self.seen.insert((target.to_string(), bytes.clone())) {
            return;
        }
        let d = self.dir.join(target);
        if let Err(e) = std::fs::create_dir_all(&d) {
            fail(&format!("cannot create {}: {e}", d.display()));
        }
        let p = d.join(format!("seed-{:05}", self.written));
        if let Err(e) = std::fs::write(&p, &bytes) {
            fail(&format!("cannot write {}: {e}", p.display()));
        }
        self.written += 1;
    }
}

/// Reports an I/O error naming the path and exits with status 1.
fn fail(msg: &str) -> ! {
    eprintln!("fuzz_seeds: {msg}");
    std::process::exit(1)
}

fn get(b: &[u8], pos: u64, len: usize) -> Vec<u8> {
    let s = (pos as usize).min(b.len());
    b[s..(s + len).min(b.len())].to_vec()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Long prefix tables: `__le16 size`, base index, infix, padded to 4.
fn prefix_table(prefixes: &[(u8, &[u8])]) -> Vec<u8> {
    let mut t = Vec::new();
    for (base, infix) in prefixes {
        t.extend_from_slice(&(1 + infix.len() as u16).to_le_bytes());
        t.push(*base);
        t.extend_from_slice(infix);
        while t.len() % 4 != 0 {
            t.push(0);
        }
    }
    t
}

fn seeds_of(out: &mut Out, arg: &str) {
    let paths: Vec<&Path> = arg.split(',').map(Path::new).collect();
    let read = |p: &Path| {
        std::fs::read(p).unwrap_or_else(|e| {
            eprintln!("fuzz_seeds: {}: {e}", p.display());
            std::process::exit(1)
        })
    };
    let meta = read(paths[0]);
    // An encrypted image: the encryption structures (the encrypt target) only:
    // the first blocks (header, key table), and block 0 followed by the trailer
    // block (the key check). The walk (and the image target) refuses the
    // encrypted incompat bit, as the C driver does.
    if let Ok(sb) = SuperBlock::parse_accepting(
        get(&meta, 0, BLOCK_SIZE).as_slice(),
        INCOMPAT_RERO_ENCRYPTED,
    ) {
        if sb.feature_incompat & INCOMPAT_RERO_ENCRYPTED != 0 {
            let head = cat(&[
                &sb.image_bytes().to_le_bytes(),
                &3u64.to_le_bytes(),
                &1u32.to_le_bytes(),
                &1u16.to_le_bytes(),
            ]);
            out.put("encrypt", cat(&[&head, &get(&meta, 0, 5 * BLOCK_SIZE)]));
            if let Ok(g) = Geometry::new(sb.image_bytes()) {
                let t = get(&meta, g.trailer_pos(), BLOCK_SIZE);
                out.put("encrypt", cat(&[&head, &get(&meta, 0, BLOCK_SIZE), &t]));
            }
            eprintln!("fuzz_seeds: {arg}: encrypted: encryption structures only");
            return;
        }
    }

    let blobs: Vec<Vec<u8>> = paths[1..].iter().map(|p| read(p)).collect();
    let mut whole = meta.clone();
    for b in &blobs {
        whole.extend_from_slice(b);
    }
    out.put("image", whole.clone());
    whole[0] |= 1; // verity=off
    out.put("image", whole);
    let refs: Vec<&[u8]> = blobs.iter().map(|b| &b[..]).collect();
    let limits = Limits {
        max_seen: 100_000,
        ..Limits::default()
    };
    let mut w = match Walk::mount(&meta, &refs, false, &NoHash, limits) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("fuzz_seeds: {arg}: does not mount: {e}");
            std::process::exit(1)
        }
    };
    w.walk();
    let sb = w.sb.clone();
    out.put("superblock", get(&meta, 0, BLOCK_SIZE));
    // Trailers of verity blobs: the metadata blob's and each data blob's.
    if sb.feature_compat & COMPAT_RERO_VERITY != 0 {
        if let Ok(g) = Geometry::new(sb.image_bytes()) {
            let t = get(&meta, g.trailer_pos(), BLOCK_SIZE);
            out.put(
                "verity",
                cat(&[&g.data_size.to_le_bytes(), &3u64.to_le_bytes(), &t]),
            );
        }
        for b in &blobs {
            let tree_and_trailer = (b.len() / BLOCK_SIZE).saturating_sub(1);
            let t = get(b, (tree_and_trailer * BLOCK_SIZE) as u64, BLOCK_SIZE);
            out.put(
                "verity",
                cat(&[&(b.len() as u64).to_le_bytes(), &[0; 8], &t]),
            );
        }
    }
    let nslots = sb.extra_devices;
    let devt = get(&meta, sb.devt_pos(), usize::from(nslots) * 128);
    if nslots > 0 {
        let triples = cat(&[
            &[2],
            &1u16.to_le_bytes(),
            &0u32.to_le_bytes(),
            &3u32.to_le_bytes(),
            &0u16.to_le_bytes(),
            &5u32.to_le_bytes(),
            &1u32.to_le_bytes(),
        ]);
        out.put("devtable", cat(&[&triples, &devt]));
    }
    // Slots as the blockmap target takes them: blocks, uniaddr, 4 bytes of tag.
    let mut slots12 = vec![nslots.min(15) as u8];
    for s in devt.chunks(128).take(15) {
        if s.len() == 128 {
            slots12.extend_from_slice(&s[64..72]);
            slots12.extend_from_slice(&s[..4]);
        }
    }
    let seen = w.stats.seen.clone();
    let mut inodes = 0;
    for (what, _, pos, len) in seen {
        let bytes = get(&meta, pos, len);
        match what {
            Structure::Inode => {
                inodes += 1;
                if inodes > 64 {
                    continue;
                }
                let head = cat(&[
                    &pos.to_le_bytes(),
                    &sb.blocks.to_le_bytes(),
                    &0u32.to_le_bytes(),
                ]);
                out.put("inode", cat(&[&head, &bytes]));
                let mut core = bytes.clone();
                core.resize(64, 0);
                let Ok(ino) = Inode::parse(&core, 0, &sb) else {
                    continue;
                };
                let table = match (
                    ino.chunk_info(),
                    ino.chunk_table_pos(pos),
                    ino.chunk_count(),
                ) {
                    (Some(info), Ok(tpos), Ok(n)) => {
                        let t = get(&meta, tpos, (n as usize * info.entry_size()).min(1 << 16));
                        let chunk_head = cat(&[
                            &ino.raw_u.to_le_bytes(),
                            &ino.size.to_le_bytes(),
                            &nslots.to_le_bytes(),
                        ]);
                        out.put("chunks", cat(&[&chunk_head, &t]));
                        t
                    }
                    _ => Vec::new(),
                };
                let head = cat(&[&pos.to_le_bytes(), &sb.blocks.to_le_bytes(), &slots12]);
                out.put("blockmap", cat(&[&head, &core, &table]));
            }
            Structure::DirBlock => out.put("dirent", bytes),
            Structure::InlineXattrs => {
                let len = (bytes.len() as u16).to_le_bytes();
                out.put("xattr", cat(&[&[0], &len, &bytes]));
                let table = prefix_table(&[(1, b"long.prefix."), (6, b"sel")]);
                out.put("xattr", cat(&[&[2], &len, &bytes, &table]));
            }
            Structure::LongPrefixes => {
                out.put("long_prefixes", cat(&[&[sb.xattr_prefix_count], &bytes]));
            }
            _ => {}
        }
    }
    eprintln!(
        "fuzz_seeds: {arg}: {} inodes, {} dirs, {} xattrs, {} blocks",
        w.stats.inodes, w.stats.dirs, w.stats.xattrs, w.stats.blocks
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args[0] == "--help" {
        eprintln!("usage: fuzz_seeds OUTDIR IMAGE[,BLOB...]...");
        std::process::exit(2);
    }
    let mut out = Out {
        dir: PathBuf::from(&args[0]),
        seen: HashSet::new(),
        written: 0,
    };
    for a in &args[1..] {
        seeds_of(&mut out, a);
    }
    // Long prefix tables no image here has: one, several, the largest record,
    // and an inline region naming them.
    let big = [b'x'; 255];
    for t in [
        prefix_table(&[(1, b"a.")]),
        prefix_table(&[(1, b"long.prefix."), (4, b"overlay."), (6, b"selinux")]),
        prefix_table(&[(6, &big[..])]),
    ] {
        let count = t.len().min(3) as u8;
        out.put("long_prefixes", cat(&[&[count], &t]));
    }
    // A region: header (filter 0, no shared), one entry of long prefix 0x80.
    let region = cat(&[&[0u8; 12], &[3, 0x80, 2, 0], b"abc", b"vv", &[0, 0, 0]]);
    let len = (region.len() as u16).to_le_bytes();
    out.put(
        "xattr",
        cat(&[&[1], &len, &region, &prefix_table(&[(1, b"long.")])]),
    );
    // The on-demand records (ondemand target): pos, len, blob size, a record.
    let req = Request {
        id: 7,
        offset: 65536,
        len: 65536,
        digest: [0xab; 32],
    };
    let done = Completion { id: 7, status: 0 };
    for (pos, len, size, rec) in [
        (4096u64, 4096u64, 1u64 << 20, &req.to_bytes()[..]),
        (70000, 100000, 200000, &done.to_bytes()[..]),
        (0, 1, 1, &[][..]),
    ] {
        out.put(
            "ondemand",
            cat(&[
                &pos.to_le_bytes(),
                &len.to_le_bytes(),
                &size.to_le_bytes(),
                rec,
            ]),
        );
    }
    eprintln!("fuzz_seeds: {} seeds in {}", out.written, out.dir.display());
}
