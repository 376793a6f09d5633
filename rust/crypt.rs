// SPDX-License-Identifier: GPL-2.0

//! Encrypted images (keyed convergent encryption, `format/encrypt.rs`; see
//! "Encryption" in Documentation/filesystems/rerofs.rst): the image key from the
//! `logon` key named by `key=`, the key check at mount, and the decryption of
//! each data-blob block after it was verified.
//!
//! The image key only lives in the AES-GCM transform (the crypto API's copy,
//! freed with `kfree_sensitive`); chunk keys are unwrapped when a block of their
//! chunk is first read, and the last [`KEPT_KEYS`] are kept (wiped when
//! replaced and at umount). A few "lanes" per mount, each an AES-XTS transform
//! re-keyed when its chunk changes and its own kept keys, under its own mutex;
//! a CPU uses lane `cpu % LANES`, so readers on different CPUs (and the two
//! halves of a read, `data.rs`) decrypt at once.

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::str::{BStr, CStr};
use kernel::sync::Mutex;

use crate::crypto::{logon_key, Gcm, KeyLookupError, Secret, Xts};
use crate::errno::{ebadmsg, efscorrupted, ekeyrejected, enokey};
use crate::format::encrypt::{
    self as fe, DevRecord, Entry, Header, KeyCheck, CHUNK_KEY_SIZE, DEVREC_SIZE, ENTRY_SIZE,
    IMAGE_KEY_SIZE, MAP_ENTRY_SIZE, NO_ENTRY,
};
use crate::format::verity::{parse_hex_digest, DIGEST_SIZE};
use crate::format::BLOCK_SIZE;
use crate::report::{rerofs_err, rerofs_err_ratelimited};
use crate::sb::{Device, SbInfo};
use crate::verity::Blob;

/// Unwrapped chunk keys kept per lane (64 bytes each).
const KEPT_KEYS: usize = 16;

/// Lanes (transforms with their keys) per mount.
const LANES: usize = 4;

/// The longest `key=` name (the keyring's description is `rerofs:NAME`).
const KEY_NAME_MAX: usize = 200;

/// The chunk keys of a mount and the transform they are set in.
struct Keys {
    /// The XTS transform, keyed with the key of entry `current`.
    xts: Xts,
    /// The key table entry whose key is set in `xts`.
    current: Option<u32>,
    /// Recently unwrapped chunk keys, by key table entry; replaced in turn.
    recent: [Option<(u32, Secret<CHUNK_KEY_SIZE>)>; KEPT_KEYS],
    /// The slot of `recent` replaced next.
    next: usize,
}

/// An encrypted mount's keys and encryption metadata.
pub(crate) struct Crypt {
    /// The encryption header, checked.
    header: Header,
    /// One record per device slot, checked against the slot.
    devrecs: KVVec<DevRecord>,
    /// AES-GCM under the image key: unwraps the key table's entries.
    wrap: Gcm,
    /// The lanes: chunk keys and a data transform each.
    lanes: KVec<Pin<KBox<Mutex<Keys>>>>,
}

/// Builds the keyring description `rerofs:NAME` (NUL terminated) of `key=NAME`.
fn key_description(name: &CStr, shown: &BStr) -> Result<KVec<u8>> {
    let n = name.as_bytes();
    if n.is_empty() || n.len() > KEY_NAME_MAX || n.iter().any(|&c| !(0x21..0x7f).contains(&c)) {
        rerofs_err!(
            shown,
            "key= must be 1 to {} printable characters without spaces",
            KEY_NAME_MAX
        );
        return Err(EINVAL);
    }
    let mut d = KVec::new();
    d.extend_from_slice(b"rerofs:", GFP_KERNEL)?;
    d.extend_from_slice(n, GFP_KERNEL)?;
    d.push(0, GFP_KERNEL)?;
    Ok(d)
}

/// Finds the image key named by `key=` and checks it against the image's key
/// check (a GCM tag over the image digest `digest`, in the metadata blob's
/// verity trailer `trailer`). Returns the AES-GCM transform keyed with it.
pub(crate) fn unlock(
    key: Option<&CStr>,
    digest: &[u8; DIGEST_SIZE],
    trailer: &[u8],
    shown: &BStr,
) -> Result<Gcm> {
    let Some(name) = key else {
        rerofs_err!(
            shown,
            "the image is encrypted: name its key with -o key=NAME (the logon key rerofs:NAME, e.g. keyctl padd logon rerofs:NAME @u < image.key)"
        );
        return Err(enokey());
    };
    let desc = key_description(name, shown)?;
    let desc = CStr::from_bytes_with_nul(&desc).map_err(|_| EINVAL)?;
    let image_key = logon_key::<IMAGE_KEY_SIZE>(desc).map_err(|e| match e {
        KeyLookupError::Keyring(e) => {
            rerofs_err!(
                shown,
                "no usable logon key {} in the mounting process's keyrings: {:?}",
                desc,
                e
            );
            e
        }
        KeyLookupError::Size(n) => {
            rerofs_err!(
                shown,
                "the key {} has {} bytes: an image key has {}",
                desc,
                n,
                IMAGE_KEY_SIZE
            );
            EINVAL
        }
    })?;
    let gcm = Gcm::new(&image_key)?;
    drop(image_key);
    let check = KeyCheck::parse(trailer).map_err(|e| {
        rerofs_err!(shown, "{}", e);
        efscorrupted()
    })?;
    gcm.decrypt(
        &check.nonce,
        &fe::key_check_ad(digest),
        &[],
        &check.tag,
        &mut [],
    )
    .map_err(|e| {
        if e == ebadmsg() {
            rerofs_err!(
                shown,
                "the key {} is not this image's key (its key check does not verify)",
                desc
            );
            ekeyrejected()
        } else {
            e
        }
    })?;
    Ok(gcm)
}

impl Crypt {
    /// Reads and checks the encryption header (in the verified first block
    /// `block0`) and the device records of the metadata blob `file` (`image_size`
    /// bytes of verified data), against the opened `devices`.
    pub(crate) fn new(
        wrap: Gcm,
        block0: &[u8],
        image_size: u64,
        file: &Blob,
        devices: &[Device],
        shown: &BStr,
    ) -> Result<Self> {
        let header = Header::parse(block0, image_size).map_err(|e| {
            rerofs_err!(shown, "{}", e);
            efscorrupted()
        })?;
        if usize::try_from(header.devices) != Ok(devices.len()) {
            rerofs_err!(
                shown,
                "the encryption header names {} devices, the image has {}",
                header.devices,
                devices.len()
            );
            return Err(efscorrupted());
        }
        let mut devrecs = KVVec::with_capacity(devices.len(), GFP_KERNEL)?;
        let mut buf = KVec::from_elem(0u8, BLOCK_SIZE, GFP_KERNEL)?;
        let mut pos = header.devrec_pos;
        while devrecs.len() < devices.len() {
            let n = core::cmp::min(BLOCK_SIZE / DEVREC_SIZE, devices.len() - devrecs.len());
            let part = buf.get_mut(..n * DEVREC_SIZE).ok_or(EINVAL)?;
            file.read_exact_at(shown, pos, part)?;
            for raw in part.chunks_exact(DEVREC_SIZE) {
                let i = devrecs.len();
                let rec = DevRecord::parse(raw, image_size).map_err(|e| {
                    rerofs_err!(shown, "device {}: {}", i + 1, e);
                    efscorrupted()
                })?;
                if devices.get(i).map(|d| d.slot.blocks) != Some(rec.blocks) {
                    rerofs_err!(
                        shown,
                        "device {}: its encryption record covers {} blocks, its slot says otherwise",
                        i + 1,
                        rec.blocks
                    );
                    return Err(efscorrupted());
                }
                devrecs.push(rec, GFP_KERNEL)?;
            }
            pos += part.len() as u64;
        }
        let mut lanes = KVec::with_capacity(LANES, GFP_KERNEL)?;
        while lanes.len() < LANES {
            let lane = KBox::pin_init(
                new_mutex!(
                    Keys {
                        xts: Xts::new()?,
                        current: None,
                        recent: core::array::from_fn(|_| None),
                        next: 0,
                    },
                    "rerofs_chunk_keys"
                ),
                GFP_KERNEL,
            )?;
            lanes.push(lane, GFP_KERNEL)?;
        }
        Ok(Self {
            header,
            devrecs,
            wrap,
            lanes,
        })
    }

    /// The key table entry (index, entry) of block `blk` of device `device`,
    /// from the block map; checked to hold that block.
    fn entry_of(&self, sbi: &SbInfo, device: u16, blk: u64) -> Result<(u32, Entry)> {
        let corrupt = |what: &str| {
            rerofs_err_ratelimited!(
                sbi,
                "device {} block {}: {} (encrypted image)",
                device,
                blk,
                what
            );
            efscorrupted()
        };
        let rec = usize::from(device)
            .checked_sub(1)
            .and_then(|i| self.devrecs.get(i))
            .ok_or_else(|| corrupt("file data outside the data blobs"))?;
        let map_pos = rec
            .map_entry_pos(blk)
            .ok_or_else(|| corrupt("beyond the block map"))?;
        let mut raw = [0u8; MAP_ENTRY_SIZE];
        sbi.read_meta(map_pos, &mut raw, "encryption block map")?;
        let idx = u32::from_le_bytes(raw);
        if idx == NO_ENTRY {
            return Err(corrupt("in no encrypted chunk"));
        }
        let pos = self
            .header
            .entry_pos(idx)
            .ok_or_else(|| corrupt("key table index out of range"))?;
        let mut raw = [0u8; ENTRY_SIZE];
        sbi.read_meta(pos, &mut raw, "encryption key table entry")?;
        let entry = Entry::parse(&raw).map_err(|_| corrupt("malformed key table entry"))?;
        if entry.device != device || entry.unit_of(blk).is_none() {
            return Err(corrupt("its key table entry is another chunk's"));
        }
        Ok((idx, entry))
    }

    /// Unwraps the chunk key of entry `idx`, bound to its blob (the digest its
    /// device slot names) and its place there.
    fn unwrap(&self, sbi: &SbInfo, idx: u32, e: &Entry) -> Result<Secret<CHUNK_KEY_SIZE>> {
        let slot = usize::from(e.device)
            .checked_sub(1)
            .and_then(|i| sbi.devices.get(i))
            .ok_or(EINVAL)?;
        let blob = parse_hex_digest(slot.slot.tag()).ok_or_else(efscorrupted)?;
        let ad = fe::wrap_ad(&blob, e.startblk, e.blocks);
        let mut key = Secret::zeroed()?;
        self.wrap
            .decrypt(&e.nonce, &ad, &e.wrapped, &e.tag, key.bytes_mut())
            .map_err(|err| {
                rerofs_err_ratelimited!(
                    sbi,
                    "key table entry {} (device {}, block {}) does not unwrap: {:?}",
                    idx,
                    e.device,
                    e.startblk,
                    err
                );
                if err == ebadmsg() {
                    EIO
                } else {
                    err
                }
            })?;
        Ok(key)
    }

    /// Decrypts `buf`, block `blk` of device `device` (read whole and verified),
    /// in place.
    pub(crate) fn decrypt_block(
        &self,
        sbi: &SbInfo,
        device: u16,
        blk: u64,
        buf: &mut [u8],
    ) -> Result {
        if buf.len() != BLOCK_SIZE {
            return Err(EINVAL);
        }
        let (idx, entry) = self.entry_of(sbi, device, blk)?;
        let unit = entry.unit_of(blk).ok_or(EINVAL)?;
        let lane = self
            .lanes
            .get(crate::crypto::this_cpu() % LANES)
            .ok_or(EINVAL)?;
        let mut guard = lane.lock();
        let Keys {
            xts,
            current,
            recent,
            next,
        } = &mut *guard;
        if *current != Some(idx) {
            let at = match recent
                .iter()
                .position(|k| matches!(k, Some((i, _)) if *i == idx))
            {
                Some(at) => at,
                None => {
                    let key = self.unwrap(sbi, idx, &entry)?;
                    let at = *next % KEPT_KEYS;
                    *next = (at + 1) % KEPT_KEYS;
                    // The key replaced (if any) is wiped as it is dropped.
                    *recent.get_mut(at).ok_or(EINVAL)? = Some((idx, key));
                    at
                }
            };
            let Some(Some((_, key))) = recent.get(at) else {
                return Err(EINVAL);
            };
            *current = None;
            xts.set_key(key)?;
            *current = Some(idx);
        }
        xts.decrypt(&fe::xts_tweak(unit), buf)
    }
}
