//! Alert payloads: what a subscriber (terminal, file, later MQTT) receives for an event.

use serde::{Deserialize, Serialize};

use crate::geometry::BBox;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelIdentity {
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CalibrationIdentity {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Alert {
    /// Sortable unique id (UUIDv7), created once per alert.
    pub id: String,
    /// Event type; this slice raises `zone_dwell`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub camera_id: String,
    pub site: String,
    pub zone: String,
    pub zone_type: String,
    pub track_id: u64,
    pub class: String,
    pub confidence: f32,
    pub bbox: BBox,
    /// Media time (seconds) the object entered the zone.
    pub start_media_s: f64,
    /// Media time (seconds) the dwell was confirmed.
    pub confirmed_media_s: f64,
    pub dwell_s: f64,
    pub source: String,
    pub frame_index: u64,
    /// Snapshot path relative to the output folder.
    pub snapshot: Option<String>,
    pub model: ModelIdentity,
    pub calibration: CalibrationIdentity,
}

impl Alert {
    /// One readable line for a terminal.
    pub fn summary(&self) -> String {
        format!(
            "[{:>8.2}s] ALERT {} camera={} zone={} ({}) {} #{} dwell={:.1}s conf={:.2}",
            self.confirmed_media_s,
            self.event_type,
            self.camera_id,
            self.zone,
            self.zone_type,
            self.class,
            self.track_id,
            self.dwell_s,
            self.confidence
        )
    }
}
