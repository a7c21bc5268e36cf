//! MQTT delivery with rumqttc: alerts from the durable outbox at QoS 1 (removed on PUBACK),
//! retained service and camera status with a last will, and periodic health messages.
//!
//! Topics (`{site}` and `{camera}` from the configuration):
//! - `streetwatch/{site}/{camera}/alerts`  alert payloads (QoS 1)
//! - `streetwatch/{site}/{camera}/snapshots/{alert id}`  the alert's annotated JPEG (QoS 1)
//! - `streetwatch/{site}/{camera}/clips/{start alert id}`  the episode's WebM clip (QoS 1)
//! - `streetwatch/{site}/{camera}/status`  camera online/offline (retained, QoS 1)
//! - `streetwatch/{site}/status`           service online/offline (retained, QoS 1, last will)
//! - `streetwatch/{site}/health`           fps, lag, drops, inference time per camera (QoS 0)
//! - `streetwatch/{site}/{camera}/feedback` subscribed: the control room's decisions, on a
//!   session of its own that the broker keeps (client id `<client id>-feedback`, not clean):
//!   decisions made while the box is offline reach it when it is back

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{
    AsyncClient, ConnectionError, Event, LastWill, MqttOptions, Outgoing, Packet, QoS, Transport,
};
use tokio::sync::{mpsc, Notify};

use super::capture::{now_unix, StatusEvent};
use crate::config::ServiceConfig;
use crate::outbox::Outbox;
use crate::time::{format_rfc3339, TimeZone};

pub enum Message {
    Status(StatusEvent),
    /// The camera's view compared with its calibration's reference (`ok`, `moved`, …).
    View {
        camera: String,
        state: String,
        detail: String,
    },
    Health(String),
}

/// Counters the metrics endpoint shows.
#[derive(Default)]
pub struct MqttStats {
    pub connected: AtomicBool,
    pub published: AtomicU64,
    pub acked: AtomicU64,
}

pub fn service_topic(site: &str) -> String {
    format!("streetwatch/{site}/status")
}

pub fn alerts_topic(site: &str, camera: &str) -> String {
    format!("streetwatch/{site}/{camera}/alerts")
}

fn status_payload(state: &str, reason: &str, unix: f64) -> String {
    serde_json::json!({"state": state, "reason": reason, "at": format_rfc3339(unix, &TimeZone::UTC)}).to_string()
}

/// The client's options. A configured TLS CA that cannot be read is an error: the service never
/// falls back to plaintext.
pub fn options(cfg: &ServiceConfig, client_id: &str) -> std::result::Result<MqttOptions, String> {
    let m = &cfg.mqtt;
    let mut o = MqttOptions::new(client_id, m.host.clone(), m.port);
    o.set_keep_alive(Duration::from_secs(m.keep_alive_s.max(5)));
    o.set_clean_session(true);
    o.set_max_packet_size(16 << 20, 16 << 20);
    secure(
        &mut o,
        m.username.as_deref(),
        m.password.as_ref().map(crate::config::Secret::expose),
        m.tls_ca.as_deref(),
        "mqtt.tls_ca",
    )?;
    Ok(o)
}

/// Credentials (when both are given) and TLS from a CA file (when one is given) for a client:
/// a CA that cannot be read is an error naming `field`, never a fall-back to plaintext. Shared by
/// the service and the console.
pub fn secure(
    o: &mut MqttOptions,
    username: Option<&str>,
    password: Option<&str>,
    tls_ca: Option<&std::path::Path>,
    field: &str,
) -> std::result::Result<(), String> {
    if let (Some(u), Some(p)) = (username, password) {
        o.set_credentials(u, p);
    }
    if let Some(ca) = tls_ca {
        let pem =
            std::fs::read(ca).map_err(|e| format!("cannot read {field} {}: {e}", ca.display()))?;
        o.set_transport(Transport::tls(pem, None, None));
    }
    Ok(())
}

/// Explains a connection error for an operator.
pub fn explain(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => format!(
            "the broker refused the connection ({code:?}): check mqtt.username and mqtt.password"
        ),
        ConnectionError::Io(io) => format!("cannot reach the broker: {io}"),
        other => other.to_string(),
    }
}

/// A control-room decision about an episode, from the feedback topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub episode_id: String,
    pub decision: String,
}

/// The console's feedback payload (`{"episode_id": …, "decision": "dispatch" | "dismiss" |
/// "close", …}`); anything else is `None`.
pub fn parse_feedback(payload: &[u8]) -> Option<Feedback> {
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let episode_id = v["episode_id"].as_str()?;
    crate::ident::check(episode_id).ok()?;
    let decision = v["decision"].as_str()?;
    matches!(decision, "dispatch" | "dismiss" | "close").then(|| Feedback {
        episode_id: episode_id.to_string(),
        decision: decision.to_string(),
    })
}

pub fn feedback_topic(site: &str) -> String {
    format!("streetwatch/{site}/+/feedback")
}

/// The service's MQTT client id.
pub fn client_id(cfg: &ServiceConfig) -> String {
    cfg.mqtt
        .client_id
        .clone()
        .unwrap_or_else(|| format!("streetwatch-{}", cfg.site))
}

/// Follows the control room's decisions on a persistent session of its own (the alerts'
/// session is clean: the outbox, not the broker, keeps what is unsent), so that the broker
/// queues decisions made while the box is offline. Runs until `stop`.
pub async fn follow_feedback(
    cfg: ServiceConfig,
    feedback: std::sync::mpsc::Sender<Feedback>,
    stop: Arc<AtomicBool>,
) {
    let site = cfg.site.clone();
    let mut opts = loop {
        match options(&cfg, &format!("{}-feedback", client_id(&cfg))) {
            Ok(o) => break o,
            Err(e) => {
                tracing::error!(error = %e, "feedback session not started; retrying in 10 s");
                for _ in 0..100 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    opts.set_clean_session(false);
    let (client, el) = AsyncClient::new(opts, 16);
    let (mut events, poller) = poll_events(el, &cfg.mqtt);
    while !stop.load(Ordering::Relaxed) {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
        };
        match ev {
            Some(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                let _ = client.try_subscribe(feedback_topic(&site), QoS::AtLeastOnce);
            }
            Some(Ok(Event::Incoming(Packet::Publish(p)))) => match parse_feedback(&p.payload) {
                Some(f) => {
                    tracing::info!(episode = %f.episode_id, decision = %f.decision, "control-room decision");
                    let _ = feedback.send(f);
                }
                None => {
                    tracing::warn!(topic = ?p.topic, "feedback message refused: not a decision about an episode")
                }
            },
            Some(_) => {}
            None => break,
        }
    }
    let _ = client.try_disconnect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    poller.abort();
}

pub async fn run(
    cfg: ServiceConfig,
    outbox: Arc<Outbox>,
    mut rx: mpsc::UnboundedReceiver<Message>,
    kick: Arc<Notify>,
    stop: Arc<AtomicBool>,
    stats: Arc<MqttStats>,
) {
    let site = cfg.site.clone();
    let client_id = client_id(&cfg);
    let mut opts = loop {
        match options(&cfg, &client_id) {
            Ok(o) => break o,
            Err(e) => {
                tracing::error!(error = %e, "MQTT not started (never in plaintext when TLS is configured); retrying in 10 s");
                for _ in 0..100 {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    opts.set_last_will(LastWill::new(
        service_topic(&site),
        status_payload("offline", "connection lost", now_unix()),
        QoS::AtLeastOnce,
        true,
    ));
    let (client, el) = AsyncClient::new(opts, 256);
    let (mut events, poller) = poll_events(el, &cfg.mqtt);
    let mut connected = false;
    // pkid → outbox entry (None: a status message); FIFO of publishes awaiting their pkid.
    let mut by_pkid: HashMap<u16, Option<String>> = HashMap::new();
    let mut unassigned: VecDeque<Option<String>> = VecDeque::new();
    let mut inflight: HashMap<String, Instant> = HashMap::new();
    let mut statuses: BTreeMap<String, StatusEvent> = BTreeMap::new();
    let mut views: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut last_error = String::new();
    // The entry oldest in flight when sessions were lost, and in how many losses in a row.
    let mut suspect: Option<(String, u32)> = None;
    let max_packet = (cfg.mqtt.max_packet_kb as usize) << 10;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut draining_since: Option<Instant> = None;
    loop {
        if stop.load(Ordering::Relaxed) && draining_since.is_none() {
            draining_since = Some(Instant::now());
        }
        if let Some(since) = draining_since {
            let empty = outbox.depth() == 0;
            if empty || !connected || since.elapsed() > Duration::from_secs(5) {
                break;
            }
        }
        tokio::select! {
            ev = events.recv() => match ev {
                Some(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                    connected = true;
                    stats.connected.store(true, Ordering::Relaxed);
                    last_error.clear();
                    tracing::info!(host = %cfg.mqtt.host, port = cfg.mqtt.port, "connected to the MQTT broker");
                    if client.try_publish(service_topic(&site), QoS::AtLeastOnce, true, status_payload("online", "started", now_unix())).is_ok() {
                        unassigned.push_back(None);
                    }
                    for s in statuses.values() {
                        publish_status(&client, &site, s, views.get(&s.camera), &mut unassigned);
                    }
                    // What was in flight before the outage is resent by the client (same packet
                    // ids); anything else still in the outbox goes out with the next tick.
                }
                Some(Ok(Event::Incoming(Packet::PubAck(p)))) => {
                    suspect = None;
                    if let Some(Some(name)) = by_pkid.remove(&p.pkid) {
                        if let Err(e) = outbox.remove(&name) {
                            tracing::error!(error = %e, "cannot remove an acknowledged alert from the outbox");
                        }
                        inflight.remove(&name);
                        stats.acked.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Ok(Event::Outgoing(Outgoing::Publish(pkid)))) if pkid != 0 => {
                    if let std::collections::hash_map::Entry::Vacant(v) = by_pkid.entry(pkid) {
                        if let Some(entry) = unassigned.pop_front() {
                            v.insert(entry);
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(msg)) => {
                    if connected {
                        note_suspect(&mut suspect, &inflight, &outbox);
                    }
                    if connected || msg != last_error {
                        tracing::warn!(error = %msg, "MQTT connection lost; retrying");
                    }
                    last_error = msg;
                    connected = false;
                    stats.connected.store(false, Ordering::Relaxed);
                }
                None => break, // the event loop's task ended (it does not, short of a panic)
            },
            msg = rx.recv() => match msg {
                Some(Message::Status(s)) => {
                    if connected {
                        publish_status(&client, &site, &s, views.get(&s.camera), &mut unassigned);
                    }
                    statuses.insert(s.camera.clone(), s);
                }
                Some(Message::View { camera, state, detail }) => {
                    views.insert(camera.clone(), (state, detail));
                    if let (true, Some(s)) = (connected, statuses.get(&camera)) {
                        publish_status(&client, &site, s, views.get(&camera), &mut unassigned);
                    }
                }
                Some(Message::Health(h)) if connected => {
                    let _ = client.try_publish(format!("streetwatch/{site}/health"), QoS::AtMostOnce, false, h);
                }
                Some(Message::Health(_)) => {}
                None => {}
            },
            _ = kick.notified() => {}
            _ = tick.tick() => {}
        }
        if connected {
            send_pending(
                &client,
                &site,
                &outbox,
                &mut inflight,
                &mut unassigned,
                &stats,
                max_packet,
            );
        }
    }
    // Shutdown: the service's own status goes offline, retained.
    if connected {
        let _ = client.try_publish(
            service_topic(&site),
            QoS::AtLeastOnce,
            true,
            status_payload("offline", "shutdown", now_unix()),
        );
        let _ = client.try_disconnect();
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            match tokio::time::timeout(Duration::from_millis(500), events.recv()).await {
                Ok(Some(Ok(Event::Outgoing(Outgoing::Disconnect))))
                | Ok(Some(Err(_)))
                | Ok(None)
                | Err(_) => break,
                _ => {}
            }
        }
    }
    poller.abort();
}

/// First wait between connection attempts.
const RECONNECT_MIN: Duration = Duration::from_millis(500);

/// Runs rumqttc's event loop on a task of its own, which only ever polls it, and hands its
/// events (errors as operator-readable text) over a channel. Polling it inside a `select!` with
/// other branches would drop its future whenever another branch won, and with it a connection
/// attempt in progress: on a link slower than the other branch's period no session ever came
/// up. After an error the task waits (0.5 s, doubling to `reconnect_max_s`, reset by a
/// connection) before the next attempt. The task ends when the receiver is dropped.
fn poll_events(
    mut el: rumqttc::EventLoop,
    cfg: &crate::config::MqttConfig,
) -> (
    mpsc::Receiver<std::result::Result<Event, String>>,
    tokio::task::JoinHandle<()>,
) {
    let mut net = rumqttc::NetworkOptions::new();
    net.set_connection_timeout(cfg.connect_timeout_s.max(1));
    el.set_network_options(net);
    let most = Duration::from_secs(cfg.reconnect_max_s.max(1));
    let (tx, rx) = mpsc::channel(1024);
    let task = tokio::spawn(async move {
        let mut wait = RECONNECT_MIN;
        loop {
            let ev = el.poll().await;
            let failed = ev.is_err();
            if matches!(ev, Ok(Event::Incoming(Packet::ConnAck(_)))) {
                wait = RECONNECT_MIN;
            }
            if tx.send(ev.map_err(|e| explain(&e))).await.is_err() {
                break;
            }
            if failed {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(most);
            }
        }
    });
    (rx, task)
}

fn publish_status(
    client: &AsyncClient,
    site: &str,
    s: &StatusEvent,
    view: Option<&(String, String)>,
    unassigned: &mut VecDeque<Option<String>>,
) {
    let (view, detail) = view
        .cloned()
        .unwrap_or_else(|| ("unchecked".into(), String::new()));
    let suspended = matches!(view.as_str(), "moved" | "covered" | "blurred");
    let payload = serde_json::json!({
        "camera": s.camera,
        "state": if s.online { "online" } else { "offline" },
        "reason": s.reason,
        "view": view,
        "view_detail": detail,
        "rules": if suspended { "suspended" } else { "active" },
        "at": format_rfc3339(s.unix, &TimeZone::UTC),
    })
    .to_string();
    if client
        .try_publish(
            format!("streetwatch/{site}/{}/status", s.camera),
            QoS::AtLeastOnce,
            true,
            payload,
        )
        .is_ok()
    {
        unassigned.push_back(None);
    }
}

/// Most alerts in flight at once; the rest wait in the outbox, in order.
const MAX_INFLIGHT: usize = 32;

fn send_pending(
    client: &AsyncClient,
    site: &str,
    outbox: &Outbox,
    inflight: &mut HashMap<String, Instant>,
    unassigned: &mut VecDeque<Option<String>>,
    stats: &MqttStats,
    max_packet: usize,
) {
    // An alert unacknowledged for long is sent again (duplicates carry the same id).
    inflight.retain(|_, at| at.elapsed() < Duration::from_secs(30));
    if inflight.len() >= MAX_INFLIGHT {
        return;
    }
    let Ok(pending) = outbox.pending() else {
        return;
    };
    let waiting: HashSet<&String> = inflight.keys().collect();
    let mut to_send = Vec::new();
    for e in pending.iter().filter(|e| !waiting.contains(&e.name)) {
        if inflight.len() + to_send.len() >= MAX_INFLIGHT {
            break;
        }
        to_send.push(e);
    }
    for e in to_send {
        // Alerts name their camera; a snapshot's or a clip's entry id is `<alert id>@<camera>`.
        let topic = if e.kind == "jpg" || e.kind == "webm" {
            let (alert, camera) = e.id.split_once('@').unwrap_or((e.id.as_str(), "unknown"));
            let what = if e.kind == "jpg" {
                "snapshots"
            } else {
                "clips"
            };
            format!("streetwatch/{site}/{camera}/{what}/{alert}")
        } else {
            let camera = serde_json::from_slice::<serde_json::Value>(&e.payload)
                .ok()
                .and_then(|v| v["camera_id"].as_str().map(str::to_string))
                .unwrap_or_else(|| "unknown".into());
            alerts_topic(site, &camera)
        };
        let size = publish_size(&topic, e.payload.len());
        if size > max_packet {
            // The broker would close the connection on it, and it would be sent again after
            // every reconnect, ahead of everything behind it.
            outbox.quarantine(
                &e.name,
                &format!(
                    "{size} bytes as a packet, over mqtt.max_packet_kb ({} KiB)",
                    max_packet >> 10
                ),
            );
            continue;
        }
        match client.try_publish(topic, QoS::AtLeastOnce, false, e.payload.clone()) {
            Ok(()) => {
                unassigned.push_back(Some(e.name.clone()));
                inflight.insert(e.name.clone(), Instant::now());
                stats.published.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => break, // the client's queue is full: next tick
        }
    }
}

/// Bytes of a QoS 1 PUBLISH packet: fixed header (1 byte and up to 4 of remaining length), topic
/// (2-byte length and its bytes), packet id (2) and payload.
pub fn publish_size(topic: &str, payload: usize) -> usize {
    let rest = 2 + topic.len() + 2 + payload;
    let len_bytes = match rest {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    };
    1 + len_bytes + rest
}

/// A session was lost: the entry oldest in flight is the suspect. When the same entry was the
/// oldest in flight at three losses in a row with nothing acknowledged between them, the broker
/// probably closes the connection on it (a packet over its limit): say so, once, with what to
/// change. It is not quarantined: on a bad link a good entry can be in that place too.
fn note_suspect(
    suspect: &mut Option<(String, u32)>,
    inflight: &HashMap<String, Instant>,
    outbox: &Outbox,
) {
    let Some((oldest, _)) = inflight.iter().min_by_key(|(_, at)| **at) else {
        return;
    };
    let count = match suspect {
        Some((name, n)) if name == oldest => *n + 1,
        _ => 1,
    };
    *suspect = Some((oldest.clone(), count));
    if count == 3 {
        let bytes = std::fs::metadata(outbox.path(oldest))
            .map(|m| m.len())
            .unwrap_or(0);
        tracing::warn!(
            entry = %oldest,
            bytes,
            "the broker closed the connection three times in a row with this entry in flight and nothing acknowledged: if it limits packet size (mosquitto max_packet_size), set mqtt.max_packet_kb below that limit"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_is_a_decision_about_a_plain_episode_id() {
        let f = parse_feedback(br#"{"episode_id":"e-1","decision":"dismiss","operator":"x"}"#);
        assert_eq!(f.map(|f| f.decision), Some("dismiss".into()));
        for bad in [
            &br#"{"episode_id":"../e","decision":"dismiss"}"#[..],
            br#"{"episode_id":"e-1","decision":"delete"}"#,
            br#"{"decision":"dismiss"}"#,
            b"not json",
        ] {
            assert_eq!(parse_feedback(bad), None);
        }
    }
}
