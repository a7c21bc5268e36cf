//! The durable outbox: every alert is written here (fsync'd) before it is published, and removed
//! only when the broker acknowledges it. After a crash or kill -9 the service resends what is
//! left. Entries are files named `<sequence>-<alert id>.json`, so their order survives restarts.
//! When the outbox holds `max` entries, the oldest is dropped (and counted) to make room: the
//! newest cases always get through.

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
    /// `json` (an alert) or `jpg` (its snapshot).
    pub kind: String,
    pub payload: Vec<u8>,
}

pub struct Outbox {
    dir: PathBuf,
    max: usize,
    next: Mutex<u64>,
    pub dropped: AtomicU64,
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
        })
    }

    fn names(dir: &Path) -> Result<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| n.ends_with(".json") || n.ends_with(".jpg"))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Stores an alert durably; returns once it is on disk.
    pub fn put(&self, id: &str, payload: &[u8]) -> Result<()> {
        self.put_kind(id, "json", payload)
    }

    /// Stores an entry of a kind (`json` alert, `jpg` snapshot) durably.
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

    /// Everything not yet acknowledged, oldest first.
    pub fn pending(&self) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        for name in Self::names(&self.dir)? {
            let p = self.dir.join(&name);
            match std::fs::read(&p) {
                Ok(payload) => {
                    let (stem, kind) = name.rsplit_once('.').unwrap_or((name.as_str(), ""));
                    let id = stem.split_once('-').map(|x| x.1).unwrap_or("").to_string();
                    let kind = kind.to_string();
                    out.push(Entry {
                        name,
                        id,
                        kind,
                        payload,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&p, e)),
            }
        }
        Ok(out)
    }

    pub fn remove(&self, name: &str) -> Result<()> {
        let p = self.dir.join(name);
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&p, e)),
        }
    }

    pub fn depth(&self) -> usize {
        Self::names(&self.dir).map(|n| n.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_across_reopen_and_drops_oldest_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(dir.path(), 3).unwrap();
        for id in ["a", "b"] {
            o.put(id, id.as_bytes()).unwrap();
        }
        drop(o);
        let o = Outbox::open(dir.path(), 3).unwrap();
        o.put("c", b"c").unwrap();
        let ids: Vec<String> = o.pending().unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        o.put("d", b"d").unwrap();
        let p = o.pending().unwrap();
        assert_eq!(
            p.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["b", "c", "d"]
        );
        assert_eq!(o.dropped.load(Ordering::Relaxed), 1);
        o.remove(&p[0].name).unwrap();
        assert_eq!(o.depth(), 2);
        // Snapshots are entries of their own kind.
        o.put_kind("d@cam", "jpg", b"jpeg").unwrap();
        let last = o.pending().unwrap().pop().unwrap();
        assert_eq!((last.id.as_str(), last.kind.as_str()), ("d@cam", "jpg"));
    }
}
