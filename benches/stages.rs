//! Criterion timing of the stages around inference, on real frames of samples/vtest.avi:
//! decode, letterbox, tracker update with 10/50/200 objects, the cues (background models,
//! optical flow), rules per frame, and snapshot JPEG encoding. Inference and decode + NMS per
//! model family are in `detect_stages`.
//!
//!     cargo bench --bench stages            # full run
//!     cargo bench --bench stages -- --test  # each benchmark once (what `cargo test` proves)

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use opencv::core::Mat;
use streetwatch::calibration::Calibration;
use streetwatch::cues::Cues;
use streetwatch::detect::{Detection, Preprocessor};
use streetwatch::geometry::BBox;
use streetwatch::model::Manifest;
use streetwatch::rules::{self, Scene};
use streetwatch::source::VideoFile;
use streetwatch::track::{Tracker, TrackerConfig};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn frames(n: usize) -> Vec<Mat> {
    let mut v = VideoFile::open(&root().join("samples/vtest.avi"))
        .expect("samples/vtest.avi (run scripts/setup.sh)");
    let mut out = Vec::new();
    while out.len() < n {
        out.push(
            v.read()
                .unwrap()
                .expect("vtest.avi has enough frames")
                .image,
        );
    }
    out
}

/// `n` people walking on straight lines across a 768x576 frame (deterministic), as the
/// detections of frame `k`.
fn walkers(n: usize, k: usize) -> Vec<Detection> {
    (0..n)
        .map(|i| {
            let lane = i as f32 * 7.3 % 700.0;
            let row = (i * 37 % 500) as f32;
            let dir = if i % 2 == 0 { 1.0 } else { -1.0 };
            let x = (lane + dir * 2.0 * k as f32).rem_euclid(740.0);
            let jitter = ((i * 131 + k * 17) % 7) as f32 * 0.3;
            Detection {
                class_id: 0,
                class: "person".into(),
                score: 0.5 + ((i * 13 + k) % 40) as f32 / 100.0,
                bbox: BBox::new(x + jitter, row, x + 20.0 + jitter, row + 50.0),
            }
        })
        .collect()
}

fn decode_and_letterbox(c: &mut Criterion) {
    let clip = root().join("samples/vtest.avi");
    let mut v = VideoFile::open(&clip).unwrap();
    c.bench_function("decode vtest frame (768x576)", |b| {
        b.iter(|| match v.read().unwrap() {
            Some(f) => f,
            None => {
                v = VideoFile::open(&clip).unwrap();
                v.read().unwrap().unwrap()
            }
        })
    });
    let manifest = Manifest::load(&root().join("models/nanodet.toml")).unwrap();
    let mut pre = Preprocessor::new(&manifest.input);
    let img = frames(1).remove(0);
    c.bench_function("letterbox + normalise 768x576 -> 416x416", |b| {
        b.iter(|| pre.run(&img).unwrap())
    });
}

fn tracker(c: &mut Criterion) {
    let mut g = c.benchmark_group("tracker update");
    for n in [10usize, 50, 200] {
        let seq: Vec<Vec<Detection>> = (0..50).map(|k| walkers(n, k)).collect();
        g.bench_with_input(BenchmarkId::from_parameter(n), &seq, |b, seq| {
            let mut tr = Tracker::new(TrackerConfig::default());
            // Warm: the tracks exist before timing.
            for (k, d) in seq.iter().take(10).enumerate() {
                tr.update(k as f64 * 0.1, d, None);
            }
            let mut k = 10usize;
            b.iter(|| {
                tr.update(k as f64 * 0.1, &seq[k % seq.len()], None);
                k += 1;
            })
        });
    }
    g.finish();
}

fn cues_and_rules(c: &mut Criterion) {
    // The short-timing fixture: its vending zones count people after 3 s of standing.
    let cal = Calibration::load(&root().join("tests/data/vtest-quick.toml")).unwrap();
    let imgs = frames(60);
    let mut cues = Cues::new(&cal).unwrap().expect("vtest has cue zones");
    // Warm the background models past their warm-up.
    for (k, img) in imgs.iter().enumerate().take(40) {
        cues.update(k as f64 * 0.1, img, &[]).unwrap();
    }
    let mut k = 40usize;
    c.bench_function("cues update (vtest zones, 320 px work size)", |b| {
        b.iter(|| {
            let r = cues
                .update(k as f64 * 0.1, &imgs[k % imgs.len()], &[])
                .unwrap();
            k += 1;
            r
        })
    });

    // 20 people walking and 3 standing still in the crossing-centre zone for 6 s (so that the
    // vending rule has stationary tracks to weigh).
    let mut tr = Tracker::new(TrackerConfig::default());
    let h = cal.ground.as_ref().map(|g| &g.homography);
    for k in 0..60 {
        let mut dets = walkers(20, k);
        for (i, x) in [340.0f32, 380.0, 420.0].into_iter().enumerate() {
            dets.push(Detection {
                class_id: 0,
                class: "person".into(),
                score: 0.8,
                bbox: BBox::new(x, 200.0 + i as f32, x + 25.0, 270.0 + i as f32),
            });
        }
        tr.update(k as f64 * 0.1, &dets, h);
    }
    let scene = Scene {
        t: 5.9,
        local: None,
        tracks: tr.tracks(),
        static_regions: &[],
        smoke: &[],
        smoke_detections: &[],
    };
    assert!(
        rules::observe(&cal, &scene)
            .iter()
            .any(|o| o.subtype == streetwatch::rules::Subtype::PersonOccupation),
        "the standing people make an occupation observation"
    );
    c.bench_function(
        "rules observe (vtest zones, 23 tracks, 3 standing in a zone)",
        |b| b.iter(|| rules::observe(&cal, &scene)),
    );
}

fn jpeg(c: &mut Criterion) {
    let img = frames(1).remove(0);
    c.bench_function("snapshot JPEG encode 768x576 q90", |b| {
        b.iter(|| streetwatch::annotate::encode_jpeg(&img).unwrap())
    });
}

criterion_group!(
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = decode_and_letterbox, tracker, cues_and_rules, jpeg
);
criterion_main!(benches);
