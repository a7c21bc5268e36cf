//! The smoke cue on footage with synthetic smoke: plumes drawn from noise, rising and spreading,
//! rendered over real frames of vtest.avi in its `lawn` smoke_watch zone, raise a smoke episode;
//! the clean original raises none (also checked by replay_samples), and neither do brief puffs.

mod common;

use std::path::Path;

use opencv::core::{Mat, Scalar, Size, Vector, CV_32F};
use opencv::prelude::*;
use opencv::videoio::VideoWriter;
use streetwatch::alert::Alert;
use streetwatch::source::VideoFile;
use streetwatch::violation::ViolationType;

/// Deterministic pseudo-random numbers (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

struct Puff {
    born: f32,
    x: f32,
    drift: f32,
    phase: f32,
}

/// Renders `seconds` of vtest with smoke emitted between `emit_from` and `emit_to` (seconds).
fn render(out: &Path, seconds: f64, emit_from: f32, emit_to: f32) {
    let mut src = VideoFile::open(&common::sample("vtest.avi")).unwrap();
    let size = Size::new(src.width, src.height);
    let fourcc = VideoWriter::fourcc('M', 'J', 'P', 'G').unwrap();
    let mut w = VideoWriter::new(out, fourcc, src.fps, size, true).unwrap();
    assert!(w.is_opened().unwrap());
    // A smooth noise field for the plume's texture.
    let mut noise =
        Mat::new_size_with_default(Size::new(256, 256), CV_32F, Scalar::all(0.0)).unwrap();
    let mut rng = Rng(0x5eed);
    for y in 0..256 {
        for x in 0..256 {
            *noise.at_2d_mut::<f32>(y, x).unwrap() = rng.next();
        }
    }
    let mut smooth = Mat::default();
    opencv::imgproc::gaussian_blur_def(&noise, &mut smooth, Size::new(0, 0), 3.0).unwrap();
    let mut puffs: Vec<Puff> = Vec::new();
    let (source_x, source_y) = (200.0f32, 545.0f32);
    let mut next_puff = emit_from;
    while let Some(f) = src.read().unwrap() {
        let t = f.time as f32;
        if f.time > seconds {
            break;
        }
        while t >= next_puff && next_puff < emit_to {
            puffs.push(Puff {
                born: next_puff,
                x: source_x + (rng.next() - 0.5) * 10.0,
                drift: (rng.next() - 0.5) * 6.0,
                phase: rng.next() * 200.0,
            });
            next_puff += 0.5;
        }
        puffs.retain(|p| t - p.born < 6.0);
        let mut img = f.image.clone();
        let (cols, rows) = (img.cols(), img.rows());
        let mut alpha = vec![0f32; (cols * rows) as usize];
        for p in &puffs {
            let age = t - p.born;
            // Rises at 25 px/s, grows from 14 px to ~50 px, fades with age.
            let (cx, cy, r) = (p.x + p.drift * age, source_y - 25.0 * age, 14.0 + 6.0 * age);
            let strength = 0.65 * (1.0 - age / 6.0);
            let (x0, x1) = (
                (cx - 2.0 * r).max(0.0) as i32,
                (cx + 2.0 * r).min(cols as f32 - 1.0) as i32,
            );
            let (y0, y1) = (
                (cy - 2.0 * r).max(0.0) as i32,
                (cy + 2.0 * r).min(rows as f32 - 1.0) as i32,
            );
            for y in y0..=y1 {
                for x in x0..=x1 {
                    let d2 = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)) / (r * r);
                    // The texture moves with the puff, as smoke's does.
                    let n = *smooth
                        .at_2d::<f32>(
                            ((y as f32 - cy + p.phase) as i32).rem_euclid(256),
                            ((x as f32 - cx + p.phase) as i32).rem_euclid(256),
                        )
                        .unwrap();
                    let a = strength * (-d2).exp() * (0.5 + 4.0 * (n - 0.5)).clamp(0.1, 1.0);
                    let slot = &mut alpha[(y * cols + x) as usize];
                    *slot = 1.0 - (1.0 - *slot) * (1.0 - a);
                }
            }
        }
        let bytes = img.data_bytes_mut().unwrap();
        for (i, a) in alpha.iter().enumerate() {
            if *a > 0.0 {
                for c in 0..3 {
                    let v = bytes[i * 3 + c] as f32;
                    bytes[i * 3 + c] = (v * (1.0 - a) + 215.0 * a).round() as u8;
                }
            }
        }
        w.write(&img).unwrap();
    }
    w.release().unwrap();
}

fn replay(clip: &Path, out: &Path) -> Vec<Alert> {
    let (ok, _, err) = common::run(common::bin().current_dir(common::root()).args([
        "replay",
        &clip.to_string_lossy(),
        "--calibration",
        "calibration/vtest.toml",
        "--out",
        &out.to_string_lossy(),
        "--quiet",
    ]));
    assert!(ok, "{err}");
    std::fs::read_to_string(out.join("alerts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn synthetic_plume_raises_smoke_and_brief_puffs_do_not() {
    let dir = tempfile::tempdir().unwrap();
    // STREETWATCH_KEEP_SMOKE=DIR keeps the rendered clips for a look.
    let keep = std::env::var_os("STREETWATCH_KEEP_SMOKE").map(std::path::PathBuf::from);
    let base = keep.clone().unwrap_or_else(|| dir.path().to_path_buf());
    let plume = base.join("plume.avi");
    render(&plume, 30.0, 4.0, 30.0);
    let alerts = replay(&plume, &dir.path().join("plume-out"));
    let smoke: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.event_type == ViolationType::Smoke)
        .collect();
    let summary: Vec<String> = alerts.iter().map(|a| a.summary()).collect();
    assert!(!smoke.is_empty(), "no smoke alert: {summary:#?}");
    assert!(smoke.iter().all(|a| a.zone == "lawn"), "{summary:#?}");
    let start = smoke
        .iter()
        .find(|a| a.phase == streetwatch::rules::Phase::Start)
        .unwrap();
    // Emission starts at 4 s; the zone confirms after 5 s of persistent rising smoke.
    assert!((9.0..=20.0).contains(&start.event_media_s), "{summary:#?}");
    assert_eq!(start.dispatch.as_ref().unwrap().name, "露天烧烤");
    assert!(start.measures.smoke_fraction.unwrap() > 0.0);
    assert_eq!(
        smoke
            .iter()
            .filter(|a| a.phase == streetwatch::rules::Phase::Start)
            .count(),
        1,
        "one episode: {summary:#?}"
    );

    // Steam-like: the same plume for 2 s only.
    let puff = base.join("puff.avi");
    render(&puff, 20.0, 4.0, 6.0);
    let alerts = replay(&puff, &dir.path().join("puff-out"));
    assert!(
        alerts.iter().all(|a| a.event_type != ViolationType::Smoke),
        "{:#?}",
        alerts.iter().map(|a| a.summary()).collect::<Vec<_>>()
    );
    let _ = Vector::<i32>::new();
}
