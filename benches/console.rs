//! Console benchmark: alerts published to a real Mosquitto broker as fast as the broker takes
//! them, ingested by `streetwatch console` (persistent QoS 1 session, one database transaction
//! per alert, acknowledged after it), then page times with every one of them stored as a case.
//!
//!     cargo bench --bench console                                   # 100,000 cases, SQLite
//!     STREETWATCH_CONSOLE_CASES=20000 cargo bench --bench console
//!
//! Targets (asserted with `--bench`): ingest ≥ 1,000 alerts/s; the case list ≤ 300 ms per page.
//! Without `--bench` (what `cargo test --all-targets` runs) it is a quick run of 2,000 alerts
//! that proves the benchmark works. PostgreSQL is not benchmarked here (its tests run in
//! `tests/console.rs`).

#[allow(dead_code)]
#[path = "../tests/common/services.rs"]
mod services;

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use services::{free_port, wait_port, Broker, Proc};

fn get(port: u16, path: &str) -> (Duration, String) {
    let t0 = Instant::now();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    (t0.elapsed(), out)
}

fn healthz(port: u16) -> serde_json::Value {
    let (_, out) = get(port, "/healthz");
    let body = out.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    serde_json::from_str(body).unwrap_or_default()
}

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let bench = args.iter().any(|a| a == "--bench");
    let n: usize = if bench {
        std::env::var("STREETWATCH_CONSOLE_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000)
    } else {
        2_000
    };
    let dir = tempfile::tempdir().unwrap();
    // The broker keeps every message for the console's session (its default keeps 1,000).
    let broker = Broker::start_with(
        &dir.path().join("broker"),
        None,
        "max_queued_messages 0\nmax_inflight_messages 100\n",
    );
    let port = free_port();
    let cfg = dir.path().join("console.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:{port}\"\ndata_dir = \"data\"\n\n[[brokers]]\nname = \"edge\"\nhost = \"127.0.0.1\"\nport = {}\n",
            broker.port
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("console.log")).unwrap();
    let _console = Proc(Some(
        std::process::Command::new(env!("CARGO_BIN_EXE_streetwatch"))
            .args(["console", "--config"])
            .arg(&cfg)
            .env("STREETWATCH_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    ));
    wait_port(port, "the console");
    let t_up = Instant::now();
    while healthz(port)["broker_connections"].as_u64().unwrap_or(0) == 0 {
        assert!(
            t_up.elapsed() < Duration::from_secs(20),
            "the console did not connect"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let template: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/alert.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let payloads: Vec<String> = (0..n)
        .map(|i| {
            let mut v = template.clone();
            let id = format!("0190a000-0000-7000-8000-{i:012}");
            v["id"] = id.clone().into();
            v["episode_id"] = id.into();
            v["camera_id"] = format!("cam-{}", i % 40).into();
            v["site"] = "bench".into();
            v.to_string()
        })
        .collect();
    let mut o = rumqttc::MqttOptions::new("bench-pub", "127.0.0.1", broker.port);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_inflight(100);
    let (client, mut conn) = rumqttc::Client::new(o, 1000);
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = acked.clone();
    std::thread::spawn(move || {
        for ev in conn.iter() {
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) = ev {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    eprintln!("console bench: publishing {n} alerts ...");
    let t0 = Instant::now();
    for (i, p) in payloads.into_iter().enumerate() {
        client
            .publish(
                format!("streetwatch/bench/cam-{}/alerts", i % 40),
                rumqttc::QoS::AtLeastOnce,
                false,
                p,
            )
            .unwrap();
    }
    let mut last = 0;
    let mut stalled = Instant::now();
    loop {
        let h = healthz(port);
        let stored = h["cases"].as_u64().unwrap_or(0) as usize;
        if stored >= n {
            break;
        }
        if stored > last {
            last = stored;
            stalled = Instant::now();
        }
        assert!(
            stalled.elapsed() < Duration::from_secs(30),
            "ingest stalled at {stored} of {n} cases: {h}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ingest = t0.elapsed();
    let rate = n as f64 / ingest.as_secs_f64();
    // Page times with every case stored: the first page, a filtered page, a case page.
    let (mut list, mut filtered, mut case, mut stats) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..20 {
        // Statistics over every stored case (no period given).
        if i < 5 {
            let (t, body) = get(port, "/stats");
            assert!(body.contains("200 OK") && body.contains("id=\"totals\""));
            stats.push(t);
        }
        let (t, body) = get(port, "/");
        assert!(body.contains("200 OK") && body.matches("<tr data-episode").count() == 200.min(n));
        list.push(t);
        let (t, body) = get(port, &format!("/?camera=cam-{}&state=open", i % 40));
        assert!(body.contains("200 OK"));
        filtered.push(t);
        let (t, body) = get(
            port,
            &format!("/cases/0190a000-0000-7000-8000-{:012}", i * (n / 20)),
        );
        assert!(body.contains("200 OK"), "{body}");
        case.push(t);
    }
    let (list, filtered, case) = (median_ms(list), median_ms(filtered), median_ms(case));
    let stats = median_ms(stats);
    println!("\n| cases stored | ingest (broker → database) | case list (200 rows) | filtered list | case page | statistics (all cases) |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {n} | {rate:.0} alerts/s ({:.1} s) | {list:.1} ms | {filtered:.1} ms | {case:.1} ms | {stats:.1} ms |",
        ingest.as_secs_f64()
    );
    println!(
        "(medians of 20 requests each, statistics of 5; SQLite, one transaction per alert, acknowledged after it)"
    );
    if bench {
        assert!(rate >= 1000.0, "ingest {rate:.0} alerts/s, target ≥ 1,000");
        assert!(
            list <= 300.0 && filtered <= 300.0 && stats <= 1000.0,
            "page {list:.1} / {filtered:.1} ms, target ≤ 300; statistics {stats:.1} ms, target ≤ 1,000"
        );
        println!("console targets met");
    }
}
