//! INT8 vs FP32 NanoDet, in one run on the same frames and thread count: inference median/p95
//! (ms) of each and the agreement of the INT8 detections with the FP32 ones (same class,
//! IoU >= 0.5; F1 with FP32 as the truth) on every 10th frame of vtest.avi and every 5th of
//! bikes.mp4.
//!
//!     cargo bench --bench int8                          # 1 inference thread
//!     STREETWATCH_BENCH_THREADS=2 cargo bench --bench int8
//!
//! Without `--bench` (as `cargo test --all-targets` runs it) it uses a few frames only.

use std::path::PathBuf;
use std::time::Instant;

use streetwatch::detect::{Agreement, Detector};
use streetwatch::model::{Manifest, RuntimeOptions};
use streetwatch::source::VideoFile;
use streetwatch::stats::median_p95;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let quick = !args.iter().any(|a| a == "--bench");
    let threads: usize = std::env::var("STREETWATCH_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let mut frames = Vec::new();
    for (clip, every) in [("vtest.avi", 10u64), ("bikes.mp4", 5)] {
        let mut v = VideoFile::open(&root().join("samples").join(clip))
            .expect("the sample footage (scripts/setup.sh)");
        while let Some(f) = v.read().unwrap() {
            if f.index % (if quick { every * 8 } else { every }) == 0 {
                frames.push(f.image);
            }
        }
    }
    let load = |name: &str| {
        let m = Manifest::load(&root().join(format!("models/{name}.toml"))).unwrap();
        Detector::new(
            m,
            &RuntimeOptions {
                threads,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{name}: {e} (scripts/setup.sh)"))
    };
    let mut results = Vec::new();
    for name in ["nanodet", "nanodet_int8"] {
        let mut det = load(name);
        det.detect(&frames[0]).unwrap();
        let mut inf = Vec::new();
        let mut all = Vec::new();
        let t0 = Instant::now();
        for f in &frames {
            let (d, t) = det.detect(f).unwrap();
            inf.push(t.inference.as_secs_f64() * 1000.0);
            all.push(d);
        }
        let wall = t0.elapsed().as_secs_f64();
        results.push((name, median_p95(&inf), frames.len() as f64 / wall, all));
    }
    let mut agreement = Agreement::default();
    for (a, b) in results[0].3.iter().zip(&results[1].3) {
        agreement.add(Agreement::of(a, b, 0.5));
    }
    println!(
        "\nINT8 vs FP32 NanoDet 416, {} frames (vtest.avi + bikes.mp4), {threads} inference thread(s)",
        frames.len()
    );
    println!("| model | inference median ms | p95 ms | frames/s (detect) | detections |");
    println!("|---|---|---|---|---|");
    for (name, (med, p95), fps, all) in &results {
        println!(
            "| {name} | {med:.2} | {p95:.2} | {fps:.1} | {} |",
            all.iter().map(Vec::len).sum::<usize>()
        );
    }
    let speedup = results[0].1 .0 / results[1].1 .0;
    println!(
        "\nspeed-up (FP32 median / INT8 median) = {speedup:.2}; agreement with FP32 (IoU >= 0.5, same class): matched {}, INT8 only {}, FP32 only {}, F1 = {:.3}",
        agreement.matched,
        agreement.extra,
        agreement.missed,
        agreement.f1()
    );
}
