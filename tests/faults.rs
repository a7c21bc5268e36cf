//! What a roadside box meets, against real parts: a Mosquitto broker reached through a link
//! that delays every byte (a 4G link's round trip), with the service's MQTT delivery
//! (`service::mqtt::run`) and its durable outbox.
//!
//! The storage on a real small file system (tmpfs; mounting it needs root, as CI has): a disk
//! that fills up, budgets for snapshots and the alert log.
//!
//! Not covered here: loss and reordering on the link (TCP hides them, but they stretch the
//! round trip further), TLS through the slow link (the TLS test in `live.rs` runs on loopback),
//! and the cameras' side (RTSP over a slow link).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use common::services::Broker;
use common::SmallDisk;
use streetwatch::config::{ServiceConfig, StorageConfig};
use streetwatch::outbox::Outbox;
use streetwatch::service::mqtt::{self, MqttStats};
use streetwatch::service::storage::Storage;

/// A TCP proxy on loopback that holds every chunk of bytes for `one_way` before passing it on,
/// in both directions: a link with a round trip of twice that. Counts the connections it took.
struct DelayProxy {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl DelayProxy {
    fn start(upstream: u16, one_way: Duration) -> DelayProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                pump(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    one_way,
                );
                pump(server, client, one_way);
            }
        });
        DelayProxy { port, accepted }
    }
}

/// Copies `from` to `to`, each chunk `delay` after it was read (in order).
fn pump(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    std::thread::spawn(move || {
        for (due, bytes) in rx {
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// A service configuration whose broker is at `port` (the proxy), with `mqtt` lines added to
/// its `[mqtt]` table.
fn config(dir: &Path, port: u16, mqtt: &str) -> ServiceConfig {
    let cal = common::root().join("tests/data/vtest-quick.toml");
    let text = format!(
        "site = \"slow\"\n\n[mqtt]\nhost = \"127.0.0.1\"\nport = {port}\nclient_id = \"sw-slow-{port}\"\n{mqtt}\n\n\
         [storage]\ndir = \"{}\"\n\n[[cameras]]\nid = \"cam1\"\nurl = \"rtsp://127.0.0.1:9/none\"\n\
         calibration = \"{}\"\ndetect_fps = 5\n",
        dir.join("storage").display(),
        cal.display()
    );
    let p = dir.join("service.toml");
    std::fs::write(&p, text).unwrap();
    ServiceConfig::load(&p).unwrap()
}

/// Alerts and snapshots seen on the broker (subscribed directly, not through the slow link):
/// alert payload ids, and `snapshot:<alert id>` for snapshots.
fn watch_alerts(broker: u16, seen: Arc<std::sync::Mutex<Vec<(String, Instant)>>>) {
    let mut o = rumqttc::MqttOptions::new(format!("watch-{broker}"), "127.0.0.1", broker);
    o.set_keep_alive(Duration::from_secs(5));
    o.set_max_packet_size(32 << 20, 32 << 20);
    let (client, mut conn) = rumqttc::Client::new(o, 64);
    for topic in ["streetwatch/+/+/alerts", "streetwatch/+/+/snapshots/+"] {
        client.subscribe(topic, rumqttc::QoS::AtLeastOnce).unwrap();
    }
    std::thread::spawn(move || {
        for ev in conn.iter() {
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) = ev {
                let id = match p.topic.split_once("/snapshots/") {
                    Some((_, alert)) => format!("snapshot:{alert}"),
                    None => serde_json::from_slice::<serde_json::Value>(&p.payload)
                        .unwrap_or_default()["id"]
                        .as_str()
                        .unwrap_or("?")
                        .to_string(),
                };
                seen.lock().unwrap().push((id, Instant::now()));
            }
        }
    });
}

/// A delivery run: the link, the broker's and the service's settings, and what is in the outbox.
struct Run<'a> {
    rtt: Duration,
    /// Lines for mosquitto.conf.
    broker: &'a str,
    /// Lines for the service's `[mqtt]` table.
    mqtt: &'a str,
    alerts: usize,
    /// KiB of the snapshot stored before alert `i`, if any.
    snapshot_kb: &'a dyn Fn(usize) -> Option<usize>,
    /// Camera status messages (QoS 1, retained) published all through the run.
    statuses: bool,
    /// How long to wait for the outbox to empty.
    wait: Duration,
    /// The service reaches the broker over TLS (the watcher over a plain listener).
    tls: bool,
    /// Control-room decisions are published on the feedback topic once the service is up.
    feedback: bool,
}

#[derive(Debug)]
struct Delivered {
    /// Messages seen at the broker (alert ids and `snapshot:<id>`), duplicates included.
    seen: Vec<String>,
    /// Entries removed from the outbox before the broker had them (alert or snapshot ids).
    removed_early: Vec<String>,
    /// Decisions the service took from its feedback topic.
    decisions: Vec<mqtt::Feedback>,
    /// Connections the service opened through the link.
    sessions: usize,
    /// When the first message arrived.
    first: Option<Duration>,
    quarantined: u64,
    published: u64,
    acked: u64,
    left: usize,
}

impl Delivered {
    fn distinct(&self, prefix: &str) -> usize {
        let set: std::collections::BTreeSet<&String> =
            self.seen.iter().filter(|s| s.starts_with(prefix)).collect();
        set.len()
    }
}

fn deliver(run: Run, plant: impl FnOnce(&Path)) -> Delivered {
    let dir = tempfile::tempdir().unwrap();
    let (broker, upstream, mqtt) = if run.tls {
        // Two listeners: TLS for the service (through the link), plain for the watcher.
        let d = dir.path().join("broker");
        std::fs::create_dir_all(&d).unwrap();
        common::services::test_ca(&d);
        let (plain, tls) = (common::services::free_port(), common::services::free_port());
        std::fs::write(
            d.join("mosquitto.conf"),
            format!(
                "user root\nallow_anonymous true\n{}listener {plain} 127.0.0.1\nlistener {tls} 127.0.0.1\ncafile {d}/ca.crt\ncertfile {d}/server.crt\nkeyfile {d}/server.key\n",
                run.broker,
                d = d.display()
            ),
        )
        .unwrap();
        let mqtt = format!("{}\ntls_ca = \"{}\"", run.mqtt, d.join("ca.crt").display());
        (Broker::with_conf(&d, plain), tls, mqtt)
    } else {
        let b = Broker::start_with(&dir.path().join("broker"), None, run.broker);
        let port = b.port;
        (b, port, run.mqtt.to_string())
    };
    common::services::wait_port(upstream, "the broker's TLS listener");
    let proxy = DelayProxy::start(upstream, run.rtt / 2);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    watch_alerts(broker.port, seen.clone());
    std::thread::sleep(Duration::from_millis(300)); // the watcher's subscription
    let cfg = config(dir.path(), proxy.port, &mqtt);
    let outbox = Arc::new(Outbox::open(&cfg.storage.dir.join("outbox"), 100_000).unwrap());
    plant(&cfg.storage.dir.join("outbox"));
    for i in 0..run.alerts {
        let id = format!("slow-{i}");
        if let Some(kb) = (run.snapshot_kb)(i) {
            outbox
                .put_kind(&format!("{id}@cam1"), "jpg", &jpeg(kb))
                .unwrap();
        }
        let payload = serde_json::json!({"id": id, "camera_id": "cam1"}).to_string();
        outbox.put(&id, payload.as_bytes()).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(MqttStats::default());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (feedback_tx, feedback_rx) = mpsc::channel();
    // Decisions come on a session of their own (persistent at the broker), through the same
    // slow link.
    let feedback_task = run.feedback.then(|| {
        rt.spawn(mqtt::follow_feedback(
            cfg.clone(),
            feedback_tx,
            stop.clone(),
        ))
    });
    let task = rt.spawn(mqtt::run(
        cfg,
        outbox.clone(),
        rx,
        Arc::new(tokio::sync::Notify::new()),
        stop.clone(),
        stats.clone(),
    ));
    let t0 = Instant::now();
    let mut first = None;
    let mut n_status = 0;
    // When each entry left the outbox (polled every few ms): the service removes an entry on
    // its broker's acknowledgement, so never before the broker has it.
    let outbox_dir = outbox.path("");
    let listed = || -> std::collections::BTreeSet<String> {
        std::fs::read_dir(&outbox_dir)
            .unwrap()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let (stem, _) = name.rsplit_once('.')?;
                Some(stem.split_once('-')?.1.to_string())
            })
            .collect()
    };
    let mut present: std::collections::BTreeMap<String, Option<Instant>> =
        listed().into_iter().map(|id| (id, None)).collect();
    let poll_removed = |present: &mut std::collections::BTreeMap<String, Option<Instant>>| {
        let now = listed();
        for (id, gone) in present.iter_mut() {
            if gone.is_none() && !now.contains(id) {
                *gone = Some(Instant::now());
            }
        }
    };
    let mut fed = false;
    while t0.elapsed() < run.wait {
        poll_removed(&mut present);
        // Once both sessions are up (and the decisions' subscription had a second to arrive).
        if run.feedback
            && !fed
            && !seen.lock().unwrap().is_empty()
            && proxy.accepted.load(Ordering::SeqCst) >= 2
            && t0.elapsed() > Duration::from_secs(2)
        {
            fed = true;
            for payload in [
                r#"{"episode_id":"ep-1","decision":"dismiss","operator":"x"}"#,
                r#"{"episode_id":"../../ep","decision":"dismiss"}"#,
                r#"{"episode_id":"ep-2","decision":"close"}"#,
            ] {
                assert!(std::process::Command::new("mosquitto_pub")
                    .args([
                        "-p",
                        &broker.port.to_string(),
                        "-q",
                        "1",
                        "-t",
                        "streetwatch/slow/cam1/feedback",
                        "-m",
                        payload
                    ])
                    .status()
                    .unwrap()
                    .success());
            }
        }
        if !seen.lock().unwrap().is_empty() && first.is_none() {
            first = Some(t0.elapsed());
        }
        if outbox.depth() == 0 && stats.acked.load(Ordering::SeqCst) > 0 && (fed || !run.feedback) {
            break;
        }
        // Bursts of ten every 20 ms, so that they interleave with the alerts in rumqttc's queue.
        let burst = run.statuses && t0.elapsed().as_millis() / 20 > n_status as u128 / 10;
        for _ in 0..if burst { 10 } else { 0 } {
            n_status += 1;
            let _ = tx.send(mqtt::Message::Status(
                streetwatch::service::capture::StatusEvent {
                    camera: format!("cam{}", n_status % 10),
                    online: n_status % 2 == 0,
                    reason: format!("status {n_status}"),
                    unix: 0.0,
                },
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    poll_removed(&mut present);
    // The two valid decisions, on their own session.
    let mut decisions = Vec::new();
    let waited = Instant::now();
    while run.feedback && decisions.len() < 2 && waited.elapsed() < Duration::from_secs(15) {
        if let Ok(f) = feedback_rx.recv_timeout(Duration::from_millis(100)) {
            decisions.push(f);
        }
    }
    stop.store(true, Ordering::SeqCst);
    rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        if let Some(t) = feedback_task {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    });
    decisions.extend(feedback_rx.try_iter());
    std::thread::sleep(Duration::from_millis(200)); // the watcher's last messages
    let seen = seen.lock().unwrap().clone();
    let received = |id: &str| {
        let key = match id.split_once('@') {
            Some((alert, _)) => format!("snapshot:{alert}"),
            None => id.to_string(),
        };
        seen.iter().find(|(s, _)| *s == key).map(|(_, at)| *at)
    };
    let removed_early = present
        .iter()
        .filter(|(id, gone)| match (gone, received(id)) {
            (Some(gone), Some(got)) => *gone < got,
            (Some(_), None) => true,
            (None, _) => false,
        })
        .map(|(id, _)| id.clone())
        .collect();
    let d = Delivered {
        seen: seen.into_iter().map(|(s, _)| s).collect(),
        removed_early,
        decisions,
        sessions: proxy.accepted.load(Ordering::SeqCst),
        first,
        quarantined: outbox.quarantined.load(Ordering::SeqCst),
        published: stats.published.load(Ordering::SeqCst),
        acked: stats.acked.load(Ordering::SeqCst),
        left: outbox.depth(),
    };
    eprintln!(
        "rtt {} ms: {} messages ({} distinct alerts, {} distinct snapshots) of {} alerts, {} quarantined, {} left in the outbox, {} connection(s), published {}, acknowledged {}, first after {:?}, {n_status} status messages",
        run.rtt.as_millis(),
        d.seen.len(),
        d.distinct("slow-"),
        d.distinct("snapshot:"),
        run.alerts,
        d.quarantined,
        d.left,
        d.sessions,
        d.published,
        d.acked,
        d.first
    );
    d
}

/// Delivery of `alerts` plain alerts through a link with round trip `rtt`: how many distinct
/// alerts arrived, how many connections the service opened, when the first arrived and how
/// many entries were quarantined. `plant` may put files of its own into the outbox first.
fn deliver_through(
    rtt: Duration,
    alerts: usize,
    plant: impl FnOnce(&Path),
) -> (usize, usize, Option<Duration>, u64) {
    let d = deliver(
        Run {
            rtt,
            broker: "",
            mqtt: "",
            alerts,
            snapshot_kb: &|_| None,
            statuses: false,
            wait: Duration::from_secs(30),
            tls: false,
            feedback: false,
        },
        plant,
    );
    (d.distinct("slow-"), d.sessions, d.first, d.quarantined)
}

/// A 4G link's round trip (300 ms) and a bad one's (1 s): one session, every alert delivered and
/// acknowledged. (Before: the event loop was polled in a `select!` with a 200 ms tick that
/// cancelled every connection attempt: 237 attempts in 45 s, 0 sessions, 0 alerts at 300 ms.)
#[test]
fn slow_links_get_one_session_and_every_alert() {
    for rtt_ms in [300u64, 1000] {
        let (delivered, sessions, first, _) =
            deliver_through(Duration::from_millis(rtt_ms), 5, |_| {});
        assert_eq!(delivered, 5, "rtt {rtt_ms} ms: alerts delivered");
        assert_eq!(sessions, 1, "rtt {rtt_ms} ms: connections opened");
        // Connect (1 round trip) and publish (the broker has it after half of one): well
        // within ten round trips.
        let first = first.expect("an alert arrived");
        assert!(
            first < Duration::from_millis(10 * rtt_ms),
            "rtt {rtt_ms} ms: first alert after {first:?}"
        );
    }
}

/// The same over TLS (a handshake of its own round trips before CONNECT): one session and every
/// alert at 300 ms and 1 s round trip.
#[test]
fn slow_links_over_tls_get_one_session_and_every_alert() {
    for rtt_ms in [300u64, 1000] {
        let d = deliver(
            Run {
                rtt: Duration::from_millis(rtt_ms),
                broker: "",
                mqtt: "",
                alerts: 5,
                snapshot_kb: &|_| Some(75),
                statuses: false,
                wait: Duration::from_secs(40),
                tls: true,
                feedback: false,
            },
            |_| {},
        );
        assert_eq!(
            d.distinct("slow-"),
            5,
            "rtt {rtt_ms} ms over TLS: alerts delivered"
        );
        assert_eq!(
            d.distinct("snapshot:"),
            5,
            "rtt {rtt_ms} ms over TLS: snapshots delivered"
        );
        assert_eq!(
            d.sessions, 1,
            "rtt {rtt_ms} ms over TLS: connections opened"
        );
        let first = d.first.expect("an alert arrived");
        assert!(
            first < Duration::from_millis(10 * rtt_ms),
            "rtt {rtt_ms} ms over TLS: first alert after {first:?}"
        );
    }
}

/// Bad entries in the outbox (a directory named like an entry, a truncated alert, an alert
/// whose camera id would inject a topic level, a snapshot over the broker's packet limit) are
/// quarantined, and every good alert behind them is delivered. (Before: a directory named like
/// an entry left 0 of 22 alerts delivered and no log line.)
#[test]
fn bad_outbox_entries_do_not_stop_delivery() {
    let (delivered, sessions, _, quarantined) =
        deliver_through(Duration::from_millis(20), 5, |dir| {
            let seq = |n: u64| format!("{n:020}");
            std::fs::create_dir(dir.join(format!("{}-adir.json", seq(0)))).unwrap();
            std::fs::write(dir.join(format!("{}-cut.json", seq(0))), b"{\"id\": \"cu").unwrap();
            std::fs::write(
                dir.join(format!("{}-inject.json", seq(0))),
                br#"{"id": "inject", "camera_id": "cam/+/x"}"#,
            )
            .unwrap();
            let mut big = vec![0xFF, 0xD8];
            big.resize(17 << 20, 7);
            big.extend([0xFF, 0xD9]);
            std::fs::write(dir.join(format!("{}-huge@cam1.jpg", seq(0))), big).unwrap();
        });
    assert_eq!(delivered, 5);
    assert_eq!(sessions, 1);
    assert_eq!(quarantined, 4);
}

fn alert(n: usize) -> streetwatch::alert::Alert {
    let id = format!("0190a000-0000-7000-8000-{n:012}");
    let json = format!(
        r#"{{"id":"{id}","episode_id":"{id}","phase":"start","type":"vending","subtype":"piled_goods","dispatch":null,"camera_id":"cam1","site":"s","grid_cell":"g","gps":null,"zone":"z","zone_type":"no_vending","first_seen_media_s":1.0,"confirmed_media_s":2.0,"last_seen_media_s":2.0,"event_media_s":2.0,"first_seen_wall":null,"confirmed_wall":null,"last_seen_wall":null,"confirmation_s":1.0,"duration_s":1.0,"tracks":[],"regions":[],"measures":{{"count":0,"people":0}},"confidence":0.5,"source":"rtsp://cam","frame_index":1,"snapshot":null,"snapshot_original":null,"model":{{"name":"m","sha256":"0"}},"calibration":{{"path":"c","sha256":"0"}}}}"#
    );
    serde_json::from_str(&json).unwrap()
}

/// A JPEG-framed blob of `kb` KiB (the storage does not decode it).
fn jpeg(kb: usize) -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    j.resize(kb * 1024, 0x55);
    j.extend([0xFF, 0xD9]);
    j
}

fn storage_config(dir: &Path, min_free_mb: u64, max_snapshots_mb: u64) -> StorageConfig {
    toml::from_str(&format!(
        "dir = \"{}\"\nmin_free_mb = {min_free_mb}\nmax_snapshots_mb = {max_snapshots_mb}\nmax_log_mb = 1\n",
        dir.display()
    ))
    .unwrap()
}

/// The storage on a 4 MiB disk with a 1 MiB floor, filled by 200 alerts of 75 KiB snapshots
/// and then by a file that takes the rest: the first alerts keep their images, then alerts go
/// out without them, and when the disk is completely full they are held in memory, in order,
/// and stored as soon as space returns — no alert lost, nothing fatal. (Before: on a 2 MiB
/// disk the service exited after 87 s, 2 alerts neither logged nor sent, and died again on
/// restart.)
#[test]
fn a_full_disk_degrades_to_alerts_without_images_and_recovers() {
    let root = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(&root.path().join("disk"), 4);
    let dir = disk.0.join("storage");
    let cfg = storage_config(&dir, 1, 64);
    let outbox = Arc::new(Outbox::open(&dir.join("outbox"), 10_000).unwrap());
    let mut st = Storage::open(&cfg, outbox.clone()).unwrap();
    let (mut with, mut without) = (0, 0);
    for n in 0..200 {
        let mut a = alert(n);
        assert!(st.record(&mut a, &jpeg(75)));
        if a.snapshot.is_some() {
            with += 1;
        } else {
            without += 1;
        }
    }
    eprintln!("4 MiB disk: {with} alerts with images, {without} without");
    assert!(
        with >= 5 && without > 0,
        "{with} with images, {without} without"
    );
    assert!(st.stats.low.load(Ordering::SeqCst));
    // Now nothing fits at all: a file takes every free byte.
    let mut filler = std::fs::File::create(disk.0.join("filler")).unwrap();
    let block = vec![0u8; 64 * 1024];
    while filler.write_all(&block).is_ok() {}
    let _ = filler.write_all(&block[..1]);
    drop(filler);
    let mut held_ids = Vec::new();
    for n in 200..210 {
        let mut a = alert(n);
        held_ids.push(a.id.clone());
        let stored = st.record(&mut a, &jpeg(75));
        assert!(!stored, "alert {n} was stored on a full disk");
    }
    assert_eq!(st.held(), 10);
    assert!(st.stats.errors.load(Ordering::SeqCst) > 0);
    // Space returns: the held alerts go to the outbox, in order, with the next one.
    std::fs::remove_file(disk.0.join("filler")).unwrap();
    let mut a = alert(210);
    held_ids.push(a.id.clone());
    assert!(st.record(&mut a, &jpeg(75)));
    assert_eq!(st.held(), 0);
    let queued: Vec<String> = outbox
        .pending()
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "json")
        .map(|e| e.id)
        .collect();
    assert_eq!(queued.len(), 211, "every alert is in the outbox");
    assert_eq!(&queued[200..], &held_ids[..], "in order");
}

/// Snapshots stay within `max_snapshots_mb` (the oldest go first) and the alert log is rotated
/// at `max_log_mb`, however many alerts come.
#[test]
fn snapshots_and_the_alert_log_stay_within_their_budgets() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = storage_config(dir.path(), 0, 1);
    let outbox = Arc::new(Outbox::open(&dir.path().join("outbox"), 100).unwrap());
    let mut st = Storage::open(&cfg, outbox).unwrap();
    for n in 0..1500 {
        let mut a = alert(n);
        st.record(&mut a, &jpeg(10));
        assert!(a.snapshot.is_some());
    }
    let snaps: u64 = std::fs::read_dir(dir.path().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert!(snaps <= 1 << 20, "snapshots take {snaps} bytes");
    let newest = dir.path().join(format!("snapshots/{}.jpg", alert(1499).id));
    assert!(newest.is_file(), "the newest snapshot is kept");
    let log = std::fs::metadata(dir.path().join("alerts.jsonl"))
        .unwrap()
        .len();
    let old = std::fs::metadata(dir.path().join("alerts.jsonl.1"))
        .unwrap()
        .len();
    assert!(log <= 1 << 20 && old <= 1 << 20, "log {log}, rotated {old}");
}

/// Packet ids: rumqttc numbers QoS 1 publishes 1, 2, … up to its in-flight limit (100) and
/// starts again, and does not say which publish got which id; the service maps ids to outbox
/// entries in the order rumqttc reports its outgoing publishes. 300 alerts with camera status
/// messages (QoS 1 too, not in the outbox) published all through: the ids wrap three times and
/// more, and every alert is delivered once, acknowledged once and removed. A mapping out of step
/// would remove the wrong entry on an acknowledgement and send its own again after 30 s (a
/// duplicate), leave entries behind, or remove an entry before the broker has it (checked on a
/// 100 ms link, where the acknowledgement comes 50 ms after the broker has the message). Not
/// covered: a shift by one between two publishes in flight together is invisible here (both
/// are acknowledged within the same round trip; found by disabling the status messages' place
/// in the order: the test still passed); and rumqttc's ids never reach 65,535 (they wrap at
/// its in-flight limit), so the 16-bit wrap itself cannot happen.
#[test]
fn packet_ids_wrap_and_every_alert_is_acknowledged_once() {
    let d = deliver(
        Run {
            rtt: Duration::from_millis(100),
            broker: "",
            mqtt: "",
            alerts: 300,
            snapshot_kb: &|i| i.is_multiple_of(10).then_some(4),
            statuses: true,
            wait: Duration::from_secs(25),
            tls: false,
            feedback: true,
        },
        |_| {},
    );
    assert_eq!(d.distinct("slow-"), 300);
    assert_eq!(d.distinct("snapshot:"), 30);
    assert_eq!(d.seen.len(), 330, "no duplicates");
    assert!(
        d.removed_early.is_empty(),
        "removed from the outbox before the broker had them: {:?}",
        d.removed_early
    );
    assert_eq!((d.published, d.acked, d.left), (330, 330, 0));
    // The control room's decisions reach the service on a session of their own through the
    // same link (the hostile one is refused): two connections in all.
    let decided: Vec<(&str, &str)> = d
        .decisions
        .iter()
        .map(|f| (f.episode_id.as_str(), f.decision.as_str()))
        .collect();
    assert_eq!(decided, [("ep-1", "dismiss"), ("ep-2", "close")]);
    assert_eq!(d.sessions, 2, "one session for alerts, one for decisions");
}

/// A refused publish: a broker with a packet limit (mosquitto `max_packet_size 65536`) closes
/// the connection on a bigger packet, and the client sends it again after every reconnect, ahead
/// of everything behind it. With `mqtt.max_packet_kb` set below the broker's limit, the 80 KiB
/// snapshots are quarantined at send time and every alert and every small snapshot is
/// delivered in one session. Without it, the same outbox does not drain (the first case, kept
/// short: it shows the broker really refuses them).
#[test]
fn a_packet_over_the_brokers_limit_is_quarantined_not_resent_forever() {
    let big = |i: usize| Some(if i.is_multiple_of(2) { 80 } else { 20 });
    let unset = deliver(
        Run {
            rtt: Duration::from_millis(20),
            broker: "max_packet_size 65536\n",
            mqtt: "",
            alerts: 6,
            snapshot_kb: &big,
            statuses: false,
            wait: Duration::from_secs(6),
            tls: false,
            feedback: false,
        },
        |_| {},
    );
    assert!(
        unset.left > 0,
        "the broker took the 80 KiB packets: {unset:?}"
    );
    assert!(
        unset.sessions > 1,
        "the broker did not close the connection: {unset:?}"
    );
    let set = deliver(
        Run {
            rtt: Duration::from_millis(20),
            broker: "max_packet_size 65536\n",
            mqtt: "max_packet_kb = 63",
            alerts: 6,
            snapshot_kb: &big,
            statuses: false,
            wait: Duration::from_secs(20),
            tls: false,
            feedback: false,
        },
        |_| {},
    );
    assert_eq!(set.distinct("slow-"), 6);
    assert_eq!(set.distinct("snapshot:"), 3, "the 20 KiB snapshots");
    assert_eq!((set.quarantined, set.left, set.sessions), (3, 0, 1));
}

/// A camera through a slow link: the RTSP server offers RTP over its TCP connection only (as
/// through a 4G NAT), reached through the delay proxy at `rtt`. Returns seconds to the first
/// frame, frames per second over the last 10 s, and reconnects, after `secs` of capture.
fn capture_through(
    rtt: Duration,
    secs: u64,
    opts: streetwatch::config::CaptureOptions,
) -> (Option<f64>, f64, u64) {
    use streetwatch::service::capture::{run_capture, Slot};
    let dir = tempfile::tempdir().unwrap();
    let rtsp = common::services::Rtsp::start_with(
        &common::root(),
        &[("vtest", common::sample("vtest.avi"))],
        true,
    );
    let proxy = DelayProxy::start(rtsp.port, rtt / 2);
    let url = format!("rtsp://127.0.0.1:{}/vtest", proxy.port);
    let slot = Arc::new(Slot::default());
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let capture = {
        let (slot, stop, url) = (slot.clone(), stop.clone(), url.clone());
        std::thread::spawn(move || {
            run_capture("cam1".into(), url.clone(), url, opts, slot, stop, |_| {})
        })
    };
    let mut first = None;
    let mut at_mark = 0;
    while t0.elapsed() < Duration::from_secs(secs) {
        let n = slot.captured.load(Ordering::SeqCst);
        if n > 0 && first.is_none() {
            first = Some(t0.elapsed().as_secs_f64());
        }
        if t0.elapsed() < Duration::from_secs(secs - 10) {
            at_mark = n;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let fps = (slot.captured.load(Ordering::SeqCst) - at_mark) as f64 / 10.0;
    stop.store(true, Ordering::SeqCst);
    let _ = capture.join();
    drop(dir);
    let reconnects = slot.reconnects.load(Ordering::SeqCst);
    eprintln!(
        "rtsp rtt {} ms, {opts:?}: first frame after {first:?} s, {fps:.1} frames/s over the last 10 s, {reconnects} reconnects, {} connection(s)",
        rtt.as_millis(),
        proxy.accepted.load(Ordering::SeqCst)
    );
    (first, fps, reconnects)
}

/// A camera on a 4G link (300 ms and 1 s round trip, RTP inside the RTSP connection: the
/// server offers nothing else) opens and streams at its full rate with the default capture
/// options (20 s to open). (Before: a fixed 5 s open timeout; at 1 s round trip the camera
/// never opened: 0 frames, 4 reconnects in 30 s.) Not covered: packet loss and a link that
/// stalls for seconds (the proxy only delays).
#[test]
fn rtsp_through_a_slow_link_keeps_the_camera_streaming() {
    for rtt_ms in [300u64, 1000] {
        let (first, fps, reconnects) = capture_through(
            Duration::from_millis(rtt_ms),
            25,
            streetwatch::config::CaptureOptions::default(),
        );
        let first = first.unwrap_or_else(|| panic!("rtt {rtt_ms} ms: no frame"));
        // TCP, four RTSP requests and the first frames: within a dozen round trips.
        assert!(
            first < 12.0 * rtt_ms as f64 / 1000.0 + 2.0,
            "rtt {rtt_ms} ms: first frame after {first} s"
        );
        // vtest.avi plays at 10 frames/s.
        assert!(fps >= 8.0, "rtt {rtt_ms} ms: {fps} frames/s");
        assert_eq!(reconnects, 0, "rtt {rtt_ms} ms");
    }
}
