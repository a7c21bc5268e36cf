//! Wiring of the stages for `replay`: video file → detect → track → cues + rules → episode
//! lifecycle → alerts → sinks, on the media timeline.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use opencv::core::Mat;

use crate::alert::{Alert, CalibrationIdentity, ModelIdentity};
use crate::annotate;
use crate::calibration::Calibration;
use crate::cues::Cues;
use crate::detect::{Detection, Detector, StageTimes};
use crate::error::{Error, Result};
use crate::rules::schedule::{format_rfc3339, LocalTime};
use crate::rules::{self, Episodes, LifecycleEvent, Phase, Scene};
use crate::sink::JsonlSink;
use crate::source::VideoFile;
use crate::track::{Tracker, TrackerConfig};

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub video: PathBuf,
    pub out: PathBuf,
    /// Detections per second of media time; 0 = every frame.
    pub detect_fps: f64,
    /// Stop after this many frames (0 = all).
    pub max_frames: u64,
    pub progress: bool,
    /// Wall-clock time of the footage's first frame (Unix seconds), for schedules and alert times.
    pub start_unix: Option<f64>,
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct ReplaySummary {
    pub frames: u64,
    pub detected_frames: u64,
    pub alerts: Vec<Alert>,
    pub media_seconds: f64,
    pub wall: Duration,
    pub times: Vec<StageTimes>,
    /// Set when the video ended before the frames its container announced.
    pub truncated: Option<(u64, u64)>,
}

impl ReplaySummary {
    pub fn median_ms(&self, f: impl Fn(&StageTimes) -> Duration) -> f64 {
        let mut v: Vec<f64> = self
            .times
            .iter()
            .map(|t| f(t).as_secs_f64() * 1000.0)
            .collect();
        if v.is_empty() {
            return 0.0;
        }
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
}

/// Score below which detections are dropped before tracking (the tracker's low-score stage
/// uses detections between this and the model's own threshold).
pub const TRACK_LOW_SCORE: f32 = 0.2;

/// Tracker settings for a detector: its threshold is the high score; detectors confuse bicycles
/// and motorcycles, so those associate with each other.
pub fn tracker_config(det: &Detector) -> TrackerConfig {
    let m = det.manifest();
    let group: Vec<usize> = ["bicycle", "motorcycle"]
        .iter()
        .filter_map(|c| m.class_id(c))
        .collect();
    let high = m.decode.score_threshold;
    TrackerConfig {
        high_score: high,
        low_score: TRACK_LOW_SCORE.min(high),
        new_track_score: high + 0.05,
        class_groups: if group.len() == 2 {
            vec![group]
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

/// Turns lifecycle events into alerts (keeping one episode id per episode).
pub struct AlertMaker {
    pub model: ModelIdentity,
    pub calibration: CalibrationIdentity,
    pub source: String,
    pub start_unix: Option<f64>,
    episode_ids: BTreeMap<u64, String>,
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
            episode_ids: BTreeMap::new(),
        }
    }

    pub fn make(&mut self, ev: &LifecycleEvent, cal: &Calibration, frame_index: u64) -> Alert {
        let obs = &ev.observation;
        let zone = &cal.zones[obs.zone];
        let id = uuid::Uuid::now_v7().to_string();
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
                .map(|s| format_rfc3339(s + t, cal.utc_offset_min))
        };
        Alert {
            id,
            episode_id,
            phase: ev.phase,
            event_type: obs.event_type.to_string(),
            subtype: obs.subtype.to_string(),
            dispatch: cal.dispatch.lookup(obs.event_type, obs.subtype).cloned(),
            camera_id: cal.camera_id.clone(),
            site: cal.site.clone(),
            grid_cell: cal.grid_cell.clone(),
            gps: cal.gps,
            zone: zone.name.clone(),
            zone_type: zone.zone_type.as_str().to_string(),
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
            model: self.model.clone(),
            calibration: self.calibration.clone(),
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
                let people: Vec<_> = self
                    .tracker
                    .tracks()
                    .iter()
                    .filter(|t| t.class == "person")
                    .map(|t| t.bbox)
                    .collect();
                c.update(t, frame, &people)?
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

pub fn replay(
    opts: &ReplayOptions,
    cal: &Calibration,
    det: &mut Detector,
    mut smoke_model: Option<&mut Detector>,
    mut on_alert: impl FnMut(&Alert),
) -> Result<ReplaySummary> {
    cal.check_classes(&det.manifest().classes)?;
    let mut video = VideoFile::open(&opts.video)?;
    if video.width as u32 != cal.frame_width || video.height as u32 != cal.frame_height {
        return Err(Error::config(
            &cal.path,
            None,
            format!(
                "fields frame_width/frame_height are {}x{}, but {} is {}x{}",
                cal.frame_width,
                cal.frame_height,
                opts.video.display(),
                video.width,
                video.height
            ),
        ));
    }
    let snapshots = opts.out.join("snapshots");
    std::fs::create_dir_all(&snapshots).map_err(|e| Error::io(&snapshots, e))?;
    let mut sink = JsonlSink::create(&opts.out.join("alerts.jsonl"))?;

    let bar = if opts.progress {
        ProgressBar::with_draw_target(Some(video.frame_count), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} frames  {per_sec}  ETA {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );

    // The tracker's low-score stage needs detections below the model's own threshold.
    let model_threshold = det.threshold;
    det.threshold = TRACK_LOW_SCORE.min(model_threshold);
    let mut analytics = Analytics::new(cal, det)?;
    let mut maker = AlertMaker::new(cal, det, opts.video.display().to_string(), opts.start_unix);
    let mut summary = ReplaySummary::default();
    let period = if opts.detect_fps > 0.0 {
        1.0 / opts.detect_fps
    } else {
        0.0
    };
    let mut next_due = 0.0f64;
    let started = Instant::now();
    let mut last_frame: Option<(Mat, u64, f64)> = None;

    let mut emit = |events: Vec<LifecycleEvent>,
                    frame: &Mat,
                    index: u64,
                    t: f64,
                    tracker: &Tracker,
                    summary: &mut ReplaySummary|
     -> Result<()> {
        for ev in events {
            let mut alert = maker.make(&ev, cal, index);
            let mut img = frame.clone();
            annotate::draw_alert(&mut img, cal, tracker.tracks(), t, &alert)?;
            let name = format!("{}-{:?}.jpg", alert.id, alert.phase).to_lowercase();
            annotate::write_jpeg(&snapshots.join(&name), &img)?;
            alert.snapshot = Some(format!("snapshots/{name}"));
            sink.write(&alert)?;
            bar.suspend(|| on_alert(&alert));
            summary.alerts.push(alert);
        }
        Ok(())
    };

    while let Some(frame) = video.read()? {
        summary.frames += 1;
        bar.inc(1);
        // A small tolerance keeps the schedule on frames whose timestamps are rounded.
        if frame.time + 1e-6 >= next_due {
            next_due = if period > 0.0 {
                (next_due + period).max(frame.time + period * 0.5)
            } else {
                0.0
            };
            let (dets, times) = det.detect(&frame.image)?;
            summary.detected_frames += 1;
            summary.times.push(times);
            let smoke_dets = match smoke_model.as_deref_mut() {
                Some(m) => m.detect(&frame.image)?.0,
                None => Vec::new(),
            };
            let local = opts
                .start_unix
                .map(|s| LocalTime::from_unix(s + frame.time, cal.utc_offset_min));
            let events =
                analytics.step(cal, frame.time, local, &frame.image, &dets, &smoke_dets)?;
            emit(
                events,
                &frame.image,
                frame.index,
                frame.time,
                &analytics.tracker,
                &mut summary,
            )?;
            bar.set_message(format!("{} alerts", summary.alerts.len()));
        }
        let stop = opts.max_frames > 0 && summary.frames >= opts.max_frames;
        last_frame = Some((frame.image, frame.index, frame.time));
        if stop {
            break;
        }
    }
    // The footage ended: close the open episodes on its last frame.
    if let Some((img, index, t)) = last_frame {
        let events = analytics.episodes.finish(t);
        emit(events, &img, index, t, &analytics.tracker, &mut summary)?;
    }
    det.threshold = model_threshold;
    bar.finish_and_clear();
    sink.finish()?;
    summary.media_seconds = video.last_time();
    summary.wall = started.elapsed();
    if opts.max_frames == 0 {
        summary.truncated = video.truncated();
    }
    Ok(summary)
}
