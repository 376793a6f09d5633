// SPDX-License-Identifier: GPL-2.0

//! CRC32C (Castagnoli) as EROFS uses it for the superblock checksum.

const POLY: u32 = 0x82F6_3B78;

const TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Raw reflected CRC32C of `data` starting from `crc`, with no final inversion
/// (the kernel's `crc32c(crc, data, len)`; EROFS seeds it with `!0`).
pub fn crc32c(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_check_value() {
        // The catalogued CRC-32C check value is over "123456789" with init and final xor ~0.
        assert_eq!(!crc32c(!0, b"123456789"), 0xE306_9283);
    }
}
