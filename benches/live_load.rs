//! Live-load benchmark: `streetwatch run` with N RTSP cameras at 5 detections/s each, served
//! on loopback by the GStreamer RTSP test server from pre-encoded H.264 (vtest.avi five times
//! over, 397 s, passed through without an encoder running on this machine), with a real
//! Mosquitto broker. For each N it prints, per camera, the achieved detection rate,
//! capture-to-decision lag p50/p99/max and dropped frames (from `run --stats`), and for the
//! service process its CPU (from /proc, after a 10 s warm-up) and RSS (sampled every second;
//! peak = VmHWM). For the longest run, the lag p99 of each minute shows whether lag grows.
//!
//!     cargo bench --bench live_load                                # N = 1, 2, 4, 8
//!     STREETWATCH_LIVE_CAMERAS=4 STREETWATCH_LIVE_SECONDS=300 cargo bench --bench live_load
//!     STREETWATCH_BENCH_THREADS=1 cargo bench --bench live_load    # inference threads
//!     STREETWATCH_LIVE_MODEL=nanodet_int8 STREETWATCH_LIVE_CAMERAS=8 cargo bench --bench live_load
//!     STREETWATCH_LIVE_CLIPS=0 …                                  # no episode clips
//!     STREETWATCH_LIVE_SESSIONS=2 STREETWATCH_BENCH_THREADS=1 …   # two sessions of one thread
//!
//! Without `--bench` (what `cargo test --all-targets` runs) it is a quick 15 s run of 2 cameras
//! that proves the benchmark works.

#[allow(dead_code)]
#[path = "../tests/common/services.rs"]
mod services;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use services::{Broker, Proc, Rtsp};
use streetwatch::stats::proc_status_mb;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// vtest.avi five times over as H.264 in Matroska, made once per machine.
fn footage() -> PathBuf {
    let dir = streetwatch::model::cache_dir().join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("vtest-x5.mkv");
    if !out.is_file() {
        let ok = Command::new("/usr/bin/python3")
            .arg(root().join("scripts/rtsp_server.py"))
            .arg("--make-h264")
            .arg(&out)
            .arg(root().join("samples/vtest.avi"))
            .arg("5")
            .status()
            .expect("Debian's python3 with GStreamer (scripts/setup.sh --test)");
        assert!(ok.success(), "encoding the benchmark footage failed");
    }
    out
}

/// utime + stime of a process, seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

struct RunFigures {
    cameras: usize,
    stats: serde_json::Value,
    cpu_percent: f64,
    server_cpu_percent: f64,
    rss_first_min_mb: f64,
    rss_last_mb: f64,
    rss_peak_mb: f64,
}

fn run(
    n: usize,
    seconds: u64,
    threads: usize,
    model: &str,
    clips: bool,
    sessions: usize,
    work: &Path,
) -> RunFigures {
    let dir = work.join(format!("n{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let broker = Broker::start(&dir.join("broker"), None);
    let file = footage();
    let names: Vec<String> = (0..n).map(|i| format!("cam{i}")).collect();
    let streams: Vec<(&str, PathBuf)> = names.iter().map(|s| (s.as_str(), file.clone())).collect();
    let rtsp = Rtsp::start_files(&root(), &streams);
    let mut cfg = format!(
        "site = \"bench\"\nmodel = \"{model}\"\nthreads = {threads}\ninference_sessions = {sessions}\nhealth_interval_s = 10\n\n[mqtt]\nhost = \"127.0.0.1\"\nport = {}\nclient_id = \"sw-bench-{n}\"\n\n[storage]\ndir = \"{}\"\n{}",
        broker.port,
        dir.join("storage").display(),
        if clips { "" } else { "clip_before_s = 0\nclip_after_s = 0\n" }
    );
    for name in &names {
        cfg.push_str(&format!(
            "\n[[cameras]]\nid = \"{name}\"\nurl = \"{}\"\ncalibration = \"{}\"\ndetect_fps = 5\n",
            rtsp.url(name),
            root().join("calibration/vtest.toml").display()
        ));
    }
    let cfg_path = dir.join("service.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let stats_path = dir.join("stats.json");
    let log = std::fs::File::create(dir.join("service.log")).unwrap();
    let mut svc = Proc(Some(
        Command::new(env!("CARGO_BIN_EXE_streetwatch"))
            .args(["run", "--config", &cfg_path.to_string_lossy()])
            .arg("--stats")
            .arg(&stats_path)
            .env("STREETWATCH_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    ));
    let pid = svc.pid().unwrap();
    let server_pid = rtsp.child.pid().unwrap();
    let started = Instant::now();
    let warm = Duration::from_secs(10.min(seconds / 3));
    std::thread::sleep(warm);
    let (cpu0, scpu0, t0) = (cpu_seconds(pid), cpu_seconds(server_pid), Instant::now());
    let mut rss_first_min_mb: f64 = 0.0;
    let mut rss_last_mb = 0.0;
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_secs(1));
        assert!(
            svc.alive(),
            "the service stopped; see {}",
            dir.join("service.log").display()
        );
        rss_last_mb = proc_status_mb(&pid.to_string(), "VmRSS:");
        if started.elapsed() < Duration::from_secs(60) {
            rss_first_min_mb = rss_first_min_mb.max(rss_last_mb);
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu_percent = (cpu_seconds(pid) - cpu0) / wall * 100.0;
    let server_cpu_percent = (cpu_seconds(server_pid) - scpu0) / wall * 100.0;
    let rss_peak_mb = proc_status_mb(&pid.to_string(), "VmHWM:");
    svc.stop();
    drop(rtsp);
    drop(broker);
    let text = std::fs::read_to_string(&stats_path).unwrap_or_else(|e| {
        panic!(
            "no stats from the service ({e}); see {}",
            dir.join("service.log").display()
        )
    });
    RunFigures {
        cameras: n,
        stats: serde_json::from_str(&text).unwrap(),
        cpu_percent,
        server_cpu_percent,
        rss_first_min_mb,
        rss_last_mb,
        rss_peak_mb,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let quick = !args.iter().any(|a| a == "--bench")
        || std::env::var_os("STREETWATCH_BENCH_QUICK").is_some();
    let threads: usize = env_or("STREETWATCH_BENCH_THREADS", 0);
    let model: String = env_or("STREETWATCH_LIVE_MODEL", "nanodet".to_string());
    let clips = env_or("STREETWATCH_LIVE_CLIPS", 1u8) != 0;
    let sessions: usize = env_or("STREETWATCH_LIVE_SESSIONS", 1);
    let plan: Vec<(usize, u64)> = if quick {
        vec![(2, 15)]
    } else if let Some(n) = std::env::var("STREETWATCH_LIVE_CAMERAS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        vec![(n, env_or("STREETWATCH_LIVE_SECONDS", 300))]
    } else {
        let s = env_or("STREETWATCH_LIVE_SECONDS", 60u64);
        vec![(1, s), (2, s), (4, 300.max(s)), (8, s)]
    };
    let work = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for (n, seconds) in plan {
        eprintln!("live load: {n} camera(s) for {seconds} s ...");
        runs.push((
            seconds,
            run(n, seconds, threads, &model, clips, sessions, work.path()),
        ));
    }
    let threads_label = if threads == 0 {
        "one per core".to_string()
    } else {
        threads.to_string()
    };
    println!(
        "\nlive load: N RTSP cameras (vtest 768x576 10 fps H.264) at detect_fps 5, model {model}, clips {}, {sessions} inference session(s) of {threads_label} thread(s), {} cores",
        if clips { "on" } else { "off" },
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    println!("| N | seconds | camera | detections/s | lag p50 ms | lag p99 ms | lag max ms | dropped / captured | service CPU % | RSS MB (1st min → end, peak) | RTSP server CPU % |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (seconds, r) in &runs {
        let cams = r.stats["cameras"].as_array().cloned().unwrap_or_default();
        assert_eq!(cams.len(), r.cameras, "stats for every camera");
        for (k, c) in cams.iter().enumerate() {
            let f = |key: &str| c[key].as_f64().unwrap_or(0.0);
            let (proc_cols, first) = if k == 0 {
                (
                    format!(
                        "{:.0} | {:.0} → {:.0}, {:.0} | {:.0}",
                        r.cpu_percent,
                        r.rss_first_min_mb,
                        r.rss_last_mb,
                        r.rss_peak_mb,
                        r.server_cpu_percent
                    ),
                    format!("{} | {}", r.cameras, seconds),
                )
            } else {
                (" | | ".to_string(), " | ".to_string())
            };
            println!(
                "| {first} | {} | {:.2} | {:.0} | {:.0} | {:.0} | {:.0} / {:.0} | {proc_cols} |",
                c["camera"].as_str().unwrap_or("?"),
                f("analysed_fps"),
                f("lag_ms_p50"),
                f("lag_ms_p99"),
                f("lag_ms_max"),
                f("dropped"),
                f("captured"),
            );
            // Every camera was analysed: the scheduler serves all of them.
            assert!(
                f("analysed") > 0.0,
                "camera {k} of {} was never analysed",
                r.cameras
            );
        }
    }
    for (seconds, r) in &runs {
        if *seconds >= 120 {
            let per_min: Vec<String> = r.stats["cameras"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let minutes: Vec<String> = c["lag_ms_p99_by_minute"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|v| format!("{:.0}", v.as_f64().unwrap_or(0.0)))
                        .collect();
                    format!(
                        "{} [{}]",
                        c["camera"].as_str().unwrap_or("?"),
                        minutes.join(", ")
                    )
                })
                .collect();
            println!(
                "\nN = {}: lag p99 per minute (ms): {}",
                r.cameras,
                per_min.join("; ")
            );
        }
    }
}
