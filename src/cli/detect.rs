//! `streetwatch detect`: the detector alone on images and videos, as JSON lines.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use super::{load_detector, ModelArgs};
use crate::detect::Detector;
use crate::source::{self, VideoFile};
use crate::{annotate, Error};

#[derive(Args)]
pub struct DetectArgs {
    /// Images (jpg, png, …) or video files: one JSON line per processed frame, each naming its
    /// source.
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
pub fn run(args: DetectArgs) -> Result<()> {
    let DetectArgs {
        inputs,
        model,
        annotated,
        every,
        max_frames,
    } = args;
    let annotated = annotated.as_deref();
    let annotated = match annotated {
        Some(_) if inputs.len() > 1 => {
            anyhow::bail!("--annotated takes one input ({} given)", inputs.len())
        }
        Some(path) => Some((path, annotated_is_png(path)?)),
        None => None,
    };
    let mut det = load_detector(&model)?;
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
