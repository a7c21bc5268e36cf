//! Per-family timing of the detector's stages on a real frame (vtest.avi frame 100):
//! pre-processing, post-processing (decode + NMS) and, for comparison, raw inference.
//! Families whose model file is not available are listed as such and not timed.
//!
//!     cargo bench --bench detect_stages            # full run
//!     cargo bench --bench detect_stages -- --test  # each benchmark once (CI)

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use streetwatch::detect::Detector;
use streetwatch::model::{Manifest, RuntimeOptions};
use streetwatch::source::VideoFile;

fn frame() -> opencv::core::Mat {
    let clip = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/vtest.avi");
    let mut v = VideoFile::open(&clip).expect("samples/vtest.avi (run scripts/setup.sh)");
    loop {
        let f = v.read().unwrap().expect("vtest.avi has 100 frames");
        if f.index == 100 {
            return f.image;
        }
    }
}

fn stages(c: &mut Criterion) {
    let img = frame();
    let threads: usize = std::env::var("STREETWATCH_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    for name in ["nanodet", "yolox_nano", "smoke_fire_yolov8"] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("models/{name}.toml"));
        let manifest = Manifest::load(&path).unwrap();
        let mut det = match Detector::new(
            manifest,
            &RuntimeOptions {
                threads,
                ..Default::default()
            },
        ) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{name}: not timed: {e}");
                continue;
            }
        };
        let mut g = c.benchmark_group(name);
        g.sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        g.bench_function("preprocess", |b| b.iter(|| det.preprocess(&img).unwrap()));
        let transform = det.preprocess(&img).unwrap();
        g.bench_function(format!("inference_{threads}thread"), |b| {
            b.iter(|| det.infer().unwrap())
        });
        det.infer().unwrap();
        g.bench_function("postprocess", |b| b.iter(|| det.postprocess(&transform)));
        g.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
