//! `streetwatch calibrate`: draw a calibration on a real frame.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use opencv::prelude::*;

use crate::annotate;
use crate::calibration::Calibration;
use crate::source;

#[derive(Args)]
pub struct CalibrateArgs {
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
}

pub fn run(args: &CalibrateArgs) -> Result<()> {
    let (path, frame, at, out, grid) = (
        &args.calibration,
        &args.frame,
        args.at,
        &args.out,
        args.grid,
    );
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
