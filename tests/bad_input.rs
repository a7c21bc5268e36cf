//! Bad input ends with one clear error naming the file (and field or line) and a non-zero exit,
//! never a panic.

mod common;

use std::path::Path;

use common::{bin, run};

/// A manifest copy in `dir` with text replacements, and a model folder holding `model_bytes`.
fn custom_model(
    dir: &Path,
    edits: &[(&str, &str)],
    model_bytes: Option<&[u8]>,
) -> std::path::PathBuf {
    let mut text = std::fs::read_to_string(common::manifest("nanodet")).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "manifest has no '{from}'");
        text = text.replace(from, to);
    }
    let manifest = dir.join("custom.toml");
    std::fs::write(&manifest, text).unwrap();
    if let Some(bytes) = model_bytes {
        std::fs::write(dir.join("nanodet_human_416.onnx"), bytes).unwrap();
    }
    manifest
}

fn real_model() -> Vec<u8> {
    let m = streetwatch::model::Manifest::load(&common::manifest("nanodet")).unwrap();
    let (p, _) =
        streetwatch::model::locate_model(&m).expect("the default model (run scripts/setup.sh)");
    std::fs::read(p).unwrap()
}

fn detect_with(manifest: &Path, models: &Path, cache: &Path) -> (bool, String) {
    let img = common::root().join("tests/data/none.png");
    let (ok, _, err) = run(bin()
        .args([
            "detect",
            &img.to_string_lossy(),
            "--model",
            &manifest.to_string_lossy(),
        ])
        .arg("--ort-lib")
        .arg(streetwatch::model::default_ort_lib())
        .env("STREETWATCH_MODELS", models)
        .env("STREETWATCH_CACHE", cache));
    (ok, err)
}

#[test]
fn missing_ort_library() {
    let (ok, _, err) = run(bin().args([
        "detect",
        "x.png",
        "--ort-lib",
        "/nonexistent/libonnxruntime.so.1.31.1",
    ]));
    assert!(!ok);
    assert!(
        err.contains("ONNX Runtime library not found at /nonexistent/libonnxruntime.so.1.31.1"),
        "{err}"
    );
}

/// The ONNX Runtime setup installs (and the package ships) is the CPU build: asking for a GPU
/// or OpenVINO provider stops with an error naming the provider, the library and the build that
/// has it, and never runs on the CPU instead. (No GPU here: the providers' success is not tested.)
#[test]
fn an_execution_provider_the_library_lacks_is_named_not_ignored() {
    let frame = common::sample("vtest.avi");
    for (provider, build) in [
        ("cuda", "onnxruntime-gpu"),
        ("tensorrt", "TensorRT"),
        ("openvino", "onnxruntime-openvino"),
    ] {
        let (ok, out, err) = run(bin()
            .args([
                "detect",
                "--max-frames",
                "1",
                "--execution-provider",
                provider,
            ])
            .arg(&frame));
        assert!(!ok, "{provider}: ran anyway:\n{out}");
        assert!(
            err.contains(&format!("execution provider {provider} is not available"))
                && err.contains("libonnxruntime.so")
                && err.contains(build),
            "{provider}: {err}"
        );
        assert!(
            out.is_empty(),
            "{provider}: detections on the CPU instead: {out}"
        );
    }
    // The CPU provider, named, works; an unknown one is a usage error.
    let (ok, out, err) = run(bin()
        .args(["detect", "--max-frames", "1", "--execution-provider", "cpu"])
        .arg(&frame));
    assert!(ok && out.contains("\"person\""), "{err}");
    let (ok, _, err) = run(bin()
        .args(["detect", "--execution-provider", "npu"])
        .arg(&frame));
    assert!(
        !ok && err.contains("'npu' is not an execution provider"),
        "{err}"
    );
}

#[test]
fn ort_library_that_is_not_a_library() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so");
    std::fs::write(&fake, "not a shared object").unwrap();
    let (ok, _, err) = run(bin().args(["detect", "x.png", "--ort-lib", &fake.to_string_lossy()]));
    assert!(!ok);
    assert!(
        err.contains("cannot load the ONNX Runtime library") && err.contains("libonnxruntime.so"),
        "{err}"
    );
}

#[test]
fn missing_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = custom_model(dir.path(), &[], None);
    let empty = tempfile::tempdir().unwrap();
    let (ok, err) = detect_with(&manifest, empty.path(), empty.path());
    assert!(!ok);
    assert!(
        err.contains("model file") && err.contains("nanodet_human_416.onnx not found"),
        "{err}"
    );
    assert!(err.contains("custom.toml"), "{err}");
}

#[test]
fn corrupt_model_file_fails_its_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = real_model();
    bytes.truncate(bytes.len() / 2);
    let manifest = custom_model(dir.path(), &[], Some(&bytes));
    let (ok, err) = detect_with(&manifest, dir.path(), dir.path());
    assert!(!ok);
    assert!(
        err.contains("is corrupt or not the one") && err.contains("field sha256"),
        "{err}"
    );
}

#[test]
fn corrupt_model_with_matching_checksum_fails_in_onnx_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = real_model();
    bytes.truncate(bytes.len() / 2);
    let sha = streetwatch::digest::sha256_bytes(&bytes);
    let m = streetwatch::model::Manifest::load(&common::manifest("nanodet")).unwrap();
    let manifest = custom_model(dir.path(), &[(&m.sha256, &sha)], Some(&bytes));
    let (ok, err) = detect_with(&manifest, dir.path(), dir.path());
    assert!(!ok);
    assert!(
        err.contains("ONNX Runtime cannot load model") && err.contains("nanodet_human_416.onnx"),
        "{err}"
    );
}

#[test]
fn model_inputs_that_do_not_match_the_manifest() {
    let bytes = real_model();
    let sha = streetwatch::digest::sha256_bytes(&bytes);
    let m = streetwatch::model::Manifest::load(&common::manifest("nanodet")).unwrap();
    for (edit, expect) in [
        (
            ("name = \"input_1:0\"", "name = \"images\""),
            "field input.name is 'images'",
        ),
        (("width = 416", "width = 320"), "input.height/width"),
        (("reg_max = 10", "reg_max = 7"), "no box map"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let manifest = custom_model(dir.path(), &[(&m.sha256, &sha), edit], Some(&bytes));
        let (ok, err) = detect_with(&manifest, dir.path(), dir.path());
        assert!(!ok);
        assert!(
            err.contains("does not match its manifest") && err.contains(expect),
            "{err}"
        );
    }
}

#[test]
fn file_that_is_not_a_video() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("clip.mp4");
    std::fs::write(&fake, "this is not a video\n".repeat(100)).unwrap();
    let (ok, _, err) = run(bin().args(["detect", &fake.to_string_lossy()]));
    assert!(!ok);
    assert!(err.contains("clip.mp4: not a video"), "{err}");
    let (ok, _, err) = run(bin().args(["detect", "/nonexistent/clip.avi"]));
    assert!(
        !ok && err.contains("/nonexistent/clip.avi: no such file"),
        "{err}"
    );
}

#[test]
fn truncated_video_keeps_what_was_read_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("vtest-cut.avi");
    common::copy_truncated(&common::sample("vtest.avi"), &clip, 0.4);
    let out = dir.path().join("out");
    let (ok, _, err) = run(bin().args([
        "replay",
        &clip.to_string_lossy(),
        "--calibration",
        // The short-timing fixture: the first alert comes at about 6 s, before the cut.
        &common::root()
            .join("tests/data/vtest-quick.toml")
            .to_string_lossy(),
        "--out",
        &out.to_string_lossy(),
        "--quiet",
    ]));
    assert!(!ok, "a truncated video must not pass as complete");
    assert!(err.contains("vtest-cut.avi: truncated: decoded"), "{err}");
    assert!(err.contains("of the 795 frames"), "{err}");
    // What was read before the cut was processed and its alerts kept (the first one is at 6 s).
    let alerts = std::fs::read_to_string(out.join("alerts.jsonl")).unwrap();
    assert!(
        alerts.lines().count() >= 1,
        "alerts before the cut are lost: {err}"
    );
}

#[test]
fn malformed_calibration_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cal = dir.path().join("cam.toml");
    // The copy lives elsewhere: drop its reference view (a path relative to calibration/).
    let good: String = std::fs::read_to_string(common::root().join("tests/data/vtest-quick.toml"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("reference_"))
        .map(|l| format!("{l}\n"))
        .collect();
    let line = good
        .lines()
        .position(|l| l.starts_with("dwell_seconds"))
        .unwrap()
        + 1;
    std::fs::write(
        &cal,
        good.replacen("dwell_seconds = 3.0", "dwell_seconds = five", 1),
    )
    .unwrap();
    let (ok, _, err) = run(bin().args(["check", &cal.to_string_lossy()]));
    assert!(!ok);
    assert!(
        err.contains(&format!("cam.toml:{line}:")),
        "{err} (expected line {line})"
    );
    // The same through replay, before any model or video is touched.
    let (ok, _, err2) = run(bin().args([
        "replay",
        "none.avi",
        "--calibration",
        &cal.to_string_lossy(),
        "--out",
        &dir.path().join("o").to_string_lossy(),
    ]));
    assert!(!ok && err2.contains(&format!("cam.toml:{line}:")), "{err2}");
    // A semantic error: a zone point outside the frame.
    std::fs::write(&cal, good.replacen("[730, 450]", "[930, 450]", 1)).unwrap();
    let (ok, _, err) = run(bin().args(["check", &cal.to_string_lossy()]));
    assert!(
        !ok && err.contains("field polygon") && err.contains("outside the 768x576 frame"),
        "{err}"
    );
}

#[test]
fn detect_takes_several_inputs_and_writes_the_annotated_type_its_name_says() {
    let dir = tempfile::tempdir().unwrap();
    let img = common::root().join("tests/data/none.png");
    // Two inputs: one JSON line each, naming its source.
    let (ok, out, err) = run(bin().arg("detect").arg(&img).arg(&img));
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines.iter().all(|l| l.contains("none.png")), "{out}");
    // --annotated x.png writes PNG, x.jpg JPEG; another type is refused before any work.
    for (name, magic) in [("a.png", &b"\x89PNG"[..]), ("a.jpg", &b"\xff\xd8\xff"[..])] {
        let path = dir.path().join(name);
        let (ok, _, err) = run(bin().arg("detect").arg(&img).arg("--annotated").arg(&path));
        assert!(ok, "{err}");
        assert!(std::fs::read(&path).unwrap().starts_with(magic), "{name}");
    }
    let gif = dir.path().join("a.gif");
    let (ok, _, err) = run(bin().arg("detect").arg(&img).arg("--annotated").arg(&gif));
    assert!(
        !ok && err.contains("a.gif") && err.contains(".png"),
        "{err}"
    );
    assert!(!gif.exists());
    let (ok, _, err) = run(bin()
        .arg("detect")
        .arg(&img)
        .arg(&img)
        .arg("--annotated")
        .arg(dir.path().join("b.png")));
    assert!(!ok && err.contains("one input"), "{err}");
}

#[test]
fn a_start_time_that_is_not_rfc3339_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        "2026-11-2€T18:00:00+08:00",
        "2026-02-31T10:00:00+08:00",
        "2026-11-27T99:00:00+08:00",
    ] {
        let (ok, _, err) = run(bin()
            .arg("replay")
            .arg(common::sample("vtest.avi"))
            .arg("--calibration")
            .arg(common::root().join("tests/data/vtest-quick.toml"))
            .arg("--out")
            .arg(dir.path().join("out"))
            .args(["--start-time", bad]));
        assert!(
            !ok && err.contains("--start-time") && err.contains(bad),
            "{err}"
        );
    }
}

#[test]
fn a_missing_file_is_named_once_with_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let cal = common::root().join("tests/data/vtest-quick.toml");
    let runs: [Vec<std::ffi::OsString>; 4] = [
        vec![
            "score".into(),
            "--truth".into(),
            missing.join("t.toml").into(),
            dir.path().into(),
        ],
        vec![
            "replay".into(),
            missing.join("v.avi").into(),
            "--calibration".into(),
            cal.into(),
            "--out".into(),
            dir.path().join("out").into(),
        ],
        vec!["verify".into(), missing.clone().into()],
        vec!["detect".into(), missing.join("i.png").into()],
    ];
    for args in runs {
        let (ok, _, err) = run(bin().args(&args));
        let lower = err.to_lowercase();
        assert!(!ok, "{err}");
        assert_eq!(err.matches(&*missing.to_string_lossy()).count(), 1, "{err}");
        assert_eq!(lower.matches("no such file").count(), 1, "{err}");
    }
}

/// A still image under a video's name is refused by its content (FFmpeg would play it as a
/// one-frame video, and replay wrote a one-frame bundle with exit 0).
#[test]
fn an_image_named_like_a_video_is_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("camera-7.avi");
    std::fs::copy(common::root().join("tests/data/none.png"), &fake).unwrap();
    let out = dir.path().join("bundle");
    let (ok, _, err) = run(bin()
        .args([
            "replay",
            &fake.to_string_lossy(),
            "--quiet",
            "--calibration",
        ])
        .arg(common::root().join("calibration/vtest.toml"))
        .arg("--out")
        .arg(&out));
    assert!(!ok);
    assert!(
        err.contains("camera-7.avi") && err.contains("is a PNG image, not a video"),
        "{err}"
    );
}

/// A one-shot command whose output pipe closes early (`check F | head -1`) ends quietly, as a
/// Unix tool does, not with a panic (exit 101).
#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    use std::process::Stdio;
    for _ in 0..3 {
        let mut child = bin()
            .args(["check"])
            .arg(common::root().join("calibration/vtest.toml"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(101), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
