//! `SIGHUP` (`systemctl reload streetwatch`): the configuration and its calibrations are read
//! again and applied to the cameras without a restart.
//!
//! - The new file is validated as `streetwatch check` does, its calibrations loaded, its cameras'
//!   classes checked against the model, their reference views read and their analytics built,
//!   all before anything changes: any error refuses the whole reload (logged with file and
//!   field), and the running configuration goes on.
//! - A camera whose URL, calibration (its file's sha256) and detection rate are unchanged keeps
//!   its stream, tracks, cues and open episodes. One whose calibration or rate changed keeps its
//!   stream and gets new analytics; its open episodes are carried into them as after a restart
//!   (resumed when confirmed again, else ended) or, when their zone is gone, ended with reason
//!   `reconfigured`. A changed URL or capture option reopens the stream. A removed camera's
//!   capture stops, its open episodes end (`reconfigured`) and its status says so.
//! - The outbox, the MQTT sessions, storage, the model and the metrics address are not
//!   touched: a change to `site`, `model`, `threads`, `[mqtt]`, `[storage]` or `metrics` is
//!   logged as needing a restart and the running values are kept. `health_interval_s` applies.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::capture::{self, now_unix, Slot, StatusEvent};
use super::mqtt;
use crate::analytics::{AlertMaker, Analytics};
use crate::config::{CameraConfig, ServiceConfig};
use crate::detect::Detector;
use crate::error::{Error, Result};
use crate::viewwatch::ViewWatch;

/// What the inference loop keeps per camera.
pub(super) struct Live {
    pub slot: Arc<Slot>,
    /// Stops this camera's capture thread (a reload, or the shutdown).
    pub stop: Arc<AtomicBool>,
    pub thread: Option<std::thread::JoinHandle<()>>,
    pub watch: Option<ViewWatch>,
    pub analysed: u64,
    pub period: Duration,
    pub due: Instant,
    /// While another inference session has this camera's frame: when it took it (milliseconds
    /// on the service's clock, `super::clock_ms`), else 0. One frame per camera in flight keeps
    /// each camera's frames in order.
    pub busy: Arc<std::sync::atomic::AtomicU64>,
}

impl Live {
    /// When another inference session took this camera's frame (`super::clock_ms`), while it
    /// holds it.
    pub fn held_since(&self) -> Option<u64> {
        match self.busy.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            t => Some(t),
        }
    }

    /// Starts a camera: its capture thread and its view watch.
    pub fn start(cam: &CameraConfig, tx: &mpsc::UnboundedSender<mqtt::Message>) -> Result<Live> {
        let watch = view_watch(cam, tx)?;
        let mut live = Live::start_without_watch(cam, tx)?;
        live.watch = watch;
        Ok(live)
    }
}

fn period(cam: &CameraConfig) -> Duration {
    Duration::from_secs_f64(1.0 / cam.detect_fps)
}

/// A camera's capture thread, with a slot and a stop flag of its own.
fn start_capture(
    cam: &CameraConfig,
    tx: &mpsc::UnboundedSender<mqtt::Message>,
) -> Result<(Arc<Slot>, Arc<AtomicBool>, std::thread::JoinHandle<()>)> {
    let slot = Arc::new(Slot::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (id, url, safe, opts) = (cam.id.clone(), cam.url.clone(), cam.safe_url(), cam.capture);
    let (s, st, tx) = (slot.clone(), stop.clone(), tx.clone());
    let thread = std::thread::Builder::new()
        .name(format!("capture-{id}"))
        .spawn(move || {
            let _span = tracing::info_span!("camera", id = %id).entered();
            capture::run_capture(id, url, safe, opts, s, st, move |s| {
                let _ = tx.send(mqtt::Message::Status(s));
            })
        })
        .map_err(|e| Error::io("capture thread", e))?;
    Ok((slot, stop, thread))
}

/// The view watch of a camera whose calibration names a reference view.
fn view_watch(
    cam: &CameraConfig,
    tx: &mpsc::UnboundedSender<mqtt::Message>,
) -> Result<Option<ViewWatch>> {
    let Some((path, at)) = &cam.calibration.reference_frame else {
        return Ok(None);
    };
    let w = ViewWatch::new(crate::viewwatch::Reference::new(&crate::source::frame_at(
        path, *at,
    )?)?);
    let _ = tx.send(mqtt::Message::View {
        camera: cam.id.clone(),
        state: "ok".into(),
        detail: "matches the calibration's reference view".into(),
    });
    Ok(Some(w))
}

/// A camera's analytics after a reload, for the analytics worker.
pub(super) enum Part {
    /// Unchanged: the analytics of the camera that had this index.
    Kept(usize),
    /// New or changed: analytics and alert maker built from the new calibration.
    New(Box<(Analytics, AlertMaker)>),
}

/// A reload checked and prepared; nothing running has changed yet.
pub(super) struct Plan {
    new: ServiceConfig,
    /// Per new camera: kept (the old index) or new analytics and view watch.
    fresh: Vec<Fresh>,
}

enum Fresh {
    Kept(usize),
    New(Box<(Analytics, AlertMaker, Option<ViewWatch>)>),
}

/// Whether a camera's analytics can go on unchanged (its stream may still be reopened).
fn same_analytics(a: &CameraConfig, b: &CameraConfig) -> bool {
    a.url == b.url && a.calibration.sha256 == b.calibration.sha256 && a.detect_fps == b.detect_fps
}

/// The settings a reload cannot apply (a restart does), by name, when they changed.
pub fn needs_restart(old: &ServiceConfig, new: &ServiceConfig) -> Vec<&'static str> {
    [
        ("site", old.site != new.site),
        ("model", old.model != new.model),
        ("threads", old.threads != new.threads),
        (
            "inference_sessions",
            old.inference_sessions != new.inference_sessions,
        ),
        (
            "execution_provider",
            old.execution_provider != new.execution_provider,
        ),
        ("mqtt", old.mqtt != new.mqtt),
        ("storage", old.storage != new.storage),
        ("metrics", old.metrics != new.metrics),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

/// Reads and checks the configuration again and builds what the changed cameras need.
pub(super) fn prepare(
    cfg: &ServiceConfig,
    det: &Detector,
    started_unix: f64,
    tx: &mpsc::UnboundedSender<mqtt::Message>,
) -> Result<Plan> {
    let new = ServiceConfig::load(&cfg.path)?;
    let mut fresh = Vec::new();
    for cam in &new.cameras {
        cam.calibration.check_classes(&det.manifest().classes)?;
        let old = cfg.cameras.iter().position(|c| c.id == cam.id);
        fresh.push(match old {
            Some(i) if same_analytics(&cfg.cameras[i], cam) => Fresh::Kept(i),
            _ => Fresh::New(Box::new((
                Analytics::new(&cam.calibration, det)?,
                AlertMaker::new(&cam.calibration, det, cam.safe_url(), Some(started_unix)),
                view_watch(cam, tx)?,
            ))),
        });
    }
    Ok(Plan { new, fresh })
}

/// Applies a prepared reload to the running cameras; returns the worker's part of it.
pub(super) fn apply(
    plan: Plan,
    cfg: &mut ServiceConfig,
    lives: &mut Vec<Live>,
    retired: &mut Vec<std::thread::JoinHandle<()>>,
    tx: &mpsc::UnboundedSender<mqtt::Message>,
) -> Result<super::Job> {
    let Plan { new, fresh } = plan;
    let mut old: Vec<Option<Live>> = std::mem::take(lives).into_iter().map(Some).collect();
    let mut retire = |live: Live| {
        live.stop.store(true, Ordering::Relaxed);
        retired.extend(live.thread);
    };
    let mut parts = Vec::new();
    let (mut kept, mut changed, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for (cam, f) in new.cameras.iter().zip(fresh) {
        let before = cfg.cameras.iter().position(|c| c.id == cam.id);
        let prev = before.and_then(|i| old[i].take());
        let same_stream = before.is_some_and(|i| {
            cfg.cameras[i].url == cam.url && cfg.cameras[i].capture == cam.capture
        });
        let (mut live, old_watch) = match prev {
            Some(mut p) if same_stream => {
                let w = p.watch.take();
                (p, w)
            }
            Some(mut p) => {
                let w = p.watch.take();
                retire(p);
                (Live::start_without_watch(cam, tx)?, w)
            }
            None => (Live::start_without_watch(cam, tx)?, None),
        };
        live.period = period(cam);
        match f {
            Fresh::Kept(i) => {
                live.watch = old_watch;
                kept.push(cam.id.as_str());
                parts.push(Part::Kept(i));
            }
            Fresh::New(b) => {
                let (analytics, maker, watch) = *b;
                if before.is_some() {
                    changed.push(cam.id.as_str());
                } else {
                    added.push(cam.id.as_str());
                }
                live.watch = watch;
                parts.push(Part::New(Box::new((analytics, maker))));
            }
        }
        lives.push(live);
    }
    let mut removed = Vec::new();
    for (i, live) in old.into_iter().enumerate() {
        if let Some(live) = live {
            retire(live);
            let id = cfg.cameras[i].id.clone();
            let _ = tx.send(mqtt::Message::Status(StatusEvent {
                camera: id.clone(),
                online: false,
                reason: "removed from the configuration".into(),
                unix: now_unix(),
            }));
            removed.push(id);
        }
    }
    let restart = needs_restart(cfg, &new);
    tracing::info!(
        kept = %kept.join(", "),
        changed = %changed.join(", "),
        added = %added.join(", "),
        removed = %removed.join(", "),
        "configuration reloaded"
    );
    if !restart.is_empty() {
        tracing::warn!(
            fields = %restart.join(", "),
            "these settings changed and take effect at the next restart (systemctl restart streetwatch); the running values are kept"
        );
    }
    let job = super::Job::Reload {
        cameras: new.cameras.clone(),
        parts,
        slots: lives.iter().map(|l| l.slot.clone()).collect(),
    };
    cfg.cameras = new.cameras;
    cfg.health_interval_s = new.health_interval_s;
    Ok(job)
}

impl Live {
    /// A camera's capture, its view watch to be set by the caller.
    fn start_without_watch(
        cam: &CameraConfig,
        tx: &mpsc::UnboundedSender<mqtt::Message>,
    ) -> Result<Live> {
        let (slot, stop, thread) = start_capture(cam, tx)?;
        Ok(Live {
            slot,
            stop,
            thread: Some(thread),
            watch: None,
            analysed: 0,
            period: period(cam),
            due: Instant::now(),
            busy: Arc::default(),
        })
    }
}
