//! Following the brokers: a persistent MQTT session per broker (QoS 1, manual acknowledgement
//! after the database has the message, so a console that dies loses nothing), optionally as a
//! shared subscription. Alerts fold into cases, snapshots go to the data folder, status and
//! health messages are kept. Anything that is not what it claims (bad JSON, a payload over its
//! limit, an id that could name a path, not a JPEG) is refused, logged and counted, never
//! written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::broadcast;

use super::config::BrokerConfig;
use super::store::Store;
use crate::alert::Alert;

/// Largest alert, status or health payload taken.
pub const MAX_JSON: usize = 1 << 20;
/// Largest snapshot taken.
pub const MAX_SNAPSHOT: usize = 16 << 20;

#[derive(Default)]
pub struct IngestStats {
    pub alerts: AtomicU64,
    pub duplicates: AtomicU64,
    pub snapshots: AtomicU64,
    pub clips: AtomicU64,
    pub refused: AtomicU64,
    pub connected: AtomicU64,
}

/// The topics a console subscribes to.
pub fn topics(share_group: Option<&str>) -> Vec<String> {
    let prefix = share_group
        .map(|g| format!("$share/{g}/"))
        .unwrap_or_default();
    [
        "streetwatch/+/+/alerts",
        "streetwatch/+/+/snapshots/+",
        "streetwatch/+/+/clips/+",
        "streetwatch/+/+/status",
        "streetwatch/+/status",
        "streetwatch/+/health",
    ]
    .iter()
    .map(|t| format!("{prefix}{t}"))
    .collect()
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What one message is, once checked.
#[derive(Debug, PartialEq)]
pub enum Message {
    Alert(Box<Alert>),
    Snapshot {
        alert_id: String,
    },
    /// An episode's clip (WebM), named by its start alert.
    Clip {
        alert_id: String,
    },
    Status,
}

/// Checks a message by its topic; `Err` says why it is refused.
pub fn classify(topic: &str, payload: &[u8]) -> std::result::Result<Message, String> {
    let parts: Vec<&str> = topic.split('/').collect();
    match parts.as_slice() {
        ["streetwatch", _, _, "snapshots", id] => {
            crate::ident::check(id).map_err(|e| format!("snapshot id: {e}"))?;
            if payload.len() > MAX_SNAPSHOT {
                return Err(format!("snapshot of {} bytes", payload.len()));
            }
            if !(payload.starts_with(&[0xFF, 0xD8]) && payload.ends_with(&[0xFF, 0xD9])) {
                return Err("snapshot is not a JPEG".into());
            }
            Ok(Message::Snapshot {
                alert_id: id.to_string(),
            })
        }
        ["streetwatch", _, _, "clips", id] => {
            crate::ident::check(id).map_err(|e| format!("clip id: {e}"))?;
            if payload.len() > MAX_SNAPSHOT {
                return Err(format!("clip of {} bytes", payload.len()));
            }
            if !payload.starts_with(&crate::annotate::WEBM_MAGIC) {
                return Err("clip is not WebM".into());
            }
            Ok(Message::Clip {
                alert_id: id.to_string(),
            })
        }
        ["streetwatch", _, _, "alerts"] => {
            if payload.len() > MAX_JSON {
                return Err(format!("alert of {} bytes", payload.len()));
            }
            let alert: Alert =
                serde_json::from_slice(payload).map_err(|e| format!("not an alert: {e}"))?;
            for (field, v) in [
                ("id", &alert.id),
                ("episode_id", &alert.episode_id),
                ("camera_id", &alert.camera_id),
                ("site", &alert.site),
            ] {
                crate::ident::check(v).map_err(|e| format!("field {field}: {e}"))?;
            }
            Ok(Message::Alert(Box::new(alert)))
        }
        ["streetwatch", _, _, "status"]
        | ["streetwatch", _, "status"]
        | ["streetwatch", _, "health"] => {
            if payload.len() > MAX_JSON {
                return Err(format!("status of {} bytes", payload.len()));
            }
            serde_json::from_slice::<serde_json::Value>(payload)
                .map_err(|e| format!("not JSON: {e}"))?;
            Ok(Message::Status)
        }
        _ => Err("not a streetwatch topic".into()),
    }
}

fn options(b: &BrokerConfig) -> std::result::Result<MqttOptions, String> {
    let id = b
        .client_id
        .clone()
        .unwrap_or_else(|| format!("streetwatch-console-{}", b.name));
    let mut o = MqttOptions::new(id, b.host.clone(), b.port);
    o.set_keep_alive(Duration::from_secs(10));
    o.set_clean_session(false);
    o.set_manual_acks(true);
    o.set_max_packet_size(MAX_SNAPSHOT + 4096, MAX_SNAPSHOT + 4096);
    crate::service::mqtt::secure(
        &mut o,
        b.username.as_deref(),
        b.password.as_ref().map(crate::config::Secret::expose),
        b.tls_ca.as_deref(),
        &format!("brokers.tls_ca of broker '{}'", b.name),
    )?;
    Ok(o)
}

/// Publishers of operator feedback, one per broker.
#[derive(Clone, Default)]
pub struct Feedback {
    clients: HashMap<String, AsyncClient>,
}

impl Feedback {
    /// Publishes `payload` on `streetwatch/{site}/{camera}/feedback` through `broker` (QoS 1).
    pub async fn send(&self, broker: &str, site: &str, camera: &str, payload: String) -> bool {
        let Some(c) = self.clients.get(broker) else {
            return false;
        };
        c.publish(
            format!("streetwatch/{site}/{camera}/feedback"),
            QoS::AtLeastOnce,
            false,
            payload,
        )
        .await
        .is_ok()
    }
}

/// Starts one follower per broker; returns the feedback publishers.
pub fn start(
    brokers: &[BrokerConfig],
    store: Arc<Store>,
    data_dir: PathBuf,
    updates: broadcast::Sender<String>,
    stats: Arc<IngestStats>,
    stop: Arc<AtomicBool>,
) -> std::result::Result<Feedback, String> {
    let mut feedback = Feedback::default();
    for b in brokers {
        let (client, el) = AsyncClient::new(options(b)?, 64);
        feedback.clients.insert(b.name.clone(), client.clone());
        tokio::spawn(follow(
            b.clone(),
            client,
            el,
            store.clone(),
            data_dir.clone(),
            updates.clone(),
            stats.clone(),
            stop.clone(),
        ));
    }
    Ok(feedback)
}

#[allow(clippy::too_many_arguments)]
async fn follow(
    b: BrokerConfig,
    client: AsyncClient,
    mut el: rumqttc::EventLoop,
    store: Arc<Store>,
    data_dir: PathBuf,
    updates: broadcast::Sender<String>,
    stats: Arc<IngestStats>,
    stop: Arc<AtomicBool>,
) {
    let mut wait = Duration::from_millis(500);
    let mut last_error = String::new();
    // Acknowledgements go to the event loop through the client's request queue, which only this
    // loop drains (by polling): awaiting room in it here would wait forever once a burst of
    // messages filled it. They queue here instead and are handed over as room appears.
    let mut acks: std::collections::VecDeque<rumqttc::Publish> = std::collections::VecDeque::new();
    while !stop.load(Ordering::Relaxed) {
        while let Some(p) = acks.front() {
            if client.try_ack(p).is_err() {
                break;
            }
            acks.pop_front();
        }
        match el.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                wait = Duration::from_millis(500);
                stats.connected.fetch_add(1, Ordering::Relaxed);
                tracing::info!(broker = %b.name, "connected");
                for t in topics(b.share_group.as_deref()) {
                    let _ = client.try_subscribe(t, QoS::AtLeastOnce);
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                handle(
                    &b.name, &p.topic, &p.payload, &store, &data_dir, &updates, &stats,
                )
                .await;
                // Acknowledged once stored (or refused for good): the broker keeps it until then.
                acks.push_back(p);
            }
            Ok(_) => {}
            Err(e) => {
                // Acknowledgements of a lost session mean nothing to the next one (the broker
                // sends those messages again).
                acks.clear();
                let msg = e.to_string();
                if msg != last_error {
                    tracing::warn!(broker = %b.name, error = %msg, "broker connection lost; retrying");
                    last_error = msg;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
}

async fn handle(
    broker: &str,
    topic: &str,
    payload: &[u8],
    store: &Store,
    data_dir: &Path,
    updates: &broadcast::Sender<String>,
    stats: &IngestStats,
) {
    let shown = crate::subscriber::printable(topic);
    let refuse = |why: String| {
        stats.refused.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(broker, topic = %shown, reason = %why, "message refused");
    };
    match classify(topic, payload) {
        Err(why) => refuse(why),
        Ok(Message::Alert(alert)) => {
            let text = String::from_utf8_lossy(payload);
            // A database that fails is retried (the message is not acknowledged until stored):
            // the broker keeps what arrives meanwhile.
            let mut wait = Duration::from_millis(200);
            loop {
                match store.record(&alert, &text, broker, now_ms()).await {
                    Ok(Some(case)) => {
                        stats.alerts.fetch_add(1, Ordering::Relaxed);
                        let _ = updates.send(case.episode_id);
                        break;
                    }
                    Ok(None) => {
                        stats.duplicates.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(e) => {
                        tracing::error!(broker, error = %e, "cannot store an alert; retrying");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(5));
                    }
                }
            }
        }
        Ok(Message::Snapshot { alert_id }) => {
            if store_file(
                &data_dir.join("snapshots"),
                &format!("{alert_id}.jpg"),
                payload,
            ) {
                stats.snapshots.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(Message::Clip { alert_id }) => {
            if store_file(
                &data_dir.join("clips"),
                &format!("{alert_id}.webm"),
                payload,
            ) {
                stats.clips.fetch_add(1, Ordering::Relaxed);
                // The case page shows its clip.
                let _ = updates.send(alert_id);
            }
        }
        Ok(Message::Status) => {
            let text = String::from_utf8_lossy(payload);
            if let Err(e) = store.status(topic, broker, &text, now_ms()).await {
                tracing::error!(broker, error = %e, "cannot store a status");
            }
        }
    }
}

/// Writes an evidence file (a checked plain name) in its folder, whole or not at all.
fn store_file(dir: &std::path::Path, name: &str, payload: &[u8]) -> bool {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&tmp, payload))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        tracing::error!(file = %path.display(), error = %e, "cannot store a file");
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_messages_are_refused_by_their_topic_and_content() {
        let alert = include_str!("../../tests/data/alert.json").replace("ALERT-ID", "a-1");
        assert!(matches!(
            classify("streetwatch/s/c/alerts", alert.as_bytes()),
            Ok(Message::Alert(_))
        ));
        let jpeg = [0xFF, 0xD8, 1, 2, 0xFF, 0xD9];
        assert_eq!(
            classify("streetwatch/s/c/snapshots/a-1", &jpeg),
            Ok(Message::Snapshot {
                alert_id: "a-1".into()
            })
        );
        assert_eq!(
            classify("streetwatch/s/c/clips/a-1", &[0x1A, 0x45, 0xDF, 0xA3, 0x9F]),
            Ok(Message::Clip {
                alert_id: "a-1".into()
            })
        );
        for (topic, payload) in [
            ("streetwatch/s/c/alerts", b"{not json".to_vec()),
            (
                "streetwatch/s/c/alerts",
                alert.replace("\"a-1\"", "\"../../x\"").into_bytes(),
            ),
            (
                "streetwatch/s/c/alerts",
                alert.replace("\"a-1\"", "\"/etc/passwd\"").into_bytes(),
            ),
            ("streetwatch/s/c/alerts", vec![b' '; MAX_JSON + 1]),
            ("streetwatch/s/c/snapshots/..", jpeg.to_vec()),
            ("streetwatch/s/c/snapshots/a-1", b"GIF89a".to_vec()),
            ("streetwatch/s/c/clips/a-1", b"RIFF....AVI ".to_vec()),
            ("streetwatch/s/c/clips/..", vec![0x1A, 0x45, 0xDF, 0xA3]),
            (
                "streetwatch/s/c/clips/a-1",
                [&[0x1A, 0x45, 0xDF, 0xA3][..], &vec![0; MAX_SNAPSHOT]].concat(),
            ),
            ("streetwatch/s/c/status", b"\xff\xfe".to_vec()),
            ("other/topic", b"{}".to_vec()),
        ] {
            assert!(classify(topic, &payload).is_err(), "{topic} accepted");
        }
    }

    #[test]
    fn shared_subscriptions_prefix_every_topic() {
        assert!(topics(Some("room"))
            .iter()
            .all(|t| t.starts_with("$share/room/streetwatch/")));
        assert!(topics(None).iter().all(|t| t.starts_with("streetwatch/")));
    }
}
