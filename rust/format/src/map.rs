// SPDX-License-Identifier: GPL-2.0

//! Extents: the one mapper from a file range to where its bytes are.
//!
//! [`map`] does what `erofs_map_blocks` followed by `erofs_map_dev` do in Linux
//! 6.12 (`fs/erofs/data.c`): for a byte position of a file it gives the longest
//! contiguous run that starts there, as a device, a byte position on that device
//! and a length, or a hole, or the inline tail in the metadata blob. Unlike the C
//! driver, which stops at the end of a chunk, it joins the following chunks of the
//! requested range while they continue the run on the same device (or are holes
//! after a hole), so that a reader can issue one request per run.
//!
//! The metadata it needs beyond the inode (the chunk table entries) is read through
//! [`MetaRead`], which the kernel implements over its verified metadata and the
//! tools over the metadata blob in memory.

use super::devtable::{map_dev, DeviceExtent};
use super::error::Error;
use super::inode::{parse_chunk_entry, ChunkAddr, ChunkInfo, Inode, Layout, Mapping};
use super::{BLOCK_BITS, BLOCK_SIZE};

/// Reads bytes of the metadata blob (the primary device) for [`map`].
pub trait MetaRead {
    /// The reader's error; format errors convert into it.
    type Error: From<Error>;
    /// Fills `buf` with the metadata blob's bytes at byte position `pos`, or fails
    /// (for instance when they lie beyond the blob or do not verify).
    fn read_meta(&mut self, pos: u64, buf: &mut [u8]) -> core::result::Result<(), Self::Error>;
}

/// The metadata blob in memory.
impl MetaRead for &[u8] {
    type Error = Error;

    fn read_meta(&mut self, pos: u64, buf: &mut [u8]) -> core::result::Result<(), Error> {
        let src = usize::try_from(pos)
            .ok()
            .and_then(|p| self.get(p..p.checked_add(buf.len())?))
            .ok_or(Error::Corrupted("metadata position beyond the blob", pos))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// What the mapper needs of the superblock and the mount.
#[derive(Debug, Clone, Copy)]
pub struct MapContext<'a, S: DeviceExtent> {
    /// Blocks of the metadata blob (`SuperBlock::blocks`): flat data must lie inside.
    pub image_blocks: u32,
    /// `SuperBlock::device_id_mask`.
    pub device_id_mask: u16,
    /// One flattened device (Linux's `flatdev`): see [`map_dev`].
    pub flat: bool,
    /// The extra devices, in slot order.
    pub slots: &'a [S],
}

/// Where a run of file bytes is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Zeros: a hole of a chunk-based file.
    Hole,
    /// `device` (0: the metadata blob, `1..`: extra device `n`) from byte `pos` on.
    Device {
        /// The device.
        device: u16,
        /// Byte position on the device.
        pos: u64,
    },
    /// The inline tail, in the metadata blob at byte `pos` (inside one block).
    Inline {
        /// Byte position in the metadata blob.
        pos: u64,
    },
}

/// A contiguous run of file bytes: file bytes `start..start + len` are at `place`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// File byte position of the first byte (the position asked for).
    pub start: u64,
    /// Length in bytes: at least 1, never past EOF nor past the requested range.
    pub len: u64,
    /// Where the bytes are.
    pub place: Place,
}

impl Extent {
    /// File byte position just past the extent.
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

fn corrupt<M: MetaRead + ?Sized>(what: &'static str, v: u64) -> M::Error {
    M::Error::from(Error::Corrupted(what, v))
}

/// Maps the file range `pos..pos + len` of inode `inode` (stored at image byte
/// `ipos`) to the longest contiguous run starting at `pos`: the returned extent
/// starts at `pos` and covers `min(len, size - pos)` bytes or fewer. `Ok(None)`
/// when `pos` is at or beyond EOF, or `len` is 0.
///
/// - Flat inodes (`erofs_map_blocks_flat`): one run of blocks from `startblk` on
///   the metadata blob (every block inside its `image_blocks`), then, for
///   `FLAT_INLINE`, the tail block as [`Place::Inline`].
/// - Chunk-based inodes: the chunk table entry of `pos`'s chunk, read through
///   `meta` and resolved with [`map_dev`]; following chunks of the range join the
///   run while they are holes after a hole, or continue it on the same device.
///
/// Device positions are not checked against the devices' sizes: that is the
/// reader's to do (it knows them), as `erofs_map_dev` leaves it to the bio.
pub fn map<M: MetaRead + ?Sized, S: DeviceExtent>(
    meta: &mut M,
    geo: &MapContext<'_, S>,
    inode: &Inode,
    ipos: u64,
    pos: u64,
    len: u64,
) -> Result<Option<Extent>, M::Error> {
    if pos >= inode.size || len == 0 {
        return Ok(None);
    }
    // `size <= i64::MAX` (checked by `Inode::parse`), so no sum below overflows.
    let end = inode.size.min(pos.saturating_add(len));
    match inode.layout {
        Layout::FlatPlain | Layout::FlatInline => map_flat(geo, inode, ipos, pos, end),
        Layout::ChunkBased(info) => map_chunked(meta, geo, inode, ipos, info, pos, end),
    }
}

fn map_flat<E: From<Error>, S: DeviceExtent>(
    geo: &MapContext<'_, S>,
    inode: &Inode,
    ipos: u64,
    pos: u64,
    end: u64,
) -> Result<Option<Extent>, E> {
    let bs = BLOCK_SIZE as u64;
    let first = pos >> BLOCK_BITS;
    let off = pos & (bs - 1);
    match inode.map_flat(ipos, first, geo.image_blocks)? {
        None => Ok(None),
        Some(Mapping::Inline { pos: at, .. }) => Ok(Some(Extent {
            start: pos,
            len: end - pos,
            place: Place::Inline {
                pos: at
                    .checked_add(off)
                    .ok_or(Error::Corrupted("inline data position", at))?,
            },
        })),
        Some(Mapping::Block { blk, .. }) => {
            // The run ends at `end` or at the inline tail, whichever comes first.
            let mut stop = end;
            if inode.layout == Layout::FlatInline {
                let tail = (inode.nblocks() - 1) << BLOCK_BITS;
                stop = stop.min(tail);
            }
            // Every block of the run must be inside the metadata blob.
            let last = (stop - 1) >> BLOCK_BITS;
            inode.map_flat(ipos, last, geo.image_blocks)?;
            Ok(Some(Extent {
                start: pos,
                len: stop - pos,
                place: Place::Device {
                    device: 0,
                    pos: (u64::from(blk) << BLOCK_BITS) + off,
                },
            }))
        }
    }
}

/// The place of chunk `n` of `inode`, from its chunk table entry.
fn chunk_place<M: MetaRead + ?Sized, S: DeviceExtent>(
    meta: &mut M,
    geo: &MapContext<'_, S>,
    inode: &Inode,
    ipos: u64,
    info: &ChunkInfo,
    n: u64,
) -> Result<Place, M::Error> {
    let epos = inode.chunk_entry_pos(ipos, n)?;
    let mut buf = [0u8; 8];
    let entry = buf.get_mut(..info.entry_size()).ok_or(Error::Corrupted(
        "chunk entry size",
        info.entry_size() as u64,
    ))?;
    meta.read_meta(epos, entry)?;
    Ok(match parse_chunk_entry(entry, info, geo.device_id_mask)? {
        ChunkAddr::Hole => Place::Hole,
        ChunkAddr::Mapped { device_id, blk } => {
            let d = map_dev(device_id, blk, geo.flat, geo.slots)?;
            let pos = d
                .blk
                .checked_mul(BLOCK_SIZE as u64)
                .ok_or_else(|| corrupt::<M>("chunk address", d.blk))?;
            Place::Device {
                device: d.device,
                pos,
            }
        }
    })
}

fn map_chunked<M: MetaRead + ?Sized, S: DeviceExtent>(
    meta: &mut M,
    geo: &MapContext<'_, S>,
    inode: &Inode,
    ipos: u64,
    info: ChunkInfo,
    pos: u64,
    end: u64,
) -> Result<Option<Extent>, M::Error> {
    let bits = info.chunk_bits();
    let mut n = pos >> bits;
    let off = pos - (n << bits);
    let place = match chunk_place(meta, geo, inode, ipos, &info, n)? {
        Place::Device { device, pos: p } => Place::Device {
            device,
            pos: p
                .checked_add(off)
                .ok_or_else(|| corrupt::<M>("chunk address", p))?,
        },
        p => p,
    };
    // `stop`: file position where the run is known to end so far (a chunk end).
    let mut stop = ((n + 1) << bits).min(end);
    while stop < end {
        n += 1;
        let next = chunk_place(meta, geo, inode, ipos, &info, n)?;
        let joins = match (place, next) {
            (Place::Hole, Place::Hole) => true,
            (Place::Device { device, pos: p }, Place::Device { device: d, pos: q }) => {
                d == device && p.checked_add(stop - pos) == Some(q)
            }
            _ => false,
        };
        if !joins {
            break;
        }
        stop = ((n + 1) << bits).min(end);
    }
    Ok(Some(Extent {
        start: pos,
        len: stop - pos,
        place,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devtable::DeviceSlot;
    use crate::inode::{CHUNK_FORMAT_INDEXES, S_IFREG};
    use crate::NULL_ADDR;

    const BS: u64 = BLOCK_SIZE as u64;

    /// An extended inode of data layout `layout` with `i_u`, `size` and `icount`.
    fn inode(layout: u16, raw_u: u32, size: u64, icount: u16) -> Inode {
        let mut b = [0u8; 64];
        b[0..2].copy_from_slice(&((layout << 1) | 1).to_le_bytes());
        b[2..4].copy_from_slice(&icount.to_le_bytes());
        b[4..6].copy_from_slice(&(S_IFREG | 0o644).to_le_bytes());
        b[8..16].copy_from_slice(&size.to_le_bytes());
        b[16..20].copy_from_slice(&raw_u.to_le_bytes());
        b[0x2C..0x30].copy_from_slice(&1u32.to_le_bytes());
        Inode::parse(&b, 7, &crate::inode::tests::sb()).unwrap()
    }

    fn slot(blocks: u32, uniaddr: u32) -> DeviceSlot {
        let mut b = [0u8; 128];
        b[64..68].copy_from_slice(&blocks.to_le_bytes());
        b[68..72].copy_from_slice(&uniaddr.to_le_bytes());
        DeviceSlot::parse(&b).unwrap()
    }

    fn geo(slots: &[DeviceSlot]) -> MapContext<'_, DeviceSlot> {
        MapContext {
            image_blocks: 100,
            device_id_mask: crate::superblock::device_id_mask(slots.len() as u16),
            flat: false,
            slots,
        }
    }

    const IPOS: u64 = 4096;

    /// A metadata blob with `table` (entries of `size` bytes each) at the chunk
    /// table position of `i` stored at [`IPOS`].
    fn meta_with(i: &Inode, table: &[u64], size: usize) -> Vec<u8> {
        let at = i.chunk_table_pos(IPOS).unwrap() as usize;
        let mut m = vec![0u8; at + table.len() * size];
        for (k, e) in table.iter().enumerate() {
            m[at + k * size..at + (k + 1) * size].copy_from_slice(&e.to_le_bytes()[..size]);
        }
        m
    }

    fn index(dev: u16, blk: u32) -> u64 {
        (u64::from(blk) << 32) | (u64::from(dev) << 16)
    }

    /// Every extent of `i` over `0..size` in steps of `len`, as (start, len, place).
    fn walk(meta: &[u8], g: &MapContext<'_, DeviceSlot>, i: &Inode, len: u64) -> Vec<Extent> {
        let mut out = Vec::new();
        let mut pos = 0;
        let mut m = meta;
        while let Some(e) = map(&mut m, g, i, IPOS, pos, len).unwrap() {
            assert_eq!(e.start, pos);
            assert!(e.len >= 1 && e.len <= len);
            pos = e.end();
            out.push(e);
        }
        assert_eq!(pos, i.size);
        out
    }

    fn ext(start: u64, len: u64, place: Place) -> Extent {
        Extent { start, len, place }
    }

    fn dev(device: u16, pos: u64) -> Place {
        Place::Device { device, pos }
    }

    #[test]
    fn flat_plain() {
        let i = inode(0, 10, 3 * BS + 5, 0);
        let g = geo(&[]);
        let m: &[u8] = &[];
        assert_eq!(
            walk(m, &g, &i, u64::MAX),
            [ext(0, 3 * BS + 5, dev(0, 10 * BS))]
        );
        // From inside a block, for a bounded range.
        assert_eq!(
            map(&mut &m[..], &g, &i, IPOS, BS + 7, 100),
            Ok(Some(ext(BS + 7, 100, dev(0, 11 * BS + 7))))
        );
        assert_eq!(map(&mut &m[..], &g, &i, IPOS, 3 * BS + 5, 1), Ok(None));
        assert_eq!(map(&mut &m[..], &g, &i, IPOS, 0, 0), Ok(None));
        // The last block must be inside the metadata blob, not only the first.
        let i = inode(0, 98, 3 * BS, 0);
        assert!(map(&mut &m[..], &g, &i, IPOS, 0, u64::MAX).is_err());
        assert!(map(&mut &m[..], &g, &i, IPOS, 0, 2 * BS).is_ok());
        // An empty file has no extent.
        assert_eq!(
            map(&mut &m[..], &g, &inode(0, 0, 0, 0), IPOS, 0, 1),
            Ok(None)
        );
    }

    #[test]
    fn flat_inline_tail() {
        // Two whole blocks from block 20, then a 100-byte tail after the inode
        // and its 2 xattr icounts (64 + 16 bytes).
        let i = inode(2, 20, 2 * BS + 100, 2);
        let g = geo(&[]);
        let m: &[u8] = &[];
        let tail = IPOS + 64 + 16;
        assert_eq!(
            walk(m, &g, &i, u64::MAX),
            [
                ext(0, 2 * BS, dev(0, 20 * BS)),
                ext(2 * BS, 100, Place::Inline { pos: tail })
            ]
        );
        assert_eq!(
            map(&mut &m[..], &g, &i, IPOS, 2 * BS + 40, 1000),
            Ok(Some(ext(2 * BS + 40, 60, Place::Inline { pos: tail + 40 })))
        );
        // Only a tail.
        let i = inode(2, 0, 9, 0);
        assert_eq!(
            walk(m, &g, &i, 3),
            [0, 3, 6].map(|s| ext(s, 3, Place::Inline { pos: IPOS + 64 + s }))
        );
        // A tail crossing a block boundary is refused.
        let i = inode(2, 0, 4000, 0);
        assert!(map(&mut &m[..], &g, &i, 4096 - 64 - 10, 0, 1).is_err());
    }

    #[test]
    fn block_map_runs_and_holes() {
        // 8 KiB chunks (format 1), 6 chunks, the last one short.
        let i = inode(4, 1, 5 * 8192 + 10, 0);
        let table = [10u64, 12, NULL_ADDR.into(), NULL_ADDR.into(), 30, 40];
        let meta = meta_with(&i, &table, 4);
        let g = geo(&[]);
        assert_eq!(
            walk(&meta, &g, &i, u64::MAX),
            [
                ext(0, 4 * BS, dev(0, 10 * BS)),
                ext(4 * BS, 4 * BS, Place::Hole),
                ext(8 * BS, 2 * BS, dev(0, 30 * BS)),
                ext(10 * BS, 10, dev(0, 40 * BS)),
            ]
        );
        // The range bounds the run, also inside a chunk; so does the hole.
        assert_eq!(
            map(&mut &meta[..], &g, &i, IPOS, BS + 3, 2 * BS),
            Ok(Some(ext(BS + 3, 2 * BS, dev(0, 11 * BS + 3))))
        );
        assert_eq!(
            map(&mut &meta[..], &g, &i, IPOS, BS + 3, 3 * BS),
            Ok(Some(ext(BS + 3, 3 * BS - 3, dev(0, 11 * BS + 3))))
        );
        assert_eq!(walk(&meta, &g, &i, 8192).len(), 6);
        // A table cut short fails with the reader's error when the missing entry
        // is needed (the run from 0 stops at the hole before it).
        let short = &meta[..meta.len() - 4];
        assert!(map(&mut &short[..], &g, &i, IPOS, 5 * 8192, 1).is_err());
        assert!(map(&mut &short[..], &g, &i, IPOS, 4 * 8192, u64::MAX).is_err());
        assert!(map(&mut &short[..], &g, &i, IPOS, 0, u64::MAX).is_ok());
    }

    #[test]
    fn chunk_indexes_on_blob_devices() {
        // 4 KiB chunks with indexes over two blobs: device 1 blocks 5, 6, then
        // device 2 block 7, device 2 block 8, a hole, device 2 block 0 (a dedup
        // back-reference: not contiguous).
        let slots = [slot(100, 0), slot(100, 0)];
        let g = geo(&slots);
        let i = inode(4, u32::from(CHUNK_FORMAT_INDEXES), 6 * BS, 0);
        let table = [
            index(1, 5),
            index(1, 6),
            index(2, 7),
            index(2, 8),
            index(0xFFFF, NULL_ADDR),
            index(2, 0),
        ];
        let meta = meta_with(&i, &table, 8);
        let e = |s, l, p| ext(s * BS, l * BS, p);
        assert_eq!(
            walk(&meta, &g, &i, u64::MAX),
            [
                e(0, 2, dev(1, 5 * BS)),
                e(2, 2, dev(2, 7 * BS)),
                e(4, 1, Place::Hole),
                e(5, 1, dev(2, 0))
            ]
        );
        // Device ids are masked (mask 3): 0x1202 is device 2.
        let meta = meta_with(&i, &[index(0x1202, 9); 6], 8);
        assert_eq!(
            map(&mut &meta[..], &g, &i, IPOS, 0, BS),
            Ok(Some(e(0, 1, dev(2, 9 * BS))))
        );
        // The same block again is not a continuation.
        assert_eq!(walk(&meta, &g, &i, u64::MAX).len(), 6);
        // Device 3 does not exist (mask 3 lets it through).
        let meta = meta_with(&i, &[index(3, 9); 6], 8);
        assert!(map(&mut &meta[..], &g, &i, IPOS, 0, BS).is_err());
    }

    #[test]
    fn unified_and_flat_addressing() {
        // Block maps name blocks in the unified space: blob 1 at 100..110, blob 2
        // at 110..130. A run does not cross from one blob into the next.
        let slots = [slot(10, 100), slot(20, 110)];
        let i = inode(4, 0, 4 * BS, 0);
        let meta = meta_with(&i, &[108, 109, 110, 111], 4);
        let g = geo(&slots);
        assert_eq!(
            walk(&meta, &g, &i, u64::MAX),
            [
                ext(0, 2 * BS, dev(1, 8 * BS)),
                ext(2 * BS, 2 * BS, dev(2, 0)),
            ]
        );
        // One flattened device: everything on device 0, one run.
        let flat = MapContext { flat: true, ..g };
        assert_eq!(
            walk(&meta, &flat, &i, u64::MAX),
            [ext(0, 4 * BS, dev(0, 108 * BS))]
        );
    }

    #[test]
    fn errors_convert_into_the_readers() {
        #[derive(Debug, PartialEq)]
        enum Mine {
            Format(Error),
            Io,
        }
        impl From<Error> for Mine {
            fn from(e: Error) -> Self {
                Mine::Format(e)
            }
        }
        struct Failing;
        impl MetaRead for Failing {
            type Error = Mine;
            fn read_meta(&mut self, _: u64, _: &mut [u8]) -> Result<(), Mine> {
                Err(Mine::Io)
            }
        }
        let g = geo(&[]);
        let i = inode(4, 0, BS, 0);
        assert_eq!(map(&mut Failing, &g, &i, IPOS, 0, 1), Err(Mine::Io));
        let i = inode(0, 99, 2 * BS, 0);
        assert!(matches!(
            map(&mut Failing, &g, &i, IPOS, 0, 2 * BS),
            Err(Mine::Format(Error::Corrupted(..)))
        ));
    }

    #[test]
    fn random_inodes_cover_their_size() {
        // Any table: extents tile the file exactly and agree with the per-block
        // mapping of `Inode::map_chunked` + `map_dev`.
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let slots = [slot(50, 200), slot(50, 300)];
        let g = geo(&slots);
        for _ in 0..300 {
            let format = (rnd() % 3) as u16 | if rnd() % 2 == 0 { 0x20 } else { 0 };
            let size = rnd() % (40 * BS);
            let i = inode(4, format.into(), size, (rnd() % 3) as u16);
            let info = i.chunk_info().unwrap();
            let n = i.chunk_count().unwrap() as usize;
            let mut table = Vec::new();
            let mut prev = 0u32;
            for k in 0..n {
                let blk = if rnd() % 5 == 0 {
                    NULL_ADDR
                } else if k > 0 && rnd() % 2 == 0 {
                    // Often the chunk right after the previous one.
                    prev.wrapping_add(info.chunk_blocks() as u32)
                } else {
                    (rnd() % 40) as u32
                };
                prev = blk;
                table.push(if info.indexes() {
                    index((rnd() % 3) as u16, blk)
                } else {
                    u64::from(blk)
                });
            }
            let meta = meta_with(&i, &table, info.entry_size());
            let len = [1, BS, 3 * BS + 1, u64::MAX][(rnd() % 4) as usize];
            let mut pos = 0;
            let mut m = &meta[..];
            while let Ok(Some(e)) = map(&mut m, &g, &i, IPOS, pos, len) {
                assert_eq!(e.start, pos);
                // Each block of the extent maps as the per-block path says.
                let mut b = pos;
                while b < e.end() {
                    let blk = b >> BLOCK_BITS;
                    let epos = i.chunk_entry_pos_for_block(IPOS, blk).unwrap().unwrap() as usize;
                    let addr = parse_chunk_entry(&meta[epos..], &info, g.device_id_mask).unwrap();
                    let want = match i.map_chunked(blk, addr).unwrap().unwrap() {
                        crate::inode::ChunkMapping::Hole { .. } => Place::Hole,
                        crate::inode::ChunkMapping::Mapped {
                            device_id,
                            chunk_blk,
                            block_in_chunk,
                            ..
                        } => {
                            let d = map_dev(device_id, chunk_blk, false, &slots).unwrap();
                            dev(d.device, (d.blk + block_in_chunk) * BS + (b & (BS - 1)))
                        }
                    };
                    let got = match e.place {
                        Place::Device { device, pos: p } => dev(device, p + (b - pos)),
                        p => p,
                    };
                    assert_eq!(got, want, "inode size {size} format {format:#x} at {b}");
                    b = ((blk + 1) << BLOCK_BITS).min(e.end());
                }
                pos = e.end();
            }
            // Every table here is valid (device ids 0..2 exist), so the walk
            // reaches EOF.
            assert_eq!(pos, size);
        }
    }
}
