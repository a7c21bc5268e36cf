//! The durable outbox: every alert is written here (fsync'd) before it is published, and removed
//! only when the broker acknowledges it. After a crash or kill -9 the service resends what is
//! left. Entries are files named `<sequence>-<alert id>.json`, so their order survives restarts.
//! When the outbox holds `max` entries, the oldest is dropped (and counted) to make room: the
//! newest cases always get through.
//!
//! Entries are checked when read: a name that is not `<20 digits>-<id>.<json|jpg>` with a plain
//! id, something that is not a readable file (a directory, say), an alert that is not a JSON
//! object with its own id and a plain `camera_id`, a snapshot that is not a whole JPEG, or an
//! entry larger than the broker takes are moved to `quarantine/` beside the entries, logged and
//! counted; they never hold up the entries behind them.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// File name, which sorts in sending order.
    pub name: String,
    pub id: String,
    /// `json` (an alert), `jpg` (its snapshot) or `webm` (its episode's clip).
    pub kind: String,
    pub payload: Vec<u8>,
}

pub struct Outbox {
    dir: PathBuf,
    max: usize,
    next: Mutex<u64>,
    pub dropped: AtomicU64,
    /// Entries moved to `quarantine/`.
    pub quarantined: AtomicU64,
    /// Bad entries that could not be moved (reported once, then skipped).
    stuck: Mutex<HashSet<String>>,
}

/// Largest entry payload: the broker's packet limit (16 MiB, `service::mqtt`) less room for the
/// topic and header.
pub const MAX_PAYLOAD: usize = (16 << 20) - 4096;

/// The kinds of entry, by file extension: an alert, its snapshot, its episode's clip. One list
/// for what is stored, listed and sent.
pub const KINDS: [&str; 3] = ["json", "jpg", "webm"];

/// Folder (inside the outbox) that bad entries are moved to.
pub const QUARANTINE: &str = "quarantine";

/// Why an entry cannot be sent, or its id and kind.
fn check_entry(name: &str, payload: &[u8]) -> std::result::Result<(String, String), String> {
    let (id, kind) = parse_name(name)?;
    if payload.len() > MAX_PAYLOAD {
        return Err(format!(
            "{} bytes, more than the broker takes ({MAX_PAYLOAD})",
            payload.len()
        ));
    }
    match kind.as_str() {
        "json" => {
            let v: serde_json::Value = serde_json::from_slice(payload)
                .map_err(|e| format!("not a whole JSON alert ({e})"))?;
            if v.get("id").and_then(|x| x.as_str()) != Some(id.as_str()) {
                return Err("its payload's id is not the entry's".into());
            }
            let camera = v.get("camera_id").and_then(|x| x.as_str()).unwrap_or("");
            crate::ident::check(camera).map_err(|e| format!("field camera_id: {e}"))?;
        }
        "webm" => {
            if !payload.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
                return Err("not a WebM file".into());
            }
        }
        _ => {
            if !(payload.starts_with(&[0xFF, 0xD8]) && payload.ends_with(&[0xFF, 0xD9])) {
                return Err("not a whole JPEG".into());
            }
        }
    }
    Ok((id, kind))
}

/// The id and kind of an entry's file name `<20 digits>-<id>.<json|jpg|webm>`; a snapshot's
/// or a clip's id is `<alert id>@<camera>`.
fn parse_name(name: &str) -> std::result::Result<(String, String), String> {
    let (stem, kind) = name.rsplit_once('.').ok_or("no kind")?;
    if !KINDS.contains(&kind) {
        return Err(format!("kind '{kind}' is not json, jpg or webm"));
    }
    let (seq, id) = stem.split_once('-').ok_or("no sequence number")?;
    if seq.len() != 20 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return Err("no 20-digit sequence number".into());
    }
    let parts: Vec<&str> = if kind == "json" {
        vec![id]
    } else {
        id.split('@').collect()
    };
    if kind != "json" && parts.len() != 2 {
        return Err("a snapshot's or a clip's id is <alert id>@<camera>".into());
    }
    for p in parts {
        crate::ident::check(p)?;
    }
    Ok((id.to_string(), kind.to_string()))
}

impl Outbox {
    pub fn open(dir: &Path, max: usize) -> Result<Outbox> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut next = 0;
        for name in Self::names(dir)? {
            if let Some(seq) = name.split('-').next().and_then(|s| s.parse::<u64>().ok()) {
                next = next.max(seq + 1);
            }
        }
        // Half-written entries of a crash are not alerts anyone accepted.
        for e in std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .flatten()
        {
            if e.path().extension().is_some_and(|x| x == "tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(Outbox {
            dir: dir.to_path_buf(),
            max: max.max(1),
            next: Mutex::new(next),
            dropped: AtomicU64::new(0),
            quarantined: AtomicU64::new(0),
            stuck: Mutex::new(HashSet::new()),
        })
    }

    fn names(dir: &Path) -> Result<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| {
                n.rsplit_once('.')
                    .is_some_and(|(_, kind)| KINDS.contains(&kind))
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// Stores an alert durably; returns once it is on disk.
    pub fn put(&self, id: &str, payload: &[u8]) -> Result<()> {
        self.put_kind(id, "json", payload)
    }

    /// Stores an entry of a kind (`json` alert, `jpg` snapshot, `webm` clip) durably.
    pub fn put_kind(&self, id: &str, kind: &str, payload: &[u8]) -> Result<()> {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let names = Self::names(&self.dir)?;
        if names.len() >= self.max {
            for old in &names[..names.len() + 1 - self.max] {
                let _ = std::fs::remove_file(self.dir.join(old));
                self.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(entry = %old, "outbox full: dropped the oldest alert");
            }
        }
        let name = format!("{:020}-{id}.{kind}", *next);
        *next += 1;
        let tmp = self.dir.join(format!("{name}.tmp"));
        let path = self.dir.join(&name);
        let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(payload).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(&self.dir, e))?;
        Ok(())
    }

    /// Everything not yet acknowledged that can be sent, oldest first; bad entries are moved
    /// to `quarantine/` on the way (see the module's documentation).
    pub fn pending(&self) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        for name in Self::names(&self.dir)? {
            let p = self.dir.join(&name);
            let checked = match std::fs::read(&p) {
                Ok(payload) => check_entry(&name, &payload).map(|(id, kind)| Entry {
                    name: name.clone(),
                    id,
                    kind,
                    payload,
                }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => Err(format!("cannot be read: {e}")),
            };
            match checked {
                Ok(entry) => out.push(entry),
                Err(why) => self.quarantine(&name, &why),
            }
        }
        Ok(out)
    }

    /// The file of entry `name` (a name from `pending`).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Moves a bad entry out of the queue, logs and counts it; one that cannot be moved is
    /// reported once and skipped from then on.
    pub fn quarantine(&self, name: &str, why: &str) {
        let mut stuck = self.stuck.lock().unwrap_or_else(|p| p.into_inner());
        if stuck.contains(name) {
            return;
        }
        let folder = self.dir.join(QUARANTINE);
        let moved = std::fs::create_dir_all(&folder)
            .and_then(|()| std::fs::rename(self.dir.join(name), folder.join(name)));
        match moved {
            Ok(()) => {
                self.quarantined.fetch_add(1, Ordering::Relaxed);
                tracing::error!(entry = %name, reason = %why, folder = %folder.display(), "bad outbox entry quarantined");
            }
            Err(e) => {
                tracing::error!(entry = %name, reason = %why, error = %e, "bad outbox entry cannot be moved; skipping it");
                stuck.insert(name.to_string());
            }
        }
    }

    pub fn remove(&self, name: &str) -> Result<()> {
        let p = self.dir.join(name);
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&p, e)),
        }
    }

    /// Entries waiting (bad ones not yet moved included, stuck ones not).
    pub fn depth(&self) -> usize {
        let stuck = self.stuck.lock().unwrap_or_else(|p| p.into_inner());
        Self::names(&self.dir)
            .map(|n| n.iter().filter(|n| !stuck.contains(*n)).count())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str) -> Vec<u8> {
        serde_json::json!({"id": id, "camera_id": "cam"})
            .to_string()
            .into_bytes()
    }

    const JPEG: &[u8] = &[0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9];

    #[test]
    fn keeps_order_across_reopen_and_drops_oldest_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(dir.path(), 3).unwrap();
        for id in ["a", "b"] {
            o.put(id, &alert(id)).unwrap();
        }
        drop(o);
        let o = Outbox::open(dir.path(), 3).unwrap();
        o.put("c", &alert("c")).unwrap();
        let ids: Vec<String> = o.pending().unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        o.put("d", &alert("d")).unwrap();
        let p = o.pending().unwrap();
        assert_eq!(
            p.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["b", "c", "d"]
        );
        assert_eq!(o.dropped.load(Ordering::Relaxed), 1);
        o.remove(&p[0].name).unwrap();
        assert_eq!(o.depth(), 2);
        // Snapshots are entries of their own kind.
        o.put_kind("d@cam", "jpg", JPEG).unwrap();
        let last = o.pending().unwrap().pop().unwrap();
        assert_eq!((last.id.as_str(), last.kind.as_str()), ("d@cam", "jpg"));
        assert_eq!(o.quarantined.load(Ordering::Relaxed), 0);
    }

    /// Every kind an entry is stored as is listed and sent (a clip kind stored but never
    /// listed sat in the outbox for ever: the lists were two).
    #[test]
    fn every_kind_stored_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(dir.path(), 100).unwrap();
        const WEBM: &[u8] = &[0x1A, 0x45, 0xDF, 0xA3, 0x9F];
        for kind in KINDS {
            let payload = match kind {
                "json" => alert("a"),
                "jpg" => JPEG.to_vec(),
                _ => WEBM.to_vec(),
            };
            let id = if kind == "json" { "a" } else { "a@cam" };
            o.put_kind(id, kind, &payload).unwrap();
        }
        let kinds: Vec<String> = o.pending().unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, KINDS);
        assert_eq!(o.depth(), KINDS.len());
        o.put_kind("b@cam", "webm", b"RIFF not webm").unwrap();
        assert_eq!(
            o.pending().unwrap().len(),
            KINDS.len(),
            "a clip that is not WebM"
        );
        assert_eq!(o.quarantined.load(Ordering::Relaxed), 1);
    }

    /// The class of bad entries a box meets (a crash mid-write past the rename, a disk error,
    /// a hand-made file, an oversize snapshot, hostile ids): each is moved to `quarantine/`,
    /// counted, and the good entries around it are all still sent, in order. (Before: a
    /// directory named like an entry stopped all delivery, silently; corrupt entries were
    /// forwarded unchanged.)
    #[test]
    fn bad_entries_are_quarantined_and_never_block_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(dir.path(), 100).unwrap();
        o.put("first", &alert("first")).unwrap();
        let plant =
            |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).unwrap();
        let seq = |n: u64| format!("{n:020}");
        std::fs::create_dir(dir.path().join(format!("{}-dir.json", seq(1)))).unwrap();
        plant(&format!("{}-trunc.json", seq(2)), &alert("trunc")[..10]);
        plant(&format!("{}-other.json", seq(3)), &alert("not-other"));
        plant(
            &format!("{}-slash.json", seq(4)),
            serde_json::json!({"id": "slash", "camera_id": "a/b"})
                .to_string()
                .as_bytes(),
        );
        plant(&format!("{}-half@cam.jpg", seq(5)), &JPEG[..4]);
        let mut big = vec![0xFF, 0xD8];
        big.resize(MAX_PAYLOAD + 10, 0);
        big.extend([0xFF, 0xD9]);
        plant(&format!("{}-big@cam.jpg", seq(6)), &big);
        plant("loose.json", &alert("loose"));
        plant(&format!("{}-..json", seq(7)), &alert("."));
        plant(&format!("{}-nocam.jpg", seq(8)), JPEG);
        o.put("last", &alert("last")).unwrap();
        let ids: Vec<String> = o.pending().unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["first", "last"]);
        assert_eq!(o.quarantined.load(Ordering::Relaxed), 9);
        assert_eq!(o.depth(), 2);
        let moved = std::fs::read_dir(dir.path().join(QUARANTINE))
            .unwrap()
            .count();
        assert_eq!(moved, 9);
        // Read again: nothing more to move, the same two to send.
        assert_eq!(o.pending().unwrap().len(), 2);
        assert_eq!(o.quarantined.load(Ordering::Relaxed), 9);
    }
}
