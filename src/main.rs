//! The `streetwatch` command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use streetwatch::calibration::Calibration;
use streetwatch::detect::Detector;
use streetwatch::model::{self, Manifest, RuntimeOptions};
use streetwatch::pipeline::{self, ReplayOptions};
use streetwatch::source::{self, VideoFile};
use streetwatch::{annotate, Error};

#[derive(Parser)]
#[command(
    name = "streetwatch",
    version,
    about = "Street-order violations from CCTV: detect, track, alert"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct ModelArgs {
    /// Model manifest: a path, or a name in models/ (nanodet, yolox_nano, smoke_fire_yolov8).
    #[arg(long, default_value = "nanodet")]
    model: String,
    /// ONNX Runtime shared library (default: $ORT_DYLIB_PATH, else the one setup installs).
    #[arg(long)]
    ort_lib: Option<PathBuf>,
    /// Inference threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Score threshold (default: the manifest's).
    #[arg(long)]
    threshold: Option<f32>,
}

#[derive(Subcommand)]
enum Command {
    /// Detect objects in an image or a video; prints JSON lines and writes an annotated image.
    Detect {
        /// Image (jpg, png, …) or video file.
        input: PathBuf,
        #[command(flatten)]
        model: ModelArgs,
        /// Annotated image (for a video: of the last processed frame).
        #[arg(long)]
        annotated: Option<PathBuf>,
        /// For videos: process every N-th frame.
        #[arg(long, default_value_t = 1)]
        every: u64,
        /// For videos: stop after this many frames (0 = all).
        #[arg(long, default_value_t = 0)]
        max_frames: u64,
    },
    /// Replay a video file through the whole pipeline and write alerts to a folder.
    Replay {
        video: PathBuf,
        /// Camera calibration (zones, frame size, identity).
        #[arg(long)]
        calibration: PathBuf,
        /// Output folder (alerts.jsonl, snapshots/).
        #[arg(long)]
        out: PathBuf,
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
    },
    /// Validate a calibration file.
    Check { calibration: PathBuf },
}

fn load_detector(args: &ModelArgs) -> Result<Detector> {
    let manifest_path = model::find_manifest(&args.model)?;
    let manifest = Manifest::load(&manifest_path)?;
    let opts = RuntimeOptions {
        ort_lib: args.ort_lib.clone().unwrap_or_else(model::default_ort_lib),
        threads: args.threads,
    };
    let mut det = Detector::new(manifest, &opts)?;
    if let Some(t) = args.threshold {
        det.threshold = t;
    }
    tracing::info!(model = %det.manifest().name, file = %det.model.path.display(), "model loaded");
    Ok(det)
}

fn detect(
    input: PathBuf,
    margs: ModelArgs,
    annotated: Option<PathBuf>,
    every: u64,
    max_frames: u64,
) -> Result<()> {
    let mut det = load_detector(&margs)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut emit =
        |frame: u64, time: f64, img: &opencv::core::Mat, out: &mut dyn Write| -> Result<()> {
            let (dets, times) = det.detect(img)?;
            let line = serde_json::json!({
                "source": input.display().to_string(),
                "frame": frame,
                "time": time,
                "detections": dets,
                "ms": {
                    "preprocess": times.preprocess.as_secs_f64() * 1e3,
                    "inference": times.inference.as_secs_f64() * 1e3,
                    "postprocess": times.postprocess.as_secs_f64() * 1e3,
                }
            });
            writeln!(out, "{line}")?;
            if let Some(path) = &annotated {
                let mut copy = img.clone();
                annotate::draw_detections(&mut copy, &dets)?;
                annotate::write_jpeg(path, &copy)?;
            }
            Ok(())
        };
    if source::is_image(&input) {
        let img = source::read_image(&input)?;
        emit(0, 0.0, &img, &mut out)?;
        return Ok(());
    }
    let mut video = VideoFile::open(&input)?;
    let mut processed = 0;
    while let Some(frame) = video.read()? {
        if frame.index % every.max(1) == 0 {
            emit(frame.index, frame.time, &frame.image, &mut out)?;
            processed += 1;
            if max_frames > 0 && processed >= max_frames {
                return Ok(());
            }
        }
    }
    if video.frames_read() == 0 {
        return Err(Error::Video {
            path: input.clone(),
            message: "no frame could be decoded".into(),
        }
        .into());
    }
    if let Some((read, announced)) = video.truncated() {
        anyhow::bail!(
            "{}: truncated: decoded {read} of the {announced} frames the file announces",
            input.display()
        );
    }
    Ok(())
}

fn replay(opts: ReplayOptions, cal_path: PathBuf, margs: ModelArgs) -> Result<()> {
    let cal = Calibration::load(&cal_path)?;
    let mut det = load_detector(&margs)?;
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create output folder {}", opts.out.display()))?;
    let summary = pipeline::replay(&opts, &cal, &mut det, |a| println!("{}", a.summary()))?;
    let fps = summary.frames as f64 / summary.wall.as_secs_f64().max(1e-9);
    eprintln!(
        "replayed {} frames ({:.1} s of media) in {:.1} s ({:.1} frames/s), {} detections, {} alerts -> {}",
        summary.frames,
        summary.media_seconds,
        summary.wall.as_secs_f64(),
        fps,
        summary.detected_frames,
        summary.alerts.len(),
        opts.out.join("alerts.jsonl").display()
    );
    eprintln!(
        "median ms per detection: preprocess {:.2}, inference {:.2}, postprocess {:.2}",
        summary.median_ms(|t| t.preprocess),
        summary.median_ms(|t| t.inference),
        summary.median_ms(|t| t.postprocess)
    );
    if summary.frames == 0 {
        anyhow::bail!("{}: no frame could be decoded", opts.video.display());
    }
    if let Some((read, announced)) = summary.truncated {
        anyhow::bail!(
            "{}: truncated: decoded {read} of the {announced} frames the file announces (stopped at {:.2} s); alerts up to there are in {}",
            opts.video.display(),
            summary.media_seconds,
            opts.out.join("alerts.jsonl").display()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STREETWATCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result =
        match cli.command {
            Command::Detect {
                input,
                model,
                annotated,
                every,
                max_frames,
            } => detect(input, model, annotated, every, max_frames),
            Command::Replay {
                video,
                calibration,
                out,
                model,
                detect_fps,
                max_frames,
                quiet,
            } => replay(
                ReplayOptions {
                    video,
                    out,
                    detect_fps,
                    max_frames,
                    progress: !quiet,
                },
                calibration,
                model,
            ),
            Command::Check { calibration } => Calibration::load(&calibration)
                .map_err(Into::into)
                .map(|c| {
                    println!(
                        "{}: ok ({} zones, camera {})",
                        calibration.display(),
                        c.zones.len(),
                        c.camera_id
                    );
                }),
        };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
