//! The control room's terminal client (`streetwatch subscribe`): follows a site's alerts and
//! camera status over MQTT with a persistent session, prints each alert once (delivery is at
//! least once, so repeats are dropped by id) and can save alerts and snapshots to a folder.
//!
//! Whatever a message says, the client writes only inside its folder: a file is named after an
//! alert id or snapshot name only when that is a plain identifier (`safe_name`), and a bad
//! message is reported and skipped, never the end of the client.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rumqttc::{Event, MqttOptions, Packet, QoS};

use crate::alert::Alert;
use crate::error::{Error, Result};

/// What to follow and where to save.
#[derive(Debug, Clone)]
pub struct Options {
    pub host: String,
    pub port: u16,
    pub login: Option<(String, String)>,
    /// Site to follow (`+` for all).
    pub site: String,
    /// Persistent session id: the broker keeps alerts for this subscriber while it is away.
    pub client_id: String,
    /// Save each alert as DIR/<id>.json, each snapshot as DIR/<name>.jpg and each episode's
    /// clip as DIR/<start alert id>.webm.
    pub save: Option<PathBuf>,
    /// Return after this many distinct alerts (0 = never).
    pub count: usize,
    /// Fail after this many seconds (0 = never).
    pub timeout_s: f64,
}

/// Whether `name` may name a file in the save folder: the one identifier rule
/// ([`crate::ident::is_plain`]).
pub fn safe_name(name: &str) -> bool {
    crate::ident::is_plain(name)
}

/// Text from a message, made printable: control characters (terminal escapes) are shown as
/// `\u{..}` instead of being sent to the terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn save_file(dir: &Path, name: &str, ext: &str, bytes: &[u8]) {
    if !safe_name(name) {
        eprintln!(
            "not saved: '{}' is not a plain name for a file",
            printable(name)
        );
        return;
    }
    let path = dir.join(format!("{name}.{ext}"));
    if let Err(e) = std::fs::write(&path, bytes) {
        eprintln!("{}: {e}", path.display());
    }
}

/// What a received message shows on the terminal (already made printable).
#[derive(Debug, PartialEq)]
pub enum Shown {
    Out(String),
    Err(String),
    Nothing,
}

/// Handles one message: a snapshot is saved (with `save`), a new alert is shown and saved,
/// a repeat (same id) is dropped, anything else is shown as it came. `seen` holds the alert
/// ids shown so far. Files are written only as plain names inside `save`.
pub fn on_message(
    topic: &str,
    payload: &[u8],
    save: Option<&Path>,
    seen: &mut HashSet<String>,
) -> Shown {
    let snapshot = topic.split_once("/snapshots/").map(|(_, n)| n);
    if let (Some(dir), Some(name)) = (save, snapshot) {
        save_file(dir, name, "jpg", payload);
        return Shown::Nothing;
    }
    let clip = topic.split_once("/clips/").map(|(_, n)| n);
    if let (Some(dir), Some(name)) = (save, clip) {
        save_file(dir, name, "webm", payload);
        return Shown::Nothing;
    }
    if topic.ends_with("/alerts") {
        let Ok(alert) = serde_json::from_slice::<Alert>(payload) else {
            return Shown::Err(format!("{}: not an alert payload", printable(topic)));
        };
        if !seen.insert(alert.id.clone()) {
            return Shown::Nothing; // a repeat (at-least-once delivery)
        }
        if let Some(dir) = save {
            save_file(dir, &alert.id, "json", payload);
        }
        let wall = alert.confirmed_wall.clone().unwrap_or_default();
        return Shown::Out(format!(
            "{} {}",
            printable(&wall),
            printable(&alert.summary())
        ));
    }
    Shown::Out(format!(
        "{} {}",
        printable(topic),
        printable(&String::from_utf8_lossy(payload))
    ))
}

/// Runs until `count` distinct alerts arrived (or forever), or fails on timeout.
pub fn run(opts: Options) -> Result<()> {
    if let Some(dir) = &opts.save {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))?;
    rt.block_on(follow(opts))
}

async fn follow(opts: Options) -> Result<()> {
    let broker = format!("{}:{}", opts.host, opts.port);
    let mqtt_err = |e: rumqttc::ClientError| Error::Mqtt {
        broker: broker.clone(),
        message: e.to_string(),
    };
    let mut o = MqttOptions::new(opts.client_id.clone(), opts.host.clone(), opts.port);
    o.set_clean_session(false);
    o.set_keep_alive(Duration::from_secs(10));
    o.set_max_packet_size(16 << 20, 16 << 20);
    if let Some((u, p)) = &opts.login {
        o.set_credentials(u, p);
    }
    let (client, mut el) = rumqttc::AsyncClient::new(o, 64);
    let mut seen = HashSet::new();
    let deadline =
        (opts.timeout_s > 0.0).then(|| Instant::now() + Duration::from_secs_f64(opts.timeout_s));
    let mut last_err = String::new();
    let site = &opts.site;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Err(Error::TimedOut(format!(
                "{} s with {} distinct alerts",
                opts.timeout_s,
                seen.len()
            )));
        }
        let ev = match left {
            Some(l) => match tokio::time::timeout(l, el.poll()).await {
                Ok(ev) => ev,
                Err(_) => continue,
            },
            None => el.poll().await,
        };
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                eprintln!("connected to {broker}");
                let mut topics = vec![
                    format!("streetwatch/{site}/+/alerts"),
                    format!("streetwatch/{site}/+/status"),
                    format!("streetwatch/{site}/status"),
                ];
                if opts.save.is_some() {
                    topics.push(format!("streetwatch/{site}/+/snapshots/+"));
                    topics.push(format!("streetwatch/{site}/+/clips/+"));
                }
                for t in topics {
                    client
                        .subscribe(t, QoS::AtLeastOnce)
                        .await
                        .map_err(mqtt_err)?;
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                match on_message(&p.topic, &p.payload, opts.save.as_deref(), &mut seen) {
                    Shown::Out(line) => println!("{line}"),
                    Shown::Err(line) => eprintln!("{line}"),
                    Shown::Nothing => {}
                }
                if opts.count > 0 && seen.len() >= opts.count {
                    return Ok(());
                }
            }
            Ok(_) => {}
            Err(e) => {
                let msg = crate::service::mqtt::explain(&e);
                if msg != last_err {
                    eprintln!("broker {broker}: {msg}; retrying");
                    last_err = msg;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names a hostile message may carry: none of them names a file outside the folder.
    #[test]
    fn only_plain_names_name_files() {
        for ok in [
            "0193a5c2-7d4e-7b1a-9f00-1234567890ab",
            "cam-1_start.v2",
            "a",
        ] {
            assert!(safe_name(ok), "{ok}");
        }
        let long = "x".repeat(crate::ident::MAX_LEN + 1);
        for bad in [
            "",
            "..",
            "../../../x",
            "/etc/passwd",
            "a/b",
            "a\\b",
            ".hidden",
            "a\0b",
            "id with space",
            "ｉｄ",
            long.as_str(),
        ] {
            assert!(!safe_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn terminal_escapes_are_shown_not_sent() {
        let p = printable("alert \u{1b}[2J\u{7}done\n");
        assert!(!p.chars().any(|c| c.is_control()), "{p:?}");
        assert!(p.contains("alert") && p.contains("done"));
        assert_eq!(printable("街面 ok"), "街面 ok");
    }
}
