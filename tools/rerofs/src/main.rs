// SPDX-License-Identifier: GPL-2.0

//! `rerofs`: build, check, inspect, sign and verify rerofs/EROFS images.
//!
//! Exit codes: 0 success, 1 failure or problems found, 2 usage error.

mod crypt;
mod fetchd;
mod fsck;
mod image;
mod inspect;
mod mkfs;
mod oci;
mod pull;
mod push;
mod tree;
mod trust;
mod util;
mod verity;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rerofs",
    version,
    about = "Build, check, inspect, sign, verify, push and pull rerofs (EROFS) images"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build an image: a metadata blob plus content-addressed data blobs.
    Mkfs(mkfs::MkfsArgs),
    /// Check an image (and its data blobs); optionally extract it.
    Fsck(fsck::FsckArgs),
    /// Describe an image: superblock, features, devices, inodes, dedup.
    Inspect(inspect::InspectArgs),
    /// Sign an image with verity: write a PKCS#7 signature of its digest.
    Sign(trust::SignArgs),
    /// Print fs-verity digests of metadata blobs, data blobs or plain files.
    Digest(trust::DigestArgs),
    /// Verify an image offline: every blob's tree, the signature, the digest.
    Verify(trust::VerifyArgs),
    /// Make a key file (domain or image key): 32 random bytes, mode 0600.
    Keygen(crypt::KeygenArgs),
    /// Wrap an encrypted image's chunk keys under a new image key (no data blob changes).
    Rewrap(crypt::RewrapArgs),
    /// Store an image and its data blobs in an OCI registry (one manifest, a layer per blob).
    Push(push::PushArgs),
    /// Fetch an image from an OCI registry: whole, or lazily (metadata, trees, trailers).
    Pull(pull::PullArgs),
    /// Serve the kernel's on-demand requests: fetch blob ranges from the registry.
    Fetchd(fetchd::FetchdArgs),
}

fn main() -> ExitCode {
    // Die quietly on a closed pipe (`rerofs inspect IMG | head`), like other tools.
    // SAFETY: setting a signal disposition before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Installed as mkfs.rerofs / fsck.rerofs: imply the subcommand.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let argv0 = args
        .first()
        .and_then(|a| {
            std::path::Path::new(a)
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    match argv0.as_str() {
        "mkfs.rerofs" => args.insert(1, "mkfs".into()),
        "fsck.rerofs" => args.insert(1, "fsck".into()),
        _ => {}
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            e.print().ok();
            return ExitCode::from(code);
        }
    };
    let r = match &cli.cmd {
        Cmd::Mkfs(a) => mkfs::run(a).map(|()| true),
        Cmd::Fsck(a) => fsck::run(a),
        Cmd::Inspect(a) => inspect::run(a).map(|()| true),
        Cmd::Sign(a) => trust::run_sign(a).map(|()| true),
        Cmd::Digest(a) => trust::run_digest(a),
        Cmd::Verify(a) => trust::run_verify(a),
        Cmd::Keygen(a) => crypt::run_keygen(a).map(|()| true),
        Cmd::Rewrap(a) => crypt::run_rewrap(a).map(|()| true),
        Cmd::Push(a) => push::run(a).map(|()| true),
        Cmd::Pull(a) => pull::run(a).map(|()| true),
        Cmd::Fetchd(a) => fetchd::run(a),
    };
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("rerofs: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
