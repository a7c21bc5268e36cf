//! Per-camera metrics, the Prometheus endpoint (`/metrics`, `/healthz`) and the health message.
//!
//! The exposition is OpenMetrics text written by `prometheus-client`, in base units (seconds),
//! every series present from the start. The endpoint is an axum router served connection by
//! connection with hyper: at most `MAX_CONNECTIONS` at once (further ones wait in the kernel's
//! backlog, they cannot exhaust the service's file descriptors), each closed after
//! `CONNECTION_SECONDS`, and an accept error is logged and waited out, not spun on.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::capture::Slot;
use super::mqtt::MqttStats;
use super::storage::StorageStats;
use crate::outbox::Outbox;

/// Inference latency histogram buckets, seconds.
const BUCKETS: [f64; 8] = [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64];
/// Capture-to-decision lag histogram buckets, seconds.
const LAG_BUCKETS: [f64; 9] = [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0];

/// Connections the metrics endpoint serves at once.
pub const MAX_CONNECTIONS: usize = 32;
/// Seconds a metrics connection may stay open (a slow or idle client is cut off).
pub const CONNECTION_SECONDS: u64 = 10;

/// Capture-to-decision lag over the whole run, in constant memory: a 1 ms histogram (0..5 s,
/// then one overflow bucket) and the 99th percentile of each finished minute (the last hour).
#[derive(Debug, Clone)]
pub struct LagRecord {
    hist: Vec<u32>,
    count: u64,
    max: f64,
    /// Seconds (since the record started) of the first and the last decision.
    first_s: f64,
    last_s: f64,
    minute: u64,
    this_minute: Vec<f64>,
    pub minute_p99: VecDeque<f64>,
}

const LAG_HIST_MS: usize = 5000;

impl Default for LagRecord {
    fn default() -> Self {
        LagRecord {
            hist: vec![0; LAG_HIST_MS + 1],
            count: 0,
            max: 0.0,
            first_s: 0.0,
            last_s: 0.0,
            minute: 0,
            this_minute: Vec::new(),
            minute_p99: VecDeque::new(),
        }
    }
}

impl LagRecord {
    /// One decision `lag_ms` after capture, `at_s` seconds after the record started.
    pub fn add(&mut self, at_s: f64, lag_ms: f64) {
        let minute = (at_s.max(0.0) / 60.0) as u64;
        while minute > self.minute {
            let mut m = std::mem::take(&mut self.this_minute);
            self.minute_p99.push_back(quantile(&mut m, 0.99));
            if self.minute_p99.len() > 60 {
                self.minute_p99.pop_front();
            }
            self.minute += 1;
        }
        self.this_minute.push(lag_ms);
        if self.count == 0 {
            self.first_s = at_s;
        }
        self.last_s = at_s;
        let b = (lag_ms.max(0.0) as usize).min(LAG_HIST_MS);
        self.hist[b] += 1;
        self.count += 1;
        self.max = self.max.max(lag_ms);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> f64 {
        self.max
    }

    /// Decisions per second between the first and the last one (0 with fewer than two).
    pub fn rate(&self) -> f64 {
        if self.count < 2 || self.last_s <= self.first_s {
            0.0
        } else {
            (self.count - 1) as f64 / (self.last_s - self.first_s)
        }
    }

    /// Quantile `q` of all lags, to the millisecond (the upper edge of its 1 ms bucket, at most
    /// the largest lag; 5001 means "over 5 s").
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((self.count - 1) as f64 * q).round() as u64;
        let mut seen = 0u64;
        for (b, &n) in self.hist.iter().enumerate() {
            seen += n as u64;
            if seen > rank {
                return ((b + 1) as f64).min(self.max);
            }
        }
        (LAG_HIST_MS + 1) as f64
    }
}

#[derive(Default)]
struct Cam {
    label: CameraLabel,
    slot: Arc<Slot>,
    analysed: u64,
    record: LagRecord,
    lags: VecDeque<(std::time::Instant, f64)>,
    inference_sum: f64,
}

/// The label of every per-camera series.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CameraLabel {
    camera: String,
}

/// The registered series. Counters and gauges owned elsewhere (capture slots, outbox, MQTT) are
/// copied in when scraped; frames and inference times are recorded as they happen.
struct Exposition {
    registry: Registry,
    analysed: Family<CameraLabel, Counter>,
    dropped: Family<CameraLabel, Counter>,
    reconnects: Family<CameraLabel, Counter>,
    online: Family<CameraLabel, Gauge>,
    lag: Family<CameraLabel, Histogram>,
    fps: Family<CameraLabel, Gauge<f64, AtomicU64>>,
    inference: Family<CameraLabel, Histogram>,
    outbox_depth: Gauge,
    outbox_dropped: Counter,
    outbox_quarantined: Counter,
    storage_errors: Counter,
    images_skipped: Counter,
    alerts_held: Gauge,
    storage_low: Gauge,
    mqtt_connected: Gauge,
}

fn inference_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

fn lag_histogram() -> Histogram {
    Histogram::new(LAG_BUCKETS)
}

impl Exposition {
    fn new() -> Exposition {
        let mut registry = Registry::with_prefix("streetwatch");
        let e = Exposition {
            registry: Registry::default(),
            analysed: Family::default(),
            dropped: Family::default(),
            reconnects: Family::default(),
            online: Family::default(),
            lag: Family::new_with_constructor(lag_histogram),
            fps: Family::default(),
            inference: Family::new_with_constructor(inference_histogram),
            outbox_depth: Gauge::default(),
            outbox_dropped: Counter::default(),
            outbox_quarantined: Counter::default(),
            storage_errors: Counter::default(),
            images_skipped: Counter::default(),
            alerts_held: Gauge::default(),
            storage_low: Gauge::default(),
            mqtt_connected: Gauge::default(),
        };
        registry.register(
            "frames_analysed",
            "Frames analysed per camera",
            e.analysed.clone(),
        );
        registry.register(
            "frames_dropped",
            "Frames replaced in the camera's mailbox before analysis",
            e.dropped.clone(),
        );
        registry.register(
            "reconnects",
            "Stream reconnect attempts",
            e.reconnects.clone(),
        );
        registry.register(
            "camera_online",
            "1 when the camera streams",
            e.online.clone(),
        );
        registry.register_with_unit(
            "lag",
            "Capture-to-decision lag of each analysed frame",
            Unit::Seconds,
            e.lag.clone(),
        );
        registry.register(
            "build",
            "The running streetwatch",
            prometheus_client::metrics::info::Info::new(vec![(
                "version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            )]),
        );
        registry.register(
            "analysed_fps",
            "Analysed frames per second over the last 30 s",
            e.fps.clone(),
        );
        registry.register_with_unit(
            "inference",
            "Inference time per analysed frame",
            Unit::Seconds,
            e.inference.clone(),
        );
        registry.register(
            "outbox_depth",
            "Alerts not yet acknowledged by the broker",
            e.outbox_depth.clone(),
        );
        registry.register(
            "outbox_dropped",
            "Alerts dropped because the outbox was full",
            e.outbox_dropped.clone(),
        );
        registry.register(
            "outbox_quarantined",
            "Bad outbox entries moved to quarantine/ (unreadable, corrupt, oversize, bad ids)",
            e.outbox_quarantined.clone(),
        );
        registry.register(
            "storage_errors",
            "Storage writes that failed (snapshots, outbox, alert log); none is fatal",
            e.storage_errors.clone(),
        );
        registry.register(
            "alert_images_skipped",
            "Alerts sent without a snapshot (free space below storage.min_free_mb, or a write failed)",
            e.images_skipped.clone(),
        );
        registry.register(
            "alerts_held_in_memory",
            "Alerts the disk could not take yet, held in order until it can",
            e.alerts_held.clone(),
        );
        registry.register(
            "storage_low",
            "1 while the free space is below storage.min_free_mb",
            e.storage_low.clone(),
        );
        registry.register(
            "mqtt_connected",
            "1 when connected to the broker",
            e.mqtt_connected.clone(),
        );
        Exposition { registry, ..e }
    }
}

pub struct Metrics {
    started: std::time::Instant,
    /// The cameras in the service's order (a reload changes them).
    cams: Mutex<Vec<Cam>>,
    outbox: Arc<Outbox>,
    mqtt: Arc<MqttStats>,
    storage: Arc<StorageStats>,
    exposition: Exposition,
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

impl Metrics {
    /// Metrics of the cameras `cameras` (ids), whose capture slots are `slots` (in order).
    pub fn new(
        cameras: Vec<String>,
        slots: Vec<Arc<Slot>>,
        outbox: Arc<Outbox>,
        mqtt: Arc<MqttStats>,
        storage: Arc<StorageStats>,
    ) -> Metrics {
        let m = Metrics {
            started: std::time::Instant::now(),
            cams: Mutex::new(Vec::new()),
            outbox,
            mqtt,
            storage,
            exposition: Exposition::new(),
        };
        m.set_cameras(cameras, slots);
        m
    }

    /// The cameras now (at start and after a reload), in the order `record` numbers them: a
    /// camera that stays keeps its figures, a removed one's series go.
    pub fn set_cameras(&self, cameras: Vec<String>, slots: Vec<Arc<Slot>>) {
        let e = &self.exposition;
        let mut cams = self.cams.lock().unwrap_or_else(|p| p.into_inner());
        let mut old: Vec<Cam> = std::mem::take(&mut *cams);
        for (id, slot) in cameras.into_iter().zip(slots) {
            let label = CameraLabel { camera: id };
            let mut cam = match old.iter().position(|c| c.label == label) {
                Some(i) => old.swap_remove(i),
                None => Cam::default(),
            };
            // Every series from the start, not from a camera's first frame.
            let _ = e.analysed.get_or_create(&label);
            let _ = e.dropped.get_or_create(&label);
            let _ = e.reconnects.get_or_create(&label);
            let _ = e.online.get_or_create(&label);
            let _ = e.lag.get_or_create(&label);
            let _ = e.fps.get_or_create(&label);
            let _ = e.inference.get_or_create(&label);
            cam.label = label;
            cam.slot = slot;
            cams.push(cam);
        }
        for gone in old {
            let l = &gone.label;
            e.analysed.remove(l);
            e.dropped.remove(l);
            e.reconnects.remove(l);
            e.online.remove(l);
            e.lag.remove(l);
            e.fps.remove(l);
            e.inference.remove(l);
        }
    }

    pub fn record(&self, cam: usize, lag_ms: f64, inference_ms: f64) {
        let mut cams = self.cams.lock().unwrap_or_else(|p| p.into_inner());
        let Some(c) = cams.get_mut(cam) else {
            return;
        };
        c.analysed += 1;
        let now = std::time::Instant::now();
        c.record
            .add(now.duration_since(self.started).as_secs_f64(), lag_ms);
        c.lags.push_back((now, lag_ms));
        while c
            .lags
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t).as_secs_f64() > 30.0)
        {
            c.lags.pop_front();
        }
        c.inference_sum += inference_ms;
        let l = &c.label;
        self.exposition.analysed.get_or_create(l).inc();
        self.exposition
            .lag
            .get_or_create(l)
            .observe(lag_ms / 1000.0);
        self.exposition
            .inference
            .get_or_create(l)
            .observe(inference_ms / 1000.0);
    }

    /// Analysed frames per second over the last 30 s (0 before half a second of them).
    fn recent_fps(c: &Cam) -> f64 {
        let span = c
            .lags
            .front()
            .map(|(t, _)| t.elapsed().as_secs_f64())
            .unwrap_or(0.0);
        if span > 0.5 {
            c.lags.len() as f64 / span
        } else {
            0.0
        }
    }

    /// Health message: per camera, analysed fps and lag over the last 30 s, drops, reconnects.
    pub fn health_json(&self) -> String {
        let cams = self.cams.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for c in cams.iter() {
            let mut lags: Vec<f64> = c.lags.iter().map(|l| l.1).collect();
            let fps = Self::recent_fps(c);
            let s = &c.slot;
            out.push(serde_json::json!({
                "camera": c.label.camera,
                "online": s.online.load(Ordering::Relaxed),
                "analysed_fps": (fps * 100.0).round() / 100.0,
                "lag_ms_p50": quantile(&mut lags, 0.5).round(),
                "lag_ms_p99": quantile(&mut lags, 0.99).round(),
                "captured": s.captured.load(Ordering::Relaxed),
                "dropped": s.dropped.load(Ordering::Relaxed),
                "reconnects": s.reconnects.load(Ordering::Relaxed),
                "inference_ms_mean": if c.analysed > 0 { (c.inference_sum / c.analysed as f64 * 10.0).round() / 10.0 } else { 0.0 },
            }));
        }
        serde_json::json!({"cameras": out, "outbox_depth": self.outbox.depth(), "mqtt_connected": self.mqtt.connected.load(Ordering::Relaxed)}).to_string()
    }

    /// One line for `systemctl status`: cameras streaming, outbox depth, broker.
    pub fn status_line(&self) -> String {
        let (online, all) = {
            let cams = self.cams.lock().unwrap_or_else(|p| p.into_inner());
            let online = cams
                .iter()
                .filter(|c| c.slot.online.load(Ordering::Relaxed))
                .count();
            (online, cams.len())
        };
        format!(
            "{online} of {all} cameras streaming; outbox {}; broker {}",
            self.outbox.depth(),
            if self.mqtt.connected.load(Ordering::Relaxed) {
                "connected"
            } else {
                "not connected"
            }
        )
    }

    /// Figures for the whole run so far (`streetwatch run --stats FILE` writes them at
    /// shutdown): per camera, analysed frames/s, lag p50/p99/max and p99 per minute, captured and
    /// dropped frames, reconnects.
    pub fn run_stats_json(&self) -> serde_json::Value {
        let cams = self.cams.lock().unwrap_or_else(|p| p.into_inner());
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let cameras: Vec<serde_json::Value> = cams
            .iter()
            .map(|c| {
                let load = |f: fn(&Slot) -> u64| f(&c.slot);
                serde_json::json!({
                    "camera": c.label.camera,
                    "analysed": c.analysed,
                    // Between the camera's first and last decision (not counting start-up and
                    // shutdown).
                    "analysed_fps": c.record.rate(),
                    "lag_ms_p50": c.record.quantile(0.5),
                    "lag_ms_p99": c.record.quantile(0.99),
                    "lag_ms_max": c.record.max(),
                    "lag_ms_p99_by_minute": c.record.minute_p99,
                    "captured": load(|s| s.captured.load(Ordering::Relaxed)),
                    "dropped": load(|s| s.dropped.load(Ordering::Relaxed)),
                    "reconnects": load(|s| s.reconnects.load(Ordering::Relaxed)),
                    "inference_ms_mean": if c.analysed > 0 { c.inference_sum / c.analysed as f64 } else { 0.0 },
                })
            })
            .collect();
        serde_json::json!({"seconds": secs, "cameras": cameras})
    }

    /// The exposition (OpenMetrics text), with the figures owned elsewhere copied in now.
    pub fn render(&self) -> String {
        let e = &self.exposition;
        {
            let cams = self.cams.lock().unwrap_or_else(|p| p.into_inner());
            for c in cams.iter() {
                let (l, s) = (&c.label, &c.slot);
                e.fps.get_or_create(l).set(Self::recent_fps(c));
                let copy = |f: &Family<CameraLabel, Counter>, v: &std::sync::atomic::AtomicU64| {
                    f.get_or_create(l)
                        .inner()
                        .store(v.load(Ordering::Relaxed), Ordering::Relaxed)
                };
                copy(&e.dropped, &s.dropped);
                copy(&e.reconnects, &s.reconnects);
                e.online
                    .get_or_create(l)
                    .set(s.online.load(Ordering::Relaxed) as i64);
            }
        }
        e.outbox_depth.set(self.outbox.depth() as i64);
        e.outbox_dropped.inner().store(
            self.outbox.dropped.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        e.outbox_quarantined.inner().store(
            self.outbox.quarantined.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let st = &self.storage;
        e.storage_errors
            .inner()
            .store(st.errors.load(Ordering::Relaxed), Ordering::Relaxed);
        e.images_skipped
            .inner()
            .store(st.images_skipped.load(Ordering::Relaxed), Ordering::Relaxed);
        e.alerts_held.set(st.held.load(Ordering::Relaxed) as i64);
        e.storage_low.set(st.low.load(Ordering::Relaxed) as i64);
        e.mqtt_connected
            .set(self.mqtt.connected.load(Ordering::Relaxed) as i64);
        let mut out = String::new();
        if let Err(err) = prometheus_client::encoding::text::encode(&mut out, &e.registry) {
            tracing::warn!(%err, "metrics exposition failed");
        }
        out
    }
}

/// The metrics endpoint's routes: `GET /metrics` and `GET /healthz` (other methods 405, other
/// paths 404).
pub fn router(m: Arc<Metrics>) -> axum::Router {
    use axum::http::header::CONTENT_TYPE;
    use axum::routing::get;
    axum::Router::new()
        .route(
            "/metrics",
            get(
                |axum::extract::State(m): axum::extract::State<Arc<Metrics>>| async move {
                    (
                        [(
                            CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        m.render(),
                    )
                },
            ),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .with_state(m)
}

/// Serves the metrics endpoint until the runtime stops: one connection at a time per permit
/// (`MAX_CONNECTIONS`), each cut off after `CONNECTION_SECONDS`.
pub async fn serve(listener: tokio::net::TcpListener, m: Arc<Metrics>) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    let app = router(m);
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(err) => {
                // Out of file descriptors, or the peer gave up: wait instead of spinning.
                tracing::warn!(%err, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(Duration::from_secs(CONNECTION_SECONDS), conn).await;
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(cameras: &[&str]) -> (Metrics, tempdir_lite::Dir) {
        let dir = tempdir_lite::Dir::new("metrics");
        let outbox = Arc::new(Outbox::open(&dir.0, 10).unwrap());
        let slots = cameras.iter().map(|_| Arc::new(Slot::default())).collect();
        let m = Metrics::new(
            cameras.iter().map(|c| c.to_string()).collect(),
            slots,
            outbox,
            Arc::new(MqttStats::default()),
            Arc::new(StorageStats::default()),
        );
        (m, dir)
    }

    /// A folder under the system's temporary one, removed when dropped.
    mod tempdir_lite {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new(tag: &str) -> Dir {
                let p = std::env::temp_dir().join(format!(
                    "sw-{tag}-{}-{:?}",
                    std::process::id(),
                    std::thread::current().id()
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    /// Every series is there before the first frame, in base units, and a hostile camera id
    /// cannot break out of its label.
    #[test]
    fn exposition_has_every_series_in_seconds_with_escaped_labels() {
        let (m, _dir) = metrics(&["gate", "evil\"} 1\nstreetwatch_fake 9"]);
        let before = m.render();
        for series in [
            "streetwatch_frames_analysed_total{camera=\"gate\"} 0",
            "streetwatch_frames_dropped_total{camera=\"gate\"} 0",
            "streetwatch_camera_online{camera=\"gate\"} 0",
            "streetwatch_lag_seconds_count{camera=\"gate\"} 0",
            "streetwatch_build_info{version=",
            "streetwatch_inference_seconds_count{camera=\"gate\"} 0",
            "streetwatch_outbox_depth 0",
            "streetwatch_mqtt_connected 0",
        ] {
            assert!(before.contains(series), "{series} missing:\n{before}");
        }
        assert!(!before.contains("_ms"), "{before}");
        assert!(
            !before.lines().any(|l| l.starts_with("streetwatch_fake")),
            "{before}"
        );
        assert!(
            before.contains(r#"camera="evil\"} 1\nstreetwatch_fake 9""#),
            "{before}"
        );
        m.record(0, 120.0, 25.0);
        let after = m.render();
        assert!(after.contains("streetwatch_frames_analysed_total{camera=\"gate\"} 1"));
        assert!(
            after.contains("streetwatch_inference_seconds_bucket{le=\"0.04\",camera=\"gate\"} 1")
                || after.contains(
                    "streetwatch_inference_seconds_bucket{camera=\"gate\",le=\"0.04\"} 1"
                ),
            "{after}"
        );
        assert!(
            after.contains("streetwatch_lag_seconds_bucket{le=\"0.2\",camera=\"gate\"} 1"),
            "{after}"
        );
        assert!(!after.contains("streetwatch_lag_seconds_bucket{le=\"0.1\",camera=\"gate\"} 1"));
    }

    /// Requests the endpoint answers, over real TCP: GET only, two paths; idle connections
    /// beyond the limit wait, they do not stop a scrape (it is served once idle ones are cut off).
    #[test]
    fn the_endpoint_serves_get_only_and_survives_idle_connections() {
        use std::io::{Read, Write};
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (m, _dir) = metrics(&["gate"]);
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(serve(listener, Arc::new(m)));
        let ask = |req: &str| -> String {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            s.write_all(req.as_bytes()).unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            out
        };
        let get = ask("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(get.starts_with("HTTP/1.1 200"), "{get}");
        assert!(get.contains("streetwatch_frames_analysed_total"), "{get}");
        assert!(ask("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").contains("ok"));
        assert!(
            ask("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                .starts_with("HTTP/1.1 405")
        );
        assert!(ask("GET /x HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 404"));
        // Idle connections, twice the limit, sending nothing.
        let idle: Vec<_> = (0..MAX_CONNECTIONS * 2)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let started = std::time::Instant::now();
        let get = ask("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(get.starts_with("HTTP/1.1 200"), "{get}");
        assert!(
            started.elapsed() < Duration::from_secs(CONNECTION_SECONDS * 5),
            "{:?}",
            started.elapsed()
        );
        drop(idle);
    }

    #[test]
    fn lag_record_quantiles_to_the_millisecond() {
        let mut r = LagRecord::default();
        for i in 0..1000 {
            r.add(0.0, i as f64 / 10.0); // 0.0 .. 99.9 ms
        }
        assert_eq!(r.count(), 1000);
        // Upper edges of the 1 ms buckets: the median 50.0 ms lies in [50, 51), p99 98.9 in [98, 99).
        assert_eq!(r.quantile(0.5), 51.0);
        assert_eq!(r.quantile(0.99), 99.0);
        assert!((r.max() - 99.9).abs() < 1e-9);
        assert_eq!(r.rate(), 0.0, "all at the same instant");
        r.add(0.0, 9000.0);
        assert_eq!(
            r.quantile(1.0),
            5001.0,
            "over 5 s goes to the overflow bucket"
        );
    }

    #[test]
    fn lag_record_keeps_p99_per_minute() {
        let mut r = LagRecord::default();
        for s in 0..180 {
            // Minute 0: 10 ms, minute 1: 200 ms, minute 2: 30 ms (still open).
            let lag = [10.0, 200.0, 30.0][s / 60];
            r.add(s as f64, lag);
        }
        assert_eq!(
            r.minute_p99.iter().copied().collect::<Vec<_>>(),
            vec![10.0, 200.0]
        );
        // A gap of minutes without decisions closes them empty.
        r.add(400.0, 5.0);
        assert_eq!(r.minute_p99.len(), 6);
        assert_eq!(r.minute_p99[2], 30.0);
        assert_eq!(r.minute_p99[3], 0.0);
    }
}
