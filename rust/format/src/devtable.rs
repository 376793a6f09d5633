// SPDX-License-Identifier: GPL-2.0

//! The device table (`INCOMPAT_DEVICE_TABLE`): one 128-byte `erofs_deviceslot` per
//! extra device, and how a chunk address resolves to a device (`erofs_map_dev`).
//!
//! Layout of a slot (Linux 6.12): `tag[64]` (64 bytes, NUL padded, not necessarily
//! NUL terminated), `__le32 blocks` at 64, `__le32 mapped_blkaddr` (the device's
//! start in the unified address space, "uniaddr") at 68, reserved bytes after.
//! rerofs uses the last 32 reserved bytes, at [`SLOT_ROOT_HASH_POS`], for the
//! blob's Merkle tree root hash when the superblock has
//! [`COMPAT_RERO_SLOT_ROOT`](super::verity::COMPAT_RERO_SLOT_ROOT) (later EROFS
//! versions give bytes 72..78 of the reserved area a meaning, none of these).

use super::bytes::{array, le32};
use super::error::{Error, Result};
use super::superblock::DEVT_SLOT_SIZE;

/// Size of a device slot's tag.
pub const TAG_SIZE: usize = 64;
/// Where a slot holds its blob's root hash (32 bytes, to the end of the slot).
pub const SLOT_ROOT_HASH_POS: usize = 96;

/// One parsed device table slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceSlot {
    /// The raw tag (a path or blob digest by convention), NUL padded.
    pub tag: [u8; TAG_SIZE],
    /// Size of the device in blocks.
    pub blocks: u32,
    /// First block of the device in the unified address space (`mapped_blkaddr`);
    /// 0 means the device takes no part in unified addressing.
    pub uniaddr: u32,
    /// The blob's tree root hash (meaningful with `COMPAT_RERO_SLOT_ROOT`).
    pub root_hash: [u8; 32],
}

impl DeviceSlot {
    /// Parses a slot from `buf`, which starts at the slot and holds at least its 128
    /// bytes.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        if buf.len() < DEVT_SLOT_SIZE {
            return Err(Error::Truncated("device slot"));
        }
        Ok(DeviceSlot {
            tag: array(buf, 0, "device slot")?,
            blocks: le32(buf, 64, "device slot")?,
            uniaddr: le32(buf, 68, "device slot")?,
            root_hash: array(buf, SLOT_ROOT_HASH_POS, "device slot")?,
        })
    }

    /// The tag up to its first NUL (all 64 bytes if there is none).
    pub fn tag(&self) -> &[u8] {
        let len = self.tag.iter().position(|&b| b == 0).unwrap_or(TAG_SIZE);
        self.tag.get(..len).unwrap_or(&self.tag)
    }
}

/// What address resolution needs of an extra device: its size and its start in the
/// unified address space. Implemented by [`DeviceSlot`]; a reader may implement it
/// for its own per-device state and pass that to [`map_dev`].
pub trait DeviceExtent {
    /// Size of the device in blocks, as its slot says.
    fn blocks(&self) -> u32;
    /// Start of the device in the unified address space (0: not mapped).
    fn uniaddr(&self) -> u32;
}

impl DeviceExtent for DeviceSlot {
    fn blocks(&self) -> u32 {
        self.blocks
    }

    fn uniaddr(&self) -> u32 {
        self.uniaddr
    }
}

/// A block on a specific device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevAddr {
    /// 0 for the primary device, `1..=extra_devices` for the extra devices.
    pub device: u16,
    /// Block number relative to that device.
    pub blk: u64,
}

impl DevAddr {
    /// The address `n` blocks further on the same device, `None` on overflow.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, n: u64) -> Option<DevAddr> {
        Some(DevAddr {
            device: self.device,
            blk: self.blk.checked_add(n)?,
        })
    }
}

/// Resolves block `blk` named with `device_id` to a device and a device-relative
/// block, reproducing `erofs_map_dev` of Linux 6.12.
///
/// `device_id` is the chunk index's id already masked with
/// [`SuperBlock::device_id_mask`](super::superblock::SuperBlock::device_id_mask) (0 for
/// block maps and flat inodes); `blk` is the chunk's *start* block (the C driver
/// resolves the extent start and then reads the whole extent from that device, so
/// add the block offset inside the chunk to the result with [`DevAddr::add`]).
/// `slots[i]` describes extra device `i + 1`; `slots.len()` is the number of extra
/// devices.
///
/// - `device_id != 0` must name an existing device (`<= slots.len()`), else the
///   image is corrupt (the C driver fails with `-ENODEV`). Separate devices: `blk`
///   is relative to that device. `flat`: the image is one flattened block device
///   (Linux's `flatdev` mode, used when no `device=` option is given outside
///   fscache mode): the result is `blk + uniaddr` on the primary device.
/// - `device_id == 0` with separate devices: unified addressing. The first slot
///   with `uniaddr != 0` and `uniaddr <= blk < uniaddr + blocks` takes the block,
///   at `blk - uniaddr`; if none does, the block is on the primary device. In flat
///   mode the block is on the primary device as is.
///
/// Bounds against the devices' real sizes are the caller's to check.
pub fn map_dev<S: DeviceExtent>(
    device_id: u16,
    blk: u32,
    flat: bool,
    slots: &[S],
) -> Result<DevAddr> {
    if device_id != 0 {
        let slot = slots
            .get(usize::from(device_id) - 1)
            .ok_or(Error::Corrupted("chunk device id", device_id.into()))?;
        return Ok(if flat {
            DevAddr {
                device: 0,
                blk: u64::from(blk) + u64::from(slot.uniaddr()),
            }
        } else {
            DevAddr {
                device: device_id,
                blk: blk.into(),
            }
        });
    }
    if !flat {
        let blk = u64::from(blk);
        for (i, slot) in slots.iter().enumerate() {
            let start = u64::from(slot.uniaddr());
            if start == 0 {
                continue;
            }
            if blk >= start && blk < start + u64::from(slot.blocks()) {
                // `i < slots.len()`; a table of more than 65535 extra devices cannot
                // be described by a superblock, so refuse rather than truncate.
                let device = u16::try_from(i + 1)
                    .map_err(|_| Error::Corrupted("device table size", slots.len() as u64))?;
                return Ok(DevAddr {
                    device,
                    blk: blk - start,
                });
            }
        }
    }
    Ok(DevAddr {
        device: 0,
        blk: blk.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(tag: &[u8], blocks: u32, uniaddr: u32) -> [u8; 128] {
        let mut b = [0u8; 128];
        b[..tag.len()].copy_from_slice(tag);
        b[64..68].copy_from_slice(&blocks.to_le_bytes());
        b[68..72].copy_from_slice(&uniaddr.to_le_bytes());
        // Reserved bytes are ignored.
        b[72..].fill(0xAA);
        b
    }

    #[test]
    fn parse_slot() {
        let b = slot(b"/dev/blob0", 100, 7);
        let s = DeviceSlot::parse(&b).unwrap();
        assert_eq!(s.tag(), b"/dev/blob0");
        assert_eq!(s.blocks, 100);
        assert_eq!(s.uniaddr, 7);
        assert_eq!(s.blocks(), 100);
        assert_eq!(s.uniaddr(), 7);
    }

    #[test]
    fn tag_without_nul_is_64_bytes() {
        let b = slot(&[b'a'; 64], 1, 0);
        let s = DeviceSlot::parse(&b).unwrap();
        assert_eq!(s.tag(), &[b'a'; 64][..]);
        let e = slot(b"", 1, 0);
        assert_eq!(DeviceSlot::parse(&e).unwrap().tag(), b"");
    }

    #[test]
    fn truncated_slot() {
        let b = slot(b"x", 1, 0);
        for len in 0..128 {
            assert_eq!(
                DeviceSlot::parse(&b[..len]),
                Err(Error::Truncated("device slot"))
            );
        }
        // Longer buffers are fine (the caller may pass the rest of the block).
        let mut long = [0u8; 300];
        long[..128].copy_from_slice(&b);
        assert!(DeviceSlot::parse(&long).is_ok());
    }

    fn slots() -> [DeviceSlot; 3] {
        [
            DeviceSlot::parse(&slot(b"a", 10, 100)).unwrap(),
            DeviceSlot::parse(&slot(b"b", 5, 0)).unwrap(),
            DeviceSlot::parse(&slot(b"c", 20, 200)).unwrap(),
        ]
    }

    #[test]
    fn explicit_device() {
        let s = slots();
        assert_eq!(map_dev(1, 3, false, &s), Ok(DevAddr { device: 1, blk: 3 }));
        assert_eq!(map_dev(2, 4, false, &s), Ok(DevAddr { device: 2, blk: 4 }));
        // Block beyond the slot's size: not the resolver's business (as in C).
        assert_eq!(
            map_dev(3, 999, false, &s),
            Ok(DevAddr {
                device: 3,
                blk: 999
            })
        );
        assert_eq!(
            map_dev(4, 0, false, &s),
            Err(Error::Corrupted("chunk device id", 4))
        );
        assert_eq!(
            map_dev(u16::MAX, 0, true, &s),
            Err(Error::Corrupted("chunk device id", 0xFFFF))
        );
        let none: [DeviceSlot; 0] = [];
        assert!(map_dev(1, 0, false, &none).is_err());
    }

    #[test]
    fn unified_addressing() {
        let s = slots();
        // Below every mapped device: primary.
        assert_eq!(map_dev(0, 5, false, &s), Ok(DevAddr { device: 0, blk: 5 }));
        assert_eq!(
            map_dev(0, 100, false, &s),
            Ok(DevAddr { device: 1, blk: 0 })
        );
        assert_eq!(
            map_dev(0, 109, false, &s),
            Ok(DevAddr { device: 1, blk: 9 })
        );
        // One past device 1's end, before device 3: primary.
        assert_eq!(
            map_dev(0, 110, false, &s),
            Ok(DevAddr {
                device: 0,
                blk: 110
            })
        );
        // Device 2 (uniaddr 0) never takes part.
        assert_eq!(map_dev(0, 2, false, &s), Ok(DevAddr { device: 0, blk: 2 }));
        assert_eq!(
            map_dev(0, 219, false, &s),
            Ok(DevAddr { device: 3, blk: 19 })
        );
        assert_eq!(
            map_dev(0, 220, false, &s),
            Ok(DevAddr {
                device: 0,
                blk: 220
            })
        );
        // No overflow at the top of the address space.
        let top = [DeviceSlot::parse(&slot(b"t", u32::MAX, u32::MAX)).unwrap()];
        assert_eq!(
            map_dev(0, u32::MAX, false, &top),
            Ok(DevAddr { device: 1, blk: 0 })
        );
    }

    #[test]
    fn first_matching_slot_wins() {
        let s = [
            DeviceSlot::parse(&slot(b"a", 10, 100)).unwrap(),
            DeviceSlot::parse(&slot(b"b", 10, 105)).unwrap(),
        ];
        assert_eq!(
            map_dev(0, 107, false, &s),
            Ok(DevAddr { device: 1, blk: 7 })
        );
        assert_eq!(
            map_dev(0, 112, false, &s),
            Ok(DevAddr { device: 2, blk: 7 })
        );
    }

    #[test]
    fn flat_device() {
        let s = slots();
        assert_eq!(
            map_dev(1, 3, true, &s),
            Ok(DevAddr {
                device: 0,
                blk: 103
            })
        );
        assert_eq!(map_dev(2, 3, true, &s), Ok(DevAddr { device: 0, blk: 3 }));
        assert_eq!(
            map_dev(0, 105, true, &s),
            Ok(DevAddr {
                device: 0,
                blk: 105
            })
        );
        let top = [DeviceSlot::parse(&slot(b"t", 1, u32::MAX)).unwrap()];
        assert_eq!(
            map_dev(1, u32::MAX, true, &top),
            Ok(DevAddr {
                device: 0,
                blk: 2 * u64::from(u32::MAX)
            })
        );
    }

    #[test]
    fn dev_addr_add() {
        let a = DevAddr { device: 2, blk: 10 };
        assert_eq!(a.add(5), Some(DevAddr { device: 2, blk: 15 }));
        assert_eq!(
            DevAddr {
                device: 0,
                blk: u64::MAX
            }
            .add(1),
            None
        );
    }
}
