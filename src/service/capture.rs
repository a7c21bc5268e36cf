//! Live capture: one thread per camera reads with OpenCV (which blocks) and hands the newest
//! frame to the pipeline through a single-slot mailbox; a frame not taken before the next one
//! arrives is dropped and counted. OpenCV never reconnects by itself: a stream that fails to open,
//! stalls or closes is reopened with capped exponential backoff, and every change of state is
//! reported as a status event.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opencv::core::{Mat, Vector};
use opencv::prelude::*;
use opencv::videoio::{self, VideoCapture};

use crate::config::CaptureOptions;

/// A captured frame with its wall-clock capture time.
pub struct Captured {
    pub image: Mat,
    /// Unix seconds at capture.
    pub unix: f64,
    pub at: Instant,
}

/// The single-slot mailbox: newest frame wins.
#[derive(Default)]
pub struct Slot {
    frame: Mutex<Option<Captured>>,
    pub captured: AtomicU64,
    pub dropped: AtomicU64,
    pub reconnects: AtomicU64,
    pub online: AtomicBool,
}

impl Slot {
    pub fn put(&self, c: Captured) {
        let mut f = self.frame.lock().unwrap_or_else(|p| p.into_inner());
        if f.replace(c).is_some() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        self.captured.fetch_add(1, Ordering::Relaxed);
    }

    pub fn take(&self) -> Option<Captured> {
        self.frame.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    pub fn has_frame(&self) -> bool {
        self.frame.lock().map(|f| f.is_some()).unwrap_or(false)
    }
}

#[derive(Debug, Clone)]
pub struct StatusEvent {
    pub camera: String,
    pub online: bool,
    pub reason: String,
    pub unix: f64,
}

pub fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub const MAX_BACKOFF: Duration = Duration::from_secs(8);

fn open(url: &str, opts: &CaptureOptions) -> opencv::Result<VideoCapture> {
    if let Ok(dev) = url.parse::<i32>() {
        return VideoCapture::new(dev, videoio::CAP_ANY);
    }
    let ms = |s: f64| (s * 1000.0).round() as i32;
    let params = Vector::<i32>::from_slice(&[
        videoio::CAP_PROP_OPEN_TIMEOUT_MSEC,
        ms(opts.open_timeout_s),
        videoio::CAP_PROP_READ_TIMEOUT_MSEC,
        ms(opts.read_timeout_s),
    ]);
    VideoCapture::from_file_with_params(url, videoio::CAP_FFMPEG, &params)
}

/// Runs until `stop`; `safe_url` is what logs may show.
pub fn run_capture(
    camera: String,
    url: String,
    safe_url: String,
    opts: CaptureOptions,
    slot: Arc<Slot>,
    stop: Arc<AtomicBool>,
    status: impl Fn(StatusEvent),
) {
    let is_file = !url.contains("://") && url.parse::<i32>().is_err();
    let mut backoff = Duration::from_millis(500);
    let mut announced: Option<bool> = None;
    let mut report = |online: bool, reason: String, slot: &Slot| {
        slot.online.store(online, Ordering::Relaxed);
        if announced != Some(online) {
            announced = Some(online);
            if online {
                tracing::info!(camera = %camera, url = %safe_url, "camera online");
            } else {
                tracing::warn!(camera = %camera, url = %safe_url, %reason, "camera offline");
            }
            status(StatusEvent {
                camera: camera.clone(),
                online,
                reason,
                unix: now_unix(),
            });
        }
    };
    while !stop.load(Ordering::Relaxed) {
        let mut cap = match open(&url, &opts) {
            Ok(c) if c.is_opened().unwrap_or(false) => c,
            _ => {
                report(false, format!("cannot open {safe_url}"), &slot);
                sleep_unless(&stop, backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                slot.reconnects.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        let fps = cap.get(videoio::CAP_PROP_FPS).unwrap_or(0.0);
        let period = if is_file && fps > 0.0 {
            Some(Duration::from_secs_f64(1.0 / fps))
        } else {
            None
        };
        let mut next = Instant::now();
        let mut got_any = false;
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let mut img = Mat::default();
            let ok = cap.read(&mut img).unwrap_or(false) && !img.empty();
            if !ok {
                break;
            }
            if !got_any {
                got_any = true;
                backoff = Duration::from_millis(500);
                report(true, "streaming".into(), &slot);
            }
            slot.put(Captured {
                image: img,
                unix: now_unix(),
                at: Instant::now(),
            });
            // Files play at their own rate, like a camera.
            if let Some(p) = period {
                next += p;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
        }
        if is_file && got_any {
            continue; // loop the file
        }
        report(false, "stream stalled or closed".into(), &slot);
        slot.reconnects.fetch_add(1, Ordering::Relaxed);
        sleep_unless(&stop, backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
}
