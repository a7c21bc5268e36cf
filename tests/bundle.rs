//! Evidence bundles: they verify, any altered byte is found and named, replays are
//! byte-identical where promised, the report renders in headless Chromium, and bad situations
//! (truncated footage, an existing bundle, Ctrl-C, a full disk) leave a bundle that says so.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bin, run};
use streetwatch::bundle::Manifest;

fn replay(videos: &[&Path], out: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut cmd = bin();
    cmd.current_dir(common::root()).arg("replay");
    for v in videos {
        cmd.arg(v);
    }
    cmd.args([
        "--calibration",
        &calibration_for(videos[0]),
        "--out",
        &out.to_string_lossy(),
        "--quiet",
    ]);
    cmd.args(extra);
    run(&mut cmd)
}

fn calibration_for(video: &Path) -> String {
    let name = video.file_name().unwrap().to_string_lossy();
    // Test fixtures with short timings, so the sample footage raises episodes.
    if name.contains("bikes") {
        "tests/data/bikes-quick.toml"
    } else {
        "tests/data/vtest-quick.toml"
    }
    .into()
}

fn verify(bundle: &Path) -> (i32, String) {
    let out = bin()
        .args(["verify", &bundle.to_string_lossy()])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains("panicked"), "{text}");
    (out.status.code().unwrap_or(-1), text)
}

/// What a forger without the key can do: write a manifest and its sha256 file that agree.
fn forge_manifest(bundle: &Path, m: &serde_json::Value) {
    let json = serde_json::to_string_pretty(m).unwrap() + "\n";
    std::fs::write(bundle.join("manifest.json"), &json).unwrap();
    let sha = streetwatch::digest::sha256_bytes(json.as_bytes());
    std::fs::write(
        bundle.join("manifest.json.sha256"),
        format!("{sha}  manifest.json\n"),
    )
    .unwrap();
}

fn files(bundle: &Path) -> Vec<String> {
    streetwatch::bundle::list_files(bundle).unwrap()
}

/// A vtest bundle of the first 25 s (one episode, with clip and snapshots), made once.
fn vtest_bundle(dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    let (ok, _, err) = replay(
        &[&common::sample("vtest.avi")],
        &out,
        &["--max-frames", "250"],
    );
    assert!(ok, "{err}");
    out
}

#[test]
fn bundle_verifies_and_every_flipped_byte_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let b = vtest_bundle(dir.path(), "b");
    let (code, text) = verify(&b);
    assert_eq!(code, 0, "{text}");
    let all = files(&b);
    for needed in [
        "manifest.json",
        "manifest.json.sha256",
        "alerts.jsonl",
        "report.html",
    ] {
        assert!(all.iter().any(|f| f == needed), "{needed} missing: {all:?}");
    }
    assert!(
        all.iter()
            .any(|f| f.starts_with("clips/") && f.ends_with(".webm")),
        "{all:?}"
    );
    assert!(
        all.iter().any(|f| f.ends_with("-start.png"))
            && all.iter().any(|f| f.ends_with("-end.annotated.jpg")),
        "{all:?}"
    );
    let m = Manifest::load(&b).unwrap();
    // One episode: its start, its end and any updates (count changes) between them.
    assert!(m.complete && m.episodes == 1 && m.alerts >= 2, "{m:?}");
    assert_eq!(
        m.source.as_ref().unwrap().sha256,
        streetwatch::digest::sha256_file(&common::sample("vtest.avi")).unwrap()
    );
    for f in &all {
        let p = b.join(f);
        let mut bytes = std::fs::read(&p).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(&p, &bytes).unwrap();
        let (code, text) = verify(&b);
        assert_eq!(code, 1, "flipping a byte of {f} went unnoticed: {text}");
        assert!(
            text.contains(f.as_str()),
            "verify does not name {f}: {text}"
        );
        bytes[at] ^= 0x01;
        std::fs::write(&p, &bytes).unwrap();
    }
    assert_eq!(verify(&b).0, 0);
    // A missing file and an extra file are named too.
    let clip = all.iter().find(|f| f.starts_with("clips/")).unwrap();
    let saved = std::fs::read(b.join(clip)).unwrap();
    std::fs::remove_file(b.join(clip)).unwrap();
    let (code, text) = verify(&b);
    assert!(
        code == 1 && text.contains(&format!("missing file {clip}")),
        "{text}"
    );
    std::fs::write(b.join(clip), saved).unwrap();
    std::fs::write(b.join("snapshots/extra.jpg"), b"x").unwrap();
    let (code, text) = verify(&b);
    assert!(
        code == 1 && text.contains("extra file snapshots/extra.jpg"),
        "{text}"
    );
    std::fs::remove_file(b.join("snapshots/extra.jpg")).unwrap();
    assert_eq!(verify(&b).0, 0);
    // A forger who rewrites the manifest and its hash can point it outside the bundle (verify
    // then read /etc/hostname and said "intact") or swap a file for a link: both refused.
    let text = std::fs::read_to_string(b.join("manifest.json")).unwrap();
    let forge = |m: &serde_json::Value| forge_manifest(&b, m);
    let outside = dir.path().join("outside.txt");
    std::fs::write(&outside, b"outside").unwrap();
    let sha = streetwatch::digest::sha256_file(&outside).unwrap();
    for rel in ["../outside.txt", outside.to_str().unwrap()] {
        let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
        m["files"][rel] = serde_json::json!({"sha256": sha, "size": 7});
        forge(&m);
        let (code, out) = verify(&b);
        assert!(
            code == 1 && out.contains("outside the bundle"),
            "{rel}: {out}"
        );
    }
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    forge(&m);
    assert_eq!(verify(&b).0, 0);
    let copy = dir.path().join("alerts-copy.jsonl");
    std::fs::rename(b.join("alerts.jsonl"), &copy).unwrap();
    std::os::unix::fs::symlink(&copy, b.join("alerts.jsonl")).unwrap();
    let (code, out) = verify(&b);
    assert!(code == 1 && out.contains("alerts.jsonl is a link"), "{out}");
}

#[test]
fn two_replays_are_byte_identical_but_for_the_run_field() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (vtest_bundle(dir.path(), "a"), vtest_bundle(dir.path(), "b"));
    assert_eq!(
        std::fs::read(a.join("alerts.jsonl")).unwrap(),
        std::fs::read(b.join("alerts.jsonl")).unwrap()
    );
    assert_eq!(files(&a), files(&b));
    let (ma, mb) = (Manifest::load(&a).unwrap(), Manifest::load(&b).unwrap());
    assert_ne!(ma.run, mb.run, "each run has its own id");
    let strip = |p: &Path| {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(p.join("manifest.json")).unwrap())
                .unwrap();
        v.as_object_mut().unwrap().remove("run");
        serde_json::to_string_pretty(&v).unwrap()
    };
    assert_eq!(strip(&a), strip(&b));
    // The manifest's hashes cover every file, so identical manifests mean identical files.
    assert_eq!(ma.files, mb.files);
}

/// Frame-level parallelism (`--workers 2`, each session on other frames) puts the frames back in
/// order before tracking: the alerts are byte for byte those of one session (both with one
/// inference thread, so each frame's numbers are computed the same way).
#[test]
fn two_inference_sessions_give_the_alerts_of_one() {
    let dir = tempfile::tempdir().unwrap();
    let vtest = common::sample("vtest.avi");
    let alerts = |workers: &str| {
        let out = dir.path().join(format!("w{workers}"));
        let (ok, _, err) = replay(
            &[&vtest],
            &out,
            &[
                "--threads",
                "1",
                "--workers",
                workers,
                "--max-frames",
                "400",
            ],
        );
        assert!(ok, "{err}");
        std::fs::read(out.join("alerts.jsonl")).unwrap()
    };
    let (one, two) = (alerts("1"), alerts("2"));
    assert!(!one.is_empty(), "no alert in the first 400 frames");
    assert_eq!(one, two, "the alerts depend on the number of sessions");
}

#[test]
fn report_renders_in_headless_chromium_with_its_episodes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("full");
    let (ok, _, err) = replay(
        &[&common::sample("vtest.avi")],
        &out,
        &["--start-time", "2026-11-27T10:00:00+08:00"],
    );
    assert!(ok, "{err}");
    let report = out.join("report.html");
    let url = format!("file://{}", report.display());
    let chromium = |extra: &[String]| {
        let profile = tempfile::tempdir().unwrap();
        let o = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
            ])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(&url)
            .output()
            .expect("chromium (scripts/setup.sh --test installs it)");
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let (ok, dom) = chromium(&["--dump-dom".into()]);
    assert!(ok, "chromium failed");
    let expected = Manifest::load(&out).unwrap().episodes;
    assert_eq!(expected, 2);
    assert_eq!(
        dom.matches("<section class=\"episode\"").count(),
        expected,
        "{dom}"
    );
    assert_eq!(dom.matches("class=\"bar ").count(), expected);
    assert!(dom.contains("街面秩序/无照经营游商") && dom.contains("2026-11-27T10:00:"));
    let shot = dir.path().join("report.png");
    let (ok, _) = chromium(&[
        "--window-size=1200,2400".into(),
        format!("--screenshot={}", shot.display()),
    ]);
    assert!(ok);
    let png = opencv::imgcodecs::imread(&shot, opencv::imgcodecs::IMREAD_COLOR).unwrap();
    use opencv::prelude::*;
    assert_eq!((png.cols(), png.rows()), (1200, 2400));
    // The snapshots rendered: a blank page would be near-uniform.
    let mut mean = opencv::core::Scalar::default();
    let mut std = opencv::core::Scalar::default();
    opencv::core::mean_std_dev(&png, &mut mean, &mut std, &opencv::core::no_array()).unwrap();
    assert!(std[0] > 30.0, "the screenshot looks blank (std {std:?})");
    if let Some(keep) = std::env::var_os("STREETWATCH_KEEP_REPORT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}

#[test]
fn truncated_footage_gives_a_bundle_that_says_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("vtest-cut.avi");
    common::copy_truncated(&common::sample("vtest.avi"), &clip, 0.4);
    let out = dir.path().join("cut");
    let (ok, _, err) = replay(&[&clip], &out, &[]);
    assert!(
        !ok && err.contains("truncated") && err.contains("covers what was readable"),
        "{err}"
    );
    let (code, text) = verify(&out);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("truncated"), "{text}");
    let m = Manifest::load(&out).unwrap();
    let s = m.source.unwrap();
    assert!(
        s.truncated && s.frames_decoded < s.frames_announced && s.frames_announced == 795,
        "{s:?}"
    );
    assert!(s.duration_s > 20.0 && s.duration_s < 40.0, "{s:?}");
    assert!(std::fs::read_to_string(out.join("report.html"))
        .unwrap()
        .contains("The source is truncated"));
}

#[test]
fn existing_bundle_is_refused_unless_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let bikes = common::sample("bikes.mp4");
    let out = dir.path().join("b");
    assert!(replay(&[&bikes], &out, &[]).0);
    let before = std::fs::read(out.join("manifest.json")).unwrap();
    let (ok, _, err) = replay(&[&bikes], &out, &[]);
    assert!(!ok && err.contains("already holds a bundle"), "{err}");
    assert_eq!(
        std::fs::read(out.join("manifest.json")).unwrap(),
        before,
        "the refused run touched the bundle"
    );
    let (ok, _, err) = replay(&[&bikes], &out, &["--overwrite"]);
    assert!(ok, "{err}");
    assert_eq!(verify(&out).0, 0);
}

#[test]
fn several_files_and_a_folder_make_one_bundle_each() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("bikes-inbox");
    std::fs::create_dir(&inbox).unwrap();
    for name in ["bikes-a.mp4", "bikes-b.mp4"] {
        std::fs::copy(common::sample("bikes.mp4"), inbox.join(name)).unwrap();
    }
    std::fs::write(inbox.join("notes.txt"), "not a video").unwrap();
    let out = dir.path().join("out");
    let (ok, stdout, err) = replay(&[&inbox], &out, &[]);
    assert!(ok, "{err}");
    for stem in ["bikes-a", "bikes-b"] {
        assert_eq!(verify(&out.join(stem)).0, 0, "{stem}");
    }
    assert_eq!(stdout.matches("START").count(), 2);
}

#[test]
fn ctrl_c_leaves_a_bundle_that_verify_reports_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    let mut child = bin()
        .current_dir(common::root())
        .args([
            "replay",
            &common::sample("vtest.avi").to_string_lossy(),
            "--calibration",
            "tests/data/vtest-quick.toml",
        ])
        .args(["--out", &out.to_string_lossy(), "--quiet"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it is well into the footage (the first episode's files exist), then Ctrl-C.
    let t0 = std::time::Instant::now();
    while !streetwatch::bundle::list_files(&out)
        .unwrap_or_default()
        .iter()
        .any(|f| f.ends_with("-start.png"))
    {
        assert!(t0.elapsed().as_secs() < 120, "no episode started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!status.success(), "an interrupted replay must not exit 0");
    assert!(err.contains("interrupted"), "{err}");
    let (code, text) = verify(&out);
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains("INCOMPLETE") && text.contains("interrupted"),
        "{text}"
    );
}

/// A 3 MB tmpfs: the replay runs out of space midway.
#[test]
fn full_disk_stops_with_a_clear_error_and_an_incomplete_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("disk");
    let _disk = common::SmallDisk::mount(&mnt, 3);
    let out = mnt.join("b");
    let (ok, _, err) = replay(&[&common::sample("vtest.avi")], &out, &[]);
    assert!(!ok, "a full disk must fail the replay");
    assert!(
        err.contains("No space left on device")
            || err.contains("could not write")
            || err.contains("cannot write"),
        "{err}"
    );
    assert!(
        err.contains(&out.to_string_lossy().to_string()),
        "the error names no file: {err}"
    );
    let (code, text) = verify(&out);
    assert_eq!(code, 3, "{text}");
}

#[test]
fn blurred_bundle_withholds_originals_but_keeps_their_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("shared");
    let (ok, _, err) = replay(
        &[&common::sample("vtest.avi")],
        &out,
        &["--max-frames", "250", "--blur", "persons"],
    );
    assert!(ok, "{err}");
    assert_eq!(verify(&out).0, 0);
    let all = files(&out);
    assert!(
        !all.iter().any(|f| f.ends_with(".png")),
        "originals must not be shared: {all:?}"
    );
    let m = Manifest::load(&out).unwrap();
    assert_eq!(m.withheld_originals.len(), m.alerts, "{m:?}");
    assert_eq!(m.settings.blur, "persons");
    // The withheld hashes are those of the unblurred bundle's originals.
    let plain = vtest_bundle(dir.path(), "plain");
    let pm = Manifest::load(&plain).unwrap();
    for (name, sha) in &m.withheld_originals {
        let same_phase = pm
            .files
            .iter()
            .find(|(f, _)| f.ends_with(".png") && f.rsplit('-').next() == name.rsplit('-').next())
            .unwrap();
        assert_eq!(&same_phase.1.sha256, sha, "{name}");
    }
}

#[test]
fn verify_exit_codes_do_not_collide_with_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    // Not a bundle: 4 (2 is clap's usage error).
    let (code, _) = verify(dir.path());
    assert_eq!(code, 4);
    let usage = bin().args(["verify", "a", "b"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

/// A bundle signed with the box's key verifies with its public key only; a forger who edits a
/// file and recomputes the manifest's hashes passes the hash checks but not the signature.
/// (Before: `verify` said "intact" for a bundle whose alert was edited and whose manifest hash
/// was recomputed.)
#[test]
fn signed_bundles_verify_with_their_key_and_catch_a_consistent_forgery() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let keygen = |out: &Path| run(bin().args(["keygen", "--out"]).arg(out));
    let (ok, _, err) = keygen(&keys);
    assert!(ok, "{err}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(keys.join("bundle.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let (ok, _, err) = keygen(&keys);
    assert!(
        !ok && err.contains("bundle.key"),
        "keygen replaced a key: {err}"
    );
    let b = dir.path().join("signed");
    let key = keys.join("bundle.key");
    let (ok, _, err) = replay(
        &[&common::sample("vtest.avi")],
        &b,
        &["--max-frames", "30", "--sign-key", &key.to_string_lossy()],
    );
    assert!(ok, "{err}");
    let with_key = |bundle: &Path, public: &Path| {
        let out = bin()
            .args(["verify", &bundle.to_string_lossy(), "--key"])
            .arg(public)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap_or(-1), text)
    };
    let public = keys.join("bundle.pub");
    let (code, text) = with_key(&b, &public);
    assert!(
        code == 0 && text.contains("signed by the given key"),
        "{text}"
    );
    let (code, text) = verify(&b);
    assert!(code == 0 && text.contains("not checked"), "{text}");
    // Another box's key.
    let other = dir.path().join("other");
    assert!(keygen(&other).0);
    let (code, text) = with_key(&b, &other.join("bundle.pub"));
    assert!(code == 1 && text.contains("does not match"), "{text}");
    // A consistent forgery: report.html edited, its hash, the manifest and the manifest's hash
    // recomputed.
    let report = b.join("report.html");
    let forged = std::fs::read_to_string(&report)
        .unwrap()
        .replacen("<", "< ", 1);
    std::fs::write(&report, &forged).unwrap();
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("manifest.json")).unwrap()).unwrap();
    m["files"]["report.html"]["sha256"] =
        streetwatch::digest::sha256_bytes(forged.as_bytes()).into();
    m["files"]["report.html"]["size"] = forged.len().into();
    forge_manifest(&b, &m);
    assert_eq!(verify(&b).0, 0, "the forgery passes the hash checks");
    let (code, text) = with_key(&b, &public);
    assert!(code == 1 && text.contains("does not match"), "{text}");
    // An unsigned bundle with a key given.
    let plain = dir.path().join("plain");
    assert!(
        replay(
            &[&common::sample("vtest.avi")],
            &plain,
            &["--max-frames", "30"]
        )
        .0
    );
    let (code, text) = with_key(&plain, &public);
    assert!(code == 1 && text.contains("not signed"), "{text}");
}
