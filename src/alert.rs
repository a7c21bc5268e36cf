//! Alert payloads: what a subscriber (terminal, file, MQTT) receives for each lifecycle event of
//! a violation episode. The JSON Schema of this payload is `schema/alert.schema.json`
//! (`streetwatch schema` prints it).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::calibration::dispatch::DispatchCode;
use crate::calibration::ZoneType;
use crate::geometry::BBox;
use crate::rules::{Measures, Phase, Reason, TrackRef};
use crate::violation::{Subtype, ViolationType};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ModelIdentity {
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct CalibrationIdentity {
    pub path: String,
    pub sha256: String,
}

/// One lifecycle event (`start`, `update`, `end`) of one violation episode.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Alert {
    /// Unique, sortable id of this message (UUIDv7).
    pub id: String,
    /// Id shared by the start, updates and end of one episode (UUIDv7 of its start).
    pub episode_id: String,
    pub phase: Phase,
    /// Why an episode ended (`cleared` on camera, `footage_ended`, `not_seen_after_restart`) or
    /// went on after a restart of the service (`resumed`, on an update); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The violation.
    #[serde(rename = "type")]
    pub event_type: ViolationType,
    /// Its kind (each kind belongs to one type).
    pub subtype: Subtype,
    /// The dispatch center's code for this violation (from the calibration's event-code table).
    pub dispatch: Option<DispatchCode>,
    pub camera_id: String,
    pub site: String,
    /// Responsible grid cell (责任网格).
    pub grid_cell: String,
    /// [latitude, longitude] of the camera.
    pub gps: Option<[f64; 2]>,
    pub zone: String,
    pub zone_type: ZoneType,
    /// Media time (seconds from the start of the footage) the condition was first seen.
    pub first_seen_media_s: f64,
    /// Media time the episode was confirmed (its start).
    pub confirmed_media_s: f64,
    /// Media time the condition was last seen.
    pub last_seen_media_s: f64,
    /// Media time of this event.
    pub event_media_s: f64,
    /// Wall-clock times (RFC 3339, camera's local offset) when the footage's start time is known.
    pub first_seen_wall: Option<String>,
    pub confirmed_wall: Option<String>,
    pub last_seen_wall: Option<String>,
    /// Seconds from first seen to confirmation.
    pub confirmation_s: f64,
    /// Seconds from first seen to last seen.
    pub duration_s: f64,
    /// The tracks involved, with their boxes (frame pixels), dwell and speed.
    pub tracks: Vec<TrackRef>,
    /// Regions that are not tracks (static foreground, smoke), frame pixels.
    pub regions: Vec<BBox>,
    pub measures: Measures,
    pub confidence: f32,
    pub source: String,
    pub frame_index: u64,
    /// Annotated snapshot (JPEG), relative to the output folder.
    pub snapshot: Option<String>,
    /// The original frame (lossless PNG), relative to the output folder; absent when the bundle
    /// is blurred for sharing.
    pub snapshot_original: Option<String>,
    /// SHA-256 of the annotated snapshot (live service), which the signature thereby covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_sha256: Option<String>,
    pub model: ModelIdentity,
    pub calibration: CalibrationIdentity,
    /// Ed25519 signature by the box's key (hex) over the payload before this field: see
    /// `streetwatch verify --key`. Absent when the service has no `storage.sign_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl Alert {
    /// One readable line for a terminal.
    pub fn summary(&self) -> String {
        let phase = match self.phase {
            Phase::Start => "START ",
            Phase::Update => "UPDATE",
            Phase::End => "END   ",
        };
        let code = self
            .dispatch
            .as_ref()
            .map(|d| format!("{} {}", d.code, d.name))
            .unwrap_or_default();
        format!(
            "[{:>8.2}s] {phase} {}/{} camera={} zone={} count={} dur={:.1}s conf={:.2} {code}",
            self.event_media_s,
            self.event_type,
            self.subtype,
            self.camera_id,
            self.zone,
            self.measures.count,
            self.duration_s,
            self.confidence
        )
    }
}

/// The JSON Schema of [`Alert`], pretty-printed.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Alert);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_schema_is_current() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/alert.schema.json");
        let committed = std::fs::read_to_string(&path).unwrap();
        assert_eq!(committed, super::schema_json(), "schema/alert.schema.json is stale: run `streetwatch schema > schema/alert.schema.json`");
        let v: serde_json::Value = serde_json::from_str(&committed).unwrap();
        let required: Vec<&str> = v["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        for field in [
            "id",
            "episode_id",
            "phase",
            "type",
            "subtype",
            "camera_id",
            "zone",
            "grid_cell",
            "tracks",
            "measures",
            "confidence",
            "model",
            "calibration",
        ] {
            assert!(
                required.contains(&field),
                "{field} is not required by the schema"
            );
        }
    }
}
