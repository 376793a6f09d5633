// SPDX-License-Identifier: GPL-2.0

//! A small client of the OCI distribution API (what `rerofs push`, `pull` and
//! `fetchd` need): references, blob uploads (POST + monolithic PUT), manifests,
//! whole and ranged blob GETs. Plain HTTP (this build has no TLS): meant for a
//! registry on the local machine or behind a local proxy; every byte fetched is
//! checked (sha256 of whole blobs here, the fs-verity trees in the kernel).
//!
//! How a rerofs image is stored: one OCI image manifest whose config is a small
//! JSON document ([`CONFIG_MEDIA_TYPE`]) and whose layers are the metadata blob
//! (first, [`META_MEDIA_TYPE`]) then each data blob ([`BLOB_MEDIA_TYPE`]),
//! each layer annotated with the blob's fs-verity digest ([`VERITY_ANNOTATION`]):
//! the map from OCI sha256 digests to the digests the kernel checks.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::io::Read;
use std::time::Duration;

/// The manifest's media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The config blob's media type.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.rerofs.image.config.v1+json";
/// The metadata blob's layer media type.
pub const META_MEDIA_TYPE: &str = "application/vnd.rerofs.metadata.v1";
/// A data blob's layer media type.
pub const BLOB_MEDIA_TYPE: &str = "application/vnd.rerofs.blob.v1";
/// Layer annotation: the blob's fs-verity digest, `sha256:<hex>`.
pub const VERITY_ANNOTATION: &str = "dev.rerofs.verity.digest";
/// Artifact type (OCI 1.1) of the manifest.
pub const ARTIFACT_TYPE: &str = "application/vnd.rerofs.image.v1";

/// `REGISTRY/REPO[:TAG]` parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`.
    pub registry: String,
    /// Repository name (may hold `/`).
    pub repo: String,
    /// Tag or `sha256:` digest, if given.
    pub tag: Option<String>,
}

impl Reference {
    /// Parses `[http://]HOST[:PORT]/REPO[:TAG|@sha256:HEX]`.
    pub fn parse(s: &str) -> std::result::Result<Reference, String> {
        if s.starts_with("https://") {
            return Err(format!(
                "{s}: this rerofs is built without TLS; use a plain-HTTP registry (http://)"
            ));
        }
        let rest = s.strip_prefix("http://").unwrap_or(s);
        let (registry, path) = rest.split_once('/').ok_or_else(|| {
            format!("{s}: expected REGISTRY/REPO[:TAG], e.g. 127.0.0.1:5000/app:v1")
        })?;
        if registry.is_empty() {
            return Err(format!("{s}: no registry host"));
        }
        let (repo, tag) = if let Some((r, d)) = path.split_once('@') {
            (r, Some(d.to_string()))
        } else {
            match path.rsplit_once(':') {
                Some((r, t)) if !t.contains('/') => (r, Some(t.to_string())),
                _ => (path, None),
            }
        };
        let repo_ok = !repo.is_empty()
            && repo.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        if !repo_ok {
            return Err(format!(
                "{s}: repository {repo:?} is not a valid name (lowercase letters, digits, . _ - and /)"
            ));
        }
        if let Some(t) = &tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b));
            if !ok {
                return Err(format!("{s}: tag {t:?} is not a valid tag"));
            }
        }
        Ok(Reference {
            registry: registry.to_string(),
            repo: repo.to_string(),
            tag,
        })
    }

    /// The tag, or an error saying one is needed.
    pub fn need_tag(&self) -> Result<&str> {
        self.tag.as_deref().ok_or_else(|| {
            anyhow!(
                "{}/{}: a tag is needed (REGISTRY/REPO:TAG)",
                self.registry,
                self.repo
            )
        })
    }
}

/// One layer of a pulled manifest.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Media type.
    pub media_type: String,
    /// OCI digest, `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// The blob's fs-verity digest (lowercase hex), when annotated.
    pub verity: Option<String>,
}

/// True if `s` is `sha256:` and 64 lowercase hex digits.
pub fn is_oci_digest(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| crate::image::is_digest_tag(h.as_bytes()))
}

/// Parses a rerofs manifest: its layers, the metadata blob first. Everything in
/// it is untrusted: digests and names are checked for form here, contents by
/// their hashes later.
pub fn parse_manifest(body: &[u8], what: &str) -> Result<Vec<Layer>> {
    let v: Value =
        serde_json::from_slice(body).with_context(|| format!("{what}: manifest is not JSON"))?;
    let layers = v
        .get("layers")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("{what}: manifest has no layers"))?;
    let mut out = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let media_type = l
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let digest = l
            .get("digest")
            .and_then(Value::as_str)
            .filter(|d| is_oci_digest(d))
            .ok_or_else(|| anyhow!("{what}: layer {i} has no sha256 digest"))?
            .to_string();
        let size = l
            .get("size")
            .and_then(Value::as_u64)
            .ok_or_else(|| anyhow!("{what}: layer {i} has no size"))?;
        let verity = match l
            .get("annotations")
            .and_then(|a| a.get(VERITY_ANNOTATION))
            .and_then(Value::as_str)
        {
            None => None,
            Some(s) => {
                let h = s.strip_prefix("sha256:").unwrap_or("");
                if !crate::image::is_digest_tag(h.as_bytes()) {
                    bail!("{what}: layer {i}: {VERITY_ANNOTATION} {s:?} is not sha256:<64 hex>");
                }
                Some(h.to_string())
            }
        };
        out.push(Layer {
            media_type,
            digest,
            size,
            verity,
        });
    }
    match out.first() {
        Some(l) if l.media_type == META_MEDIA_TYPE => {}
        _ => bail!("{what}: not a rerofs image (the first layer is not {META_MEDIA_TYPE})"),
    }
    if out.iter().skip(1).any(|l| l.media_type != BLOB_MEDIA_TYPE) {
        bail!("{what}: not a rerofs image (a layer after the first is not {BLOB_MEDIA_TYPE})");
    }
    Ok(out)
}

/// The manifest pushed for an image: `layers` (media type, digest, size,
/// fs-verity hex) with the metadata blob first; `config` is the config blob's
/// (digest, size).
pub fn make_manifest(
    config: (&str, u64),
    layers: &[(&str, String, u64, Option<String>)],
    image_digest: Option<&str>,
) -> Value {
    let ls: Vec<Value> = layers
        .iter()
        .map(|(mt, d, size, verity)| {
            let mut l = json!({"mediaType": mt, "digest": d, "size": size});
            if let Some(h) = verity {
                l["annotations"] = json!({ VERITY_ANNOTATION: format!("sha256:{h}") });
            }
            l
        })
        .collect();
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": {"mediaType": CONFIG_MEDIA_TYPE, "digest": config.0, "size": config.1},
        "layers": ls,
    });
    if let Some(d) = image_digest {
        m["annotations"] = json!({ "dev.rerofs.image.digest": d });
    }
    m
}

/// A registry client for one repository.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    /// `REGISTRY/REPO`, for messages.
    pub name: String,
}

/// Turns a ureq error into one naming the method, URL and HTTP status (and the
/// registry's error message, when it sent one).
fn http_err(method: &str, url: &str, e: ureq::Error) -> anyhow::Error {
    match e {
        ureq::Error::Status(code, resp) => {
            let text = resp.status_text().to_string();
            let mut body = String::new();
            resp.into_reader().take(512).read_to_string(&mut body).ok();
            let detail = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("errors")?
                        .get(0)?
                        .get("message")?
                        .as_str()
                        .map(str::to_string)
                })
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            anyhow!("{method} {url}: HTTP {code} {text}{detail}")
        }
        ureq::Error::Transport(t) => anyhow!("{method} {t}"),
    }
}

impl Client {
    /// A client of `r`'s repository.
    pub fn new(r: &Reference) -> Client {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(10))
            .timeout_read(Duration::from_secs(60))
            .timeout_write(Duration::from_secs(60))
            .build();
        Client {
            agent,
            base: format!("http://{}", r.registry),
            name: format!("{}/{}", r.registry, r.repo),
        }
        .with_repo(&r.repo)
    }

    fn with_repo(mut self, repo: &str) -> Client {
        self.base = format!("{}/v2/{repo}", self.base);
        self
    }

    fn blob_url(&self, digest: &str) -> String {
        format!("{}/blobs/{digest}", self.base)
    }

    /// True if the repository has the blob.
    pub fn has_blob(&self, digest: &str) -> Result<bool> {
        let url = self.blob_url(digest);
        match self.agent.head(&url).call() {
            Ok(_) => Ok(true),
            Err(ureq::Error::Status(404, _)) => Ok(false),
            Err(e) => Err(http_err("HEAD", &url, e)),
        }
    }

    /// Uploads a blob of `size` bytes read from `body` (POST, then one
    /// monolithic PUT with the digest).
    pub fn upload(&self, digest: &str, size: u64, body: impl Read) -> Result<()> {
        let url = format!("{}/blobs/uploads/", self.base);
        let r = self
            .agent
            .post(&url)
            .set("Content-Length", "0")
            .call()
            .map_err(|e| http_err("POST", &url, e))?;
        if r.status() != 202 {
            bail!("POST {url}: HTTP {} (expected 202 Accepted)", r.status());
        }
        let loc = r
            .header("Location")
            .ok_or_else(|| anyhow!("POST {url}: HTTP 202 without a Location header"))?;
        let mut put = if loc.starts_with("http://") || loc.starts_with("https://") {
            loc.to_string()
        } else if loc.starts_with('/') {
            let host_end = self.base["http://".len()..]
                .find('/')
                .map_or(self.base.len(), |i| i + "http://".len());
            format!("{}{loc}", &self.base[..host_end])
        } else {
            bail!("POST {url}: unusable Location {loc:?}");
        };
        put.push(if put.contains('?') { '&' } else { '?' });
        put.push_str("digest=");
        put.push_str(digest);
        let r = self
            .agent
            .put(&put)
            .set("Content-Type", "application/octet-stream")
            .set("Content-Length", &size.to_string())
            .send(body)
            .map_err(|e| http_err("PUT", &put, e))?;
        if r.status() != 201 {
            bail!("PUT {put}: HTTP {} (expected 201 Created)", r.status());
        }
        Ok(())
    }

    /// Stores the manifest under `tag`.
    pub fn put_manifest(&self, tag: &str, body: &[u8]) -> Result<()> {
        let url = format!("{}/manifests/{tag}", self.base);
        let r = self
            .agent
            .put(&url)
            .set("Content-Type", MANIFEST_MEDIA_TYPE)
            .send_bytes(body)
            .map_err(|e| http_err("PUT", &url, e))?;
        if r.status() != 201 {
            bail!("PUT {url}: HTTP {} (expected 201 Created)", r.status());
        }
        Ok(())
    }

    /// The manifest of `tag` (bytes, at most 4 MiB).
    pub fn get_manifest(&self, tag: &str) -> Result<Vec<u8>> {
        let url = format!("{}/manifests/{tag}", self.base);
        let r = self
            .agent
            .get(&url)
            .set("Accept", MANIFEST_MEDIA_TYPE)
            .call()
            .map_err(|e| http_err("GET", &url, e))?;
        let mut body = Vec::new();
        r.into_reader()
            .take(4 << 20)
            .read_to_end(&mut body)
            .with_context(|| format!("GET {url}: reading the body"))?;
        Ok(body)
    }

    /// A reader of the whole blob.
    pub fn get_blob(&self, digest: &str) -> Result<(String, Box<dyn Read + Send + Sync>)> {
        let url = self.blob_url(digest);
        let r = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| http_err("GET", &url, e))?;
        Ok((url, r.into_reader()))
    }

    /// Bytes `[offset, offset + len)` of a blob, by one HTTP range request; an
    /// error unless the registry answers 206 with exactly that range.
    pub fn get_range(&self, digest: &str, offset: u64, len: u64) -> Result<Vec<u8>> {
        let url = self.blob_url(digest);
        if len == 0 {
            return Ok(Vec::new());
        }
        let last = offset
            .checked_add(len - 1)
            .ok_or_else(|| anyhow!("GET {url}: range overflows"))?;
        let range = format!("bytes={offset}-{last}");
        let r = self
            .agent
            .get(&url)
            .set("Range", &range)
            .call()
            .map_err(|e| http_err("GET", &url, e))?;
        if r.status() != 206 {
            bail!(
                "GET {url} (Range: {range}): HTTP {} instead of 206 Partial Content: the registry does not serve ranges",
                r.status()
            );
        }
        let want = format!("bytes {offset}-{last}/");
        match r.header("Content-Range") {
            Some(cr) if cr.starts_with(&want) => {}
            other => {
                bail!("GET {url} (Range: {range}): Content-Range {other:?}, expected {want}...")
            }
        }
        let cap = usize::try_from(len).map_err(|_| anyhow!("GET {url}: range too large"))?;
        let mut body = Vec::with_capacity(cap);
        r.into_reader()
            .take(len)
            .read_to_end(&mut body)
            .with_context(|| format!("GET {url} (Range: {range}): reading the body"))?;
        if body.len() != cap {
            bail!(
                "GET {url} (Range: {range}): {} bytes received, {len} expected",
                body.len()
            );
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = Reference::parse("127.0.0.1:5000/a/b:v1").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repo, "a/b");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        let r = Reference::parse("http://localhost:5000/app").unwrap();
        assert_eq!(r.repo, "app");
        assert_eq!(r.tag, None);
        assert!(Reference::parse("https://x/y").is_err());
        assert!(Reference::parse("noslash").is_err());
        assert!(Reference::parse("h/UPPER:t").is_err());
        assert!(Reference::parse("h/a:b c").is_err());
        assert!(Reference::parse("h//a").is_err());
    }
}
