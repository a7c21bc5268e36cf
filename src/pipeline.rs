//! Wiring of the stages for `replay`: video file → detect → track → rules → alerts → sinks,
//! on the media timeline.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::alert::{Alert, CalibrationIdentity, ModelIdentity};
use crate::annotate;
use crate::calibration::Calibration;
use crate::detect::{Detector, StageTimes};
use crate::error::{Error, Result};
use crate::rules::{DwellEvent, DwellRule};
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

pub fn replay(
    opts: &ReplayOptions,
    cal: &Calibration,
    det: &mut Detector,
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

    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut rule = DwellRule::new(1.0);
    let mut summary = ReplaySummary::default();
    let period = if opts.detect_fps > 0.0 {
        1.0 / opts.detect_fps
    } else {
        0.0
    };
    let mut next_due = 0.0f64;
    let started = Instant::now();
    let model = ModelIdentity {
        name: det.manifest().name.clone(),
        sha256: det.model.sha256.clone(),
    };
    let calibration = CalibrationIdentity {
        path: cal.path.display().to_string(),
        sha256: cal.sha256.clone(),
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
            let seen = tracker.update(frame.time, &dets);
            let events = rule.update(frame.time, &cal.zones, tracker.tracks(), &seen);
            if !events.is_empty() {
                let mut img = frame.image.clone();
                annotate::draw_zones(&mut img, &cal.zones)?;
                let ids: Vec<u64> = events.iter().map(|e| e.track_id).collect();
                annotate::draw_tracks(&mut img, tracker.tracks(), frame.time, &ids)?;
                for ev in events {
                    let alert =
                        make_alert(&ev, cal, &opts.video, frame.index, &model, &calibration);
                    let name = format!("{}.jpg", alert.id);
                    annotate::write_jpeg(&snapshots.join(&name), &img)?;
                    let alert = Alert {
                        snapshot: Some(format!("snapshots/{name}")),
                        ..alert
                    };
                    sink.write(&alert)?;
                    bar.suspend(|| on_alert(&alert));
                    summary.alerts.push(alert);
                }
            }
            bar.set_message(format!("{} alerts", summary.alerts.len()));
        }
        if opts.max_frames > 0 && summary.frames >= opts.max_frames {
            break;
        }
    }
    bar.finish_and_clear();
    sink.finish()?;
    summary.media_seconds = video.last_time();
    summary.wall = started.elapsed();
    if opts.max_frames == 0 {
        summary.truncated = video.truncated();
    }
    Ok(summary)
}

fn make_alert(
    ev: &DwellEvent,
    cal: &Calibration,
    video: &Path,
    frame_index: u64,
    model: &ModelIdentity,
    calibration: &CalibrationIdentity,
) -> Alert {
    let zone_type = serde_json::to_value(cal.zones[ev.zone_index].zone_type)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Alert {
        id: uuid::Uuid::now_v7().to_string(),
        event_type: "zone_dwell".into(),
        camera_id: cal.camera_id.clone(),
        site: cal.site.clone(),
        zone: ev.zone.clone(),
        zone_type,
        track_id: ev.track_id,
        class: ev.class.clone(),
        confidence: ev.score,
        bbox: ev.bbox,
        start_media_s: ev.since,
        confirmed_media_s: ev.at,
        dwell_s: ev.at - ev.since,
        source: video.display().to_string(),
        frame_index,
        snapshot: None,
        model: model.clone(),
        calibration: calibration.clone(),
    }
}
