// SPDX-License-Identifier: GPL-2.0

//! `rerofs sign`: the signed message, checked with `openssl cms`.

use crate::common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

/// Bytes of the signature in a metadata blob's trailer.
fn embedded_signature(meta: &Path) -> Vec<u8> {
    let b = fs::read(meta).unwrap();
    let t = &b[b.len() - 4096..];
    let n = u32::from_le_bytes(t[4..8].try_into().unwrap()) as usize;
    t[256..256 + n].to_vec()
}

/// Puts `sig` into the trailer of the metadata blob `meta` in place of its
/// signature (as `rerofs sign` does, but with any bytes).
fn set_signature(meta: &Path, sig: &[u8]) {
    let mut b = fs::read(meta).unwrap();
    let at = b.len() - 4096;
    let t = &mut b[at..];
    t[4..8].copy_from_slice(&(sig.len() as u32).to_le_bytes());
    t[256..].fill(0);
    t[256..256 + sig.len()].copy_from_slice(sig);
    fs::write(meta, b).unwrap();
}

/// The message a rerofs image signature signs, written out here byte by byte
/// (an oracle independent of the format crate): "RerofsIm", le16 version 1,
/// le16 hash algorithm 1, le16 digest size 32, the image digest.
fn rerofs_signed_message(digest: &str) -> Vec<u8> {
    let hexd = digest.strip_prefix("sha256:").unwrap();
    let mut msg = b"RerofsIm\x01\x00\x01\x00\x20\x00".to_vec();
    msg.extend((0..32).map(|i| u8::from_str_radix(&hexd[2 * i..2 * i + 2], 16).unwrap()));
    assert_eq!(msg.len(), 46);
    msg
}

/// fs-verity's formatted digest ("FSVerity", le16 1, le16 32, the digest).
fn fsverity_formatted_digest(digest: &str) -> Vec<u8> {
    let hexd = digest.strip_prefix("sha256:").unwrap();
    let mut msg = b"FSVerity\x01\x00\x20\x00".to_vec();
    msg.extend((0..32).map(|i| u8::from_str_radix(&hexd[2 * i..2 * i + 2], 16).unwrap()));
    msg
}

/// `openssl cms -verify` of the DER detached signature `sig` over `msg`, signer
/// `cert` (which is also the trust anchor): true when it verifies.
fn openssl_cms_verifies(dir: &Path, sig: &[u8], msg: &[u8], cert: &str) -> bool {
    let sigf = dir.join("cms.sig.der");
    let msgf = dir.join("cms.msg");
    fs::write(&sigf, sig).unwrap();
    fs::write(&msgf, msg).unwrap();
    let o = Command::new("openssl")
        .args(["cms", "-verify", "-binary", "-inform", "DER"])
        .args(["-in", s(&sigf), "-content", s(&msgf)])
        .args(["-certfile", cert, "-CAfile", cert])
        .args(["-purpose", "any", "-out", "/dev/null"])
        .output()
        .unwrap();
    o.status.success()
}

#[test]
fn signatures_sign_the_rerofs_message_not_fsverity_s() {
    let (t, src, _out, meta) = tree_and_out();
    let mk = |extra: &[&str]| {
        ok(&mkfs(
            &[&["-q", "-T", "1000"][..], extra].concat(),
            &meta,
            &[&src],
        ))
    };
    mk(&["--key", CA_KEY, "--cert", CA_CERT]);
    let sig = embedded_signature(&meta);
    assert!(!sig.is_empty());
    let o = rerofs(&["verify", "--cert", CA_CERT, s(&meta)]);
    ok(&o);
    assert!(
        stdout_of(&o).contains("signature: valid"),
        "{}",
        stdout_of(&o)
    );

    // `rerofs sign` on the unsigned build writes the same signature, and
    // changes nothing else.
    let signed = fs::read(&meta).unwrap();
    mk(&[]);
    assert!(embedded_signature(&meta).is_empty());
    let o = rerofs(&["verify", s(&meta)]);
    ok(&o);
    assert!(stdout_of(&o).contains("signature: none"));
    sign_with_ca(&meta);
    assert!(
        fs::read(&meta).unwrap() == signed,
        "rerofs sign differs from mkfs --key"
    );

    // OpenSSL (an independent oracle) verifies it over the rerofs message
    // written out by hand, and not over fs-verity's formatted digest.
    let d = rerofs_digest(&[s(&meta)]);
    if have("openssl") {
        assert!(
            openssl_cms_verifies(t.path(), &sig, &rerofs_signed_message(&d), CA_CERT),
            "openssl cms -verify refuses our signature over the rerofs message"
        );
        assert!(
            !openssl_cms_verifies(t.path(), &sig, &fsverity_formatted_digest(&d), CA_CERT),
            "our signature also verifies over fs-verity's formatted digest"
        );
    }

    // fsverity-utils' signature over the metadata data area (the same digest,
    // signed by the same key) is an fs-verity file signature: refused.
    let (blocks, _) = block_counts(&meta);
    let area = t.path().join("area");
    head_c(&meta, blocks * 4096, &area);
    if have("fsverity") {
        let theirs = t.path().join("sig.der");
        ok(&Command::new("fsverity")
            .args([
                "sign",
                s(&area),
                s(&theirs),
                "--key",
                CA_KEY,
                "--cert",
                CA_CERT,
            ])
            .output()
            .unwrap());
        let theirs = fs::read(&theirs).unwrap();
        assert!(theirs != sig, "fsverity sign made our signature");
        if have("openssl") {
            // The oracle agrees it is fs-verity's message that it signs.
            assert!(openssl_cms_verifies(
                t.path(),
                &theirs,
                &fsverity_formatted_digest(&d),
                CA_CERT
            ));
            assert!(!openssl_cms_verifies(
                t.path(),
                &theirs,
                &rerofs_signed_message(&d),
                CA_CERT
            ));
        }
        let fsv = meta.with_file_name("fsverity-signed.img");
        fs::copy(&meta, &fsv).unwrap();
        set_signature(&fsv, &theirs);
        assert_eq!(embedded_signature(&fsv), theirs);
        let o = rerofs(&["verify", "--cert", CA_CERT, s(&fsv)]);
        assert_eq!(o.status.code(), Some(1), "{}", stdout_of(&o));
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(err.contains("fs-verity file signature"), "{err}");
        // The digest is the same: only the signature is refused.
        assert_eq!(rerofs_digest(&[s(&fsv)]), d);
        // Re-signed with `rerofs sign`, the image verifies again.
        sign_with_ca(&fsv);
        assert!(fs::read(&fsv).unwrap() == signed);
    }

    // Signed by another key: does not verify with the CA's certificate.
    if have("openssl") {
        let k2 = t.path().join("k2.pem");
        let c2 = t.path().join("c2.pem");
        ok(&Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args(["-subj", "/CN=other", "-keyout", s(&k2), "-out", s(&c2)])
            .output()
            .unwrap());
        ok(&rerofs(&[
            "sign",
            "--key",
            s(&k2),
            "--cert",
            s(&c2),
            s(&meta),
        ]));
        let o = rerofs(&["verify", "--cert", CA_CERT, s(&meta)]);
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stderr).contains("signature"));
        ok(&rerofs(&["verify", "--cert", s(&c2), s(&meta)]));
        // A key that is not the certificate's is refused before anything is written.
        let before = fs::read(&meta).unwrap();
        let o = rerofs(&["sign", "--key", CA_KEY, "--cert", s(&c2), s(&meta)]);
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stderr).contains("does not match"));
        assert!(fs::read(&meta).unwrap() == before);
    }
}
