//! Evidence bundles: the folder `replay` writes for an enforcement case — alerts, original and
//! annotated snapshots, clips, a report and a manifest with the sha256 of every file — and
//! `verify`, which recomputes those hashes.
//!
//! Layout:
//! ```text
//! manifest.json            identity of source, model, calibration, settings; sha256 of every file
//! alerts.jsonl             the alert payloads, one per line (as the live service publishes them)
//! report.html              one self-contained page: timeline and episodes with their snapshots
//! snapshots/<id>-<phase>.png            original frame (lossless) at start and end
//! snapshots/<id>-<phase>.annotated.jpg  the same frame with zones, boxes, ids and dwell drawn
//! clips/<episode id>.webm               original frames around the confirmation (WebM/VP8)
//! ```
//! Everything but the manifest's `run` field is a function of the inputs and settings, so two
//! replays of the same footage give byte-identical alerts and manifests.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::sha256_file;
use crate::error::{Error, Result};
use crate::signature::{from_hex, to_hex};

pub const MANIFEST: &str = "manifest.json";
/// The manifest's own sha256, so that an altered manifest is detected too.
pub const MANIFEST_SHA: &str = "manifest.json.sha256";
/// The box's Ed25519 signature over `manifest.json` (hex), when the replay was given a key.
pub const MANIFEST_SIG: &str = "manifest.json.sig";
pub const FORMAT: &str = "streetwatch-bundle/1";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceInfo {
    pub file_name: String,
    pub sha256: String,
    pub size: u64,
    /// Media duration of what was decoded, seconds.
    pub duration_s: f64,
    pub frames_decoded: u64,
    /// Frames the container announces (0 when unknown).
    pub frames_announced: u64,
    pub fps: f64,
    pub width: i32,
    pub height: i32,
    /// Set when the file ends before the frames it announces: the bundle covers what was readable.
    pub truncated: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    pub detect_fps: f64,
    pub start_time: Option<String>,
    pub clip_before_s: f64,
    pub clip_after_s: f64,
    /// `none`, `persons`.
    pub blur: String,
    pub threads: usize,
}

/// Where and why a replay stopped before the end of its source.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stop {
    pub reason: String,
    pub media_s: f64,
    pub frames: u64,
}

/// The one field that differs between two runs on the same inputs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Run {
    pub id: String,
    pub created: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub streetwatch_version: String,
    /// False while the replay runs and when it was interrupted.
    pub complete: bool,
    pub stopped: Option<Stop>,
    pub source: Option<SourceInfo>,
    pub model: Identity,
    pub calibration: Identity,
    pub settings: Settings,
    pub episodes: usize,
    pub alerts: usize,
    /// sha256 and size of every file in the bundle but the manifest.
    pub files: BTreeMap<String, FileEntry>,
    /// With blurring: sha256 of the original (unblurred) content that is not in the bundle.
    pub withheld_originals: BTreeMap<String, String>,
    pub run: Run,
}

impl Manifest {
    pub fn load(bundle: &Path) -> Result<Manifest> {
        let path = bundle.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::config(&path, Some(e.line()), e.to_string()))
    }

    /// Writes the manifest and its sha256 file atomically: both are written to temporary files
    /// (fsync'd) before either is renamed into place, so a full disk leaves the previous pair.
    pub fn write(&self, bundle: &Path) -> Result<()> {
        let path = bundle.join(MANIFEST);
        let sha_path = bundle.join(MANIFEST_SHA);
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::io(&path, std::io::Error::other(e)))?
            + "\n";
        let line = format!(
            "{}  {MANIFEST}\n",
            crate::digest::sha256_bytes(text.as_bytes())
        );
        let tmp = bundle.join(".manifest.json.tmp");
        let sha_tmp = bundle.join(".manifest.json.sha256.tmp");
        for (p, content) in [(&tmp, text.as_bytes()), (&sha_tmp, line.as_bytes())] {
            let mut f = File::create(p).map_err(|e| Error::io(p, e))?;
            f.write_all(content).map_err(|e| Error::io(p, e))?;
            f.sync_all().map_err(|e| Error::io(p, e))?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        std::fs::rename(&sha_tmp, &sha_path).map_err(|e| Error::io(&sha_path, e))
    }
}

/// Bundle content that streetwatch owns (removed by `--overwrite`).
const OWNED: &[&str] = &[
    MANIFEST,
    MANIFEST_SHA,
    MANIFEST_SIG,
    "alerts.jsonl",
    "report.html",
    "snapshots",
    "clips",
    ".manifest.json.tmp",
    ".manifest.json.sha256.tmp",
];

/// Prepares an output folder: refuses one that already holds a bundle unless `overwrite`.
pub fn prepare(out: &Path, overwrite: bool) -> Result<()> {
    let holds = OWNED.iter().any(|f| out.join(f).exists());
    if holds && !overwrite {
        return Err(Error::Video {
            path: out.to_path_buf(),
            message:
                "already holds a bundle (or part of one); choose another --out or pass --overwrite"
                    .into(),
        });
    }
    if holds {
        for f in OWNED {
            let p = out.join(f);
            let r = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            match r {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&p, e)),
            }
        }
    }
    for d in ["snapshots", "clips"] {
        let p = out.join(d);
        std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
    }
    Ok(())
}

/// Relative paths (with `/`) of every file below `root`, sorted.
pub fn list_files(root: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let p = entry.path();
            if p.is_dir() {
                walk(root, &p, out)?;
            } else {
                let rel = p.strip_prefix(root).unwrap_or(&p);
                out.push(
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

/// Hashes every file of the bundle but the manifest.
pub fn hash_files(bundle: &Path) -> Result<BTreeMap<String, FileEntry>> {
    let mut files = BTreeMap::new();
    for rel in list_files(bundle)? {
        if rel == MANIFEST
            || rel == MANIFEST_SHA
            || rel == MANIFEST_SIG
            || rel.starts_with(".manifest")
        {
            continue;
        }
        let p = bundle.join(&rel);
        let size = std::fs::metadata(&p).map_err(|e| Error::io(&p, e))?.len();
        files.insert(
            rel,
            FileEntry {
                sha256: sha256_file(&p)?,
                size,
            },
        );
    }
    Ok(files)
}

/// The outcome of `verify`.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every file is present and matches; the replay finished.
    Intact {
        files: usize,
        truncated_source: bool,
        signature: Signature,
    },
    /// The files match, but the replay did not finish (interrupted, or never got to write its
    /// final manifest).
    Incomplete { reason: String },
    /// The first problem found.
    Corrupt { problem: String },
}

/// Checks a bundle's files against its manifest (no signature check).
pub fn verify(bundle: &Path) -> Result<Verdict> {
    verify_with(bundle, None)
}

/// Checks a bundle's files against its manifest and, with `key`, the manifest's signature.
pub fn verify_with(bundle: &Path, key: Option<&ed25519_dalek::VerifyingKey>) -> Result<Verdict> {
    if !bundle.join(MANIFEST).is_file() {
        if bundle.join("alerts.jsonl").is_file() {
            return Ok(Verdict::Incomplete {
                reason: "no manifest.json: the replay did not get to write one".into(),
            });
        }
        return Err(Error::io(
            bundle.join(MANIFEST),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file: not an evidence bundle (or not one streetwatch wrote)",
            ),
        ));
    }
    let sha_path = bundle.join(MANIFEST_SHA);
    let Ok(recorded) = std::fs::read_to_string(&sha_path) else {
        return Ok(Verdict::Corrupt {
            problem: format!("missing file {MANIFEST_SHA}"),
        });
    };
    let actual = sha256_file(&bundle.join(MANIFEST))?;
    let recorded = recorded.split_whitespace().next().unwrap_or("").to_string();
    if recorded.len() != 64 || !recorded.chars().all(|c| c.is_ascii_hexdigit()) {
        return Ok(Verdict::Corrupt {
            problem: format!("{MANIFEST_SHA} was altered: it holds no sha256"),
        });
    }
    if recorded != actual {
        return Ok(Verdict::Corrupt {
            problem: format!(
                "{MANIFEST} was altered: sha256 {actual}, {MANIFEST_SHA} says {recorded}"
            ),
        });
    }
    let m = Manifest::load(bundle)?;
    for (rel, entry) in &m.files {
        // A manifest names files inside its bundle: a path that leaves it (`..`, absolute) is
        // a forgery, and verify reads nothing outside the bundle.
        let inside = !rel.is_empty()
            && Path::new(rel)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !inside {
            return Ok(Verdict::Corrupt {
                problem: format!("the manifest lists {rel}, a path outside the bundle"),
            });
        }
        let p = bundle.join(rel);
        // Nor through a link: every file of a bundle is a plain file in it.
        match std::fs::symlink_metadata(&p) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Ok(Verdict::Corrupt {
                    problem: format!("{rel} is a link, not a file of the bundle"),
                });
            }
            Ok(meta) if meta.is_file() => {}
            _ => {
                return Ok(Verdict::Corrupt {
                    problem: format!("missing file {rel}"),
                });
            }
        }
        let sha = sha256_file(&p)?;
        if sha != entry.sha256 {
            return Ok(Verdict::Corrupt {
                problem: format!(
                    "{rel} was altered: sha256 {sha}, the manifest says {}",
                    entry.sha256
                ),
            });
        }
    }
    // An unfinished replay may have written files its manifest does not list yet.
    if !m.complete {
        let reason = match &m.stopped {
            Some(s) => format!(
                "{} at {:.2} s of media after {} frames",
                s.reason, s.media_s, s.frames
            ),
            None => "the replay did not finish (no final manifest)".into(),
        };
        return Ok(Verdict::Incomplete { reason });
    }
    for rel in list_files(bundle)? {
        if rel != MANIFEST
            && rel != MANIFEST_SHA
            && rel != MANIFEST_SIG
            && !rel.starts_with(".manifest")
            && !m.files.contains_key(&rel)
        {
            return Ok(Verdict::Corrupt {
                problem: format!("extra file {rel} is not in the manifest"),
            });
        }
    }
    let signed = bundle.join(MANIFEST_SIG).is_file();
    let signature = match key {
        None if signed => Signature::Unchecked,
        None => Signature::None,
        Some(k) => match check_signature(bundle, k)? {
            Some(problem) => return Ok(Verdict::Corrupt { problem }),
            None => Signature::Valid,
        },
    };
    Ok(Verdict::Intact {
        files: m.files.len() + 2 + usize::from(signed),
        truncated_source: m.source.as_ref().is_some_and(|s| s.truncated),
        signature,
    })
}

/// Whether an intact bundle's signature was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// The bundle is not signed (and no key was given).
    None,
    /// It is signed, but no public key was given to check it with.
    Unchecked,
    /// Its signature over the manifest matches the given public key.
    Valid,
}

/// Ed25519 key files hold 64 hex digits and a newline: the secret key (the box's, readable by
/// its owner only) or the public key (given to whoever verifies the box's bundles).
pub const KEY_FILE: &str = "bundle.key";
pub const PUBLIC_KEY_FILE: &str = "bundle.pub";

/// Makes a new key pair in `dir` (`bundle.key` with mode 0600, `bundle.pub`); never replaces
/// existing files.
pub fn keygen(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut seed = [0u8; 32];
    crate::digest::random_bytes(&mut seed)
        .map_err(|e| Error::io("the system's random source", e))?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let (secret, public) = (dir.join(KEY_FILE), dir.join(PUBLIC_KEY_FILE));
    for (path, bytes, mode) in [
        (&secret, key.to_bytes(), 0o600),
        (&public, key.verifying_key().to_bytes(), 0o644),
    ] {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        writeln!(f, "{}", to_hex(&bytes)).map_err(|e| Error::io(path, e))?;
    }
    Ok((secret, public))
}

fn read_key<const N: usize>(path: &Path, what: &str) -> Result<[u8; N]> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    from_hex(&text).ok_or_else(|| {
        Error::config(
            path,
            None,
            format!("not {what}: expected {} hex digits", 2 * N),
        )
    })
}

/// The box's secret key (`bundle.key`).
pub fn load_signing_key(path: &Path) -> Result<ed25519_dalek::SigningKey> {
    Ok(ed25519_dalek::SigningKey::from_bytes(&read_key(
        path,
        "an Ed25519 secret key",
    )?))
}

/// A public key (`bundle.pub`).
pub fn load_public_key(path: &Path) -> Result<ed25519_dalek::VerifyingKey> {
    ed25519_dalek::VerifyingKey::from_bytes(&read_key(path, "an Ed25519 public key")?)
        .map_err(|e| Error::config(path, None, format!("not an Ed25519 public key: {e}")))
}

/// Signs a finished bundle: `manifest.json.sig` over `manifest.json` (which holds the sha256 of
/// every other file).
pub fn sign(bundle: &Path, key: &ed25519_dalek::SigningKey) -> Result<()> {
    use ed25519_dalek::Signer;
    let path = bundle.join(MANIFEST);
    let manifest = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let sig = key.sign(&manifest);
    let sig_path = bundle.join(MANIFEST_SIG);
    std::fs::write(&sig_path, format!("{}\n", to_hex(&sig.to_bytes())))
        .map_err(|e| Error::io(&sig_path, e))
}

/// `None` when the bundle's signature matches `key`, else the problem.
fn check_signature(bundle: &Path, key: &ed25519_dalek::VerifyingKey) -> Result<Option<String>> {
    let sig_path = bundle.join(MANIFEST_SIG);
    let Ok(text) = std::fs::read_to_string(&sig_path) else {
        return Ok(Some(format!(
            "not signed ({MANIFEST_SIG} missing), but a key was given"
        )));
    };
    let Some(bytes) = from_hex::<64>(&text) else {
        return Ok(Some(format!("{MANIFEST_SIG} holds no signature")));
    };
    let path = bundle.join(MANIFEST);
    let manifest = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let sig = ed25519_dalek::Signature::from_bytes(&bytes);
    Ok(match key.verify_strict(&manifest, &sig) {
        Ok(()) => None,
        Err(_) => Some(format!(
            "the signature does not match: {MANIFEST} was not signed by this key, or was changed after"
        )),
    })
}

/// A bundle being written.
pub struct Bundle {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Bundle {
    /// Starts a bundle: writes an incomplete manifest first, so that a replay killed midway
    /// leaves a bundle that `verify` reports as incomplete.
    pub fn start(dir: &Path, manifest: Manifest) -> Result<Bundle> {
        let b = Bundle {
            dir: dir.to_path_buf(),
            manifest,
        };
        b.manifest.write(&b.dir)?;
        Ok(b)
    }

    /// Records where the replay got to and hashes every file; `complete` marks a finished run.
    pub fn finish(&mut self, complete: bool, stopped: Option<Stop>) -> Result<()> {
        self.manifest.complete = complete;
        self.manifest.stopped = stopped;
        self.manifest.files = hash_files(&self.dir)?;
        self.manifest.write(&self.dir)
    }
}
