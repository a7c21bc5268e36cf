//! The live service against real parts on loopback: Mosquitto brokers and GStreamer RTSP servers
//! that each test starts (and stops when it ends), serving the sample footage.

mod common;

use common::services::{free_port, Broker, Proc, Rtsp};
use common::wait_for;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The live tests run one at a time: each starts its own service with inference threads, and
/// the timings they check mean nothing on an overloaded machine.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The parked-bicycle shot of bikes.mp4 (frames 185-249) played forwards and backwards for about
/// 50 s: the bike stays in view while people walk past, with no cut (the sample itself is a
/// 10 s montage whose bike shot lasts 2.6 s).
fn pingpong_bikes(dir: &Path) -> PathBuf {
    use opencv::prelude::*;
    let out = dir.join("bikes-parked.avi");
    if out.is_file() {
        return out;
    }
    let mut v = streetwatch::source::VideoFile::open(&common::sample("bikes.mp4")).unwrap();
    let mut shot = Vec::new();
    while let Some(f) = v.read().unwrap() {
        if f.index >= 185 {
            shot.push(f.image);
        }
    }
    let fourcc = opencv::videoio::VideoWriter::fourcc('M', 'J', 'P', 'G').unwrap();
    let mut w = opencv::videoio::VideoWriter::new(
        &out,
        fourcc,
        25.0,
        opencv::core::Size::new(640, 272),
        true,
    )
    .unwrap();
    for cycle in 0..10 {
        let frames: Vec<&opencv::core::Mat> = if cycle % 2 == 0 {
            shot.iter().collect()
        } else {
            shot.iter().rev().collect()
        };
        for f in frames {
            w.write(f).unwrap();
        }
    }
    w.release().unwrap();
    out
}

/// An RTSP server serving "vtest" (the sample) and/or "bikes" (the parked-bike loop).
fn rtsp_samples(streams: &[&str], dir: &Path) -> Rtsp {
    let files: Vec<(&str, PathBuf)> = streams
        .iter()
        .map(|s| {
            (
                *s,
                if *s == "vtest" {
                    common::sample("vtest.avi")
                } else {
                    pingpong_bikes(dir)
                },
            )
        })
        .collect();
    Rtsp::start_files(&common::root(), &files)
}

/// Writes a service configuration; `cameras` are (id, url, calibration name): the test
/// fixtures `tests/data/NAME-quick.toml`, with short timings so real footage raises alerts.
fn config(
    dir: &Path,
    broker_port: u16,
    cameras: &[(&str, String, &str)],
    extra_mqtt: &str,
) -> PathBuf {
    let mut c = format!(
        "site = \"test\"\nhealth_interval_s = 2\nmetrics = \"127.0.0.1:{}\"\n\n[mqtt]\nhost = \"127.0.0.1\"\nport = {broker_port}\nclient_id = \"sw-{}\"\n{extra_mqtt}\n[storage]\ndir = \"{}\"\n",
        free_port(),
        broker_port,
        dir.join("storage").display()
    );
    for (id, url, cal) in cameras {
        c.push_str(&format!(
            "\n[[cameras]]\nid = \"{id}\"\nurl = \"{url}\"\ncalibration = \"{}\"\ndetect_fps = 5\n",
            common::root()
                .join("tests/data")
                .join(format!("{cal}-quick.toml"))
                .display()
        ));
    }
    let p = dir.join("service.toml");
    std::fs::write(&p, c).unwrap();
    p
}

fn service(cfg: &Path, log: &Path) -> Proc {
    let log = std::fs::File::create(log).unwrap();
    Proc(Some(
        common::bin()
            .args(["run", "--config", &cfg.to_string_lossy()])
            .env("STREETWATCH_LOG", "info,ort=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    ))
}

fn subscriber(port: u16, save: &Path, out: &Path) -> Proc {
    let out = std::fs::File::create(out).unwrap();
    Proc(Some(
        common::bin()
            .args([
                "subscribe",
                "--port",
                &port.to_string(),
                "--client-id",
                "test-sub",
                "--save",
                &save.to_string_lossy(),
            ])
            .stdout(out)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ))
}

/// Alert ids the service raised (its alert log), and ids the subscriber received.
fn raised(storage: &Path) -> Vec<String> {
    std::fs::read_to_string(storage.join("alerts.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect()
}

/// The alerts of the service's log (all runs on one storage folder).
fn logged(storage: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(storage.join("alerts.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .collect()
}

/// Episodes started and not ended in the alert log.
fn open_episodes(storage: &Path) -> BTreeSet<String> {
    let mut open = BTreeSet::new();
    for a in logged(storage) {
        let id = a["episode_id"].as_str().unwrap_or_default().to_string();
        match a["phase"].as_str() {
            Some("start") => open.insert(id),
            Some("end") => open.remove(&id),
            _ => false,
        };
    }
    open
}

/// Waits until every episode of `open` (open when a run stopped) is followed after the restart:
/// an update with reason `resumed` or an end with reason `not_seen_after_restart` (or
/// `reconfigured`, when its camera was taken out of the configuration), logged and
/// received by the subscriber. Returns how many were resumed and how many ended.
/// Only alerts logged after the stop count: the first `at_stop` lines of the log are the
/// stopped run's (an episode open at the stop may have had updates before it).
fn followed_after_restart(
    storage: &Path,
    save: &Path,
    open: &BTreeSet<String>,
    at_stop: usize,
) -> (usize, usize) {
    let mut counts = (0, 0);
    wait_for(
        "every episode open at the stop resumed or ended",
        90,
        || {
            let got = received(save);
            let mut followed = BTreeSet::new();
            counts = (0, 0);
            for a in logged(storage).into_iter().skip(at_stop) {
                let ep = a["episode_id"].as_str().unwrap_or_default().to_string();
                let id = a["id"].as_str().unwrap_or_default();
                if !open.contains(&ep) || !got.contains(id) {
                    continue;
                }
                match (a["phase"].as_str(), a["reason"].as_str()) {
                    (Some("update"), Some("resumed")) => {
                        counts.0 += 1;
                        followed.insert(ep);
                    }
                    // Not confirmed again, or its camera or zone is gone from the configuration.
                    (Some("end"), Some("not_seen_after_restart" | "reconfigured")) => {
                        counts.1 += 1;
                        followed.insert(ep);
                    }
                    (Some("end"), Some("cleared")) if followed.contains(&ep) => {}
                    (Some("start"), _) => {}
                    (phase, reason) => {
                        panic!("after the restart, episode {ep} got {phase:?} {reason:?}")
                    }
                }
            }
            followed == *open
        },
    );
    counts
}

fn received(save: &Path) -> BTreeSet<String> {
    std::fs::read_dir(save)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .filter(|n| n.ends_with(".json"))
                        .map(|n| n.trim_end_matches(".json").to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn note(line: &str) {
    // Figures for the issue note, shown with --nocapture.
    eprintln!("[live] {line}");
    let _ = std::io::stderr().flush();
}

/// The common set-up of the one-camera tests: a broker, vtest served by its own RTSP server, a
/// subscriber saving into `received/` (output in `sub.out`), and the service's configuration for
/// them (the service is not started).
struct OneCamera {
    broker: Broker,
    _rtsp: Rtsp,
    _sub: Proc,
    save: PathBuf,
    cfg: PathBuf,
}

fn one_camera(dir: &Path) -> OneCamera {
    let broker = Broker::start(&dir.join("broker"), None);
    let rtsp = rtsp_samples(&["vtest"], dir);
    let save = dir.join("received");
    let sub = subscriber(broker.port, &save, &dir.join("sub.out"));
    let cfg = config(
        dir,
        broker.port,
        &[("vtest", rtsp.url("vtest"), "vtest")],
        "",
    );
    OneCamera {
        broker,
        _rtsp: rtsp,
        _sub: sub,
        save,
        cfg,
    }
}

#[test]
fn two_rtsp_cameras_deliver_alerts_and_health() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(&dir.path().join("broker"), None);
    let rtsp = rtsp_samples(&["vtest", "bikes"], dir.path());
    let save = dir.path().join("received");
    let _sub = subscriber(broker.port, &save, &dir.path().join("sub.out"));
    let cfg = config(
        dir.path(),
        broker.port,
        &[
            ("vtest", rtsp.url("vtest"), "vtest"),
            ("bikes", rtsp.url("bikes"), "bikes"),
        ],
        "",
    );
    // The box signs its alerts with its own key.
    let keys = dir.path().join("keys");
    keygen(&keys);
    sign_with(&cfg, &keys.join("bundle.key"));
    let mut svc = service(&cfg, &dir.path().join("service.log"));
    let storage = dir.path().join("storage");
    wait_for("alerts from both cameras at the subscriber", 90, || {
        let got = received(&save);
        let cams: BTreeSet<String> = got
            .iter()
            .filter_map(|id| std::fs::read_to_string(save.join(format!("{id}.json"))).ok())
            .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .filter_map(|v| v["camera_id"].as_str().map(str::to_string))
            .collect();
        cams.contains("vtest") && cams.contains("bikes")
    });
    assert!(svc.alive());
    // Each alert's annotated snapshot arrived too (published on its own topic, through the outbox).
    for id in received(&save) {
        let jpg = save.join(format!("{id}.jpg"));
        wait_for("the snapshot of every alert", 10, || jpg.is_file());
        assert!(std::fs::metadata(&jpg).unwrap().len() > 10_000);
    }
    signed_alerts_verify_and_forgeries_do_not(&save, &storage, &keys);
    let sub_out = std::fs::read_to_string(dir.path().join("sub.out")).unwrap();
    assert!(
        sub_out.contains("streetwatch/test/vtest/status") && sub_out.contains("\"online\""),
        "{sub_out}"
    );
    assert!(
        sub_out.contains("streetwatch/test/status"),
        "service status missing: {sub_out}"
    );
    let log = std::fs::read_to_string(dir.path().join("service.log")).unwrap();
    assert!(!log.contains("panicked"), "{log}");
    note(&format!(
        "raised {} alerts, received {}",
        raised(&storage).len(),
        received(&save).len()
    ));
    // The metrics endpoint answers with per-camera figures.
    let metrics_addr = std::fs::read_to_string(&cfg)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("metrics"))
        .unwrap()
        .split('"')
        .nth(1)
        .unwrap()
        .to_string();
    let body = http_get(&metrics_addr, "/metrics");
    assert!(
        body.contains("streetwatch_frames_analysed_total{camera=\"vtest\"}")
            && body.contains("streetwatch_outbox_depth"),
        "{body}"
    );
    assert!(http_get(&metrics_addr, "/healthz").contains("ok"));
    for l in body.lines().filter(|l| {
        l.starts_with("streetwatch_lag_seconds")
            || l.starts_with("streetwatch_analysed_fps")
            || l.starts_with("streetwatch_frames_dropped")
    }) {
        note(l);
    }
    // SIGTERM: the service stops capture, flushes, publishes its retained offline status and exits 0.
    let child = svc.0.as_mut().unwrap();
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "the service did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    svc.0 = None;
    assert!(status.success(), "{status:?}");
    note(&format!(
        "SIGTERM: stopped in {:.1} s",
        t0.elapsed().as_secs_f64()
    ));
    wait_for("the retained offline status", 10, || {
        std::fs::read_to_string(dir.path().join("sub.out"))
            .unwrap_or_default()
            .lines()
            .any(|l| {
                l.starts_with("streetwatch/test/status")
                    && l.contains("\"offline\"")
                    && l.contains("shutdown")
            })
    });
    assert_eq!(
        std::fs::read_dir(storage.join("outbox")).unwrap().count(),
        0,
        "the outbox was flushed"
    );
    // Episodes open at the SIGTERM are followed by the next run: resumed when seen again,
    // ended otherwise (here the camera of one of them is taken out of the configuration, so
    // its episodes end at once); none is left open, none is started twice.
    let open = open_episodes(&storage);
    let gone = logged(&storage)
        .iter()
        .find(|a| open.contains(a["episode_id"].as_str().unwrap_or_default()))
        .map(|a| a["camera_id"].as_str().unwrap_or_default().to_string())
        .expect("an episode was open at the stop");
    let kept = if gone == "vtest" { "bikes" } else { "vtest" };
    let cfg = config(dir.path(), broker.port, &[(kept, rtsp.url(kept), kept)], "");
    let at_stop = logged(&storage).len();
    let _svc2 = service(&cfg, &dir.path().join("service2.log"));
    let (resumed, ended) = followed_after_restart(&storage, &save, &open, at_stop);
    assert!(ended >= 1, "the {gone} camera's episode ended");
    assert!(
        logged(&storage)
            .iter()
            .skip(at_stop)
            .any(|a| a["camera_id"] == gone.as_str()
                && a["phase"] == "end"
                && a["reason"] == "reconfigured"),
        "the {gone} camera's episode did not end as reconfigured"
    );
    note(&format!(
        "SIGTERM: {} episodes open at the stop; after the restart without the {gone} camera {resumed} resumed, {ended} ended",
        open.len()
    ));
    // Checked last, so that the wait for clips does not change what is open at the stop (clips
    // of episodes open at a SIGTERM are cut short and sent before the service exits).
    clips_arrive_and_play(&save);
}

/// Every episode started has its clip at the subscriber: WebM that OpenCV (FFmpeg) decodes,
/// scaled to the default 640 px width, holding up to the default 3 s before its start and 7 s
/// after at the camera's 5 analysed frames/s (at least one clip most of that). Not covered: how
/// a browser plays it (the console's browser test plays one).
fn clips_arrive_and_play(save: &Path) {
    use opencv::prelude::*;
    let starts: Vec<String> = received(save)
        .into_iter()
        .filter(|id| {
            std::fs::read_to_string(save.join(format!("{id}.json")))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .is_some_and(|v| v["phase"] == "start")
        })
        .collect();
    assert!(!starts.is_empty(), "no episode started");
    let mut longest = 0;
    for id in &starts {
        let webm = save.join(format!("{id}.webm"));
        wait_for("the clip of every episode started", 40, || webm.is_file());
        std::thread::sleep(Duration::from_millis(200));
        let bytes = std::fs::read(&webm).unwrap();
        assert!(
            bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]),
            "{id}: not WebM"
        );
        let mut cap =
            opencv::videoio::VideoCapture::from_file(&webm, opencv::videoio::CAP_FFMPEG).unwrap();
        let (mut n, mut f, mut width) = (0, opencv::core::Mat::default(), 0);
        while cap.read(&mut f).unwrap_or(false) && !f.empty() {
            width = f.cols();
            n += 1;
        }
        assert!(width > 0 && width <= 640, "{id}: width {width}");
        // 10 s at 5 frames/s is 51 frames; a start within the first 3 s of the stream, or a
        // clip cut short by the SIGTERM, gives fewer.
        assert!((5..=60).contains(&n), "{id}: {n} frames");
        longest = longest.max(n);
        note(&format!(
            "clip {id}: {n} frames, {} KiB, {width} px wide",
            bytes.len() / 1024
        ));
    }
    assert!(
        longest >= 30,
        "no clip holds the seconds around its start: at most {longest} frames"
    );
}

/// A key pair (`bundle.key`, `bundle.pub`) in `dir`.
fn keygen(dir: &Path) {
    assert!(common::bin()
        .args(["keygen", "--out"])
        .arg(dir)
        .status()
        .unwrap()
        .success());
}

/// Adds `sign_key` to a service configuration's `[storage]`.
fn sign_with(cfg: &Path, key: &Path) {
    let text = std::fs::read_to_string(cfg).unwrap().replace(
        "[storage]\n",
        &format!("[storage]\nsign_key = \"{}\"\n", key.display()),
    );
    std::fs::write(cfg, text).unwrap();
}

/// `streetwatch verify --key` on saved alerts: each received alert (with its snapshot beside
/// it) and the service's alert log verify; an alert with one number changed, an alert whose
/// snapshot was replaced, and the right alert under another box's key do not (exit 1).
fn signed_alerts_verify_and_forgeries_do_not(save: &Path, storage: &Path, keys: &Path) {
    let verify = |file: &Path, key: &Path| {
        let out = common::bin()
            .args(["verify", "--key"])
            .arg(key)
            .arg(file)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let public = keys.join("bundle.pub");
    let ids: Vec<String> = received(save).into_iter().collect();
    for id in &ids {
        let (code, out) = verify(&save.join(format!("{id}.json")), &public);
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("1 snapshot(s)"), "{out}");
    }
    let (code, out) = verify(&storage.join("alerts.jsonl"), &public);
    assert_eq!(code, Some(0), "{out}");
    // Forgeries, made in a folder of their own.
    let forged = save.parent().unwrap().join("forged");
    std::fs::create_dir_all(&forged).unwrap();
    let id = &ids[0];
    let text = std::fs::read_to_string(save.join(format!("{id}.json"))).unwrap();
    let edited = text.replacen("\"confidence\":0.", "\"confidence\":1.", 1);
    assert_ne!(edited, text);
    std::fs::write(forged.join(format!("{id}.json")), edited).unwrap();
    let (code, out) = verify(&forged.join(format!("{id}.json")), &public);
    assert_eq!(code, Some(1), "an edited alert: {out}");
    std::fs::write(forged.join(format!("{id}.json")), &text).unwrap();
    std::fs::write(
        forged.join(format!("{id}.jpg")),
        b"\xFF\xD8 another image \xFF\xD9",
    )
    .unwrap();
    let (code, out) = verify(&forged.join(format!("{id}.json")), &public);
    assert_eq!(code, Some(1), "a replaced snapshot: {out}");
    let other = forged.join("other-box");
    keygen(&other);
    let (code, out) = verify(&save.join(format!("{id}.json")), &other.join("bundle.pub"));
    assert_eq!(code, Some(1), "another box's key: {out}");
    note(&format!(
        "signed alerts: {} received alerts and the alert log verify; an edited alert, a replaced snapshot and another key fail",
        ids.len()
    ));
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn broker_outage_loses_no_alert() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let OneCamera {
        mut broker,
        _rtsp,
        _sub,
        save,
        cfg,
    } = one_camera(dir.path());
    let _svc = service(&cfg, &dir.path().join("service.log"));
    let storage = dir.path().join("storage");
    std::thread::sleep(Duration::from_secs(3));
    broker.stop();
    // The first vtest episode starts about 10 s into the stream and ends about 20 s in.
    wait_for("two alerts raised during the outage", 90, || {
        raised(&storage).len() >= 2
    });
    let during = raised(&storage);
    let outbox_depth = std::fs::read_dir(storage.join("outbox")).unwrap().count();
    assert!(
        outbox_depth >= 2,
        "the alerts wait in the outbox while the broker is down ({outbox_depth})"
    );
    broker.restart();
    wait_for(
        "every alert raised during the outage at the subscriber",
        60,
        || during.iter().all(|id| received(&save).contains(id)),
    );
    wait_for("an empty outbox", 30, || {
        std::fs::read_dir(storage.join("outbox")).unwrap().count() == 0
    });
    note(&format!(
        "broker outage: {} alerts raised while down, {} received after restart",
        during.len(),
        during
            .iter()
            .filter(|id| received(&save).contains(*id))
            .count()
    ));
}

#[test]
fn killed_service_resends_unacknowledged_alerts_after_restart() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let OneCamera {
        mut broker,
        _rtsp,
        _sub,
        save,
        cfg,
    } = one_camera(dir.path());
    std::thread::sleep(Duration::from_secs(1));
    broker.stop();
    let storage = dir.path().join("storage");
    let mut svc = service(&cfg, &dir.path().join("service.log"));
    wait_for("an alert in the outbox", 90, || {
        !raised(&storage).is_empty()
    });
    let before_kill = raised(&storage);
    let open = open_episodes(&storage);
    // kill -9: no shutdown, no flush.
    let child = svc.0.as_mut().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    svc.0 = None;
    broker.restart();
    let at_stop = logged(&storage).len();
    let _svc2 = service(&cfg, &dir.path().join("service2.log"));
    let t0 = Instant::now();
    while !before_kill.iter().all(|id| received(&save).contains(id)) {
        if t0.elapsed() > Duration::from_secs(60) {
            for f in ["service2.log", "sub.out", "broker/mosquitto.log"] {
                eprintln!(
                    "--- {f}\n{}",
                    std::fs::read_to_string(dir.path().join(f)).unwrap_or_default()
                );
            }
            panic!("the alerts of the killed run {before_kill:?} did not reach the subscriber (got {:?})", received(&save));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    note(&format!(
        "kill -9: {} alerts unacknowledged at the kill, {} received after restart",
        before_kill.len(),
        before_kill
            .iter()
            .filter(|id| received(&save).contains(*id))
            .count()
    ));
    assert!(!open.is_empty(), "an episode was open at the kill");
    let (resumed, ended) = followed_after_restart(&storage, &save, &open, at_stop);
    note(&format!(
        "kill -9: {} episodes open at the kill; after the restart {resumed} resumed, {ended} ended",
        open.len()
    ));
}

#[test]
fn rtsp_restart_takes_one_camera_offline_and_back() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(&dir.path().join("broker"), None);
    let mut rtsp_a = rtsp_samples(&["vtest"], dir.path());
    let rtsp_b = rtsp_samples(&["bikes"], dir.path());
    let save = dir.path().join("received");
    let sub_out = dir.path().join("sub.out");
    let _sub = subscriber(broker.port, &save, &sub_out);
    let cfg = config(
        dir.path(),
        broker.port,
        &[
            ("vtest", rtsp_a.url("vtest"), "vtest"),
            ("bikes", rtsp_b.url("bikes"), "bikes"),
        ],
        "",
    );
    let _svc = service(&cfg, &dir.path().join("service.log"));
    let status = |cam: &str, state: &str| {
        std::fs::read_to_string(&sub_out)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.starts_with(&format!("streetwatch/test/{cam}/status"))
                    && l.contains(&format!("\"state\":\"{state}\""))
            })
            .count()
    };
    wait_for("both cameras online", 30, || {
        status("vtest", "online") >= 1 && status("bikes", "online") >= 1
    });
    rtsp_a.stop();
    wait_for("vtest offline", 30, || status("vtest", "offline") >= 1);
    std::thread::sleep(Duration::from_secs(2));
    let t0 = Instant::now();
    rtsp_a.restart();
    wait_for("vtest back online", 30, || status("vtest", "online") >= 2);
    note(&format!(
        "RTSP restart: capture resumed {:.1} s after the stream returned",
        t0.elapsed().as_secs_f64()
    ));
    assert_eq!(
        status("bikes", "offline"),
        0,
        "the other camera was affected"
    );
}

#[test]
fn bad_inputs_give_clear_errors_and_the_rest_keeps_running() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    // A config with an unknown key, and one with a missing calibration file.
    let broker = Broker::start(&dir.path().join("broker"), Some(("edge", "right-password")));
    let rtsp = rtsp_samples(&["vtest"], dir.path());
    let good = config(
        dir.path(),
        broker.port,
        &[("vtest", rtsp.url("vtest"), "vtest")],
        "",
    );
    let text = std::fs::read_to_string(&good).unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        text.replace("detect_fps = 5", "detect_fps = 5\nfps_detect = 5"),
    )
    .unwrap();
    let (ok, _, err) = common::run(common::bin().args(["check", &bad.to_string_lossy()]));
    let line = std::fs::read_to_string(&bad)
        .unwrap()
        .lines()
        .position(|l| l.starts_with("fps_detect"))
        .unwrap()
        + 1;
    assert!(
        !ok && err.contains(&format!("bad.toml:{line}:")) && err.contains("fps_detect"),
        "{err}"
    );
    std::fs::write(
        &bad,
        text.replace("tests/data/vtest-quick.toml", "tests/data/nope.toml"),
    )
    .unwrap();
    let (ok, _, err) = common::run(common::bin().args(["run", "--config", &bad.to_string_lossy()]));
    assert!(
        !ok && err.contains("field calibration: no such file") && err.contains("nope.toml"),
        "{err}"
    );
    // An unreachable camera beside a good one, and a wrong broker password: the service keeps
    // running, says what is wrong, and never logs the camera's password.
    let cfg = config(
        dir.path(),
        broker.port,
        &[
            ("vtest", rtsp.url("vtest"), "vtest"),
            (
                "gone",
                "rtsp://admin:s3cret@127.0.0.1:1/none".into(),
                "vtest",
            ),
        ],
        "username = \"edge\"\npassword = \"wrong-password\"\n",
    );
    let log = dir.path().join("service.log");
    let mut svc = service(&cfg, &log);
    wait_for("the refusal in the log", 30, || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("check mqtt.username and mqtt.password")
    });
    wait_for("the unreachable camera in the log", 30, || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("camera offline")
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(svc.alive(), "the service must keep running");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("rtsp://admin:***@127.0.0.1:1/none") && !text.contains("s3cret"),
        "{text}"
    );
    wait_for("the good camera streaming", 30, || {
        let t = std::fs::read_to_string(&log).unwrap_or_default();
        t.lines()
            .any(|l| l.contains("camera online") && l.contains("vtest"))
    });
}

/// vtest.avi as if the camera had been turned: every frame shifted 60 px right and 25 px down.
fn turned_vtest(dir: &Path) -> PathBuf {
    use opencv::prelude::*;
    let out = dir.join("vtest-turned.avi");
    let mut v = streetwatch::source::VideoFile::open(&common::sample("vtest.avi")).unwrap();
    let fourcc = opencv::videoio::VideoWriter::fourcc('M', 'J', 'P', 'G').unwrap();
    let mut w = opencv::videoio::VideoWriter::new(
        &out,
        fourcc,
        10.0,
        opencv::core::Size::new(768, 576),
        true,
    )
    .unwrap();
    let m = opencv::core::Mat::from_slice_2d(&[[1.0f32, 0.0, 60.0], [0.0, 1.0, 25.0]]).unwrap();
    while let Some(f) = v.read().unwrap() {
        if f.index >= 400 {
            break;
        }
        let mut moved = opencv::core::Mat::default();
        opencv::imgproc::warp_affine(
            &f.image,
            &mut moved,
            &m,
            f.image.size().unwrap(),
            opencv::imgproc::INTER_LINEAR,
            opencv::core::BORDER_CONSTANT,
            opencv::core::Scalar::all(0.0),
        )
        .unwrap();
        w.write(&moved).unwrap();
    }
    w.release().unwrap();
    out
}

#[test]
fn a_turned_camera_suspends_its_rules() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(&dir.path().join("broker"), None);
    let rtsp = Rtsp::start_files(&common::root(), &[("vtest", turned_vtest(dir.path()))]);
    let save = dir.path().join("received");
    let sub_out = dir.path().join("sub.out");
    let _sub = subscriber(broker.port, &save, &sub_out);
    let cfg = config(
        dir.path(),
        broker.port,
        &[("vtest", rtsp.url("vtest"), "vtest")],
        "",
    );
    let _svc = service(&cfg, &dir.path().join("service.log"));
    let t0 = Instant::now();
    wait_for("the view-moved status", 30, || {
        std::fs::read_to_string(&sub_out)
            .unwrap_or_default()
            .lines()
            .any(|l| {
                l.starts_with("streetwatch/test/vtest/status")
                    && l.contains("\"view\":\"moved\"")
                    && l.contains("\"rules\":\"suspended\"")
            })
    });
    note(&format!(
        "view watch: moved view reported {:.1} s after start",
        t0.elapsed().as_secs_f64()
    ));
    // Unturned, this footage raises its first alert about 10 s in; turned, nothing may fire.
    std::thread::sleep(Duration::from_secs(20).saturating_sub(t0.elapsed()));
    assert!(
        raised(&dir.path().join("storage")).is_empty(),
        "rules ran on a view the calibration does not fit"
    );
}

#[test]
fn tls_broker_with_username_and_password() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sh = |cmd: &str| {
        assert!(
            Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .current_dir(d)
                .output()
                .unwrap()
                .status
                .success(),
            "{cmd}"
        )
    };
    // A test CA and a server certificate for 127.0.0.1.
    common::services::test_ca(d);
    let port = free_port();
    let broker_dir = d.join("broker");
    std::fs::create_dir_all(&broker_dir).unwrap();
    sh(&format!(
        "mosquitto_passwd -c -b {}/passwd edge s3cret-pw",
        broker_dir.display()
    ));
    std::fs::write(
        broker_dir.join("mosquitto.conf"),
        format!(
            "listener {port} 127.0.0.1\nuser root\nallow_anonymous false\npassword_file {b}/passwd\ncafile {d}/ca.crt\ncertfile {d}/server.crt\nkeyfile {d}/server.key\n",
            b = broker_dir.display(),
            d = d.display()
        ),
    )
    .unwrap();
    let _broker = Broker::with_conf(&broker_dir, port);
    let rtsp = rtsp_samples(&["vtest"], d);
    let cfg = config(
        d,
        port,
        &[("vtest", rtsp.url("vtest"), "vtest")],
        // The password from a file (as a systemd credential gives it), not the configuration.
        &format!(
            "username = \"edge\"\npassword_file = \"{}\"\ntls_ca = \"{}\"\n",
            d.join("mqtt-password").display(),
            d.join("ca.crt").display()
        ),
    );
    std::fs::write(d.join("mqtt-password"), "s3cret-pw\n").unwrap();
    assert!(!std::fs::read_to_string(&cfg).unwrap().contains("s3cret-pw"));
    let log = d.join("service.log");
    let _svc = service(&cfg, &log);
    // The service status, read over TLS with the same credentials (the retained one first, then
    // any update: a first connection that drops leaves the last will until the next one).
    let out = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "--cafile"])
        .arg(d.join("ca.crt"))
        .args([
            "-u",
            "edge",
            "-P",
            "s3cret-pw",
            "-t",
            "streetwatch/test/status",
            "-v",
            "-W",
            "10",
            "-C",
            "4",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"online\""),
        "no online status over TLS: {text} / {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(
        !std::fs::read_to_string(&log).unwrap().contains("s3cret-pw"),
        "the password leaked into the log"
    );
}

/// The service's storage on a 2 MiB file system (tmpfs; needs root, as CI has), filled to the
/// last byte while alerts are raised: the service keeps running, holds the alerts in memory,
/// and delivers them (without images: the disk is below its floor) once space returns. (Before:
/// exit 1 after 87 s with "No space left on device", two alerts neither logged nor sent, and
/// the restart died again 8 s later.)
#[test]
fn a_full_disk_does_not_stop_the_service_or_lose_alerts() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let _disk = common::SmallDisk::mount(&storage, 2);
    let OneCamera {
        broker: _broker,
        _rtsp,
        _sub,
        save,
        cfg,
    } = one_camera(dir.path());
    let log = dir.path().join("service.log");
    let mut svc = service(&cfg, &log);
    wait_for("the service to start", 30, || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("starting"))
    });
    // Every byte taken.
    let mut filler = std::fs::File::create(storage.join("filler")).unwrap();
    let block = vec![0u8; 64 * 1024];
    while filler.write_all(&block).is_ok() {}
    drop(filler);
    wait_for("an alert held in memory on the full disk", 90, || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("holding it in memory"))
    });
    assert!(svc.alive(), "the service exited on a full disk");
    std::fs::remove_file(storage.join("filler")).unwrap();
    wait_for("the held alerts at the subscriber", 60, || {
        !received(&save).is_empty()
    });
    assert!(svc.alive());
    let got = received(&save);
    for id in &got {
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(save.join(format!("{id}.json"))).unwrap(),
        )
        .unwrap();
        assert!(
            v["snapshot"].is_null(),
            "below the floor, alerts carry no image"
        );
    }
    let text = std::fs::read_to_string(&log).unwrap();
    note(&format!(
        "full disk: service alive, {} alert(s) delivered after space returned; {} storage error lines",
        got.len(),
        text.matches("storage: cannot").count()
    ));
    svc.stop();
}

/// The service under a low open-file limit (256, through `prlimit`) with 500 idle connections
/// held open on its metrics port: it stays up, keeps writing snapshots and delivers its alerts
/// with them. (Before the metrics listener had a connection limit: with the default 1,024, 2,000
/// idle connections made it exit 1, "Too many open files" while writing a snapshot.)
#[test]
fn idle_connections_do_not_exhaust_the_open_file_limit() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let OneCamera {
        broker: _broker,
        _rtsp,
        _sub,
        save,
        cfg,
    } = one_camera(dir.path());
    let text = std::fs::read_to_string(&cfg).unwrap();
    let addr = text
        .lines()
        .find_map(|l| l.strip_prefix("metrics = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap()
        .to_string();
    let log = std::fs::File::create(dir.path().join("service.log")).unwrap();
    let mut svc = Proc(Some(
        Command::new("prlimit")
            .args(["--nofile=256:256", "--"])
            .arg(env!("CARGO_BIN_EXE_streetwatch"))
            .args(["run", "--config", &cfg.to_string_lossy()])
            .env("STREETWATCH_LOG", "info,ort=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prlimit (util-linux)"),
    ));
    wait_for("the metrics endpoint", 30, || {
        std::net::TcpStream::connect(&addr).is_ok()
    });
    // Past the service's 32 and the kernel's backlog a connection attempt would wait: each gets
    // a short timeout (how many the kernel holds depends on its somaxconn).
    let sock: std::net::SocketAddr = addr.parse().unwrap();
    let idle: Vec<std::net::TcpStream> = (0..500)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(&sock, Duration::from_millis(300)).ok()
        })
        .collect();
    assert!(idle.len() > 256, "only {} connections opened", idle.len());
    wait_for("an alert with its snapshot at the subscriber", 90, || {
        received(&save)
            .iter()
            .any(|id| save.join(format!("{id}.jpg")).is_file())
    });
    assert!(svc.alive(), "the service exited under 500 idle connections");
    note(&format!(
        "open-file limit 256, {} idle metrics connections: service alive, {} alert(s) delivered",
        idle.len(),
        received(&save).len()
    ));
    drop(idle);
    svc.stop();
}

/// The control room's decisions reach a box that was offline when they were made: the feedback
/// session is persistent at the broker (Mosquitto queues QoS 1 messages for it). A decision
/// while the follower runs arrives (the subscription works); the follower stops (the box is
/// offline); a dismissal is published; the follower starts again and gets it. Not covered: the
/// broker's own queue limit (`max_queued_messages`) in a long outage.
#[test]
fn decisions_made_while_the_box_is_offline_reach_it() {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(&dir.path().join("broker"), None);
    let cfg = config(
        dir.path(),
        broker.port,
        &[(
            "vtest",
            common::sample("vtest.avi").to_string_lossy().to_string(),
            "vtest",
        )],
        "",
    );
    let cfg = streetwatch::config::ServiceConfig::load(&cfg).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let follow = || {
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let task = rt.spawn(streetwatch::service::mqtt::follow_feedback(
            cfg.clone(),
            tx,
            stop.clone(),
        ));
        (rx, stop, task)
    };
    let mut o = rumqttc::MqttOptions::new("console-test", "127.0.0.1", broker.port);
    o.set_keep_alive(Duration::from_secs(5));
    let (console, mut conn) = rumqttc::Client::new(o, 16);
    std::thread::spawn(move || for _ in conn.iter() {});
    let decide = |episode: &str| {
        console
            .publish(
                "streetwatch/test/vtest/feedback",
                rumqttc::QoS::AtLeastOnce,
                false,
                format!(r#"{{"episode_id":"{episode}","decision":"dismiss","operator":"王五"}}"#),
            )
            .unwrap();
    };
    let (rx, stop, task) = follow();
    let t0 = Instant::now();
    let got = loop {
        decide("e-online");
        if let Ok(f) = rx.recv_timeout(Duration::from_millis(500)) {
            break f;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the follower never got a decision"
        );
    };
    assert_eq!(got.episode_id, "e-online");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    rt.block_on(task).unwrap();
    while rx.try_recv().is_ok() {}
    // Offline now; the control room dismisses another episode.
    decide("e-offline");
    std::thread::sleep(Duration::from_millis(500));
    let (rx, stop, task) = follow();
    // (A repeat of the first decision may come first: QoS 1 is at least once.)
    let f = loop {
        let f = rx
            .recv_timeout(Duration::from_secs(15))
            .expect("the decision made while the box was offline");
        if f.episode_id != "e-online" {
            break f;
        }
    };
    assert_eq!(
        (f.episode_id.as_str(), f.decision.as_str()),
        ("e-offline", "dismiss")
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    rt.block_on(task).unwrap();
}

/// `systemctl reload` (SIGHUP): an invalid file is refused and everything goes on; a valid one
/// keeps the unchanged camera's analytics (its open episode goes on and ends `cleared`, never
/// carried), gives the camera whose calibration changed new analytics (its open episode is carried
/// as after a restart: `resumed` or `not_seen_after_restart`), stops the removed camera (its open
/// episode ends `reconfigured`, its retained status says why, its metrics go) and starts the added
/// one, on the same MQTT session.
#[test]
fn a_reload_keeps_unchanged_cameras_and_refuses_an_invalid_file() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let broker = Broker::start(&d.join("broker"), None);
    let vtest = common::sample("vtest.avi").to_string_lossy().into_owned();
    let bikes = pingpong_bikes(d).to_string_lossy().into_owned();
    // The changed camera's calibration: a copy of the quick vtest one, edited before the reload.
    let quick = common::root().join("tests/data/vtest-quick.toml");
    let changed_cal = d.join("changed-quick.toml");
    // (Its reference view's path made absolute: it is relative to the calibration.)
    std::fs::write(
        &changed_cal,
        std::fs::read_to_string(&quick)
            .unwrap()
            .replace("\"../../samples/vtest.avi\"", &format!("\"{vtest}\"")),
    )
    .unwrap();
    let cfg = config(
        d,
        broker.port,
        &[
            ("keep", vtest.clone(), "vtest"),
            ("changed", vtest.clone(), "vtest"),
            ("gone", bikes, "bikes"),
        ],
        "",
    );
    let quick = quick.display().to_string();
    let text = std::fs::read_to_string(&cfg).unwrap();
    let second = text.rfind(&quick).unwrap();
    // Two inference sessions of one thread each (frames of different cameras at once): a reload
    // waits for the frames the other session holds.
    let text = format!(
        "inference_sessions = 2\nthreads = 1\n{}{}{}",
        &text[..second],
        changed_cal.display(),
        &text[second + quick.len()..]
    );
    std::fs::write(&cfg, &text).unwrap();
    let metrics_addr = text
        .lines()
        .find_map(|l| l.strip_prefix("metrics = \""))
        .map(|s| s.trim_end_matches('"').to_string())
        .unwrap();
    let log = d.join("service.log");
    let mut svc = service(&cfg, &log);
    let storage = d.join("storage");
    let pid = svc.pid().unwrap() as i32;
    let open_of = |camera: &str| -> Option<String> {
        let alerts = logged(&storage);
        let ended: BTreeSet<&str> = alerts
            .iter()
            .filter(|a| a["phase"] == "end")
            .filter_map(|a| a["episode_id"].as_str())
            .collect();
        alerts
            .iter()
            .filter(|a| a["camera_id"] == camera && a["phase"] == "start")
            .filter_map(|a| a["episode_id"].as_str())
            .find(|e| !ended.contains(e))
            .map(str::to_string)
    };
    let later = |episode: &str, after: usize| -> Vec<serde_json::Value> {
        logged(&storage)
            .into_iter()
            .skip(after)
            .filter(|a| a["episode_id"] == episode)
            .collect()
    };
    let logged_line = |what: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .find(|l| l.contains(what))
            .map(str::to_string)
    };
    wait_for("the first alert", 90, || {
        assert!(
            svc.alive(),
            "the service ended:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        !logged(&storage).is_empty()
    });

    // An invalid file: refused, named, nothing stops.
    std::fs::write(&cfg, text.replacen("detect_fps = 5", "detect_fps = 0", 1)).unwrap();
    // SAFETY: a signal to the child this test started.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    wait_for("the refusal in the log", 30, || {
        logged_line("reload refused").is_some()
    });
    let refusal = logged_line("reload refused").unwrap();
    assert!(
        refusal.contains("detect_fps") && refusal.contains("service.toml"),
        "the refusal names neither field nor file: {refusal}"
    );
    assert!(svc.alive(), "an invalid reload stopped the service");

    // The running cameras go on: wait until each has an episode open at once.
    wait_for(
        "open episodes on 'keep', 'changed' and 'gone' at once",
        240,
        || {
            ["keep", "changed", "gone"]
                .iter()
                .all(|c| open_of(c).is_some())
        },
    );
    let (keep_ep, changed_ep, gone_ep) = (
        open_of("keep").unwrap(),
        open_of("changed").unwrap(),
        open_of("gone").unwrap(),
    );
    let n_before = logged(&storage).len();
    // A valid file: 'gone' removed, 'added' added, 'changed' recalibrated, 'keep' as it was.
    let mut cal = std::fs::read_to_string(&changed_cal).unwrap();
    cal.push_str("\n# recalibrated on the pole\n");
    std::fs::write(&changed_cal, cal).unwrap();
    let gone_block = text.find("[[cameras]]\nid = \"gone\"").unwrap();
    let mut next = text[..gone_block].to_string();
    next.push_str(&format!(
        "[[cameras]]\nid = \"added\"\nurl = \"{vtest}\"\ncalibration = \"{quick}\"\ndetect_fps = 5\n"
    ));
    std::fs::write(&cfg, next).unwrap();
    unsafe { libc::kill(pid, libc::SIGHUP) };
    wait_for("the reload in the log", 30, || {
        logged_line("configuration reloaded").is_some()
    });
    let line = logged_line("configuration reloaded").unwrap();
    for want in [
        "kept=keep",
        "changed=changed",
        "added=added",
        "removed=gone",
    ] {
        assert!(line.contains(want), "{want} not in: {line}");
    }
    wait_for("'gone's episode ended as reconfigured", 30, || {
        later(&gone_ep, n_before)
            .iter()
            .any(|a| a["phase"] == "end" && a["reason"] == "reconfigured")
    });
    // 'keep' goes on with the same analytics: its episode ends when the scene clears, as
    // before, and is never carried.
    wait_for("'keep's episode to end", 120, || {
        later(&keep_ep, n_before)
            .iter()
            .any(|a| a["phase"] == "end")
    });
    for a in later(&keep_ep, n_before) {
        assert!(
            a["reason"] != "resumed" && a["reason"] != "not_seen_after_restart",
            "'keep' was restarted by the reload: {a}"
        );
    }
    // The control: 'changed' got new analytics, which carried its episode.
    wait_for("'changed's episode carried", 120, || {
        later(&changed_ep, n_before)
            .iter()
            .any(|a| a["reason"] == "resumed" || a["reason"] == "not_seen_after_restart")
    });
    wait_for("an alert from 'added'", 120, || {
        logged(&storage).iter().any(|a| a["camera_id"] == "added")
    });
    // The removed camera's retained status says why; its metrics are gone, the added one's are
    // there.
    let status = Command::new("mosquitto_sub")
        .args([
            "-p",
            &broker.port.to_string(),
            "-t",
            "streetwatch/test/gone/status",
        ])
        .args(["-C", "1", "-W", "5"])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("removed from the configuration"),
        "status: {status}"
    );
    let m = http_get(&metrics_addr, "/metrics");
    assert!(
        m.contains("camera=\"added\"") && !m.contains("camera=\"gone\""),
        "{m}"
    );
    // One MQTT session all along.
    let l = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        l.matches("connected to the MQTT broker").count(),
        1,
        "the reload reconnected to the broker:\n{l}"
    );
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    wait_for("the service to stop", 30, || !svc.alive());
}
