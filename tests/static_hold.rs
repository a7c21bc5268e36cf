//! The static-foreground cue on real footage: goods set down on vtest's tarmac (pedestrians
//! walking past and in front of them, the light falling by a quarter over half an hour as at
//! dusk, a cloud's shadow passing beside them) stay present for 30 minutes, whatever the
//! long-term background model absorbs, and are gone within 7.5 s of their removal — at 1 and 5
//! analysed frames per second over 31 minutes, and at 15 per second over 3 minutes.
//!
//! Not covered here: goods the colour of the ground, goods there before the camera starts (both
//! invisible to a background model), and the detector's person boxes (this test has no detector:
//! its zone lies where people only walk through).

mod common;

use opencv::core::{Mat, Rect, Scalar, Size};
use opencv::imgproc;
use opencv::prelude::*;
use streetwatch::calibration::Calibration;
use streetwatch::cues::{Cues, REMOVE_S};
use streetwatch::source::VideoFile;

/// Work size: the cue's own width, so frames are stored once at that size.
const W: i32 = 320;
const H: i32 = 240;
/// The goods, in work pixels: a stack of cardboard boxes on the tarmac on the left.
const GOODS: (i32, i32, i32, i32) = (40, 86, 36, 22);

fn calibration(dir: &std::path::Path) -> Calibration {
    let p = dir.join("cal.toml");
    std::fs::write(
        &p,
        format!(
            "camera_id = \"t\"\nsite = \"s\"\nframe_width = {W}\nframe_height = {H}\n\n\
             [[zones]]\nname = \"forecourt\"\ntype = \"no_vending\"\n\
             polygon = [[5, 80], [130, 80], [130, 116], [5, 112]]\n"
        ),
    )
    .unwrap();
    Calibration::load(&p).unwrap()
}

/// vtest's frames at work size, played forwards and backwards (no jump cut) for any length.
fn frames() -> Vec<Mat> {
    let mut src = VideoFile::open(&common::sample("vtest.avi")).unwrap();
    let mut out = Vec::new();
    while let Some(f) = src.read().unwrap() {
        let mut small = Mat::default();
        imgproc::resize(
            &f.image,
            &mut small,
            Size::new(W, H),
            0.0,
            0.0,
            imgproc::INTER_AREA,
        )
        .unwrap();
        out.push(small);
    }
    out
}

fn ping_pong(n: usize, i: usize) -> usize {
    let period = 2 * (n - 1);
    let k = i % period;
    if k < n {
        k
    } else {
        period - k
    }
}

/// Draws the goods: brown faces with a lighter top, tape and printed marks (their own edges).
fn draw_goods(img: &mut Mat) {
    let (x, y, w, h) = GOODS;
    let fill = |img: &mut Mat, r: Rect, c: Scalar| {
        imgproc::rectangle(img, r, c, -1, imgproc::LINE_8, 0).unwrap();
    };
    fill(
        img,
        Rect::new(x, y, w, h),
        Scalar::new(60.0, 105.0, 150.0, 0.0),
    );
    fill(
        img,
        Rect::new(x, y, w, 5),
        Scalar::new(95.0, 145.0, 190.0, 0.0),
    );
    fill(
        img,
        Rect::new(x + w / 2, y + 8, w / 2, h - 8),
        Scalar::new(45.0, 80.0, 120.0, 0.0),
    );
    fill(
        img,
        Rect::new(x + w / 2 - 1, y, 3, h),
        Scalar::new(200.0, 210.0, 215.0, 0.0),
    );
    for k in 0..4 {
        fill(
            img,
            Rect::new(x + 3 + 4 * k, y + 10 + (k % 2) * 5, 2, 3),
            Scalar::new(30.0, 30.0, 40.0, 0.0),
        );
    }
}

struct Outcome {
    /// Analysed frames while the goods were there (after the hold) and how many showed them.
    held: (usize, usize),
    /// Seconds after the removal at which the goods were last shown.
    after: f64,
    /// Largest number of held objects at once, and the longest stretch (seconds) during which
    /// something away from the goods was held (a pedestrian who stood still for a few seconds:
    /// the pipeline excludes people by their detector boxes, which this test does not have).
    max_held: usize,
    stray_s: f64,
}

fn run(frames: &[Mat], fps: f64, seconds: f64, put: f64, take: f64) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let cal = calibration(dir.path());
    let mut cues = Cues::new(&cal).unwrap().unwrap();
    let goods = Rect::new(GOODS.0, GOODS.1, GOODS.2, GOODS.3);
    let mut out = Outcome {
        held: (0, 0),
        after: 0.0,
        max_held: 0,
        stray_s: 0.0,
    };
    let mut stray_since: Option<f64> = None;
    let steps = (seconds * fps) as usize;
    for i in 0..steps {
        let t = i as f64 / fps;
        // The footage runs at its own 10 fps whatever the analysis rate.
        let mut img = frames[ping_pong(frames.len(), (t * 10.0) as usize)].clone();
        if (put..take).contains(&t) {
            draw_goods(&mut img);
        }
        // A cloud's shadow beside the goods for a minute.
        if (300.0..360.0).contains(&t) {
            let r = Rect::new(85, 82, 40, 30);
            let mut roi = Mat::roi_mut(&mut img, r).unwrap();
            let mut dark = Mat::default();
            roi.convert_to(&mut dark, -1, 0.65, 0.0).unwrap();
            dark.copy_to(&mut roi).unwrap();
        }
        // Dusk: the light falls by a quarter over 30 minutes.
        let gain = 1.0 - 0.25 * (t / 1800.0).min(1.0);
        let mut lit = Mat::default();
        img.convert_to(&mut lit, -1, gain, 0.0).unwrap();
        let (statics, _) = cues.update(t, &lit, &[]).unwrap();
        let held = cues.held();
        out.max_held = out.max_held.max(held.len());
        let mut stray = false;
        for (_, poly) in &held {
            let (mut x1, mut y1, mut x2, mut y2) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
            for p in &poly.points {
                x1 = x1.min(p.x);
                y1 = y1.min(p.y);
                x2 = x2.max(p.x);
                y2 = y2.max(p.y);
            }
            let r = Rect::new(x1 as i32, y1 as i32, (x2 - x1) as i32, (y2 - y1) as i32);
            if (r & goods).area() == 0 {
                if stray_since.is_none() && std::env::var("TRACE").is_ok() {
                    eprintln!("stray held object at t={t}: {r:?}");
                }
                stray = true;
            }
        }
        if stray {
            let since = *stray_since.get_or_insert(t);
            out.stray_s = out.stray_s.max(t - since + 1.0 / fps);
        } else {
            stray_since = None;
        }
        let present = !statics.is_empty();
        if t >= put + 10.0 && t < take {
            out.held.0 += 1;
            out.held.1 += present as usize;
        }
        if t >= take && present {
            out.after = t - take;
        }
    }
    out
}

fn check(name: &str, o: &Outcome) {
    let share = o.held.1 as f64 / o.held.0.max(1) as f64;
    println!(
        "{name}: goods shown in {}/{} frames ({share:.4}), last shown {:.1} s after removal, at most {} held, longest stray {:.1} s",
        o.held.1, o.held.0, o.after, o.max_held, o.stray_s
    );
    assert!(share >= 0.99, "{name}: goods lost ({share:.4})");
    // Removed after REMOVE_S of looking like the ground; at 1 frame/s the frame of the removal
    // and the next one still differ from a second before (treated as passing movement).
    assert!(
        o.after <= REMOVE_S + 6.0,
        "{name}: goods still shown {:.1} s after their removal",
        o.after
    );
    // The shadow beside the goods lasts 60 s: held, it would show here.
    assert!(
        o.stray_s <= 8.0,
        "{name}: something other than the goods was held for {:.1} s",
        o.stray_s
    );
}

#[test]
fn goods_are_held_for_half_an_hour_and_released_on_removal() {
    let f = frames();
    for fps in [1.0, 5.0] {
        let o = run(&f, fps, 1860.0, 20.0, 1830.0);
        check(&format!("{fps} fps, 31 min"), &o);
    }
    let o = run(&f, 15.0, 180.0, 20.0, 150.0);
    check("15 fps, 3 min", &o);
}
