//! `streetwatch replay`: video files through the whole pipeline into evidence bundles.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::{load_detector, ModelArgs};
use crate::calibration::Calibration;
use crate::pipeline::{self, Blur, ReplayOptions};
use crate::time::parse_rfc3339;

/// What `--blur` hides in shared evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BlurArg {
    /// Evidence as recorded.
    None,
    /// Persons blurred in snapshots and clips; originals left out.
    Persons,
}

#[derive(Args)]
pub struct ReplayArgs {
    /// Video files, or folders of them.
    #[arg(required = true)]
    videos: Vec<PathBuf>,
    /// Camera calibration (zones, frame size, identity).
    #[arg(long)]
    calibration: PathBuf,
    /// Output folder: the bundle, or for several videos one bundle per video inside it.
    #[arg(long)]
    out: PathBuf,
    /// Replace a bundle that is already there.
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    model: ModelArgs,
    /// Detections per second of media time (0 = every frame).
    #[arg(long, default_value_t = 5.0)]
    detect_fps: f64,
    /// Stop after this many frames (0 = all).
    #[arg(long, default_value_t = 0)]
    max_frames: u64,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Wall-clock time of the first frame (RFC 3339, e.g. 2026-11-27T18:00:00+08:00): applies
    /// the zones' schedules and adds wall-clock times to alerts.
    #[arg(long)]
    start_time: Option<String>,
    /// An optional smoke model (manifest name or path, family yolov8 with class "smoke")
    /// fused with the image smoke cue.
    #[arg(long)]
    smoke_model: Option<String>,
    /// Seconds of original frames kept before an episode's confirmation in its clip.
    #[arg(long, default_value_t = 3.0)]
    clip_before: f64,
    /// Seconds of original frames after the confirmation in its clip.
    #[arg(long, default_value_t = 3.0)]
    clip_after: f64,
    /// Blur persons in annotated snapshots and clips (for sharing); originals are then left out
    /// and only their sha256 kept in the manifest.
    #[arg(long, value_enum, default_value_t = BlurArg::None)]
    blur: BlurArg,
    /// Write frames/s, per-stage median/p95 ms and peak RSS as JSON (for benchmarks).
    #[arg(long)]
    stats: Option<PathBuf>,
    /// Sign each finished bundle with this box's secret key (`bundle.key` from `streetwatch
    /// keygen`): `manifest.json.sig`, checked by `verify --key bundle.pub`.
    #[arg(long)]
    sign_key: Option<PathBuf>,
    /// Inference sessions working on different frames at once, each with `--threads` threads
    /// (e.g. `--workers 2 --threads 1` on two cores); the frames are put back in order before
    /// tracking, so the alerts do not depend on it.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16))]
    workers: u8,
}

const VIDEO_EXTENSIONS: &[&str] = &["avi", "mp4", "mkv", "mov", "ts", "m4v", "webm"];

/// Expands folders into the video files they hold (sorted).
fn expand_videos(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read folder {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| {
                    f.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
                    })
                })
                .collect();
            found.sort();
            if found.is_empty() {
                anyhow::bail!(
                    "{}: no video files ({}) in this folder",
                    p.display(),
                    VIDEO_EXTENSIONS.join(", ")
                );
            }
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

pub fn run(args: ReplayArgs) -> Result<()> {
    let start_unix = args
        .start_time
        .as_deref()
        .map(|s| parse_rfc3339(s).map_err(|e| anyhow::anyhow!("--start-time: {e}")))
        .transpose()?;
    let cal = Calibration::load(&args.calibration)?;
    let videos = expand_videos(&args.videos)?;
    let sign_key = args
        .sign_key
        .as_deref()
        .map(crate::bundle::load_signing_key)
        .transpose()?;
    // One inference session: the detector and, with --smoke-model, its smoke model.
    let session = || -> Result<(crate::detect::Detector, Option<crate::detect::Detector>)> {
        let smoke = match &args.smoke_model {
            Some(name) => Some(load_detector(&ModelArgs {
                model: name.clone(),
                threshold: None,
                ..args.model.clone()
            })?),
            None => None,
        };
        Ok((load_detector(&args.model)?, smoke))
    };
    let (mut det, mut smoke) = session()?;
    let mut more = (1..args.workers)
        .map(|_| session())
        .collect::<Result<Vec<_>>>()?;
    // Ctrl-C (or SIGTERM) stops the replay at the next frame; the bundle is then marked incomplete.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .context("cannot install the signal handler")?;
    }
    let several = videos.len() > 1;
    let mut failures = Vec::new();
    for video in &videos {
        let out = if several {
            args.out.join(
                video
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "video".into()),
            )
        } else {
            args.out.clone()
        };
        std::fs::create_dir_all(&out)
            .with_context(|| format!("cannot create output folder {}", out.display()))?;
        let opts = ReplayOptions {
            video: video.clone(),
            out: out.clone(),
            detect_fps: args.detect_fps,
            max_frames: args.max_frames,
            progress: !args.quiet,
            start_unix,
            clip_before_s: args.clip_before.max(0.0),
            clip_after_s: args.clip_after.max(0.0),
            blur: match args.blur {
                BlurArg::Persons => Blur::Persons,
                BlurArg::None => Blur::None,
            },
            overwrite: args.overwrite,
            threads: args.model.threads,
        };
        let started = std::time::Instant::now();
        match pipeline::replay(
            &opts,
            &cal,
            &mut det,
            smoke.as_mut(),
            &mut more,
            &stop,
            |a| println!("{}", a.summary()),
        ) {
            Ok(summary) => {
                let interrupted = stop.load(std::sync::atomic::Ordering::Relaxed);
                if let (Some(key), false) = (&sign_key, interrupted) {
                    crate::bundle::sign(&out, key)?;
                }
                if let Some(path) = &args.stats {
                    std::fs::write(path, summary.stats_json().to_string())
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                let wall = started.elapsed().as_secs_f64();
                eprintln!(
                    "{}: {} frames ({:.1} s of media) in {:.1} s ({:.1} frames/s), {} detections, {} alerts -> {}",
                    video.display(),
                    summary.frames,
                    summary.media_seconds,
                    wall,
                    summary.frames as f64 / wall.max(1e-9),
                    summary.detected_frames,
                    summary.alerts.len(),
                    out.display()
                );
                eprintln!(
                    "median ms per detection: preprocess {:.2}, inference {:.2}, postprocess {:.2}",
                    summary.median_ms(|t| t.preprocess),
                    summary.median_ms(|t| t.inference),
                    summary.median_ms(|t| t.postprocess)
                );
                if summary.frames == 0 {
                    failures.push(format!("{}: no frame could be decoded", video.display()));
                } else if let Some((read, announced)) = summary.truncated {
                    failures.push(format!(
                        "{}: truncated: decoded {read} of the {announced} frames the file announces (stopped at {:.2} s); the bundle in {} covers what was readable",
                        video.display(),
                        summary.media_seconds,
                        out.display()
                    ));
                }
            }
            Err(e) => {
                // Most errors name their file already; the others get the video's name.
                let (message, name) = (e.to_string(), video.display().to_string());
                failures.push(if message.contains(&name) {
                    message
                } else {
                    format!("{name}: {message}")
                })
            }
        }
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            failures.push(format!(
                "interrupted: the bundle in {} is incomplete",
                out.display()
            ));
            break;
        }
    }
    match failures.len() {
        0 => Ok(()),
        1 => Err(anyhow::anyhow!("{}", failures[0])),
        n => Err(anyhow::anyhow!(
            "{n} of {} replays failed:\n  {}",
            videos.len(),
            failures.join("\n  ")
        )),
    }
}
