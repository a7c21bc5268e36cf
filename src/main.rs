//! The `streetwatch` command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use opencv::prelude::*;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use streetwatch::calibration::Calibration;
use streetwatch::detect::Detector;
use streetwatch::model::{self, Manifest, RuntimeOptions};
use streetwatch::pipeline::{self, Blur, ReplayOptions};
use streetwatch::source::{self, VideoFile};
use streetwatch::time::parse_rfc3339;
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

/// What `--blur` hides in shared evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum BlurArg {
    None,
    Persons,
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

#[derive(Args)]
struct ReplayArgs {
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

#[derive(Subcommand)]
enum Command {
    /// Detect objects in an image or a video; prints JSON lines and writes an annotated image.
    Detect {
        /// Images (jpg, png, …) or video files: one JSON line per processed frame, each naming
        /// its source.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        model: ModelArgs,
        /// Annotated image (for a video: of the last processed frame); one input only.
        #[arg(long)]
        annotated: Option<PathBuf>,
        /// For videos: process every N-th frame.
        #[arg(long, default_value_t = 1)]
        every: u64,
        /// For videos: stop after this many frames (0 = all).
        #[arg(long, default_value_t = 0)]
        max_frames: u64,
    },
    /// Replay video files through the whole pipeline and write an evidence bundle for each.
    Replay(ReplayArgs),
    /// Check an evidence bundle: recompute every hash. Exit 0 intact, 1 altered, 3 incomplete,
    /// 4 not a readable bundle (2 is a usage error, as for every command).
    Verify {
        /// A bundle folder written by `replay` (its manifest.json and the files it lists).
        bundle: PathBuf,
    },
    /// Run the live service: cameras → detection → rules → alerts over MQTT.
    Run {
        /// Service configuration (TOML): cameras, MQTT broker, storage, metrics address.
        #[arg(long)]
        config: PathBuf,
        /// ONNX Runtime shared library (default: $ORT_DYLIB_PATH, else the one setup installs).
        #[arg(long)]
        ort_lib: Option<PathBuf>,
        /// At shutdown, write the run's figures here (JSON: per camera analysed fps, lag
        /// p50/p99/max and p99 per minute, captured/dropped frames).
        #[arg(long)]
        stats: Option<PathBuf>,
    },
    /// The control room's terminal client: shows alerts as they arrive, drops repeats by id.
    Subscribe {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 1883)]
        port: u16,
        #[arg(long, env = "STREETWATCH_MQTT_USERNAME")]
        username: Option<String>,
        #[arg(long, env = "STREETWATCH_MQTT_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Site to follow (`+` for all).
        #[arg(long, default_value = "+")]
        site: String,
        /// Persistent session id: the broker keeps alerts for this subscriber while it is away.
        #[arg(long, default_value = "streetwatch-subscriber")]
        client_id: String,
        /// Save each alert as DIR/<id>.json.
        #[arg(long)]
        save: Option<PathBuf>,
        /// Exit after this many distinct alerts (0 = never).
        #[arg(long, default_value_t = 0)]
        count: usize,
        /// Exit after this many seconds (0 = never).
        #[arg(long, default_value_t = 0.0)]
        timeout: f64,
    },
    /// Validate a calibration file or a service configuration.
    Check {
        /// A camera calibration (zones, ground, schedules) or a service configuration (one with
        /// `[[cameras]]`).
        calibration: PathBuf,
    },
    /// Draw a calibration (zones, names, a metre grid from the homography) on a real frame.
    Calibrate {
        /// The camera calibration to draw.
        calibration: PathBuf,
        /// Image or video to draw on.
        #[arg(long)]
        frame: PathBuf,
        /// For a video: the media time of the frame, seconds.
        #[arg(long, default_value_t = 0.0)]
        at: f64,
        /// Output image (PNG or JPEG).
        #[arg(long)]
        out: PathBuf,
        /// Grid spacing, metres.
        #[arg(long, default_value_t = 1.0)]
        grid: f32,
    },
    /// Print the JSON Schema of the alert payload.
    Schema,
    /// Score replay bundles against ground truth: per violation type, episode-level precision,
    /// recall, start delay and end error (truth format: src/score.rs, samples/README.md).
    Score {
        /// The truth file (TOML: clips and the violations each must raise).
        #[arg(long)]
        truth: PathBuf,
        /// Replay bundles (each matched with a truth clip by its source file name).
        #[arg(required = true)]
        bundles: Vec<PathBuf>,
        /// Print the scores as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn score(truth: &std::path::Path, bundles: &[PathBuf], json: bool) -> Result<()> {
    use streetwatch::score;
    let t = score::load_truth(truth)?;
    let mut scores = Vec::new();
    let mut clips = Vec::new();
    for b in bundles {
        let (file, alerts) = score::load_bundle(b)?;
        let clip = t.clip.iter().find(|c| {
            std::path::Path::new(&c.file)
                .file_name()
                .is_some_and(|n| n.to_string_lossy() == file)
        });
        let Some(clip) = clip else {
            anyhow::bail!(
                "{}: its source {file} is not a clip of {}",
                b.display(),
                truth.display()
            );
        };
        scores.push(score::score_clip(clip, &score::episodes(&alerts)));
        clips.push(clip);
    }
    let summary = score::summarise(&scores, &clips);
    if json {
        let v = serde_json::json!({ "summary": summary, "clips": scores });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    print!("{}", score::listing(&scores));
    println!("\n{}", score::table(&summary));
    println!(
        "{} clips; {} without violations raised {} episode(s)",
        summary.clips, summary.clean_clips, summary.alerts_on_clean_clips
    );
    Ok(())
}

fn load_detector(args: &ModelArgs) -> Result<Detector> {
    let manifest_path = model::find_manifest(&args.model)?;
    let manifest = Manifest::load(&manifest_path)?;
    let opts = RuntimeOptions {
        ort_lib: args.ort_lib.clone().unwrap_or_else(model::default_ort_lib),
        threads: args.threads,
    };
    let mut det = Detector::new(manifest, &opts)?;
    det.threshold = args.threshold;
    tracing::info!(model = %det.manifest().name, file = %det.model.path.display(), "model loaded");
    Ok(det)
}

/// `--annotated` writes PNG for a `.png` name and JPEG for `.jpg`/`.jpeg`; `Ok(true)` for PNG.
fn annotated_is_png(path: &Path) -> Result<bool> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext.eq_ignore_ascii_case("png") {
        Ok(true)
    } else if ext.eq_ignore_ascii_case("jpg") || ext.eq_ignore_ascii_case("jpeg") {
        Ok(false)
    } else {
        anyhow::bail!(
            "--annotated {}: name a .jpg, .jpeg or .png file",
            path.display()
        )
    }
}

/// `detect` over every input with one model load.
fn detect_all(
    inputs: Vec<PathBuf>,
    model: &ModelArgs,
    annotated: Option<&Path>,
    every: u64,
    max_frames: u64,
) -> Result<()> {
    let annotated = match annotated {
        Some(_) if inputs.len() > 1 => {
            anyhow::bail!("--annotated takes one input ({} given)", inputs.len())
        }
        Some(path) => Some((path, annotated_is_png(path)?)),
        None => None,
    };
    let mut det = load_detector(model)?;
    for input in inputs {
        detect(&mut det, input, annotated, every, max_frames)?;
    }
    Ok(())
}

fn detect(
    det: &mut Detector,
    input: PathBuf,
    annotated: Option<(&Path, bool)>,
    every: u64,
    max_frames: u64,
) -> Result<()> {
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
            if let Some((path, png)) = annotated {
                let mut copy = img.clone();
                annotate::draw_detections(&mut copy, &dets)?;
                if png {
                    annotate::write_png(path, &copy)?;
                } else {
                    annotate::write_jpeg(path, &copy)?;
                }
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

fn replay(args: ReplayArgs) -> Result<()> {
    let start_unix = args
        .start_time
        .as_deref()
        .map(|s| parse_rfc3339(s).map_err(|e| anyhow::anyhow!("--start-time: {e}")))
        .transpose()?;
    let cal = Calibration::load(&args.calibration)?;
    let videos = expand_videos(&args.videos)?;
    let mut det = load_detector(&args.model)?;
    let mut smoke = match &args.smoke_model {
        Some(name) => Some(load_detector(&ModelArgs {
            model: name.clone(),
            threshold: None,
            ..args.model.clone()
        })?),
        None => None,
    };
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
        match pipeline::replay(&opts, &cal, &mut det, smoke.as_mut(), &stop, |a| {
            println!("{}", a.summary())
        }) {
            Ok(summary) => {
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

fn verify(bundle: &std::path::Path) -> Result<ExitCode> {
    use streetwatch::bundle::Verdict;
    Ok(match streetwatch::bundle::verify(bundle)? {
        Verdict::Intact {
            files,
            truncated_source,
        } => {
            println!("{}: intact ({files} files verified)", bundle.display());
            if truncated_source {
                println!("note: the source video was truncated; the bundle covers what was readable (see manifest.json source)");
            }
            ExitCode::SUCCESS
        }
        Verdict::Incomplete { reason } => {
            println!("{}: INCOMPLETE: {reason}", bundle.display());
            ExitCode::from(3)
        }
        Verdict::Corrupt { problem } => {
            println!("{}: FAILED: {problem}", bundle.display());
            ExitCode::from(1)
        }
    })
}

fn run_service(
    path: &std::path::Path,
    ort_lib: Option<PathBuf>,
    stats: Option<&std::path::Path>,
) -> Result<()> {
    // One thread per camera plus inference, analytics and I/O: glibc would give each its own
    // malloc arena (up to 8 per core), and the fragmentation costs RSS on a box with little
    // memory. Two arenas: 303 → 280 MB peak with four cameras (benches/live_load.rs).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it runs before any thread is started.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let cfg = streetwatch::config::ServiceConfig::load(path)?;
    let det = load_detector(&ModelArgs {
        model: cfg.model.clone(),
        ort_lib,
        threads: cfg.threads,
        threshold: None,
    })?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    streetwatch::service::run(cfg, det, stop, stats)?;
    Ok(())
}

fn check(path: &std::path::Path) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    // A service configuration has `cameras`; anything else is a calibration. A file that is not
    // TOML at all is reported by the calibration parser (with the line), unless it names cameras.
    let is_service = match toml::from_str::<toml::Table>(&text) {
        Ok(table) => table.contains_key("cameras"),
        Err(_) => text.lines().any(|l| {
            l.trim_start().starts_with("[[cameras]]") || l.trim_start().starts_with("cameras")
        }),
    };
    if is_service {
        let cfg = streetwatch::config::ServiceConfig::load(path)?;
        println!(
            "{}: ok: site {}, {} cameras, broker {}:{}",
            path.display(),
            cfg.site,
            cfg.cameras.len(),
            cfg.mqtt.host,
            cfg.mqtt.port
        );
        for c in &cfg.cameras {
            println!(
                "  camera {} {} at {}/s, calibration {}",
                c.id,
                c.safe_url(),
                c.detect_fps,
                c.calibration.path.display()
            );
        }
        return Ok(());
    }
    let c = Calibration::load(path)?;
    println!(
        "{}: ok: camera {} at {} (grid cell {:?}), {}x{}",
        path.display(),
        c.camera_id,
        c.site,
        c.grid_cell,
        c.frame_width,
        c.frame_height
    );
    match &c.ground {
        Some(g) => println!(
            "  ground: {} point pairs, reprojection error {:.3} m (RMS)",
            g.pairs.len(),
            g.reprojection_rms_m
        ),
        None => println!(
            "  ground: none (speeds in box heights per second, no areas or widths in metres)"
        ),
    }
    for z in &c.zones {
        let area = z
            .ground
            .as_ref()
            .map(|g| format!(", {:.1} m²", g.area()))
            .unwrap_or_default();
        let sched = if z.schedule.active.is_empty() && z.schedule.exempt.is_empty() {
            "always".to_string()
        } else {
            let w = |l: &[streetwatch::calibration::schedule::Window]| {
                l.iter()
                    .map(|w| w.text.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            format!(
                "active [{}] exempt [{}]",
                w(&z.schedule.active),
                w(&z.schedule.exempt)
            )
        };
        println!(
            "  zone {} ({}){area}, confirm {}s, schedule {sched}",
            z.name,
            z.zone_type().as_str(),
            z.confirm_seconds
        );
    }
    Ok(())
}

fn calibrate(
    path: &std::path::Path,
    frame: &std::path::Path,
    at: f64,
    out: &std::path::Path,
    grid: f32,
) -> Result<()> {
    let cal = Calibration::load(path)?;
    let mut img = source::frame_at(frame, at)?;
    if img.cols() as u32 != cal.frame_width || img.rows() as u32 != cal.frame_height {
        anyhow::bail!(
            "{}: fields frame_width/frame_height are {}x{}, the frame of {} is {}x{}",
            path.display(),
            cal.frame_width,
            cal.frame_height,
            frame.display(),
            img.cols(),
            img.rows()
        );
    }
    if let Some(g) = &cal.ground {
        annotate::draw_ground_grid(&mut img, g, grid)?;
    }
    annotate::draw_zones(&mut img, &cal.zones)?;
    let ok = opencv::imgcodecs::imwrite(out, &img, &opencv::core::Vector::new())?;
    if !ok {
        anyhow::bail!("cannot write {}", out.display());
    }
    println!("{} -> {}", path.display(), out.display());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The service logs what it does (start, cameras, broker, alerts); the one-shot commands print
    // their own results and log only warnings. STREETWATCH_LOG overrides both.
    let default_level = match cli.command {
        Command::Run { .. } => "info,ort=warn",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STREETWATCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Detect {
            inputs,
            model,
            annotated,
            every,
            max_frames,
        } => detect_all(inputs, &model, annotated.as_deref(), every, max_frames),
        Command::Replay(args) => replay(args),
        Command::Verify { bundle } => {
            return verify(&bundle).unwrap_or_else(|e| {
                eprintln!("error: {e:#}");
                ExitCode::from(4)
            })
        }
        Command::Check { calibration } => check(&calibration),
        Command::Run {
            config,
            ort_lib,
            stats,
        } => run_service(&config, ort_lib, stats.as_deref()),
        Command::Subscribe {
            host,
            port,
            username,
            password,
            site,
            client_id,
            save,
            count,
            timeout,
        } => streetwatch::subscriber::run(streetwatch::subscriber::Options {
            host,
            port,
            login: username.zip(password),
            site,
            client_id,
            save,
            count,
            timeout_s: timeout,
        })
        .map_err(anyhow::Error::from),
        Command::Calibrate {
            calibration,
            frame,
            at,
            out,
            grid,
        } => calibrate(&calibration, &frame, at, &out, grid),
        Command::Schema => {
            print!("{}", streetwatch::alert::schema_json());
            Ok(())
        }
        Command::Score {
            truth,
            bundles,
            json,
        } => score(&truth, &bundles, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
