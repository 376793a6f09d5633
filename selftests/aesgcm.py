"""AES-256 and the GCM tag of an empty plaintext, in plain Python (no imports
beyond the standard library): what the guest mutation campaign needs to
re-make the key check of a mutated, re-sealed encrypted image
(Documentation/filesystems/rerofs.rst, "Key check"). The guest's Python runs
with -I -S (no site packages), so no crypto library is at hand there.

Slow (pure Python) and not constant-time: test tooling only, for two AES block
encryptions a case. Checked against the `cryptography` package by
selftests/test_aesgcm.py (host), and by every re-sealed encrypted case whose
key check the kernel accepts.
"""


def _sbox():
    # The multiplicative inverse in GF(2^8) (x^8 + x^4 + x^3 + x + 1), then
    # FIPS-197's affine transform.
    def mul(a, b):
        r = 0
        while b:
            if b & 1:
                r ^= a
            a = ((a << 1) ^ 0x11B) if a & 0x80 else (a << 1)
            b >>= 1
        return r

    box = []
    for x in range(256):
        inv = 0
        if x:
            inv = next(y for y in range(1, 256) if mul(x, y) == 1)
        s = inv
        for k in range(1, 5):
            s ^= ((inv << k) | (inv >> (8 - k))) & 0xFF
        box.append(s ^ 0x63)
    return box


SBOX = _sbox()


def _xtime(a):
    return ((a << 1) ^ 0x11B) & 0xFF if a & 0x80 else a << 1


def expand_key(key):
    """The 15 round keys of AES-256 (each 16 bytes, as a list of ints)."""
    if len(key) != 32:
        raise ValueError("AES-256 needs a 32-byte key, not %d bytes" % len(key))
    w = [list(key[4 * i:4 * i + 4]) for i in range(8)]
    rcon = 1
    for i in range(8, 60):
        t = list(w[i - 1])
        if i % 8 == 0:
            t = [SBOX[b] for b in t[1:] + t[:1]]
            t[0] ^= rcon
            rcon = _xtime(rcon)
        elif i % 8 == 4:
            t = [SBOX[b] for b in t]
        w.append([a ^ b for a, b in zip(w[i - 8], t)])
    return [sum(w[4 * r:4 * r + 4], []) for r in range(15)]


def encrypt_block(rk, block):
    """AES-256 encryption of one 16-byte block with round keys `rk`."""
    s = [a ^ b for a, b in zip(block, rk[0])]
    for r in range(1, 15):
        s = [SBOX[b] for b in s]
        # ShiftRows: the state is column-major (byte 4c + row).
        s = [s[(4 * c + 5 * row) % 16] for c in range(4) for row in range(4)]
        if r != 14:
            out = []
            for c in range(4):
                a = s[4 * c:4 * c + 4]
                t = a[0] ^ a[1] ^ a[2] ^ a[3]
                out += [a[i] ^ t ^ _xtime(a[i] ^ a[(i + 1) % 4]) for i in range(4)]
            s = out
        s = [a ^ b for a, b in zip(s, rk[r])]
    return bytes(s)


def _gmul(x, y):
    # GF(2^128) product in GCM's bit order (blocks as big-endian integers).
    z = 0
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= y
        y = (y >> 1) ^ (0xE1 << 120) if y & 1 else y >> 1
    return z


def gcm_tag_empty(key, nonce, ad):
    """The 16-byte AES-256-GCM tag of an empty plaintext with 12-byte `nonce`
    and associated data `ad`."""
    if len(nonce) != 12:
        raise ValueError("GCM nonce must be 12 bytes")
    rk = expand_key(key)
    h = int.from_bytes(encrypt_block(rk, bytes(16)), "big")
    padded = ad + bytes(-len(ad) % 16)
    g = 0
    for i in range(0, len(padded), 16):
        g = _gmul(g ^ int.from_bytes(padded[i:i + 16], "big"), h)
    g = _gmul(g ^ ((8 * len(ad)) << 64), h)
    ek = encrypt_block(rk, nonce + b"\0\0\0\1")
    return bytes(a ^ b for a, b in zip(ek, g.to_bytes(16, "big")))
