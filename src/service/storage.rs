//! The service's storage as a bounded, monitored resource: `snapshots/` (the alerts' images
//! and the episodes' clips, one budget: oldest removed past `max_snapshots_mb`), `alerts.jsonl` (rotated to `alerts.jsonl.1` past `max_log_mb`), the
//! outbox, and a free-space floor (`min_free_mb`).
//!
//! An alert is kept before anything else: below the floor its snapshot is skipped (the alert
//! goes out without an image, and says so in `snapshot: null`); when the outbox cannot take the
//! alert (the disk is full after all), it is held in memory, in order, and stored as soon as
//! the disk takes it again. A storage error is logged and counted, never fatal: the service
//! keeps analysing and delivering.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::alert::Alert;
use crate::config::StorageConfig;
use crate::error::{Error, Result};
use crate::outbox::Outbox;

/// Most alerts held in memory while the disk is full; past it the oldest is dropped (counted).
const MAX_HELD: usize = 10_000;
/// Held alerts are offered to the disk again at most this often.
const RETRY: Duration = Duration::from_secs(1);

/// What the metrics endpoint shows of the storage.
#[derive(Default)]
pub struct StorageStats {
    /// Writes that failed (snapshot, outbox, log, rotation).
    pub errors: AtomicU64,
    /// Alerts sent without their image because the disk was below its floor or refused it.
    pub images_skipped: AtomicU64,
    /// Alerts held in memory, waiting for the disk.
    pub held: AtomicU64,
    /// Alerts dropped because the memory hold was full.
    pub held_dropped: AtomicU64,
    /// Whether the free space is below the floor now.
    pub low: AtomicBool,
    /// Clips not kept (the disk below its floor, or a write failed).
    pub clips_skipped: AtomicU64,
}

pub struct Storage {
    snapshots: PathBuf,
    log_path: PathBuf,
    log: Option<File>,
    log_bytes: u64,
    /// A write to the log failed part-way: the next line starts on a new line.
    log_broken: bool,
    min_free: u64,
    max_snapshots: u64,
    max_log: u64,
    /// Snapshot files, oldest first (UUIDv7 names sort by time), and their total size.
    snaps: VecDeque<(PathBuf, u64)>,
    snaps_bytes: u64,
    held: VecDeque<(String, Vec<u8>)>,
    last_retry: Option<Instant>,
    outbox: Arc<Outbox>,
    /// The box's key: alerts are signed when set.
    sign_key: Option<ed25519_dalek::SigningKey>,
    pub stats: Arc<StorageStats>,
}

const MB: u64 = 1 << 20;

impl Storage {
    /// Opens the storage folder (`snapshots/`, `alerts.jsonl`). A folder that cannot be made is
    /// an error (the service cannot start without one); a log that cannot be opened is retried.
    pub fn open(cfg: &StorageConfig, outbox: Arc<Outbox>) -> Result<Storage> {
        let snapshots = cfg.dir.join("snapshots");
        std::fs::create_dir_all(&snapshots).map_err(|e| Error::io(&snapshots, e))?;
        let mut names: Vec<(PathBuf, u64)> = std::fs::read_dir(&snapshots)
            .map_err(|e| Error::io(&snapshots, e))?
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
            .collect();
        names.sort();
        let snaps_bytes = names.iter().map(|(_, n)| n).sum();
        let mut s = Storage {
            snapshots,
            log_path: cfg.dir.join("alerts.jsonl"),
            log: None,
            log_bytes: 0,
            log_broken: false,
            min_free: cfg.min_free_mb * MB,
            max_snapshots: cfg.max_snapshots_mb * MB,
            max_log: cfg.max_log_mb.max(1) * MB,
            snaps: names.into(),
            snaps_bytes,
            held: VecDeque::new(),
            last_retry: None,
            outbox,
            sign_key: cfg
                .sign_key
                .as_deref()
                .map(crate::bundle::load_signing_key)
                .transpose()?,
            stats: Arc::new(StorageStats::default()),
        };
        s.open_log();
        Ok(s)
    }

    fn open_log(&mut self) {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
        {
            Ok(f) => {
                self.log_bytes = f.metadata().map(|m| m.len()).unwrap_or(0);
                self.log = Some(f);
            }
            Err(e) => self.failed("open the alert log", &self.log_path.clone(), &e),
        }
    }

    fn failed(&self, what: &str, path: &Path, e: &dyn std::fmt::Display) {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        tracing::error!(file = %path.display(), error = %e, "storage: cannot {what}");
    }

    /// Free bytes for an unprivileged writer on the storage's file system.
    fn free(&self) -> Option<u64> {
        let s = rustix::fs::statvfs(&self.snapshots).ok()?;
        Some(s.f_bavail.saturating_mul(s.f_frsize))
    }

    /// Whether `bytes` more leave the free space above the floor (updates `low`).
    fn room_for(&self, bytes: u64) -> bool {
        let ok = self
            .free()
            .is_none_or(|f| f >= self.min_free.saturating_add(bytes));
        let low = !ok;
        let was_low = self.stats.low.swap(low, Ordering::Relaxed);
        if was_low != low {
            if ok {
                tracing::info!("storage: free space is back above the floor; snapshots resume");
            } else {
                tracing::warn!(
                    floor_mb = self.min_free / MB,
                    "storage: free space below the floor; alerts go out without snapshots"
                );
            }
        }
        ok
    }

    /// Records one alert: its snapshot (`jpeg`) when there is room, then the alert in the
    /// outbox (or held in memory), then a line in the alert log. Returns whether the alert is on
    /// disk. The snapshot's outbox entry is `<alert id>@<camera id>`.
    pub fn record(&mut self, alert: &mut Alert, jpeg: &[u8]) -> bool {
        let entry = format!("{}@{}", alert.id, alert.camera_id);
        self.retry_held(true);
        alert.snapshot = None;
        alert.snapshot_sha256 = None;
        let size = jpeg.len() as u64;
        // The image twice: its file and its outbox entry. No image (none could be drawn, or an
        // episode ended without a frame): the alert goes alone.
        if !jpeg.is_empty() && self.room_for(2 * size) {
            let name = format!("{}.jpg", alert.id);
            let path = self.snapshots.join(&name);
            self.make_room(size);
            match std::fs::write(&path, jpeg) {
                Ok(()) => {
                    match self.outbox.put_kind(&entry, "jpg", jpeg) {
                        Ok(()) => {
                            alert.snapshot = Some(format!("snapshots/{name}"));
                            alert.snapshot_sha256 = Some(crate::digest::sha256_bytes(jpeg));
                        }
                        Err(e) => self.failed("store a snapshot in the outbox", &path, &e),
                    }
                    self.snaps.push_back((path, size));
                    self.snaps_bytes += size;
                }
                Err(e) => {
                    let _ = std::fs::remove_file(&path);
                    self.failed("write a snapshot", &path, &e);
                }
            }
        }
        if alert.snapshot.is_none() {
            self.stats.images_skipped.fetch_add(1, Ordering::Relaxed);
        }
        alert.signature = None;
        let json = match serde_json::to_vec(alert) {
            Ok(j) => match &self.sign_key {
                Some(key) => crate::signature::sign_payload(&j, key),
                None => j,
            },
            Err(e) => {
                self.failed("encode an alert", &self.log_path.clone(), &e);
                return false;
            }
        };
        self.log_line(&json);
        self.held.push_back((alert.id.clone(), json));
        if self.held.len() > MAX_HELD {
            self.held.pop_front();
            self.stats.held_dropped.fetch_add(1, Ordering::Relaxed);
            tracing::error!("storage: memory hold full; dropped the oldest alert not on disk");
        }
        self.retry_held(true);
        self.stats
            .held
            .store(self.held.len() as u64, Ordering::Relaxed);
        self.held.is_empty()
    }

    /// Stores an episode's clip (WebM) in the evidence budget beside the snapshots and in the
    /// outbox as `<alert id>@<camera>` (kind `webm`); skipped (counted) when the disk is below
    /// its floor. Returns whether it was stored.
    pub fn record_clip(&mut self, alert_id: &str, camera: &str, webm: &[u8]) -> bool {
        let size = webm.len() as u64;
        if webm.is_empty() || !self.room_for(2 * size) {
            self.stats.clips_skipped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let path = self.snapshots.join(format!("{alert_id}.webm"));
        self.make_room(size);
        if let Err(e) = std::fs::write(&path, webm) {
            let _ = std::fs::remove_file(&path);
            self.failed("write a clip", &path, &e);
            return false;
        }
        self.snaps.push_back((path.clone(), size));
        self.snaps_bytes += size;
        match self
            .outbox
            .put_kind(&format!("{alert_id}@{camera}"), "webm", webm)
        {
            Ok(()) => true,
            Err(e) => {
                self.failed("store a clip in the outbox", &path, &e);
                false
            }
        }
    }

    /// Offers held alerts to the outbox, oldest first, until one is refused. Without `now`, at
    /// most once per second.
    pub fn retry_held(&mut self, now: bool) {
        if self.held.is_empty() {
            return;
        }
        if !now && self.last_retry.is_some_and(|t| t.elapsed() < RETRY) {
            return;
        }
        self.last_retry = Some(Instant::now());
        while let Some((id, json)) = self.held.front() {
            match self.outbox.put(id, json) {
                Ok(()) => {
                    self.held.pop_front();
                }
                Err(e) => {
                    if self.held.len() == 1 || now {
                        tracing::error!(error = %e, held = self.held.len(), "storage: the outbox cannot take an alert; holding it in memory");
                    }
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
        self.stats
            .held
            .store(self.held.len() as u64, Ordering::Relaxed);
    }

    /// Alerts not on disk yet.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Removes the oldest snapshots until `incoming` more fit in `max_snapshots`.
    fn make_room(&mut self, incoming: u64) {
        while self.snaps_bytes + incoming > self.max_snapshots {
            let Some((path, size)) = self.snaps.pop_front() else {
                break;
            };
            self.snaps_bytes = self.snaps_bytes.saturating_sub(size);
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    self.failed("remove an old snapshot", &path, &e);
                }
            }
        }
    }

    /// Appends a line to the alert log, rotating it past `max_log`.
    fn log_line(&mut self, json: &[u8]) {
        let len = json.len() as u64 + 1;
        if self.log_bytes + len > self.max_log {
            let old = self.log_path.with_extension("jsonl.1");
            self.log = None;
            if let Err(e) = std::fs::rename(&self.log_path, &old) {
                self.failed("rotate the alert log", &self.log_path.clone(), &e);
            }
            self.log_bytes = 0;
        }
        if self.log.is_none() {
            self.open_log();
        }
        let path = self.log_path.clone();
        if let Some(f) = self.log.as_mut() {
            let mut line = Vec::with_capacity(json.len() + 2);
            if self.log_broken {
                line.push(b'\n');
            }
            line.extend_from_slice(json);
            line.push(b'\n');
            match f.write_all(&line) {
                Ok(()) => {
                    self.log_bytes += line.len() as u64;
                    self.log_broken = false;
                }
                Err(e) => {
                    self.failed("append to the alert log", &path, &e);
                    // Whatever part was written is ended by the next line's leading newline.
                    self.log = None;
                    self.log_broken = true;
                }
            }
        }
    }
}
