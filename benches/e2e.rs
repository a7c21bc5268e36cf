//! End-to-end benchmark, in one run on the same footage, model and thread count:
//!   1. raw ONNX Runtime inference (the limit),
//!   2. `streetwatch replay` with detection on every frame (the whole pipeline, release build),
//!   3. the Python reference pipeline (benches/python_pipeline.py: OpenCV + onnxruntime + numpy,
//!      with the same analytics stages: tracker, the cues' OpenCV calls, dwell rules),
//!
//! printed as a table of frames/s, median and p95 ms per stage and peak RSS, with the ratios 2/1
//! and 2/3.
//!
//!     cargo bench --bench e2e                      # full: all 795 frames of vtest.avi
//!     STREETWATCH_BENCH_THREADS=2 cargo bench --bench e2e
//!     cargo bench --bench e2e -- --quick           # 40 frames (what `cargo test` runs)

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use streetwatch::detect::Detector;
use streetwatch::model::{Manifest, RuntimeOptions};
use streetwatch::source::VideoFile;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes --bench; `cargo test --all-targets` runs the bench without it, and
    // then a quick run proves the bench works.
    let quick = !args.iter().any(|a| a == "--bench")
        || args.iter().any(|a| a == "--quick")
        || std::env::var_os("STREETWATCH_BENCH_QUICK").is_some();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let threads: usize = std::env::var("STREETWATCH_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let max_frames: u64 = if quick { 40 } else { 0 };
    let video = root().join("samples/vtest.avi");
    let manifest_path = root().join("models/nanodet.toml");

    // 1. Raw inference on one pre-processed frame.
    let manifest = Manifest::load(&manifest_path).expect("models/nanodet.toml");
    let mut det = Detector::new(
        manifest,
        &RuntimeOptions {
            threads,
            ..Default::default()
        },
    )
    .expect("the default model (scripts/setup.sh)");
    let mut v = VideoFile::open(&video).expect("samples/vtest.avi (scripts/setup.sh)");
    let frame = loop {
        let f = v.read().unwrap().unwrap();
        if f.index == 100 {
            break f.image;
        }
    };
    det.preprocess(&frame).unwrap();
    for _ in 0..3 {
        det.infer().unwrap();
    }
    let mut raw = Vec::new();
    for _ in 0..if quick { 10 } else { 200 } {
        let t = Instant::now();
        det.infer().unwrap();
        raw.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (raw_med, raw_p95) = streetwatch::stats::median_p95(&raw);
    let model_path = det.model.path.clone();
    drop(det);

    // 2. streetwatch replay, detection on every frame, as its own process (for its peak RSS).
    // Frame-level parallelism: with STREETWATCH_BENCH_WORKERS=N, replay also runs with N
    // single-thread sessions on different frames (N cores, as the threads above).
    let workers: usize = std::env::var("STREETWATCH_BENCH_WORKERS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let out = tempfile::tempdir().unwrap();
    let replay = |workers: usize, threads: usize| -> serde_json::Value {
        let stats_file = out.path().join(format!("stats-{workers}.json"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_streetwatch"));
        cmd.current_dir(root())
            .args([
                "replay",
                &video.to_string_lossy(),
                "--calibration",
                "calibration/vtest.toml",
                "--quiet",
                "--detect-fps",
                "0",
            ])
            .args([
                "--threads",
                &threads.to_string(),
                "--workers",
                &workers.to_string(),
                "--clip-before",
                "0",
                "--clip-after",
                "0",
            ])
            .arg("--out")
            .arg(out.path().join(format!("bundle-{workers}")))
            .arg("--stats")
            .arg(&stats_file);
        if max_frames > 0 {
            cmd.args(["--max-frames", &max_frames.to_string()]);
        }
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "replay failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_str(&std::fs::read_to_string(&stats_file).unwrap()).unwrap()
    };
    let sw = replay(1, threads);
    let sw_frames = (workers > 1).then(|| replay(workers, 1));

    // 3. The Python reference pipeline.
    let python = streetwatch::model::cache_dir().join("venv-reference/bin/python");
    let mut cmd = Command::new(&python);
    cmd.arg(root().join("benches/python_pipeline.py"))
        .args([
            "--manifest",
            &manifest_path.to_string_lossy(),
            "--model",
            &model_path.to_string_lossy(),
        ])
        .args(["--threads", &threads.max(workers).to_string()])
        .args(["--calibration", "calibration/vtest.toml"])
        .current_dir(root());
    if max_frames > 0 {
        cmd.args(["--max-frames", &max_frames.to_string()]);
    }
    let o = cmd
        .arg(&video)
        .output()
        .expect("the reference venv (scripts/setup.sh --test)");
    assert!(
        o.status.success(),
        "python pipeline failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let py: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();

    let f = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    let ms = |v: &serde_json::Value, stage: &str| v["ms"][stage].as_f64().unwrap_or(0.0);
    let p95 = |v: &serde_json::Value, stage: &str| v["p95_ms"][stage].as_f64().unwrap_or(0.0);
    // Detection stages around inference, and everything that is not inference (with the
    // analytics: tracker, cues, rules).
    let det_stages =
        |v: &serde_json::Value| ms(v, "decode") + ms(v, "preprocess") + ms(v, "postprocess");
    let non_inf = |v: &serde_json::Value| det_stages(v) + ms(v, "analytics");
    let raw_fps = 1000.0 / raw_med;
    println!(
        "\nend-to-end, vtest.avi 768x576, NanoDet 416, {threads} inference thread(s), {} frames, calibration/vtest.toml",
        f(&sw, "frames")
    );
    println!("| pipeline | frames/s | decode ms | pre ms | inference ms (p95) | post ms | analytics ms (p95) | decode+pre+post ms | all but inference ms | peak RSS MB |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!("| 1. raw ONNX Runtime | {raw_fps:.1} | – | – | {raw_med:.2} ({raw_p95:.2}) | – | – | – | – | – |");
    let frames_row = format!("2b. streetwatch replay, {workers} sessions x 1 thread");
    let mut rows = vec![("2. streetwatch replay".to_string(), &sw)];
    if let Some(v) = &sw_frames {
        rows.push((frames_row, v));
    }
    rows.push(("3. Python pipeline".to_string(), &py));
    for (name, v) in rows {
        println!(
            "| {name} | {:.1} | {:.2} | {:.2} | {:.2} ({:.2}) | {:.2} | {:.2} ({:.2}) | {:.2} | {:.2} | {:.0} |",
            f(v, "fps"),
            ms(v, "decode"),
            ms(v, "preprocess"),
            ms(v, "inference"),
            p95(v, "inference"),
            ms(v, "postprocess"),
            ms(v, "analytics"),
            p95(v, "analytics"),
            det_stages(v),
            non_inf(v),
            f(v, "peak_rss_mb")
        );
    }
    println!(
        "\nratios: streetwatch / raw = {:.2}, streetwatch / python = {:.2}, decode+pre+post ms streetwatch / python = {:.2}, all-but-inference ms streetwatch / python = {:.2}",
        f(&sw, "fps") / raw_fps,
        f(&sw, "fps") / f(&py, "fps").max(1e-9),
        det_stages(&sw) / det_stages(&py).max(1e-9),
        non_inf(&sw) / non_inf(&py).max(1e-9)
    );
    if let Some(v) = &sw_frames {
        println!(
            "frame-level: {workers} sessions x 1 thread / python = {:.2}, / {threads}-thread replay = {:.2}, / raw = {:.2}",
            f(v, "fps") / f(&py, "fps").max(1e-9),
            f(v, "fps") / f(&sw, "fps").max(1e-9),
            f(v, "fps") / raw_fps
        );
    }
}
