// SPDX-License-Identifier: GPL-2.0

//! Helpers shared by the CLI tests: running `rerofs`, building images
//! (`mkfs`: the one image-building helper), source trees, comparisons, layers,
//! the test CA.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn rerofs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rerofs"))
        .args(args)
        .output()
        .expect("run rerofs")
}

pub fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "failed: {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `rerofs sign` with the test CA's key and certificate; must succeed.
pub fn sign_with_ca(image: &Path) {
    ok(&rerofs(&[
        "sign",
        "--key",
        CA_KEY,
        "--cert",
        CA_CERT,
        s(image),
    ]));
}

pub fn have(tool: &str) -> bool {
    Command::new(tool).arg("--help").output().is_ok()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Deterministic pseudo-random bytes.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A source tree with most kinds of things in it.
pub fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("d/e")).unwrap();
    fs::write(root.join("small"), b"hello\n").unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    fs::write(root.join("big"), noise(1, 300_000)).unwrap();
    fs::write(root.join("d/big-copy"), noise(1, 300_000)).unwrap();
    fs::write(root.join("d/e/block"), noise(2, 8192)).unwrap();
    let mut mixed = noise(3, 4096);
    mixed.extend(vec![0u8; 16384]);
    mixed.extend(noise(4, 5000));
    fs::write(root.join("d/mixed"), mixed).unwrap();
    fs::hard_link(root.join("small"), root.join("d/small-link")).unwrap();
    symlink("../small", root.join("d/sym")).unwrap();
    symlink("x".repeat(3000), root.join("longsym")).unwrap();
    for i in 0..400 {
        fs::write(
            root.join(format!("d/e/f{i:04}-with-a-longer-name")),
            format!("{i}\n"),
        )
        .unwrap();
    }
    let c = std::ffi::CString::new(s(&root.join("small"))).unwrap();
    // SAFETY: valid C strings.
    unsafe {
        libc::setxattr(
            c.as_ptr(),
            c"user.test".as_ptr(),
            b"value".as_ptr().cast(),
            5,
            0,
        );
    }
}

/// Compares two trees: names, types, contents, modes, owners, mtimes, link counts, xattrs.
pub fn same_tree(a: &Path, b: &Path, check_nlink: bool) {
    let mut names_a: Vec<_> = fs::read_dir(a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut names_b: Vec<_> = fs::read_dir(b)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names_a.sort();
    names_b.sort();
    assert_eq!(
        names_a,
        names_b,
        "entries of {} vs {}",
        a.display(),
        b.display()
    );
    for n in names_a {
        let (pa, pb) = (a.join(&n), b.join(&n));
        let (ma, mb) = (
            fs::symlink_metadata(&pa).unwrap(),
            fs::symlink_metadata(&pb).unwrap(),
        );
        assert_eq!(ma.mode(), mb.mode(), "mode of {}", pa.display());
        assert_eq!(
            (ma.uid(), ma.gid()),
            (mb.uid(), mb.gid()),
            "owner of {}",
            pa.display()
        );
        assert_eq!(ma.rdev(), mb.rdev(), "rdev of {}", pa.display());
        if !ma.is_dir() {
            assert_eq!(
                (ma.mtime(), ma.mtime_nsec()),
                (mb.mtime(), mb.mtime_nsec()),
                "mtime of {}",
                pa.display()
            );
        }
        if check_nlink {
            assert_eq!(ma.nlink(), mb.nlink(), "nlink of {}", pa.display());
        }
        if ma.is_dir() {
            same_tree(&pa, &pb, check_nlink);
        } else if ma.file_type().is_symlink() {
            assert_eq!(fs::read_link(&pa).unwrap(), fs::read_link(&pb).unwrap());
        } else if ma.is_file() {
            assert!(
                fs::read(&pa).unwrap() == fs::read(&pb).unwrap(),
                "contents of {}",
                pa.display()
            );
        }
    }
}

pub fn diff_r(a: &Path, b: &Path) {
    let o = Command::new("diff")
        .args(["-r", "--no-dereference", s(a), s(b)])
        .output()
        .unwrap();
    ok(&o);
}

/// The data area size of a verity blob, from the descriptor in its trailer.
pub fn blob_data_size(p: &Path) -> u64 {
    let b = fs::read(p).unwrap();
    let t = &b[b.len() - 4096..];
    u64::from_le_bytes(t[8..16].try_into().unwrap())
}

/// A temporary directory with `make_tree` in `src`, an empty `out` and the
/// path `out/meta.img`.
pub fn tree_and_out() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    make_tree(&src);
    let out = t.path().join("out");
    fs::create_dir(&out).unwrap();
    let meta = out.join("meta.img");
    (t, src, out, meta)
}

pub fn blobs_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.len() == 64 && n.bytes().all(|c| c.is_ascii_hexdigit())
        })
        .collect();
    v.sort();
    v
}

/// Writes a tar layer: (path, contents or None for a directory).
pub fn tar_layer(path: &Path, entries: &[(&str, Option<&[u8]>)]) {
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        match data {
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                h.set_mode(0o644);
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
            }
        }
        h.set_mtime(1_600_000_000);
        h.set_uid(0);
        h.set_gid(0);
        // `append_data` would refuse "..": write the raw name like a hostile archive.
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_cksum();
        b.append(&h, data.unwrap_or(&[])).unwrap();
    }
    b.finish().unwrap();
}

/// One member of a tar layer built by [`write_layer`].
pub enum Ent {
    Dir(&'static str, u32, u32),
    File(&'static str, Vec<u8>, u32, u32),
    Sym(&'static str, &'static str),
    Hard(&'static str, &'static str),
}

pub fn dir(p: &'static str) -> Ent {
    Ent::Dir(p, 0o755, 0)
}

pub fn file(p: &'static str, data: impl Into<Vec<u8>>) -> Ent {
    Ent::File(p, data.into(), 0o644, 0)
}

/// A whiteout (`.wh.NAME`) or opaque marker: an empty file.
pub fn wh(p: &'static str) -> Ent {
    Ent::File(p, Vec::new(), 0o644, 0)
}

/// Writes a tar layer, member names written raw (hostile ones included).
pub fn write_layer(path: &Path, mtime: u64, ents: &[Ent]) {
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    for e in ents {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(0);
        let (name, data, link): (&str, &[u8], Option<&str>) = match e {
            Ent::Dir(p, m, uid) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*m);
                h.set_uid(*uid as u64);
                h.set_gid(*uid as u64);
                (p, &[], None)
            }
            Ent::File(p, d, m, uid) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*m);
                h.set_uid(*uid as u64);
                h.set_gid(*uid as u64);
                h.set_size(d.len() as u64);
                (p, d, None)
            }
            Ent::Sym(p, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                (p, &[], Some(t))
            }
            Ent::Hard(p, t) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                (p, &[], Some(t))
            }
        };
        if let Some(t) = link {
            h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
        }
        if name.len() <= 100 {
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, data).unwrap();
        } else {
            // A GNU long-name member first.
            b.append_data(&mut h, name, data).unwrap();
        }
    }
    b.finish().unwrap();
}

/// The device tags (blob digests) of an image, in slot order.
pub fn devices_of(meta: &Path) -> Vec<String> {
    let o = rerofs(&["inspect", "--devices", s(meta)]);
    ok(&o);
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// All paths under `root`, recursively, sorted.
pub fn listing(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

pub fn stdout_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

// ---- In-band verification (verity, signatures) ----

pub const CA_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../kernel/certs/rerofs-test-ca.key"
);

pub const CA_CERT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../kernel/certs/rerofs-test-ca.pem"
);

/// The first `len` bytes of `p`, copied out with `head -c` (the data area).
pub fn head_c(p: &Path, len: u64, to: &Path) {
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("head -c {len} \"$1\" > \"$2\""))
        .args(["sh", s(p), s(to)])
        .output()
        .unwrap();
    ok(&o);
    assert_eq!(fs::metadata(to).unwrap().len(), len);
}

/// The superblock block count and each device slot's block count of an image.
pub fn block_counts(meta: &Path) -> (u64, Vec<u64>) {
    let o = rerofs(&["inspect", "--json", s(meta)]);
    ok(&o);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let devs = j["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["blocks"].as_u64().unwrap())
        .collect();
    (j["superblock"]["blocks"].as_u64().unwrap(), devs)
}

/// The first line `rerofs digest` prints for `p`.
pub fn rerofs_digest(args: &[&str]) -> String {
    let o = rerofs(&[&["digest"], args].concat());
    ok(&o);
    stdout_of(&o).split_whitespace().next().unwrap().to_string()
}

/// Flips one bit of byte `pos` of `p`.
pub fn flip(p: &Path, pos: u64) {
    let mut b = fs::read(p).unwrap();
    b[pos as usize] ^= 0x10;
    fs::write(p, b).unwrap();
}

/// Builds an image, the one way the tests do: `rerofs mkfs OPTS... META
/// SOURCES...`. The output is returned unchecked (wrap it in `ok` when the
/// build must succeed).
pub fn mkfs(opts: &[&str], meta: &Path, sources: &[&Path]) -> Output {
    let mut args = vec!["mkfs"];
    args.extend_from_slice(opts);
    args.push(s(meta));
    args.extend(sources.iter().map(|p| s(p)));
    rerofs(&args)
}

/// A real OCI registry (Debian's `docker-registry`, the CNCF distribution
/// registry) on 127.0.0.1 and a free port, with filesystem storage and its
/// log (access log included) in a temporary directory; stopped when dropped.
pub struct Registry {
    pub port: u16,
    pub log: PathBuf,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

impl Registry {
    /// Starts one, or returns `None` (with a message) when the package is
    /// not installed (`scripts/setup-host.sh` installs it).
    pub fn start() -> Option<Registry> {
        if !Path::new(REGISTRY_BIN).exists() {
            eprintln!("{REGISTRY_BIN} not installed (apt-get install docker-registry): skipping");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let cfg = dir.path().join("config.yml");
            fs::write(
                &cfg,
                format!(
                    "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n\
                     http:\n  addr: 127.0.0.1:{port}\n",
                    dir.path().join("store").display()
                ),
            )
            .unwrap();
            let log = dir.path().join("registry.log");
            let out = fs::File::create(&log).unwrap();
            let mut child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&cfg)
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .expect("start docker-registry");
            for _ in 0..100 {
                if http_get(port, "/v2/")
                    .lines()
                    .next()
                    .is_some_and(|l| l.contains(" 200 "))
                {
                    return Some(Registry {
                        port,
                        log,
                        child,
                        _dir: dir,
                    });
                }
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            child.kill().ok();
            child.wait().ok();
        }
        panic!("docker-registry did not start");
    }

    /// `127.0.0.1:PORT/REPO`.
    pub fn reference(&self, repo: &str) -> String {
        format!("127.0.0.1:{}/{repo}", self.port)
    }

    /// Access-log lines of GETs of blobs answered with `status`, and their
    /// bytes.
    pub fn blob_gets(&self, status: u32) -> (u64, u64) {
        let log = fs::read_to_string(&self.log).unwrap();
        let mut n = 0;
        let mut bytes = 0;
        for l in log.lines() {
            // 127.0.0.1 - - [date] "GET /v2/r/blobs/sha256:... HTTP/1.1" 206 4096 "" "ua"
            let Some((req, rest)) = l.split_once("\" ") else {
                continue;
            };
            if !req.contains("\"GET /v2/") || !req.contains("/blobs/sha256:") {
                continue;
            }
            let mut f = rest.split_whitespace();
            if f.next() == Some(&status.to_string()) {
                n += 1;
                bytes += f.next().and_then(|b| b.parse::<u64>().ok()).unwrap_or(0);
            }
        }
        (n, bytes)
    }

    /// [`Self::blob_gets`] once at least `want` such lines are in the log, or
    /// after 20 s: the registry writes a request's log line after it has sent
    /// the response, so a client can be done before its line is there.
    pub fn blob_gets_wait(&self, status: u32, want: u64) -> (u64, u64) {
        for _ in 0..200 {
            if self.blob_gets(status).0 >= want {
                // Any line still on its way (one too many would fail the test).
                std::thread::sleep(std::time::Duration::from_millis(200));
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        self.blob_gets(status)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// A plain HTTP/1.0 GET on 127.0.0.1:`port` (accepting OCI manifests): the
/// whole response, or "" when the connection fails.
pub fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let req = format!(
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\
         Accept: application/vnd.oci.image.manifest.v1+json\r\n\r\n"
    );
    if c.write_all(req.as_bytes()).is_err() {
        return String::new();
    }
    let mut s = String::new();
    c.read_to_string(&mut s).ok();
    s
}

/// `rerofs push -q META --blob-dir BLOBS DEST`, which must succeed.
pub fn push_image(meta: &Path, blobs: &Path, dest: &str) {
    ok(&rerofs(&[
        "push",
        "-q",
        s(meta),
        "--blob-dir",
        s(blobs),
        dest,
    ]));
}
