#!/usr/bin/env python3
"""Host check of selftests/aesgcm.py against the `cryptography` package (skipped
when it is absent): FIPS-197's AES-256 vector, then random GCM tags."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aesgcm  # noqa: E402


def main():
    key = bytes(range(32))
    ct = aesgcm.encrypt_block(aesgcm.expand_key(key), bytes.fromhex("00112233445566778899aabbccddeeff"))
    assert ct.hex() == "8ea2b7ca516745bfeafc49904b496089", ct.hex()
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        print("test_aesgcm: FIPS-197 vector ok; no cryptography package, GCM not cross-checked")
        return 0
    for n in range(40):
        k, nonce, ad = os.urandom(32), os.urandom(12), os.urandom(n * 7 % 70)
        want = AESGCM(k).encrypt(nonce, b"", ad)
        got = aesgcm.gcm_tag_empty(k, nonce, ad)
        assert got == want, (n, got.hex(), want.hex())
    print("test_aesgcm: FIPS-197 vector and 40 GCM tags agree with cryptography")
    return 0


if __name__ == "__main__":
    sys.exit(main())
