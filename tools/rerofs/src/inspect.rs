// SPDX-License-Identifier: GPL-2.0

//! `rerofs inspect`: superblock, features, device table, inodes, dedup statistics.

use crate::image::Image;
use crate::util::hex;
use crate::verity::{fmt_digest, Sha256Hasher};
use anyhow::Result;
use rerofs_format::inode::Layout;
use rerofs_format::map::Place;
use rerofs_format::superblock::INCOMPAT_NAMES;
use rerofs_format::verity::{Descriptor, Geometry, COMPAT_RERO_SLOT_ROOT, COMPAT_RERO_VERITY};
use rerofs_format::BLOCK_SIZE;
use serde_json::json;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;

/// Options of `rerofs inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Metadata blob.
    pub image: PathBuf,
    /// Print only the device table: one line per slot, in slot order, its tag.
    #[arg(long)]
    pub devices: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

const COMPAT_NAMES: [(u32, &str); 5] = [
    (1, "sb_csum"),
    (2, "mtime"),
    (4, "xattr_filter"),
    (COMPAT_RERO_VERITY, "rerofs_verity"),
    (COMPAT_RERO_SLOT_ROOT, "rerofs_slot_root"),
];

/// The metadata blob's verity trailer, as stored (not verified): the image
/// digest, the tree size and the signature size.
fn verity_info(img: &Image) -> Option<Result<(String, u64, u32), String>> {
    if img.sb.feature_compat & COMPAT_RERO_VERITY == 0 {
        return None;
    }
    let g = match Geometry::new(img.sb.image_bytes()) {
        Ok(g) => g,
        Err(e) => return Some(Err(e.to_string())),
    };
    let pos = g.trailer_pos() as usize;
    let Some(t) = img.meta.get(pos..pos + BLOCK_SIZE) else {
        return Some(Err(format!(
            "no trailer block at offset {pos}: the metadata blob is {} bytes",
            img.meta.len()
        )));
    };
    Some(
        Descriptor::parse(t)
            .map_err(|e| format!("verity descriptor at offset {pos}: {e}"))
            .and_then(|d| {
                let dg = d.digest(&Sha256Hasher).map_err(|e| e.to_string())?;
                Ok((fmt_digest(&dg), g.tree_blocks(), d.sig_size))
            }),
    )
}

/// Runs `rerofs inspect`.
pub fn run(a: &InspectArgs) -> Result<()> {
    let img = Image::open(&a.image)?;
    let sb = &img.sb;
    let tags: Vec<String> = img
        .slots
        .iter()
        .map(|s| String::from_utf8_lossy(s.tag()).into_owned())
        .collect();
    if a.devices {
        if a.json {
            println!("{}", serde_json::to_string_pretty(&tags)?);
        } else {
            for t in &tags {
                println!("{t}");
            }
        }
        return Ok(());
    }
    let features: Vec<&str> = COMPAT_NAMES
        .iter()
        .filter(|(b, _)| sb.feature_compat & b != 0)
        .map(|(_, n)| *n)
        .chain(
            INCOMPAT_NAMES
                .iter()
                .filter(|(b, _)| sb.feature_incompat & b != 0)
                .map(|(_, n)| *n),
        )
        .collect();

    // Walk every inode reachable from the root.
    let mut inodes = Vec::new();
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([(sb.root_nid, String::from("/"))]);
    let mut refs_total = 0u64;
    let mut unique: HashMap<(u16, u64), ()> = HashMap::new();
    let mut errors = Vec::new();
    while let Some((nid, path)) = queue.pop_front() {
        if !seen.insert(nid) {
            continue;
        }
        let (i, ipos) = match img.inode(nid) {
            Ok(v) => v,
            Err(e) => {
                errors.push(format!("{path}: {e}"));
                continue;
            }
        };
        let layout = match i.layout {
            Layout::FlatPlain => "flat_plain".to_string(),
            Layout::FlatInline => "flat_inline".to_string(),
            Layout::ChunkBased(c) => format!(
                "chunk_based({} KiB, {})",
                c.chunk_size() / 1024,
                if c.indexes() { "index" } else { "blockmap" }
            ),
        };
        if let Layout::ChunkBased(info) = i.layout {
            // Every chunk that has data, as the mapper resolves it.
            let mut pos = 0;
            while let Ok(Some(e)) = img.map(&i, ipos, pos, info.chunk_size()) {
                if let Place::Device { device, pos: at } = e.place {
                    refs_total += 1;
                    unique.insert((device, at / BLOCK_SIZE as u64), ());
                }
                pos = e.end();
            }
        }
        inodes.push(json!({
            "nid": nid, "path": path, "mode": format!("{:o}", i.mode), "size": i.size,
            "nlink": i.nlink, "uid": i.uid, "gid": i.gid, "mtime": i.mtime,
            "extended": i.extended, "layout": layout, "xattr_bytes": i.xattr_size(),
        }));
        if i.mode & 0o170000 == 0o040000 {
            match img.dir_entries(&i, ipos) {
                Ok(ents) => {
                    for e in ents {
                        if e.name != b"." && e.name != b".." {
                            let p = format!(
                                "{}{}{}",
                                path,
                                if path.ends_with('/') { "" } else { "/" },
                                String::from_utf8_lossy(&e.name)
                            );
                            queue.push_back((e.nid, p));
                        }
                    }
                }
                Err(e) => errors.push(format!("{path}: {e}")),
            }
        }
    }
    let verity = verity_info(&img);
    let verity_json = match &verity {
        None => serde_json::Value::Null,
        Some(Ok((d, tree, sig))) => {
            json!({"image_digest": d, "tree_blocks": tree, "signature_bytes": sig})
        }
        Some(Err(e)) => json!({"error": e}),
    };
    let enc_json = match &img.enc {
        None => serde_json::Value::Null,
        Some(h) => {
            let key_check = rerofs_format::verity::Geometry::new(sb.image_bytes())
                .ok()
                .and_then(|g| img.meta.get(g.trailer_pos() as usize..))
                .is_some_and(|t| rerofs_format::encrypt::KeyCheck::parse(t).is_ok());
            json!({
                "data_cipher": "aes-256-xts (4096-byte units, tweak = unit index in the chunk)",
                "chunk_keys": "hkdf-sha256 (domain key, \"rerofs chunk v1\" || sha256(chunk))",
                "key_wrap": "aes-256-gcm",
                "header_offset": rerofs_format::encrypt::HEADER_POS,
                "device_records": h.devices, "device_records_offset": h.devrec_pos,
                "key_table_entries": h.entries, "key_table_offset": h.entries_pos,
                "key_check": key_check,
            })
        }
    };
    let out = json!({
        "image": a.image.display().to_string(),
        "superblock": {
            "blocks": sb.blocks, "inos": sb.inos, "root_nid": sb.root_nid,
            "meta_blkaddr": sb.meta_blkaddr, "xattr_blkaddr": sb.xattr_blkaddr,
            "build_time": sb.build_time, "build_time_nsec": sb.build_time_nsec,
            "uuid": hex(&sb.uuid), "volume_name": String::from_utf8_lossy(&sb.volume_name).trim_end_matches('\0'),
            "feature_compat": sb.feature_compat, "feature_incompat": sb.feature_incompat,
            "features": features, "extra_devices": sb.extra_devices, "devt_slotoff": sb.devt_slotoff,
        },
        "devices": img.slots.iter().map(|s| json!({"tag": String::from_utf8_lossy(s.tag()), "blocks": s.blocks, "mapped_blkaddr": s.uniaddr})).collect::<Vec<_>>(),
        "dedup": {"chunk_refs": refs_total, "unique_chunks": unique.len()},
        "verity": verity_json,
        "encryption": enc_json,
        "inodes": inodes,
        "errors": errors,
    });
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let s = &out["superblock"];
    println!("image:        {}", a.image.display());
    println!("blocks:       {} ({} bytes)", sb.blocks, sb.image_bytes());
    println!("inodes:       {} (root nid {})", sb.inos, sb.root_nid);
    println!("uuid:         {}", s["uuid"].as_str().unwrap_or(""));
    println!("volume name:  {}", s["volume_name"].as_str().unwrap_or(""));
    println!("build time:   {}.{:09}", sb.build_time, sb.build_time_nsec);
    println!("features:     {}", features.join(" "));
    match &verity {
        None => println!("verity:       no"),
        Some(Ok((d, tree, sig))) => {
            println!("image digest: {d} (as stored; `rerofs verify` checks it)");
            println!(
                "verity:       {tree} tree blocks, {}",
                if *sig == 0 {
                    "not signed".to_string()
                } else {
                    format!("signed ({sig} signature bytes)")
                }
            );
        }
        Some(Err(e)) => println!("verity:       broken trailer: {e}"),
    }
    match &img.enc {
        None => println!("encryption:   no"),
        Some(h) => {
            let e = &out["encryption"];
            println!(
                "encryption:   {} data, {} chunk keys, wrapped with {}",
                e["data_cipher"].as_str().unwrap_or(""),
                e["chunk_keys"].as_str().unwrap_or(""),
                e["key_wrap"].as_str().unwrap_or("")
            );
            println!(
                "              header at offset {}, {} device records at offset {}, {} key table entries at offset {}, key check {}",
                rerofs_format::encrypt::HEADER_POS,
                h.devices,
                h.devrec_pos,
                h.entries,
                h.entries_pos,
                if e["key_check"].as_bool() == Some(true) { "present" } else { "MISSING" }
            );
        }
    }
    println!("devices:      {}", img.slots.len());
    for (k, d) in img.slots.iter().enumerate() {
        println!(
            "  [{}] tag {} blocks {} mapped_blkaddr {}",
            k + 1,
            String::from_utf8_lossy(d.tag()),
            d.blocks,
            d.uniaddr
        );
    }
    println!(
        "dedup:        {} chunk references, {} unique chunks",
        refs_total,
        unique.len()
    );
    println!("inodes:");
    for i in out["inodes"].as_array().into_iter().flatten() {
        println!(
            "  {:>8} {:>7} {:>10} {:<28} {}",
            i["nid"],
            i["mode"].as_str().unwrap_or(""),
            i["size"],
            i["layout"].as_str().unwrap_or(""),
            i["path"].as_str().unwrap_or("")
        );
    }
    for e in &errors {
        eprintln!("rerofs inspect: {e}");
    }
    Ok(())
}
