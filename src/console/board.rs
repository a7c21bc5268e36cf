//! The camera board: every camera the brokers have told the console about, from the retained
//! status messages (`streetwatch/{site}/{camera}/status`, the service's own
//! `streetwatch/{site}/status` with its last will) and the periodic health message
//! (`streetwatch/{site}/health`: analysed fps, lag, outbox depth). Pure: stored messages in,
//! rows out.

use std::collections::BTreeMap;

/// A stored status or health message.
#[derive(Debug, Clone)]
pub struct StatusMessage {
    pub topic: String,
    pub broker: String,
    pub received_ms: i64,
    pub payload: String,
}

/// Whether a camera is being analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraState {
    /// Streaming, and its service sends health.
    Online,
    /// Its service is up and retrying the camera.
    Reconnecting,
    /// Its service said it went offline (shutdown, or its last will: the connection was lost).
    Offline,
    /// The camera says online but its service has sent no health for too long.
    Silent,
}

impl CameraState {
    pub fn as_str(self) -> &'static str {
        match self {
            CameraState::Online => "online",
            CameraState::Reconnecting => "reconnecting",
            CameraState::Offline => "offline",
            CameraState::Silent => "silent",
        }
    }

    /// English and Chinese labels.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            CameraState::Online => ("online", "在线"),
            CameraState::Reconnecting => ("reconnecting", "重连中"),
            CameraState::Offline => ("offline", "离线"),
            CameraState::Silent => ("no health", "无心跳"),
        }
    }
}

/// One camera's line on the board.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraRow {
    pub site: String,
    pub camera: String,
    pub broker: String,
    pub state: CameraState,
    /// Why (the camera's or the service's reason).
    pub reason: String,
    /// The view watch: ok, moved, covered, blurred, unchecked.
    pub view: String,
    /// Rules suspended because the view is not the calibrated one.
    pub suspended: bool,
    pub analysed_fps: Option<f64>,
    pub lag_ms_p99: Option<f64>,
    pub reconnects: Option<u64>,
    /// The site's outbox: alerts waiting for the broker.
    pub outbox_depth: Option<u64>,
    /// The latest message about this camera, Unix ms.
    pub heard_ms: i64,
}

fn text(v: &serde_json::Value, key: &str) -> String {
    v.get(key)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_string()
}

/// The board, sorted by site and camera. `stale_ms`: a camera whose service has sent no health
/// for this long (while saying it is online) is `Silent`.
pub fn cameras(messages: &[StatusMessage], now_ms: i64, stale_ms: i64) -> Vec<CameraRow> {
    // Per site: the service's status and its latest health message.
    let mut service: BTreeMap<&str, (serde_json::Value, i64)> = BTreeMap::new();
    let mut health: BTreeMap<&str, (serde_json::Value, i64)> = BTreeMap::new();
    let mut rows: BTreeMap<(String, String), CameraRow> = BTreeMap::new();
    for m in messages {
        // A retained message cleared (empty) or anything but an object: not about a camera.
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&m.payload) else {
            continue;
        };
        if !v.is_object() {
            continue;
        }
        let parts: Vec<&str> = m.topic.split('/').collect();
        match parts[..] {
            ["streetwatch", site, "status"] => {
                service.insert(site, (v, m.received_ms));
            }
            ["streetwatch", site, "health"] => {
                if let Some(cams) = v.get("cameras").and_then(|c| c.as_array()) {
                    for c in cams {
                        let camera = text(c, "camera");
                        if camera.is_empty() {
                            continue;
                        }
                        rows.entry((site.to_string(), camera.clone()))
                            .or_insert_with(|| blank(site, &camera, &m.broker, m.received_ms));
                    }
                }
                health.insert(site, (v, m.received_ms));
            }
            ["streetwatch", site, camera, "status"] => {
                let row = rows
                    .entry((site.to_string(), camera.to_string()))
                    .or_insert_with(|| blank(site, camera, &m.broker, m.received_ms));
                row.state = if text(&v, "state") == "online" {
                    CameraState::Online
                } else {
                    CameraState::Reconnecting
                };
                row.reason = text(&v, "reason");
                let view = text(&v, "view");
                row.view = if view.is_empty() {
                    "unchecked".into()
                } else {
                    view
                };
                row.suspended = text(&v, "rules") == "suspended";
                row.heard_ms = row.heard_ms.max(m.received_ms);
                row.broker = m.broker.clone();
            }
            _ => {}
        }
    }
    for ((site, camera), row) in rows.iter_mut() {
        if let Some((h, at)) = health.get(site.as_str()) {
            let cam = h
                .get("cameras")
                .and_then(|c| c.as_array())
                .and_then(|l| l.iter().find(|c| text(c, "camera") == *camera));
            if let Some(c) = cam {
                row.analysed_fps = c.get("analysed_fps").and_then(|x| x.as_f64());
                row.lag_ms_p99 = c.get("lag_ms_p99").and_then(|x| x.as_f64());
                row.reconnects = c.get("reconnects").and_then(|x| x.as_u64());
                row.heard_ms = row.heard_ms.max(*at);
            }
            row.outbox_depth = h.get("outbox_depth").and_then(|x| x.as_u64());
        }
        let last_health = health.get(site.as_str()).map(|(_, at)| *at);
        match service.get(site.as_str()) {
            Some((s, _)) if text(s, "state") == "offline" => {
                row.state = CameraState::Offline;
                row.reason = format!("service: {}", text(s, "reason"));
            }
            _ => {
                let silent = last_health.is_none_or(|at| now_ms - at > stale_ms);
                if row.state == CameraState::Online && silent {
                    row.state = CameraState::Silent;
                }
            }
        }
    }
    rows.into_values().collect()
}

fn blank(site: &str, camera: &str, broker: &str, at: i64) -> CameraRow {
    CameraRow {
        site: site.to_string(),
        camera: camera.to_string(),
        broker: broker.to_string(),
        state: CameraState::Online,
        reason: String::new(),
        view: "unchecked".into(),
        suspended: false,
        analysed_fps: None,
        lag_ms_p99: None,
        reconnects: None,
        outbox_depth: None,
        heard_ms: at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(topic: &str, at: i64, payload: serde_json::Value) -> StatusMessage {
        StatusMessage {
            topic: topic.into(),
            broker: "edge".into(),
            received_ms: at,
            payload: payload.to_string(),
        }
    }

    fn health(at: i64) -> StatusMessage {
        msg(
            "streetwatch/s1/health",
            at,
            serde_json::json!({"cameras": [
                {"camera": "c1", "analysed_fps": 4.9, "lag_ms_p99": 120.0, "reconnects": 0},
                {"camera": "c2", "analysed_fps": 0.0, "lag_ms_p99": 0.0, "reconnects": 3},
                {"camera": "c3", "analysed_fps": 5.0, "lag_ms_p99": 90.0, "reconnects": 0}
            ], "outbox_depth": 7, "mqtt_connected": true}),
        )
    }

    #[test]
    fn the_board_reads_status_view_and_health() {
        let now = 1_000_000;
        let mut msgs = vec![
            msg(
                "streetwatch/s1/status",
                0,
                serde_json::json!({"state": "online", "reason": "started"}),
            ),
            msg(
                "streetwatch/s1/c1/status",
                10,
                serde_json::json!({"camera": "c1", "state": "online", "reason": "streaming", "view": "ok", "rules": "active"}),
            ),
            msg(
                "streetwatch/s1/c2/status",
                20,
                serde_json::json!({"camera": "c2", "state": "offline", "reason": "cannot open rtsp://cam/x", "view": "unchecked", "rules": "active"}),
            ),
            msg(
                "streetwatch/s1/c3/status",
                30,
                serde_json::json!({"camera": "c3", "state": "online", "reason": "streaming", "view": "covered", "rules": "suspended"}),
            ),
            health(now - 5_000),
            msg("streetwatch/s1/c9/status", 40, serde_json::Value::Null),
            msg("streetwatch/s1/c8/status", 40, serde_json::json!(null)),
            StatusMessage {
                topic: "streetwatch/s1/c7/status".into(),
                broker: "edge".into(),
                received_ms: 1,
                payload: "{not json".into(),
            },
        ];
        let b = cameras(&msgs, now, 60_000);
        let names: Vec<&str> = b.iter().map(|r| r.camera.as_str()).collect();
        assert_eq!(names, ["c1", "c2", "c3"], "junk payloads skipped");
        assert_eq!(b[0].state, CameraState::Online);
        assert_eq!(
            (b[0].analysed_fps, b[0].lag_ms_p99, b[0].outbox_depth),
            (Some(4.9), Some(120.0), Some(7))
        );
        assert_eq!(b[0].heard_ms, now - 5_000);
        assert_eq!(b[1].state, CameraState::Reconnecting);
        assert_eq!(b[1].reconnects, Some(3));
        assert!(b[1].reason.contains("cannot open"));
        assert_eq!((b[2].view.as_str(), b[2].suspended), ("covered", true));
        // No health for two minutes: silent.
        let b = cameras(&msgs, now + 120_000, 60_000);
        assert_eq!(b[0].state, CameraState::Silent);
        assert_eq!(
            b[1].state,
            CameraState::Reconnecting,
            "a reconnecting camera stays so"
        );
        // The service's last will: every camera of the site offline, with the service's reason.
        msgs.push(msg(
            "streetwatch/s1/status",
            now,
            serde_json::json!({"state": "offline", "reason": "connection lost"}),
        ));
        let b = cameras(&msgs, now, 60_000);
        assert!(b.iter().all(|r| r.state == CameraState::Offline));
        assert_eq!(b[0].reason, "service: connection lost");
    }

    #[test]
    fn a_camera_known_only_from_health_is_listed() {
        let b = cameras(&[health(100)], 200, 60_000);
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].view, "unchecked");
        assert_eq!(b[0].state, CameraState::Online);
    }
}
