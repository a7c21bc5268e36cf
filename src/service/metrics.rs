//! Per-camera metrics, the Prometheus endpoint (`/metrics`, `/healthz`) and the health message.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::capture::Slot;
use super::mqtt::MqttStats;
use crate::config::ServiceConfig;
use crate::outbox::Outbox;

/// Inference latency histogram buckets, milliseconds.
const BUCKETS: &[f64] = &[5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, 640.0];

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
    analysed: u64,
    record: LagRecord,
    lags: VecDeque<(std::time::Instant, f64)>,
    inference_hist: Vec<u64>,
    inference_sum: f64,
}

pub struct Metrics {
    started: std::time::Instant,
    cameras: Vec<String>,
    cams: Mutex<Vec<Cam>>,
    outbox: Arc<Outbox>,
    mqtt: Arc<MqttStats>,
    slots: Mutex<Vec<Arc<Slot>>>,
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

impl Metrics {
    pub fn new(cfg: &ServiceConfig, outbox: Arc<Outbox>, mqtt: Arc<MqttStats>) -> Metrics {
        Metrics {
            started: std::time::Instant::now(),
            cameras: cfg.cameras.iter().map(|c| c.id.clone()).collect(),
            cams: Mutex::new(
                cfg.cameras
                    .iter()
                    .map(|_| Cam {
                        inference_hist: vec![0; BUCKETS.len() + 1],
                        ..Default::default()
                    })
                    .collect(),
            ),
            outbox,
            mqtt,
            slots: Mutex::new(Vec::new()),
        }
    }

    pub fn record(&self, cam: usize, lag_ms: f64, inference_ms: f64) {
        let mut cams = self.cams.lock().unwrap_or_else(|p| p.into_inner());
        let c = &mut cams[cam];
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
        let b = BUCKETS
            .iter()
            .position(|&b| inference_ms <= b)
            .unwrap_or(BUCKETS.len());
        c.inference_hist[b] += 1;
        c.inference_sum += inference_ms;
    }

    /// Health message: per camera, analysed fps and lag over the last 30 s, drops, reconnects.
    pub fn health_json(&self, slots: &[Arc<Slot>]) -> String {
        *self.slots.lock().unwrap_or_else(|p| p.into_inner()) = slots.to_vec();
        let cams = self.cams.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for (i, c) in cams.iter().enumerate() {
            let mut lags: Vec<f64> = c.lags.iter().map(|l| l.1).collect();
            let span = c
                .lags
                .front()
                .map(|(t, _)| t.elapsed().as_secs_f64())
                .unwrap_or(0.0);
            let fps = if span > 0.5 {
                lags.len() as f64 / span
            } else {
                0.0
            };
            let s = &slots[i];
            out.push(serde_json::json!({
                "camera": self.cameras[i],
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

    /// Figures for the whole run so far (`streetwatch run --stats FILE` writes them at
    /// shutdown): per camera, analysed frames/s, lag p50/p99/max and p99 per minute, captured and
    /// dropped frames, reconnects.
    pub fn run_stats_json(&self, slots: &[Arc<Slot>]) -> serde_json::Value {
        let cams = self.cams.lock().unwrap_or_else(|p| p.into_inner());
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let cameras: Vec<serde_json::Value> = cams
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let s = slots.get(i);
                let load = |f: fn(&Slot) -> u64| s.map(|s| f(s)).unwrap_or(0);
                serde_json::json!({
                    "camera": self.cameras[i],
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

    /// Prometheus text format.
    pub fn render(&self) -> String {
        let cams = self.cams.lock().unwrap_or_else(|p| p.into_inner());
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut s = String::new();
        let mut line = |name: &str, help: &str, kind: &str, values: Vec<(String, f64)>| {
            s.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, v) in values {
                s.push_str(&format!("{name}{labels} {v}\n"));
            }
        };
        let per = |f: &dyn Fn(usize) -> f64| -> Vec<(String, f64)> {
            (0..self.cameras.len())
                .map(|i| (format!("{{camera=\"{}\"}}", self.cameras[i]), f(i)))
                .collect()
        };
        line(
            "streetwatch_frames_analysed_total",
            "Frames analysed per camera",
            "counter",
            per(&|i| cams[i].analysed as f64),
        );
        line(
            "streetwatch_lag_ms",
            "Capture-to-decision lag, median over 30 s",
            "gauge",
            per(&|i| {
                let mut l: Vec<f64> = cams[i].lags.iter().map(|x| x.1).collect();
                quantile(&mut l, 0.5)
            }),
        );
        line(
            "streetwatch_analysed_fps",
            "Analysed frames per second over 30 s",
            "gauge",
            per(&|i| {
                let span = cams[i]
                    .lags
                    .front()
                    .map(|(t, _)| t.elapsed().as_secs_f64())
                    .unwrap_or(0.0);
                if span > 0.5 {
                    cams[i].lags.len() as f64 / span
                } else {
                    0.0
                }
            }),
        );
        if slots.len() == self.cameras.len() {
            line(
                "streetwatch_frames_dropped_total",
                "Frames replaced in the mailbox before analysis",
                "counter",
                per(&|i| slots[i].dropped.load(Ordering::Relaxed) as f64),
            );
            line(
                "streetwatch_reconnects_total",
                "Stream reconnect attempts",
                "counter",
                per(&|i| slots[i].reconnects.load(Ordering::Relaxed) as f64),
            );
            line(
                "streetwatch_camera_online",
                "1 when the camera streams",
                "gauge",
                per(&|i| {
                    if slots[i].online.load(Ordering::Relaxed) {
                        1.0
                    } else {
                        0.0
                    }
                }),
            );
        }
        let mut hist = String::from("# HELP streetwatch_inference_ms Inference latency\n# TYPE streetwatch_inference_ms histogram\n");
        for (i, c) in cams.iter().enumerate() {
            let mut cum = 0;
            for (b, le) in BUCKETS.iter().enumerate() {
                cum += c.inference_hist[b];
                hist.push_str(&format!(
                    "streetwatch_inference_ms_bucket{{camera=\"{}\",le=\"{le}\"}} {cum}\n",
                    self.cameras[i]
                ));
            }
            cum += c.inference_hist[BUCKETS.len()];
            hist.push_str(&format!(
                "streetwatch_inference_ms_bucket{{camera=\"{}\",le=\"+Inf\"}} {cum}\n",
                self.cameras[i]
            ));
            hist.push_str(&format!(
                "streetwatch_inference_ms_sum{{camera=\"{}\"}} {}\n",
                self.cameras[i], c.inference_sum
            ));
            hist.push_str(&format!(
                "streetwatch_inference_ms_count{{camera=\"{}\"}} {}\n",
                self.cameras[i], c.analysed
            ));
        }
        s.push_str(&hist);
        s.push_str(&format!(
            "# HELP streetwatch_outbox_depth Alerts not yet acknowledged by the broker\n# TYPE streetwatch_outbox_depth gauge\nstreetwatch_outbox_depth {}\n",
            self.outbox.depth()
        ));
        s.push_str(&format!(
            "# HELP streetwatch_outbox_dropped_total Alerts dropped because the outbox was full\n# TYPE streetwatch_outbox_dropped_total counter\nstreetwatch_outbox_dropped_total {}\n",
            self.outbox.dropped.load(Ordering::Relaxed)
        ));
        s.push_str(&format!(
            "# HELP streetwatch_mqtt_connected 1 when connected to the broker\n# TYPE streetwatch_mqtt_connected gauge\nstreetwatch_mqtt_connected {}\n",
            self.mqtt.connected.load(Ordering::Relaxed) as u8
        ));
        s
    }
}

/// A minimal HTTP/1.1 server for GET /metrics and GET /healthz.
pub async fn serve(listener: tokio::net::TcpListener, m: Arc<Metrics>) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let m = m.clone();
        tokio::spawn(async move {
            // Read the request head (it may arrive in several segments).
            let mut buf = Vec::with_capacity(1024);
            let mut chunk = [0u8; 1024];
            let n = loop {
                match tokio::time::timeout(std::time::Duration::from_secs(5), sock.read(&mut chunk))
                    .await
                {
                    Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
                    Ok(Ok(k)) => {
                        buf.extend_from_slice(&chunk[..k]);
                        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() > 8192 {
                            break buf.len();
                        }
                    }
                }
            };
            let req = String::from_utf8_lossy(&buf[..n]);
            let path = req.split_whitespace().nth(1).unwrap_or("/");
            let (status, body, ctype) = match path {
                "/metrics" => ("200 OK", m.render(), "text/plain; version=0.0.4"),
                "/healthz" => ("200 OK", "ok\n".to_string(), "text/plain"),
                _ => ("404 Not Found", "not found\n".to_string(), "text/plain"),
            };
            let resp = format!("HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            let _ = sock.write_all(resp.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::LagRecord;

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
