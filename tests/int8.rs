//! The INT8 NanoDet that setup quantises finds what the FP32 model finds: F1 agreement >= 0.9
//! (same class, IoU >= 0.5) on every 20th frame of both samples. (Its speed is measured by
//! `cargo bench --bench int8`, not here.)

mod common;

use streetwatch::detect::{Agreement, Detector};
use streetwatch::model::{Manifest, RuntimeOptions};
use streetwatch::source::VideoFile;

#[test]
fn int8_model_agrees_with_fp32() {
    let load = |name: &str| {
        let m = Manifest::load(&common::root().join(format!("models/{name}.toml"))).unwrap();
        Detector::new(m, &RuntimeOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e} (scripts/setup.sh)"))
    };
    let (mut fp32, mut int8) = (load("nanodet"), load("nanodet_int8"));
    let mut total = Agreement::default();
    let mut detections = 0;
    for clip in ["vtest.avi", "bikes.mp4"] {
        let mut v = VideoFile::open(&common::sample(clip)).unwrap();
        while let Some(f) = v.read().unwrap() {
            if f.index % 20 != 0 {
                continue;
            }
            let a = fp32.detect(&f.image).unwrap().0;
            let b = int8.detect(&f.image).unwrap().0;
            detections += a.len();
            total.add(Agreement::of(&a, &b, 0.5));
        }
    }
    assert!(
        detections > 50,
        "too few FP32 detections to compare: {detections}"
    );
    assert!(
        total.f1() >= 0.9,
        "INT8 agreement with FP32: {total:?}, F1 {:.3}",
        total.f1()
    );
    eprintln!("INT8 vs FP32: {total:?}, F1 {:.3}", total.f1());
}
