//! Per-camera analytics after detection, shared by `replay` and the live service: tracker,
//! image cues, rules and the episode lifecycle (`Analytics`), and the alerts made from its
//! events (`AlertMaker`). Frames and detections in, lifecycle events and alerts out; no file,
//! network or clock (the live service passes its own time in).

use std::collections::{BTreeMap, HashSet};

use opencv::core::Mat;

use crate::alert::{Alert, CalibrationIdentity, ModelIdentity};
use crate::calibration::Calibration;
use crate::cues::Cues;
use crate::detect::Detector;
use crate::detection::{Detection, PEOPLE_AND_VEHICLES, TWO_WHEELERS};
use crate::error::Result;
use crate::rules::{self, Episodes, LifecycleEvent, Phase, Scene};
use crate::time::{format_rfc3339, LocalTime};
use crate::track::{Tracker, TrackerConfig};

/// Score below which detections are dropped before tracking (the tracker's low-score stage
/// uses detections between this and the model's own threshold).
pub const TRACK_LOW_SCORE: f32 = 0.2;

/// Lowers the detector's threshold to what the tracker's low-score stage needs (detections below
/// the model's own thresholds; lower still if one was given for every class) and returns the
/// threshold it had, to put back.
pub fn detect_for_tracking(det: &mut Detector) -> Option<f32> {
    let before = det.threshold;
    det.threshold = Some(TRACK_LOW_SCORE.min(before.unwrap_or(f32::INFINITY)));
    before
}

/// Tracker settings for a detector: its thresholds are the high scores (per class where the
/// manifest gives one: NanoDet scores two-wheelers low, so at its 0.45 a far parked bike rarely
/// started a track); detectors confuse bicycles and motorcycles, so those associate with each
/// other.
pub fn tracker_config(det: &Detector) -> TrackerConfig {
    let m = det.manifest();
    let group: Vec<usize> = TWO_WHEELERS
        .iter()
        .filter_map(|c| m.class_id(c.as_str()))
        .collect();
    let high = m.decode.score_threshold;
    TrackerConfig {
        high_score: high,
        low_score: TRACK_LOW_SCORE.min(high),
        new_track_score: high + 0.05,
        class_high_scores: m
            .class_thresholds()
            .into_iter()
            .enumerate()
            .filter(|(_, t)| *t != high)
            .collect(),
        class_groups: if group.len() == 2 {
            vec![group]
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

/// Episodes the control room decided on (from the console's feedback topic): a dismissed
/// (false alarm) or closed episode is not raised again by its updates; its end still goes out,
/// so the case shows that the camera saw it clear. Decisions about episodes this box no longer
/// has (they arrive late, through the persistent feedback session) are forgotten oldest first
/// past `MAX_DECIDED`.
#[derive(Debug, Default)]
pub struct Decided(HashSet<String>, std::collections::VecDeque<String>);

/// Most decisions kept.
pub const MAX_DECIDED: usize = 10_000;

impl Decided {
    /// Records a decision (`dispatch`, `dismiss`, `close`) about an episode.
    pub fn decide(&mut self, episode_id: &str, decision: &str) {
        if matches!(decision, "dismiss" | "close") && self.0.insert(episode_id.to_string()) {
            self.1.push_back(episode_id.to_string());
            while self.1.len() > MAX_DECIDED {
                if let Some(old) = self.1.pop_front() {
                    self.0.remove(&old);
                }
            }
        }
    }

    /// Whether an alert of `phase` about `episode_id` is sent.
    pub fn sends(&mut self, episode_id: &str, phase: Phase) -> bool {
        match phase {
            Phase::Update => !self.0.contains(episode_id),
            Phase::End => {
                self.0.remove(episode_id);
                true
            }
            Phase::Start => true,
        }
    }
}

/// Turns lifecycle events into alerts (keeping one episode id per episode).
pub struct AlertMaker {
    pub model: ModelIdentity,
    pub calibration: CalibrationIdentity,
    pub source: String,
    pub start_unix: Option<f64>,
    /// When set, ids are derived from this seed and the event (replay); otherwise from the clock.
    pub id_seed: Option<Vec<u8>>,
    episode_ids: BTreeMap<u64, String>,
    messages: u64,
}

impl AlertMaker {
    pub fn new(
        cal: &Calibration,
        det: &Detector,
        source: String,
        start_unix: Option<f64>,
    ) -> AlertMaker {
        AlertMaker {
            model: ModelIdentity {
                name: det.manifest().name.clone(),
                sha256: det.model.sha256.clone(),
            },
            calibration: CalibrationIdentity {
                path: cal.path.display().to_string(),
                sha256: cal.sha256.clone(),
            },
            source,
            start_unix,
            id_seed: None,
            episode_ids: BTreeMap::new(),
            messages: 0,
        }
    }

    /// Continues, under episode number `episode` of this run, the episode `episode_id` of a
    /// previous run (its updates and end carry that id).
    pub fn adopt(&mut self, episode: u64, episode_id: String) {
        self.episode_ids.insert(episode, episode_id);
    }

    /// The id of this run's episode number `episode`, while it is open.
    pub fn episode_id(&self, episode: u64) -> Option<&str> {
        self.episode_ids.get(&episode).map(String::as_str)
    }

    pub fn make(&mut self, ev: &LifecycleEvent, cal: &Calibration, frame_index: u64) -> Alert {
        let obs = &ev.observation;
        let zone = &cal.zones[obs.zone];
        self.messages += 1;
        let id = match &self.id_seed {
            Some(seed) => {
                let millis = ((self.start_unix.unwrap_or(0.0) + ev.at) * 1000.0)
                    .round()
                    .max(0.0) as u64;
                let phase = format!("{:?}", ev.phase);
                seeded_uuid(
                    seed,
                    millis,
                    &[
                        &ev.episode.to_le_bytes(),
                        phase.as_bytes(),
                        &self.messages.to_le_bytes(),
                    ],
                )
            }
            None => uuid::Uuid::now_v7().to_string(),
        };
        let episode_id = self
            .episode_ids
            .entry(ev.episode)
            .or_insert_with(|| id.clone())
            .clone();
        if ev.phase == Phase::End {
            self.episode_ids.remove(&ev.episode);
        }
        let wall = |t: f64| {
            self.start_unix
                .map(|s| format_rfc3339(s + t, &cal.time_zone))
        };
        Alert {
            id,
            episode_id,
            phase: ev.phase,
            reason: ev.reason,
            event_type: obs.event_type,
            subtype: obs.subtype,
            dispatch: cal.dispatch.lookup(obs.subtype).cloned(),
            camera_id: cal.camera_id.clone(),
            site: cal.site.clone(),
            grid_cell: cal.grid_cell.clone(),
            gps: cal.gps,
            zone: zone.name.clone(),
            zone_type: zone.zone_type(),
            first_seen_media_s: round3(ev.first_seen),
            confirmed_media_s: round3(ev.confirmed_at),
            last_seen_media_s: round3(ev.last_seen),
            event_media_s: round3(ev.at),
            first_seen_wall: wall(ev.first_seen),
            confirmed_wall: wall(ev.confirmed_at),
            last_seen_wall: wall(ev.last_seen),
            confirmation_s: round3(ev.confirmed_at - ev.first_seen),
            duration_s: round3(ev.last_seen - ev.first_seen),
            tracks: obs.tracks.clone(),
            regions: obs.regions.clone(),
            measures: obs.measures.clone(),
            confidence: obs.confidence,
            source: self.source.clone(),
            frame_index,
            snapshot: None,
            snapshot_original: None,
            snapshot_sha256: None,
            model: self.model.clone(),
            calibration: self.calibration.clone(),
            signature: None,
        }
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The per-camera analytics after detection: tracker, cues, rules and episodes.
pub struct Analytics {
    pub tracker: Tracker,
    pub cues: Option<Cues>,
    pub episodes: Episodes,
}

impl Analytics {
    pub fn new(cal: &Calibration, det: &Detector) -> Result<Analytics> {
        Ok(Analytics {
            tracker: Tracker::new(tracker_config(det)),
            cues: Cues::new(cal)?,
            episodes: Episodes::new(),
        })
    }

    /// One analysed frame at media time `t`.
    pub fn step(
        &mut self,
        cal: &Calibration,
        t: f64,
        local: Option<LocalTime>,
        frame: &Mat,
        dets: &[Detection],
        smoke_dets: &[Detection],
    ) -> Result<Vec<LifecycleEvent>> {
        self.tracker
            .update(t, dets, cal.ground.as_ref().map(|g| &g.homography));
        let (statics, smoke) = match self.cues.as_mut() {
            Some(c) => {
                // People and vehicles (seen, or hidden while standing) are neither goods nor smoke.
                let objects: Vec<_> = self
                    .tracker
                    .tracks()
                    .iter()
                    .filter(|t| t.present && PEOPLE_AND_VEHICLES.iter().any(|c| c.is(&t.class)))
                    .map(|t| t.bbox)
                    .collect();
                c.update(t, frame, &objects)?
            }
            None => (Vec::new(), Vec::new()),
        };
        let scene = Scene {
            t,
            local,
            tracks: self.tracker.tracks(),
            static_regions: &statics,
            smoke: &smoke,
            smoke_detections: smoke_dets,
        };
        let obs = rules::observe(cal, &scene);
        Ok(self.episodes.update(t, &cal.zones, obs))
    }
}

/// Deterministic, time-ordered UUIDv7: the timestamp is the event's (wall-clock or media) time,
/// the random bits a hash of the seed and the event's parts, so that replays repeat their ids.
pub fn seeded_uuid(seed: &[u8], millis: u64, parts: &[&[u8]]) -> String {
    let d = crate::digest::sha256_parts(seed, parts);
    let mut rand = [0u8; 10];
    rand.copy_from_slice(&d[..10]);
    uuid::Builder::from_unix_timestamp_millis(millis, &rand)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dismissed_episode_sends_no_update_but_its_end() {
        let mut d = Decided::default();
        assert!(d.sends("e1", Phase::Update));
        d.decide("e1", "dispatch");
        assert!(
            d.sends("e1", Phase::Update),
            "a dispatched case keeps its updates"
        );
        d.decide("e1", "dismiss");
        d.decide("e2", "close");
        assert!(!d.sends("e1", Phase::Update));
        assert!(!d.sends("e2", Phase::Update));
        assert!(d.sends("e1", Phase::End));
        assert!(d.sends("e1", Phase::Update), "forgotten after its end");
        assert!(d.sends("e3", Phase::Start));
        // Bounded: the oldest decisions go first.
        for i in 0..MAX_DECIDED + 5 {
            d.decide(&format!("x{i}"), "dismiss");
        }
        assert!(!d.sends(&format!("x{}", MAX_DECIDED + 4), Phase::Update));
        assert!(d.sends("x0", Phase::Update), "the oldest forgotten");
        assert!(d.0.len() <= MAX_DECIDED);
    }
}
