// SPDX-License-Identifier: GPL-2.0

//! End-to-end tests of the `rerofs` binary, with erofs-utils, fsverity-utils
//! and openssl as oracles: one test binary, one module per subcommand, the
//! helpers (and the one image-building helper, `common::mkfs`) in `common`.

mod common;
mod digest;
mod encrypt;
mod fetchd;
mod fsck;
mod layers;
mod mkfs;
mod pull;
mod push;
mod sign;
mod verify;
