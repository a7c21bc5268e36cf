//! Episodes open across restarts. The analytics worker keeps `open-episodes.json` in the storage
//! folder: every episode started and not yet ended, with its last alert and its times (Unix
//! seconds). The file is replaced atomically (a temporary file, fsync, rename) when an episode
//! starts, changes or ends, and about every 30 s while any is open (its last-seen time), so a
//! kill -9 leaves the state of at most 30 s before.
//!
//! At start-up the file's episodes are handed to the analytics (`Episodes::carry`): seen again
//! within their grace they go on under their episode id; not seen, or their camera or zone is
//! gone from the configuration, they end with reason `not_seen_after_restart`. A file that
//! cannot be read is renamed `open-episodes.json.bad` (kept for a person to read) and logged.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::rules::Phase;

pub const FILE: &str = "open-episodes.json";
const VERSION: u32 = 1;
/// The last-seen times are written at most this often while nothing else changes.
const REFRESH: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub first_seen_unix: f64,
    pub confirmed_unix: f64,
    pub last_seen_unix: f64,
    /// The last alert sent for the episode (its camera, zone, type and measures).
    pub alert: Alert,
}

#[derive(Serialize, Deserialize)]
struct Contents {
    version: u32,
    episodes: Vec<Record>,
}

pub struct OpenEpisodes {
    path: PathBuf,
    /// By episode id.
    records: BTreeMap<String, Record>,
    dirty: bool,
    written: Option<Instant>,
}

impl OpenEpisodes {
    /// Reads the episodes the previous run left open (none without a file). The state starts
    /// empty: the caller adds back, with `keep`, those it carries on.
    pub fn load(dir: &Path) -> (OpenEpisodes, Vec<Record>) {
        let path = dir.join(FILE);
        let carried = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Contents>(&bytes) {
                Ok(c) if c.version == VERSION => c.episodes,
                Ok(c) => {
                    set_aside(
                        &path,
                        &format!("version {} (this build reads {VERSION})", c.version),
                    );
                    Vec::new()
                }
                Err(e) => {
                    set_aside(&path, &e.to_string());
                    Vec::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                set_aside(&path, &e.to_string());
                Vec::new()
            }
        };
        let me = OpenEpisodes {
            path,
            records: BTreeMap::new(),
            dirty: !carried.is_empty(),
            written: None,
        };
        (me, carried)
    }

    /// Keeps a carried episode open.
    pub fn keep(&mut self, r: Record) {
        self.records.insert(r.alert.episode_id.clone(), r);
        self.dirty = true;
    }

    /// Follows an alert just recorded: a start or update (re)writes its episode, an end removes it.
    pub fn on_alert(&mut self, alert: &Alert, started_unix: f64) {
        match alert.phase {
            Phase::End => {
                self.records.remove(&alert.episode_id);
            }
            Phase::Start | Phase::Update => {
                self.records.insert(
                    alert.episode_id.clone(),
                    Record {
                        first_seen_unix: started_unix + alert.first_seen_media_s,
                        confirmed_unix: started_unix + alert.confirmed_media_s,
                        last_seen_unix: started_unix + alert.last_seen_media_s,
                        alert: alert.clone(),
                    },
                );
            }
        }
        self.dirty = true;
    }

    /// Takes out the open episodes of these cameras (their analytics are replaced by a reload).
    pub fn take_cameras(&mut self, cameras: &[String]) -> Vec<Record> {
        let ids: Vec<String> = self
            .records
            .iter()
            .filter(|(_, r)| cameras.contains(&r.alert.camera_id))
            .map(|(id, _)| id.clone())
            .collect();
        if !ids.is_empty() {
            self.dirty = true;
        }
        ids.iter()
            .filter_map(|id| self.records.remove(id))
            .collect()
    }

    /// The episode was last seen at `unix`.
    pub fn seen(&mut self, episode_id: &str, unix: f64) {
        if let Some(r) = self.records.get_mut(episode_id) {
            if unix > r.last_seen_unix {
                r.last_seen_unix = unix;
            }
        }
    }

    /// Whether the last-seen times are due to be written.
    pub fn refresh_due(&self) -> bool {
        !self.records.is_empty() && self.written.is_none_or(|w| w.elapsed() >= REFRESH)
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Writes the file when anything changed (or the refresh is due). A failure (a full disk) is
    /// logged and tried again with the next change; the service goes on.
    pub fn save(&mut self, refresh: bool) -> std::io::Result<()> {
        let due = self.dirty || (refresh && self.refresh_due());
        if !due {
            return Ok(());
        }
        let contents = Contents {
            version: VERSION,
            episodes: self.records.values().cloned().collect(),
        };
        let json = serde_json::to_vec_pretty(&contents).map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension("json.tmp");
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written?;
        self.dirty = false;
        self.written = Some(Instant::now());
        Ok(())
    }
}

fn set_aside(path: &Path, why: &str) {
    let bad = path.with_extension("json.bad");
    let moved = std::fs::rename(path, &bad);
    tracing::error!(
        file = %path.display(),
        error = %why,
        kept_as = %bad.display(),
        renamed = moved.is_ok(),
        "cannot read the episodes open at the last stop; they are not resumed or ended"
    );
}

/// The end of a carried episode that cannot be followed (its camera or zone is gone from the
/// configuration): its last alert as an `end` (reason `reconfigured`) now, with its times on this
/// run's timeline.
pub fn end_now(r: &Record, id: String, started_unix: f64) -> Alert {
    let media = |unix: f64| ((unix - started_unix) * 1000.0).round() / 1000.0;
    let mut a = r.alert.clone();
    a.id = id;
    a.phase = Phase::End;
    a.reason = Some(crate::rules::Reason::Reconfigured);
    a.first_seen_media_s = media(r.first_seen_unix);
    a.confirmed_media_s = media(r.confirmed_unix);
    a.last_seen_media_s = media(r.last_seen_unix);
    a.last_seen_wall = Some(crate::time::format_rfc3339(
        r.last_seen_unix,
        &crate::time::TimeZone::UTC,
    ));
    a.event_media_s = 0.0;
    a.duration_s = ((r.last_seen_unix - r.first_seen_unix) * 1000.0).round() / 1000.0;
    a.snapshot = None;
    a.snapshot_original = None;
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(episode: &str, phase: Phase) -> Alert {
        let mut a: Alert = serde_json::from_str(include_str!("../../tests/data/alert.json"))
            .expect("the example alert parses");
        a.episode_id = episode.into();
        a.phase = phase;
        a
    }

    #[test]
    fn open_episodes_survive_a_restart_and_a_bad_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let (mut open, carried) = OpenEpisodes::load(dir.path());
        assert!(carried.is_empty());
        open.on_alert(&alert("e1", Phase::Start), 1000.0);
        open.on_alert(&alert("e2", Phase::Start), 1000.0);
        open.on_alert(&alert("e1", Phase::End), 1000.0);
        open.save(false).unwrap();
        open.seen("e2", 5000.0);
        open.save(false).unwrap();
        let (_, carried) = OpenEpisodes::load(dir.path());
        assert_eq!(carried.len(), 1);
        assert_eq!(carried[0].alert.episode_id, "e2");
        // The last-seen time is written with the next change or refresh.
        assert!(carried[0].last_seen_unix < 5000.0);
        let end = end_now(&carried[0], "new-id".into(), 2000.0);
        assert_eq!(
            (end.phase, end.reason),
            (Phase::End, Some(crate::rules::Reason::Reconfigured))
        );
        assert_eq!(end.episode_id, "e2");
        assert!(end.first_seen_media_s < 0.0 && end.snapshot.is_none());
        // A damaged file is kept aside and the service starts with nothing carried.
        std::fs::write(
            dir.path().join(FILE),
            b"{\"version\": 1, \"episodes\": [tru",
        )
        .unwrap();
        let (_, carried) = OpenEpisodes::load(dir.path());
        assert!(carried.is_empty());
        assert!(dir.path().join("open-episodes.json.bad").is_file());
        assert!(!dir.path().join(FILE).exists());
    }
}
