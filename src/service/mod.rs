//! `streetwatch run`: the live edge service. One capture thread per camera (newest frame wins),
//! one inference worker shared by all cameras and served by deadline (each camera's detection
//! rate), per-camera analytics (tracker, cues, rules, episodes), alerts through the durable
//! outbox to MQTT, a Prometheus endpoint, and a graceful shutdown on SIGTERM/SIGINT.

pub mod capture;
pub mod clips;
pub mod episodes;
pub mod metrics;
pub mod mqtt;
pub mod reload;
pub mod storage;
pub mod systemd;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};

use crate::analytics::{detect_for_tracking, AlertMaker, Analytics, Decided};
use crate::annotate;
use crate::config::ServiceConfig;
use crate::detect::shared::SharedReceiver;
use crate::detect::Detector;
use crate::error::{Error, Result};
use crate::outbox::Outbox;
use crate::rules;
use crate::time::LocalTime;
use capture::now_unix;
use metrics::Metrics;
use reload::Live;
use storage::Storage;

/// Runs until SIGTERM/SIGINT (or `stop` is set).
/// With `stats`, the run's figures (`Metrics::run_stats_json`) are written there at shutdown.
pub fn run(
    cfg: ServiceConfig,
    mut det: Detector,
    mut more: Vec<Detector>,
    stop: Arc<AtomicBool>,
    stats: Option<&std::path::Path>,
) -> Result<()> {
    for cam in &cfg.cameras {
        cam.calibration.check_classes(&det.manifest().classes)?;
    }
    let storage_dir = cfg.storage.dir.clone();
    let outbox = Arc::new(Outbox::open(
        &storage_dir.join("outbox"),
        cfg.storage.max_outbox,
    )?);
    let storage = Storage::open(&cfg.storage, outbox.clone())?;
    tracing::info!(
        site = %cfg.site,
        cameras = %cfg.cameras.iter().map(|c| format!("{} ({})", c.id, c.safe_url())).collect::<Vec<_>>().join(", "),
        broker = %format!("{}:{}", cfg.mqtt.host, cfg.mqtt.port),
        storage = %storage_dir.display(),
        "starting"
    );
    let pending = outbox.depth();
    if pending > 0 {
        tracing::info!(
            pending,
            "alerts from a previous run are waiting in the outbox: they will be resent"
        );
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    let (tx, rx) = mpsc::unbounded_channel();
    let kick = Arc::new(Notify::new());
    let mqtt_stats = Arc::new(mqtt::MqttStats::default());
    // The cameras are given to the metrics once their capture has started (and at each reload).
    let metrics = Arc::new(Metrics::new(
        Vec::new(),
        Vec::new(),
        outbox.clone(),
        mqtt_stats.clone(),
        storage.stats.clone(),
    ));

    // Signals: the first SIGTERM/SIGINT starts the shutdown.
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| Error::io("signal handler", e))?;
    }
    // SIGHUP (`systemctl reload`) asks for the configuration and calibrations to be read again
    // (registered early: its default action would end the process).
    let reload = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, reload.clone())
        .map_err(|e| Error::io("signal handler", e))?;
    let (feedback_tx, feedback_rx) = std::sync::mpsc::channel();
    // The MQTT task drains the outbox and ends once `flush` is set: after the analytics worker
    // has stored its last alerts and clips, not at the signal.
    let flush = Arc::new(AtomicBool::new(false));
    let mqtt_task = runtime.spawn(mqtt::run(
        cfg.clone(),
        outbox.clone(),
        rx,
        kick.clone(),
        flush.clone(),
        mqtt_stats.clone(),
    ));
    // The control room's decisions (dismissed episodes are not raised again).
    let feedback_task = runtime.spawn(mqtt::follow_feedback(
        cfg.clone(),
        feedback_tx,
        stop.clone(),
    ));
    if let Some(addr) = cfg.metrics {
        let m = metrics.clone();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(addr))
            .map_err(|e| Error::io(format!("metrics address {addr}"), e))?;
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
        runtime.spawn(metrics::serve(listener, m));
    }

    // Capture threads, one per camera, each with its own stop flag (a reload stops some).
    let mut lives: Vec<Live> = Vec::new();
    for cam in &cfg.cameras {
        lives.push(Live::start(cam, &tx)?);
    }
    metrics.set_cameras(
        cfg.cameras.iter().map(|c| c.id.clone()).collect(),
        lives.iter().map(|l| l.slot.clone()).collect(),
    );
    // Capture threads of cameras a reload removed or changed: joined at the end.
    let mut retired: Vec<std::thread::JoinHandle<()>> = Vec::new();

    // The inference worker (this thread) hands each detected frame to the analytics worker
    // (tracker, cues, rules, snapshots, outbox), so that inference never waits for them.
    for d in std::iter::once(&mut det).chain(&mut more) {
        detect_for_tracking(d);
    }
    let started_unix = now_unix();
    let (open, carried) = episodes::OpenEpisodes::load(&storage_dir);
    let mut worker = AnalyticsWorker {
        analytics: cfg
            .cameras
            .iter()
            .map(|c| Analytics::new(&c.calibration, &det))
            .collect::<Result<_>>()?,
        makers: cfg
            .cameras
            .iter()
            .map(|c| AlertMaker::new(&c.calibration, &det, c.safe_url(), Some(started_unix)))
            .collect(),
        cfg: cfg.clone(),
        started_unix,
        storage,
        open,
        last_refresh: None,
        feedback: feedback_rx,
        decided: Decided::default(),
        kick: kick.clone(),
        metrics: metrics.clone(),
        clips: clips::Recorder::new(
            cfg.cameras.len(),
            cfg.storage.clip_before_s,
            cfg.storage.clip_after_s,
        ),
        encoder: None,
    };
    worker.restore(carried);
    // Two jobs in flight at most: when the analytics fall behind, inference waits for them
    // rather than queueing stale frames (the capture mailboxes keep only the newest frame).
    let (jobs_tx, jobs_rx) = std::sync::mpsc::sync_channel::<Job>(2);
    // Nothing the analytics meet is fatal (a bad frame is skipped, storage errors are counted):
    // the thread runs until the jobs channel closes.
    let analytics_thread = std::thread::Builder::new()
        .name("analytics".into())
        .spawn(move || worker.run(jobs_rx))
        .map_err(|e| Error::io("analytics thread", e))?;
    // More inference sessions (`inference_sessions`): each takes a camera's frame when it is
    // idle, while this thread schedules and runs inference too.
    let (helper_tx, helper_rx) = std::sync::mpsc::sync_channel::<Helped>(0);
    let helper_rx = SharedReceiver::new(helper_rx);
    let mut helpers = Vec::new();
    for (n, d) in more.into_iter().enumerate() {
        let (rx, jobs) = (helper_rx.clone(), jobs_tx.clone());
        helpers.push(
            std::thread::Builder::new()
                .name(format!("inference-{}", n + 1))
                .spawn(move || helper(d, rx, jobs))
                .map_err(|e| Error::io("inference thread", e))?,
        );
    }
    drop(helper_rx);
    let mut stalled_logged = false;
    let mut cfg = cfg;
    let mut last_health = Instant::now();
    let mut notifier = systemd::Notifier::from_env();
    notifier.ready(&metrics.status_line());
    while !stop.load(Ordering::Relaxed) {
        // The watchdog is fed here and nowhere else: a detector that hangs, or analytics that
        // stop taking frames (the send below then blocks), stop the pings; so does another
        // session that has held a frame for longer than a minute (looked at when a ping is due).
        let fed = notifier.alive(|| {
            !lives.iter().any(|l| {
                l.held_since()
                    .is_some_and(|t| clock_ms().saturating_sub(t) > 60_000)
            })
        });
        if !fed && !stalled_logged {
            stalled_logged = true;
            tracing::error!("an inference session has held a frame for over a minute: the watchdog is no longer fed");
        }
        if reload.swap(false, Ordering::Relaxed) {
            notifier.reloading();
            // The frames other sessions hold are numbered by the cameras before the reload:
            // they reach the analytics first.
            while lives.iter().any(|l| l.held_since().is_some()) {
                std::thread::sleep(Duration::from_millis(2));
            }
            match reload::prepare(&cfg, &det, started_unix, &tx) {
                Ok(plan) => {
                    let job = reload::apply(plan, &mut cfg, &mut lives, &mut retired, &tx)?;
                    if jobs_tx.send(job).is_err() {
                        break;
                    }
                }
                Err(e) => tracing::error!(
                    file = %cfg.path.display(),
                    error = %e,
                    "reload refused: the running configuration is kept"
                ),
            }
            notifier.ready(&metrics.status_line());
        }
        let now = Instant::now();
        if last_health.elapsed().as_secs_f64() >= cfg.health_interval_s {
            last_health = now;
            let _ = tx.send(mqtt::Message::Health(metrics.health_json()));
            notifier.status(&metrics.status_line());
        }
        // The most overdue camera with a frame waiting goes first: under overload every camera
        // slows down evenly, and only the newest frame is ever analysed (bounded lag).
        let pick = (0..lives.len())
            .filter(|&i| {
                lives[i].due <= now && lives[i].slot.has_frame() && lives[i].held_since().is_none()
            })
            .min_by_key(|&i| lives[i].due);
        let Some(i) = pick else {
            std::thread::sleep(Duration::from_millis(3));
            continue;
        };
        let live = &mut lives[i];
        let Some(frame) = live.slot.take() else {
            continue;
        };
        live.due = (live.due + live.period).max(now.checked_sub(live.period).unwrap_or(now));
        let cam = &cfg.cameras[i];
        live.analysed += 1;
        // About once a second, the view is compared with the calibration's reference.
        if let Some(w) = live.watch.as_mut() {
            if live.analysed % (cam.detect_fps.round().max(1.0) as u64) == 1 {
                match w.check(&frame.image) {
                    Ok(Some(state)) => {
                        let detail = w
                            .last
                            .map(|m| serde_json::to_string(&m).unwrap_or_default())
                            .unwrap_or_default();
                        tracing::warn!(camera = %cam.id, view = state.as_str(), %detail, "view changed");
                        let _ = tx.send(mqtt::Message::View {
                            camera: cam.id.clone(),
                            state: state.as_str().into(),
                            detail,
                        });
                    }
                    Ok(None) => {}
                    // Like a detection error: this frame's check is skipped, the next one runs.
                    Err(e) => {
                        tracing::error!(camera = %cam.id, error = %e, "view check failed on a frame; skipped")
                    }
                }
            }
            if w.state != crate::viewwatch::ViewState::Ok {
                // The calibration does not fit this view: its rules are suspended.
                continue;
            }
        }
        // Another session takes the frame when one is idle; else this thread runs it.
        let frame = if helpers.is_empty() {
            frame
        } else {
            live.busy.store(clock_ms(), Ordering::Relaxed);
            let work = Helped {
                cam: i,
                camera: cam.id.clone(),
                frame,
                busy: live.busy.clone(),
            };
            match helper_tx.try_send(work) {
                Ok(()) => continue,
                Err(std::sync::mpsc::TrySendError::Full(w))
                | Err(std::sync::mpsc::TrySendError::Disconnected(w)) => {
                    live.busy.store(0, Ordering::Relaxed);
                    w.frame
                }
            }
        };
        let Some(job) = detect_job(&mut det, i, &cam.id, frame) else {
            continue;
        };
        if jobs_tx.send(job).is_err() {
            break;
        }
    }
    notifier.stopping();
    for live in &lives {
        live.stop.store(true, Ordering::Relaxed);
    }
    drop(helper_tx);
    for h in helpers {
        let _ = h.join();
    }
    drop(jobs_tx);
    let analytics_result = analytics_thread
        .join()
        .map_err(|_| Error::Inference("the analytics thread panicked".into()));
    tracing::info!("shutting down: stopping capture, flushing the outbox");
    for t in lives
        .iter_mut()
        .filter_map(|l| l.thread.take())
        .chain(retired)
    {
        let _ = t.join();
    }
    flush.store(true, Ordering::Relaxed);
    kick.notify_one();
    drop(tx);
    let _ = runtime.block_on(mqtt_task);
    let _ = runtime.block_on(feedback_task);
    runtime.shutdown_timeout(Duration::from_secs(1));
    if let Some(path) = stats {
        let json = metrics.run_stats_json().to_string();
        std::fs::write(path, json).map_err(|e| Error::io(path, e))?;
    }
    analytics_result
}

/// Milliseconds since the service's clock started (never 0 after the first call).
fn clock_ms() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

/// A camera's frame for another inference session.
struct Helped {
    cam: usize,
    camera: String,
    frame: capture::Captured,
    /// The camera's busy mark, cleared once the detected frame is queued for the analytics.
    busy: Arc<std::sync::atomic::AtomicU64>,
}

/// Another inference session: detects the frames it is handed and queues them for the
/// analytics, until the scheduler ends.
fn helper(mut det: Detector, rx: SharedReceiver<Helped>, jobs: std::sync::mpsc::SyncSender<Job>) {
    while let Some(w) = rx.recv() {
        let queued = match detect_job(&mut det, w.cam, &w.camera, w.frame) {
            Some(job) => jobs.send(job).is_ok(),
            None => true,
        };
        w.busy.store(0, Ordering::Relaxed);
        if !queued {
            return;
        }
    }
}

/// Detects camera `cam`'s frame for the analytics. One bad frame must not stop the box: a
/// detection error is logged and the frame skipped.
fn detect_job(
    det: &mut Detector,
    cam: usize,
    camera: &str,
    frame: capture::Captured,
) -> Option<Job> {
    match det.detect(&frame.image) {
        Ok((dets, times)) => Some(Job::Frame {
            cam,
            frame,
            dets,
            inference_ms: times.inference.as_secs_f64() * 1000.0,
        }),
        Err(e) => {
            tracing::error!(camera = %camera, error = %e, "detection failed on a frame; skipped");
            None
        }
    }
}

/// Work for the analytics worker, in the order the inference loop decided it.
enum Job {
    /// A detected frame of camera `cam`.
    Frame {
        cam: usize,
        frame: capture::Captured,
        dets: Vec<crate::detect::Detection>,
        inference_ms: f64,
    },
    /// A reload: the cameras from now on, in order, and their analytics (`reload`); the frames
    /// after it number cameras by this list.
    Reload {
        cameras: Vec<crate::config::CameraConfig>,
        parts: Vec<reload::Part>,
        slots: Vec<Arc<capture::Slot>>,
    },
}

/// Per-camera analytics after detection: tracker, cues, rules, episodes, and for each alert the
/// snapshot, the durable outbox entries and the alert log.
struct AnalyticsWorker {
    analytics: Vec<Analytics>,
    makers: Vec<AlertMaker>,
    cfg: ServiceConfig,
    started_unix: f64,
    storage: Storage,
    /// Episodes open now, kept on disk for the next run.
    open: episodes::OpenEpisodes,
    last_refresh: Option<f64>,
    /// The control room's decisions, from the MQTT task.
    feedback: std::sync::mpsc::Receiver<mqtt::Feedback>,
    decided: Decided,
    kick: Arc<Notify>,
    metrics: Arc<Metrics>,
    /// Episodes' clips: the frames kept and the clips being filled.
    clips: clips::Recorder,
    /// The clip encoder thread (started with the worker when clips are on).
    encoder: Option<Encoder>,
}

/// The clip encoder: finished clips go in, WebM files (or why not) come back.
struct Encoder {
    /// A clip, its camera's rate and id (a reload may renumber the cameras meanwhile).
    jobs: std::sync::mpsc::Sender<(clips::Finished, f64, String)>,
    done: std::sync::mpsc::Receiver<(String, String, Result<Vec<u8>>)>,
    thread: std::thread::JoinHandle<()>,
}

impl Encoder {
    /// Encodes on a thread of its own at a lower priority than inference, through temporary
    /// files `.encoding-<id>.webm` in the storage folder (left-overs of a killed run removed).
    fn start(dir: std::path::PathBuf) -> Result<Encoder> {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with(".encoding-") && name.ends_with(".webm") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let (jobs, rx) = std::sync::mpsc::channel::<(clips::Finished, f64, String)>();
        let (tx, done) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("clips".into())
            .spawn(move || {
                // SAFETY: plain system calls on this thread's own id and priority.
                unsafe {
                    libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
                }
                for (clip, fps, camera) in rx {
                    let tmp = dir.join(format!(".encoding-{}.webm", clip.alert_id));
                    let started = Instant::now();
                    let result = clips::encode(&clip.frames, fps, &tmp);
                    tracing::debug!(alert = %clip.alert_id, frames = clip.frames.len(), ms = started.elapsed().as_millis() as u64, "clip encoded");
                    if tx.send((clip.alert_id, camera, result)).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| Error::io("clip encoder thread", e))?;
        Ok(Encoder { jobs, done, thread })
    }
}

/// Seconds a carried episode has, beyond its zone's confirmation and clear times, to be
/// confirmed again after a restart (the cues' warm-up, a camera that reconnects slowly).
const RESTART_GRACE: f64 = 30.0;

impl AnalyticsWorker {
    fn run(&mut self, jobs: std::sync::mpsc::Receiver<Job>) {
        if self.clips.enabled() {
            match Encoder::start(self.cfg.storage.dir.clone()) {
                Ok(e) => self.encoder = Some(e),
                Err(e) => tracing::error!(error = %e, "no clips: the encoder cannot start"),
            }
        }
        for job in jobs {
            match job {
                Job::Frame {
                    cam,
                    frame,
                    dets,
                    inference_ms,
                } => self.step(cam, &frame, &dets, inference_ms),
                Job::Reload {
                    cameras,
                    parts,
                    slots,
                } => self.reload(cameras, parts, slots),
            }
        }
        save_open(&mut self.open, &self.storage, false);
        // The clips being filled end here; those encoded are stored before the worker ends.
        let left = self.clips.flush();
        self.encode(left);
        if let Some(enc) = self.encoder.take() {
            drop(enc.jobs);
            let _ = enc.thread.join();
            let results: Vec<_> = enc.done.try_iter().collect();
            for r in results {
                self.store_clip(r);
            }
            self.kick.notify_one();
        }
    }

    /// Hands finished clips to the encoder.
    fn encode(&self, finished: Vec<clips::Finished>) {
        let Some(enc) = &self.encoder else {
            return;
        };
        for clip in finished {
            let Some(cam) = self.cfg.cameras.get(clip.camera) else {
                continue;
            };
            let _ = enc.jobs.send((clip, cam.detect_fps, cam.id.clone()));
        }
    }

    fn store_clip(&mut self, (alert_id, cam, result): (String, String, Result<Vec<u8>>)) {
        match result {
            Ok(webm) => {
                if self.storage.record_clip(&alert_id, &cam, &webm) {
                    tracing::info!(camera = %cam, alert = %alert_id, bytes = webm.len(), "clip stored");
                }
            }
            Err(e) => {
                self.storage
                    .stats
                    .clips_skipped
                    .fetch_add(1, Ordering::Relaxed);
                tracing::error!(camera = %cam, alert = %alert_id, error = %e, "cannot encode a clip");
            }
        }
    }

    /// Takes over the episodes the previous run left open: each goes on in its camera's
    /// analytics, or ends now when its camera or zone is no longer configured.
    fn restore(&mut self, carried: Vec<episodes::Record>) {
        for r in carried {
            let a = &r.alert;
            let cam = self.cfg.cameras.iter().position(|c| c.id == a.camera_id);
            let zone = cam.and_then(|i| {
                let zones = &self.cfg.cameras[i].calibration.zones;
                zones
                    .iter()
                    .position(|z| z.name == a.zone && z.zone_type() == a.zone_type)
                    .map(|z| (i, z, &zones[z]))
            });
            let carried_as = zone.and_then(|(i, z, zone)| {
                let media = |unix: f64| unix - self.started_unix;
                let c = rules::Carried {
                    first_seen: media(r.first_seen_unix),
                    confirmed_at: media(r.confirmed_unix),
                    last_seen: media(r.last_seen_unix),
                    observation: rules::Observation {
                        zone: z,
                        event_type: a.event_type,
                        subtype: a.subtype,
                        confidence: a.confidence,
                        tracks: a.tracks.clone(),
                        regions: a.regions.clone(),
                        measures: a.measures.clone(),
                    },
                    grace: zone.confirm_seconds + zone.clear_seconds + RESTART_GRACE,
                };
                self.analytics[i].episodes.carry(c).map(|n| (i, n))
            });
            match carried_as {
                Some((i, n)) => {
                    self.makers[i].adopt(n, a.episode_id.clone());
                    tracing::info!(camera = %a.camera_id, episode = %a.episode_id, zone = %a.zone, "an episode open at the last stop is followed again");
                    self.open.keep(r);
                }
                None => {
                    let mut end =
                        episodes::end_now(&r, uuid::Uuid::now_v7().to_string(), self.started_unix);
                    tracing::info!(camera = %a.camera_id, episode = %a.episode_id, zone = %a.zone, "an episode open at the last stop has no camera or zone now; ended");
                    self.storage.record(&mut end, &[]);
                }
            }
        }
        self.kick.notify_one();
        save_open(&mut self.open, &self.storage, false);
    }

    /// A reload (see `reload`): unchanged cameras keep their analytics; the open episodes of
    /// changed and removed cameras are carried into the new analytics or ended, as after a
    /// restart.
    fn reload(
        &mut self,
        cameras: Vec<crate::config::CameraConfig>,
        parts: Vec<reload::Part>,
        slots: Vec<Arc<capture::Slot>>,
    ) {
        // Clips follow their camera by id; a removed camera's clips end now.
        let by_id: Vec<Option<usize>> = cameras
            .iter()
            .map(|c| self.cfg.cameras.iter().position(|o| o.id == c.id))
            .collect();
        let ended = self.clips.remap(&by_id);
        self.encode(ended);
        let mut old: Vec<Option<(Analytics, AlertMaker)>> = std::mem::take(&mut self.analytics)
            .into_iter()
            .zip(std::mem::take(&mut self.makers))
            .map(Some)
            .collect();
        for (cam, part) in cameras.iter().zip(parts) {
            let (a, m) = match part {
                reload::Part::Kept(i) => match old.get_mut(i).and_then(Option::take) {
                    Some(am) => am,
                    None => {
                        // Cannot happen (camera ids are unique); the camera is left out
                        // rather than the worker stopped.
                        tracing::error!(camera = %cam.id, "reload: no analytics to keep; camera skipped until the next reload");
                        continue;
                    }
                },
                reload::Part::New(b) => *b,
            };
            self.analytics.push(a);
            self.makers.push(m);
        }
        // The cameras whose analytics were not kept: their open episodes start over.
        let replaced: Vec<String> = self
            .cfg
            .cameras
            .iter()
            .zip(&old)
            .filter(|(_, o)| o.is_some())
            .map(|(c, _)| c.id.clone())
            .collect();
        let carried = self.open.take_cameras(&replaced);
        let ids = cameras.iter().map(|c| c.id.clone()).collect();
        self.cfg.cameras = cameras;
        self.metrics.set_cameras(ids, slots);
        self.restore(carried);
    }

    fn step(
        &mut self,
        i: usize,
        frame: &capture::Captured,
        dets: &[crate::detect::Detection],
        inference_ms: f64,
    ) {
        let cam = &self.cfg.cameras[i];
        // Everything logged for this frame (tracker, cues, rules) names its camera.
        let _span = tracing::info_span!("camera", id = %cam.id).entered();
        let cal = &cam.calibration;
        let t = frame.unix - self.started_unix;
        let local = Some(LocalTime::from_unix(frame.unix, &cal.time_zone));
        // One frame the analytics cannot take (an OpenCV error) must not stop the box.
        let events = match self.analytics[i].step(cal, t, local, &frame.image, dets, &[]) {
            Ok(ev) => ev,
            Err(e) => {
                tracing::error!(error = %e, "analytics failed on a frame; skipped");
                Vec::new()
            }
        };
        if self.encoder.is_some() {
            match clips::shrink(&frame.image, self.cfg.storage.clip_width as i32) {
                Ok(jpeg) => {
                    let finished = self.clips.frame(i, frame.unix, jpeg);
                    self.encode(finished);
                }
                Err(e) => tracing::warn!(error = %e, "a frame could not be kept for clips"),
            }
        }
        while let Ok(f) = self.feedback.try_recv() {
            self.decided.decide(&f.episode_id, &f.decision);
        }
        for ev in events {
            if let Some(id) = self.makers[i].episode_id(ev.episode) {
                if !self.decided.sends(id, ev.phase) {
                    continue; // dismissed or closed by the control room
                }
            }
            let mut alert = self.makers[i].make(&ev, cal, 0);
            let mut img = frame.image.clone();
            let jpeg = annotate::draw_alert(
                &mut img,
                cal,
                self.analytics[i].tracker.tracks(),
                t,
                &alert,
            )
            .and_then(|()| annotate::encode_jpeg(&img))
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot draw the alert's snapshot; sending it without");
                Vec::new()
            });
            // The open episodes are on disk before the alert is: a stop between the two leaves
            // an episode followed (resumed or ended) after the restart, never one left open.
            self.open.on_alert(&alert, self.started_unix);
            save_open(&mut self.open, &self.storage, false);
            // Durable first, then announced: the outbox entries are fsync'd before anyone is
            // told; the snapshot goes first, so that a subscriber has the image when the alert
            // arrives; without room for it, the alert goes alone.
            self.storage.record(&mut alert, &jpeg);
            if ev.phase == rules::Phase::Start {
                self.clips.start(i, &alert.id, frame.unix);
            }
            self.kick.notify_one();
            tracing::info!(camera = %cam.id, "{}", alert.summary());
        }
        // The open episodes' last-seen times, about every 30 s.
        if !self.open.is_empty() && self.last_refresh.is_none_or(|r| frame.unix - r >= 30.0) {
            self.last_refresh = Some(frame.unix);
            for (analytics, maker) in self.analytics.iter().zip(&self.makers) {
                for (n, last_seen) in analytics.episodes.open_episodes() {
                    if let Some(id) = maker.episode_id(n) {
                        self.open.seen(id, self.started_unix + last_seen);
                    }
                }
            }
        }
        save_open(&mut self.open, &self.storage, true);
        // Clips the encoder has finished go to storage and the outbox.
        let results: Vec<_> = self
            .encoder
            .as_ref()
            .map(|e| e.done.try_iter().collect())
            .unwrap_or_default();
        for r in results {
            self.store_clip(r);
            self.kick.notify_one();
        }
        self.storage.retry_held(false);
        self.metrics
            .record(i, frame.at.elapsed().as_secs_f64() * 1000.0, inference_ms);
    }
}

/// Writes the open episodes when they changed (or, with `refresh`, their last-seen times are
/// due); a failure is logged and counted as a storage error, and tried again later.
fn save_open(open: &mut episodes::OpenEpisodes, storage: &Storage, refresh: bool) {
    if let Err(e) = open.save(refresh) {
        storage.stats.errors.fetch_add(1, Ordering::Relaxed);
        tracing::error!(file = episodes::FILE, error = %e, "storage: cannot write the open episodes");
    }
}
