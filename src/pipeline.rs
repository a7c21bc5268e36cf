//! Wiring of the stages for `replay`: video file → detect → analytics (track, cues, rules,
//! episode lifecycle, alerts) → sinks and the evidence bundle, on the media timeline.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use opencv::core::{Mat, Size};
use opencv::prelude::*;

use crate::alert::Alert;
use crate::analytics::{detect_for_tracking, AlertMaker, Analytics};
use crate::annotate;
use crate::calibration::Calibration;
use crate::detect::{Detector, StageTimes};
use crate::detection::{CocoClass, Detection};
use crate::error::{Error, Result};
use crate::geometry::BBox;
use crate::rules::{LifecycleEvent, Phase};
use crate::sink::JsonlSink;
use crate::source::VideoFile;
use crate::stats::{median_p95, peak_rss_mb};
use crate::time::{format_rfc3339, LocalTime};
use crate::track::Track;

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
    /// Seconds of original frames before and after an episode's confirmation in its clip.
    pub clip_before_s: f64,
    pub clip_after_s: f64,
    pub blur: Blur,
    /// Replace a bundle already in `out`.
    pub overwrite: bool,
    /// Inference threads (recorded in the manifest).
    pub threads: usize,
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
    /// Milliseconds per frame spent decoding, and per analysed frame in the analytics after
    /// detection (tracker, cues, rules, alerts, snapshots).
    pub decode_ms: Vec<f64>,
    pub analytics_ms: Vec<f64>,
    /// Set when the video ended before the frames its container announced.
    pub truncated: Option<(u64, u64)>,
}

impl ReplaySummary {
    /// Machine-readable figures for benchmarks: frames/s and median/p95 ms per stage.
    pub fn stats_json(&self) -> serde_json::Value {
        let ms = |f: &dyn Fn(&StageTimes) -> Duration| {
            self.times
                .iter()
                .map(|t| f(t).as_secs_f64() * 1000.0)
                .collect::<Vec<f64>>()
        };
        let stages = [
            ("decode", self.decode_ms.clone()),
            ("preprocess", ms(&|t| t.preprocess)),
            ("inference", ms(&|t| t.inference)),
            ("postprocess", ms(&|t| t.postprocess)),
            ("analytics", self.analytics_ms.clone()),
        ];
        let mut med = serde_json::Map::new();
        let mut p95 = serde_json::Map::new();
        for (name, v) in stages {
            let (m, p) = median_p95(&v);
            med.insert(name.into(), m.into());
            p95.insert(name.into(), p.into());
        }
        serde_json::json!({
            "frames": self.frames,
            "detections": self.detected_frames,
            "fps": self.frames as f64 / self.wall.as_secs_f64().max(1e-9),
            "ms": med,
            "p95_ms": p95,
            "peak_rss_mb": peak_rss_mb(),
        })
    }

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

/// Privacy blurring for bundles meant to be shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Blur {
    #[default]
    None,
    /// Blur every detected or tracked person in annotated snapshots and clips.
    Persons,
}

impl Blur {
    pub fn as_str(&self) -> &'static str {
        match self {
            Blur::None => "none",
            Blur::Persons => "persons",
        }
    }
}

/// Blurs the given boxes of an image in place.
pub fn blur_boxes(img: &mut Mat, boxes: &[BBox]) -> Result<()> {
    use opencv::core::{Rect, Size};
    use opencv::prelude::*;
    if boxes.is_empty() {
        return Ok(());
    }
    let (w, h) = (img.cols(), img.rows());
    let mut blurred = Mat::default();
    opencv::imgproc::gaussian_blur_def(img, &mut blurred, Size::new(0, 0), 12.0)?;
    for b in boxes {
        let b = b.clip(w as f32, h as f32);
        let r = Rect::new(
            b.x1 as i32,
            b.y1 as i32,
            (b.x2 - b.x1).ceil() as i32,
            (b.y2 - b.y1).ceil() as i32,
        );
        let r = Rect::new(
            r.x,
            r.y,
            r.width.min(w - r.x).max(0),
            r.height.min(h - r.y).max(0),
        );
        if r.width > 0 && r.height > 0 {
            let src = blurred.roi(r)?;
            let mut dst = img.roi_mut(r)?;
            src.copy_to(&mut dst)?;
        }
    }
    Ok(())
}

/// A clip being written: original frames around an episode's confirmation.
struct OpenClip {
    until: f64,
    writer: ClipWriter,
}

/// Most frames waiting for a clip's encoder (about 40 MiB at 768x576) before the analytics wait.
const CLIP_QUEUE: usize = 32;

/// A clip's encoder on a thread of its own: VP8 costs about 10 ms a frame at 768x576, which
/// the replay's analytics thread hands over instead of waiting for.
struct ClipWriter {
    path: PathBuf,
    tx: Option<std::sync::mpsc::SyncSender<Mat>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl ClipWriter {
    fn open(path: PathBuf, fps: f64, size: opencv::core::Size) -> Result<ClipWriter> {
        let mut writer = crate::annotate::open_webm(&path, fps, size)?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Mat>(CLIP_QUEUE);
        let thread = std::thread::Builder::new()
            .name("clip".into())
            .spawn(move || -> Result<()> {
                for frame in rx {
                    writer.write(&frame)?;
                }
                writer.release()?;
                Ok(())
            })
            .map_err(|e| Error::io(&path, e))?;
        Ok(ClipWriter {
            path,
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues a frame (persons blurred first when asked).
    fn write(&mut self, frame: &Mat, people: &[BBox], blur: Blur) -> Result<()> {
        let mut copy = frame.clone();
        if blur == Blur::Persons && !people.is_empty() {
            blur_boxes(&mut copy, people)?;
        }
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(copy).is_ok());
        if !sent {
            // The encoder stopped: its error says why.
            return self.close();
        }
        Ok(())
    }

    /// Ends the clip: waits for its encoder to write the last frames, then makes the file
    /// reproducible (its track id from its name, not random).
    fn close(&mut self) -> Result<()> {
        self.tx = None;
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r?,
            Some(Err(_)) => {
                return Err(Error::io(
                    &self.path,
                    std::io::Error::other("the clip encoder panicked"),
                ))
            }
            None => return Ok(()),
        }
        let mut bytes = std::fs::read(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let seed = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        if crate::annotate::webm_fixed_uids(&mut bytes, &seed) > 0 {
            std::fs::write(&self.path, &bytes).map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }
}

/// More inference sessions for `replay`, each working on other frames than `det` (frame-level
/// parallelism): a detector and, with a smoke model, its own smoke detector.
pub type MoreWorkers = [(Detector, Option<Detector>)];

pub fn replay(
    opts: &ReplayOptions,
    cal: &Calibration,
    det: &mut Detector,
    mut smoke_model: Option<&mut Detector>,
    more: &mut MoreWorkers,
    stop: &std::sync::atomic::AtomicBool,
    mut on_alert: impl FnMut(&Alert),
) -> Result<ReplaySummary> {
    use crate::bundle::{self, Bundle, Identity, Manifest, Run, Settings, SourceInfo, Stop};
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
    bundle::prepare(&opts.out, opts.overwrite)?;
    let source_sha = crate::digest::sha256_file(&opts.video)?;
    let source_size = std::fs::metadata(&opts.video)
        .map_err(|e| Error::io(&opts.video, e))?
        .len();
    let settings = Settings {
        detect_fps: opts.detect_fps,
        start_time: opts.start_unix.map(|s| format_rfc3339(s, &cal.time_zone)),
        clip_before_s: opts.clip_before_s,
        clip_after_s: opts.clip_after_s,
        blur: opts.blur.as_str().into(),
        threads: opts.threads,
    };
    let mut bundle = Bundle::start(
        &opts.out,
        Manifest {
            format: bundle::FORMAT.into(),
            streetwatch_version: env!("CARGO_PKG_VERSION").into(),
            complete: false,
            stopped: None,
            source: Some(SourceInfo {
                file_name: opts
                    .video
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                sha256: source_sha.clone(),
                size: source_size,
                duration_s: 0.0,
                frames_decoded: 0,
                frames_announced: video.frame_count,
                fps: video.fps,
                width: video.width,
                height: video.height,
                truncated: false,
            }),
            model: Identity {
                name: det.manifest().name.clone(),
                sha256: det.model.sha256.clone(),
            },
            calibration: Identity {
                name: cal
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                sha256: cal.sha256.clone(),
            },
            settings: settings.clone(),
            episodes: 0,
            alerts: 0,
            files: Default::default(),
            withheld_originals: Default::default(),
            run: Run {
                id: uuid::Uuid::now_v7().to_string(),
                created: format_rfc3339(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs_f64())
                        .unwrap_or(0.0),
                    &cal.time_zone,
                ),
            },
        },
    )?;
    let mut summary = ReplaySummary::default();
    let mut clips_made: Vec<String> = Vec::new();
    let result = replay_frames(
        opts,
        cal,
        det,
        &mut smoke_model,
        more,
        stop,
        &mut on_alert,
        &mut video,
        &mut bundle,
        &mut summary,
        &mut clips_made,
        &source_sha,
        &settings,
    );
    // Whatever happened, leave a manifest that says how far the replay got.
    let stopped = match &result {
        Ok(None) => None,
        Ok(Some(reason)) => Some(Stop {
            reason: reason.clone(),
            media_s: video.last_time(),
            frames: video.frames_read(),
        }),
        Err(e) => Some(Stop {
            reason: format!("error: {e}"),
            media_s: video.last_time(),
            frames: video.frames_read(),
        }),
    };
    summary.media_seconds = video.last_time();
    if opts.max_frames == 0 && stopped.is_none() {
        summary.truncated = video.truncated();
    }
    if let Some(src) = bundle.manifest.source.as_mut() {
        src.duration_s = (video.last_time() * 1000.0).round() / 1000.0;
        src.frames_decoded = video.frames_read();
        src.truncated = summary.truncated.is_some();
    }
    bundle.manifest.alerts = summary.alerts.len();
    bundle.manifest.episodes = summary
        .alerts
        .iter()
        .map(|a| &a.episode_id)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    bundle.manifest.complete = stopped.is_none();
    bundle.manifest.stopped = stopped.clone();
    let finished = (|| -> Result<()> {
        let report = crate::report::render(&bundle.manifest, &summary.alerts, &clips_made);
        let path = opts.out.join("report.html");
        std::fs::write(&path, report).map_err(|e| Error::io(&path, e))?;
        bundle.finish(stopped.is_none(), stopped.clone())
    })();
    result?;
    finished?;
    Ok(summary)
}

/// The frame loop of `replay`; returns why it stopped early, if it did.
#[allow(clippy::too_many_arguments)]
fn replay_frames(
    opts: &ReplayOptions,
    cal: &Calibration,
    det: &mut Detector,
    smoke_model: &mut Option<&mut Detector>,
    more: &mut MoreWorkers,
    stop: &std::sync::atomic::AtomicBool,
    on_alert: &mut impl FnMut(&Alert),
    video: &mut VideoFile,
    bundle: &mut crate::bundle::Bundle,
    summary: &mut ReplaySummary,
    clips_made: &mut Vec<String>,
    source_sha: &str,
    settings: &crate::bundle::Settings,
) -> Result<Option<String>> {
    let mut evidence = Evidence::new(opts, cal, video, clips_made)?;
    let bar = if opts.progress {
        ProgressBar::with_draw_target(Some(video.frame_count), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} frames  {per_sec}  ETA {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut on_alert = |a: &Alert| bar.suspend(|| on_alert(a));
    let model_threshold = detect_for_tracking(det);
    for (d, _) in more.iter_mut() {
        detect_for_tracking(d);
    }
    let mut analytics = Analytics::new(cal, det)?;
    let mut maker = AlertMaker::new(
        cal,
        det,
        video
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        opts.start_unix,
    );
    let seed = format!(
        "{source_sha}|{}|{}|{:?}",
        det.model.sha256,
        cal.sha256,
        serde_json::to_string(settings).unwrap_or_default()
    );
    maker.id_seed = Some(seed.into_bytes());
    let period = if opts.detect_fps > 0.0 {
        1.0 / opts.detect_fps
    } else {
        0.0
    };
    let started = Instant::now();
    // Boxes blurred in the frames written to clips: the people of the latest analysed frame.
    let mut people: Vec<BBox> = Vec::new();
    let mut last: Option<(Mat, u64, f64)> = None;

    // Three stages overlap: the reader decodes and pre-processes the next frames while the
    // detectors run inference (one or more sessions, each on other frames), and this thread runs
    // the analytics of the frame before, in frame order.
    let workers = 1 + more.len();
    let (tx_dec, rx_dec) = std::sync::mpsc::sync_channel::<Numbered>(2);
    // Shared by the detectors; dropped with the last of them, which ends the reader.
    let rx_dec = crate::detect::shared::SharedReceiver::new(rx_dec);
    let (tx_det, rx_det) = std::sync::mpsc::sync_channel::<Numbered>(2 * workers);
    let (tx_pool, rx_pool) = std::sync::mpsc::channel::<Vec<f32>>();
    // Frames in flight between the reader and the analytics, at most: bounds the memory the
    // re-ordering may hold when one session is slower than another.
    let in_flight = 4 + 2 * workers;
    let (tx_tokens, rx_tokens) = std::sync::mpsc::sync_channel::<()>(in_flight);
    for _ in 0..in_flight {
        let _ = tx_tokens.send(());
    }
    let pre = crate::detect::Preprocessor::new(&det.manifest().input);
    let video_ref = &mut *video;
    let max_frames = opts.max_frames;
    let mut sessions: Vec<(&mut Detector, Option<&mut Detector>)> =
        vec![(&mut *det, smoke_model.as_deref_mut())];
    sessions.extend(more.iter_mut().map(|(d, s)| (d, s.as_mut())));
    let stopped = std::thread::scope(|scope| -> Result<Option<String>> {
        scope.spawn(move || {
            read_stage(
                video_ref, stop, max_frames, period, pre, tx_dec, rx_pool, rx_tokens,
            )
        });
        for (d, s) in sessions {
            let (rx, tx, pool) = (rx_dec.clone(), tx_det.clone(), tx_pool.clone());
            scope.spawn(move || detect_stage(d, s, rx, tx, pool));
        }
        drop((rx_dec, tx_det, tx_pool));
        // Owned here: an early return drops it, which ends the other stages.
        let rx = InOrder {
            rx: rx_det,
            pending: std::collections::BTreeMap::new(),
            next: 0,
            tokens: tx_tokens,
        };
        for msg in rx {
            let staged = match msg? {
                Step::Stopped(reason) => return Ok(Some(reason)),
                Step::Frame(s) => *s,
            };
            let Staged {
                frame,
                decode_ms,
                detected,
                ..
            } = staged;
            summary.decode_ms.push(decode_ms);
            summary.frames += 1;
            bar.inc(1);
            evidence.frame(frame.time, &frame.image, &people)?;
            if let Some((dets, smoke_dets, times)) = detected {
                summary.detected_frames += 1;
                summary.times.push(times);
                let t_analytics = Instant::now();
                let local = opts
                    .start_unix
                    .map(|s| LocalTime::from_unix(s + frame.time, &cal.time_zone));
                let events =
                    analytics.step(cal, frame.time, local, &frame.image, &dets, &smoke_dets)?;
                if opts.blur == Blur::Persons {
                    people = dets
                        .iter()
                        .filter(|d| CocoClass::Person.is(&d.class))
                        .map(|d| d.bbox)
                        .collect();
                    people.extend(
                        analytics
                            .tracker
                            .tracks()
                            .iter()
                            .filter(|t| CocoClass::Person.is(&t.class) && t.is_current(frame.time))
                            .map(|t| t.bbox),
                    );
                }
                let shot = Shot {
                    image: &frame.image,
                    index: frame.index,
                    t: frame.time,
                    tracks: analytics.tracker.tracks(),
                    people: &people,
                };
                let alerts = evidence.alerts(events, &mut maker, &shot, bundle, &mut on_alert)?;
                summary.alerts.extend(alerts);
                summary
                    .analytics_ms
                    .push(t_analytics.elapsed().as_secs_f64() * 1000.0);
                bar.set_message(format!("{} alerts", summary.alerts.len()));
            }
            last = Some((frame.image, frame.index, frame.time));
        }
        Ok(None)
    })?;
    // The footage ended (or the run stopped): close the open episodes on the last frame.
    if let Some((image, index, t)) = last {
        let events = analytics.episodes.finish(t);
        let shot = Shot {
            image: &image,
            index,
            t,
            tracks: analytics.tracker.tracks(),
            people: &people,
        };
        let alerts = evidence.alerts(events, &mut maker, &shot, bundle, &mut on_alert)?;
        summary.alerts.extend(alerts);
    }
    evidence.finish()?;
    det.threshold = model_threshold;
    bar.finish_and_clear();
    summary.wall = started.elapsed();
    Ok(stopped)
}

/// The frame an alert is made on: the original image, its index and media time, the tracks and
/// the people to blur.
struct Shot<'a> {
    image: &'a Mat,
    index: u64,
    t: f64,
    tracks: &'a [Track],
    people: &'a [BBox],
}

/// The evidence a replay writes for its alerts: the original and annotated snapshot of each
/// alert, a clip of original frames around each episode's confirmation, and the alerts file.
struct Evidence<'a> {
    opts: &'a ReplayOptions,
    cal: &'a Calibration,
    sink: JsonlSink,
    clips_dir: PathBuf,
    fps: f64,
    size: Size,
    /// Original frames of the last `clip_before_s` seconds, with the boxes to blur in each.
    ring: VecDeque<(f64, Mat, Vec<BBox>)>,
    open_clips: Vec<OpenClip>,
    /// Episode ids of the clips written (kept by the caller: a replay that fails on the way
    /// still reports the clips it made).
    clips_made: &'a mut Vec<String>,
}

impl<'a> Evidence<'a> {
    fn new(
        opts: &'a ReplayOptions,
        cal: &'a Calibration,
        video: &VideoFile,
        clips_made: &'a mut Vec<String>,
    ) -> Result<Self> {
        Ok(Evidence {
            opts,
            cal,
            sink: JsonlSink::create(&opts.out.join("alerts.jsonl"))?,
            clips_dir: opts.out.join("clips"),
            fps: if video.fps > 0.0 { video.fps } else { 10.0 },
            size: Size::new(video.width, video.height),
            ring: VecDeque::new(),
            open_clips: Vec::new(),
            clips_made,
        })
    }

    /// Every original frame, before its analysis: into the clips being written (those whose
    /// time is up are closed) and the ring of frames before the next episode.
    fn frame(&mut self, t: f64, image: &Mat, people: &[BBox]) -> Result<()> {
        for c in self.open_clips.iter_mut() {
            c.writer.write(image, people, self.opts.blur)?;
        }
        let mut i = 0;
        while i < self.open_clips.len() {
            if t >= self.open_clips[i].until {
                let mut c = self.open_clips.remove(i);
                c.writer.close()?;
            } else {
                i += 1;
            }
        }
        if self.opts.clip_before_s > 0.0 {
            self.ring.push_back((t, image.clone(), people.to_vec()));
            while self
                .ring
                .front()
                .is_some_and(|(t0, _, _)| t - t0 > self.opts.clip_before_s)
            {
                self.ring.pop_front();
            }
        }
        Ok(())
    }

    /// The alerts for a frame's lifecycle events, with their snapshots and clips, written to the
    /// alerts file and passed to `on_alert`.
    fn alerts(
        &mut self,
        events: Vec<LifecycleEvent>,
        maker: &mut AlertMaker,
        shot: &Shot,
        bundle: &mut crate::bundle::Bundle,
        on_alert: &mut impl FnMut(&Alert),
    ) -> Result<Vec<Alert>> {
        let (opts, blur) = (self.opts, self.opts.blur);
        let mut out = Vec::new();
        for ev in events {
            let mut alert = maker.make(&ev, self.cal, shot.index);
            let stem = format!(
                "{}-{}",
                alert.id,
                format!("{:?}", alert.phase).to_lowercase()
            );
            // The original frame, lossless; withheld (hash only) when blurring for sharing.
            let original = format!("snapshots/{stem}.png");
            match blur {
                Blur::None => {
                    annotate::write_png(&opts.out.join(&original), shot.image)?;
                    alert.snapshot_original = Some(original);
                }
                Blur::Persons => {
                    let png = annotate::encode_png(shot.image)?;
                    bundle
                        .manifest
                        .withheld_originals
                        .insert(original, crate::digest::sha256_bytes(&png));
                }
            }
            let mut img = shot.image.clone();
            if blur == Blur::Persons {
                blur_boxes(&mut img, shot.people)?;
            }
            annotate::draw_alert(&mut img, self.cal, shot.tracks, shot.t, &alert)?;
            let annotated = format!("snapshots/{stem}.annotated.jpg");
            annotate::write_jpeg(&opts.out.join(&annotated), &img)?;
            alert.snapshot = Some(annotated);
            if ev.phase == Phase::Start && opts.clip_before_s + opts.clip_after_s > 0.0 {
                self.open_clip(&alert.episode_id, shot)?;
            }
            self.sink.write(&alert)?;
            on_alert(&alert);
            out.push(alert);
        }
        Ok(out)
    }

    /// Starts an episode's clip: the ring's frames (which hold this one), or this frame when no
    /// frames are kept before.
    fn open_clip(&mut self, episode_id: &str, shot: &Shot) -> Result<()> {
        // WebM/VP8: browsers play it (the report shows it in the page), unlike MJPEG AVI.
        let path = self.clips_dir.join(format!("{episode_id}.webm"));
        let mut writer = ClipWriter::open(path, self.fps, self.size)?;
        if self.opts.clip_before_s > 0.0 {
            for (_, f, boxes) in self.ring.iter() {
                writer.write(f, boxes, self.opts.blur)?;
            }
        } else {
            writer.write(shot.image, shot.people, self.opts.blur)?;
        }
        self.open_clips.push(OpenClip {
            until: shot.t + self.opts.clip_after_s,
            writer,
        });
        self.clips_made.push(episode_id.to_string());
        Ok(())
    }

    /// Closes the clips still open and the alerts file.
    fn finish(self) -> Result<()> {
        for mut c in self.open_clips {
            c.writer.close()?;
        }
        self.sink.finish()
    }
}

/// A frame on its way through the replay pipeline (reader → detector → analytics).
struct Staged {
    frame: crate::source::Frame,
    decode_ms: f64,
    /// Set by the reader when the frame is due for detection: the filled input tensor, the box
    /// transform and the pre-processing time.
    input: Option<(Vec<f32>, crate::detect::Transform, Duration)>,
    /// Set by the detector: detections, smoke-model detections and the stage times.
    detected: Option<(Vec<Detection>, Vec<Detection>, StageTimes)>,
}

enum Step {
    Frame(Box<Staged>),
    /// The reader stopped before the end (Ctrl-C/SIGTERM): why.
    Stopped(String),
}

/// A step and its place in the footage (the reader numbers them 0, 1, 2, …).
type Numbered = (u64, Result<Step>);

/// The detectors' results back in frame order: each frame's analytics need the frame before.
struct InOrder {
    rx: std::sync::mpsc::Receiver<Numbered>,
    pending: std::collections::BTreeMap<u64, Result<Step>>,
    next: u64,
    /// One back to the reader per frame handed on (see `in_flight`).
    tokens: std::sync::mpsc::SyncSender<()>,
}

impl Iterator for InOrder {
    type Item = Result<Step>;

    fn next(&mut self) -> Option<Result<Step>> {
        loop {
            if let Some(step) = self.pending.remove(&self.next) {
                self.next += 1;
                let _ = self.tokens.try_send(());
                return Some(step);
            }
            let (seq, step) = self.rx.recv().ok()?;
            self.pending.insert(seq, step);
        }
    }
}

/// Reader stage: decodes every frame and pre-processes those due for detection (every frame
/// when `period` is 0) into recycled input tensors; numbers what it sends, and sends a frame only
/// with a token (frames in flight are bounded).
#[allow(clippy::too_many_arguments)]
fn read_stage(
    video: &mut VideoFile,
    stop: &std::sync::atomic::AtomicBool,
    max_frames: u64,
    period: f64,
    mut pre: crate::detect::Preprocessor,
    tx: std::sync::mpsc::SyncSender<Numbered>,
    pool: std::sync::mpsc::Receiver<Vec<f32>>,
    tokens: std::sync::mpsc::Receiver<()>,
) {
    let mut next_due = 0.0f64;
    let mut frames = 0u64;
    let mut seq = 0u64;
    let tx = |step: Result<Step>| {
        let r = tx.send((seq, step));
        seq += 1;
        r
    };
    let mut tx = tx;
    loop {
        if tokens.recv().is_err() {
            return;
        }
        let t_read = Instant::now();
        let frame = match video.read() {
            Ok(Some(f)) => f,
            Ok(None) => return,
            Err(e) => {
                let _ = tx(Err(e));
                return;
            }
        };
        let decode_ms = t_read.elapsed().as_secs_f64() * 1000.0;
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = tx(Ok(Step::Stopped("interrupted".into())));
            return;
        }
        frames += 1;
        let mut input = None;
        // A small tolerance keeps the schedule on frames whose timestamps are rounded.
        if frame.time + 1e-6 >= next_due {
            next_due = if period > 0.0 {
                (next_due + period).max(frame.time + period * 0.5)
            } else {
                0.0
            };
            let t0 = Instant::now();
            match pre.run(&frame.image) {
                Ok(transform) => {
                    let mut buf = pool
                        .try_recv()
                        .unwrap_or_else(|_| vec![0.0; pre.tensor.len()]);
                    std::mem::swap(&mut buf, &mut pre.tensor);
                    input = Some((buf, transform, t0.elapsed()));
                }
                Err(e) => {
                    let _ = tx(Err(e));
                    return;
                }
            }
        }
        let staged = Staged {
            frame,
            decode_ms,
            input,
            detected: None,
        };
        if tx(Ok(Step::Frame(Box::new(staged)))).is_err() {
            return;
        }
        if max_frames > 0 && frames >= max_frames {
            return;
        }
    }
}

/// Detector stage, one per inference session: inference and post-processing (and the optional
/// smoke model) of the frames the reader prepared, taken from the queue the sessions share;
/// input tensors go back to the reader's pool.
fn detect_stage(
    det: &mut Detector,
    mut smoke_model: Option<&mut Detector>,
    rx: crate::detect::shared::SharedReceiver<Numbered>,
    tx: std::sync::mpsc::SyncSender<Numbered>,
    pool: std::sync::mpsc::Sender<Vec<f32>>,
) {
    while let Some((seq, msg)) = rx.recv() {
        let msg = match msg {
            Ok(Step::Frame(mut s)) => match s.input.take() {
                Some((tensor, transform, pre_time)) => {
                    let r = (|| -> Result<_> {
                        let t1 = Instant::now();
                        det.infer_input(&tensor)?;
                        let t2 = Instant::now();
                        let dets = det.postprocess(&transform);
                        let t3 = Instant::now();
                        let smoke = match smoke_model.as_deref_mut() {
                            Some(m) => m.detect(&s.frame.image)?.0,
                            None => Vec::new(),
                        };
                        let times = StageTimes {
                            preprocess: pre_time,
                            inference: t2 - t1,
                            postprocess: t3 - t2,
                        };
                        Ok((dets, smoke, times))
                    })();
                    let _ = pool.send(tensor);
                    r.map(|d| {
                        s.detected = Some(d);
                        Step::Frame(s)
                    })
                }
                None => Ok(Step::Frame(s)),
            },
            other => other,
        };
        let fatal = msg.is_err();
        if tx.send((seq, msg)).is_err() || fatal {
            return;
        }
    }
}
