//! Rules: per-camera logic that turns tracks and image cues into violation observations, and
//! the episode lifecycle that turns observations into start/update/end events. Pure: plain
//! values and the media time in, plain values out.

pub mod lifecycle;
pub mod parking;
pub mod smoke;
pub mod vending;

use serde::{Deserialize, Serialize};

use crate::calibration::{Calibration, Zone, ZoneType};
use crate::detection::Detection;
use crate::geometry::{BBox, Polygon};
use crate::time::LocalTime;
use crate::track::Track;

pub use crate::violation::{Subtype, ViolationType};
pub use lifecycle::{Carried, Episodes, LifecycleEvent, Phase, Reason};

/// Static foreground found in one zone (regions that became occupied and stay occupied).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StaticRegions {
    pub zone: usize,
    /// Region outlines in image pixels.
    pub regions: Vec<Polygon>,
    /// Occupied area in image pixels.
    pub area_px: f32,
}

/// The smoke cue measured in one zone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SmokeMeasure {
    pub zone: usize,
    /// Fraction of the zone covered by smoke-like pixels (changed against the background,
    /// grey/white, whitened or warm-lit, not glare, not a tracked person or vehicle).
    pub fraction: f32,
    /// Bounding box of the smoke-like pixels.
    pub bbox: Option<BBox>,
    /// Whether the smoke-like layer kept changing (rising, drifting or spreading) over the cue's
    /// recent history, as smoke does and a parked white object does not.
    pub dynamic: bool,
}

/// Everything the rules look at for one analysed frame.
pub struct Scene<'a> {
    pub t: f64,
    /// Local wall-clock time, when known (schedules apply only then).
    pub local: Option<LocalTime>,
    pub tracks: &'a [Track],
    pub static_regions: &'a [StaticRegions],
    pub smoke: &'a [SmokeMeasure],
    /// Detections of an optional smoke model (classes smoke/fire).
    pub smoke_detections: &'a [Detection],
}

/// A track as reported in an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TrackRef {
    pub id: u64,
    pub class: String,
    pub bbox: BBox,
    pub score: f32,
    /// Seconds the object has been stationary.
    pub dwell_s: f64,
    /// m/s (with a ground homography) or box heights/s.
    pub speed: Option<f64>,
}

impl TrackRef {
    pub fn of(t: &Track, now: f64) -> TrackRef {
        TrackRef {
            id: t.id,
            class: t.class.clone(),
            bbox: t.bbox,
            score: t.score,
            dwell_s: t.still_for(now),
            speed: t.speed,
        }
    }
}

/// Measures of a violation, in metres where a ground homography exists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Measures {
    /// Objects involved (people, stall objects or two-wheelers).
    pub count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occupied_area_m2: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occupied_area_px: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clear_width_m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_clear_width_m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orientation_spread: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smoke_fraction: Option<f64>,
}

/// What a detector sees in one zone at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub zone: usize,
    pub event_type: ViolationType,
    pub subtype: Subtype,
    pub confidence: f32,
    pub tracks: Vec<TrackRef>,
    /// Boxes of regions that are not tracks (static foreground, smoke).
    pub regions: Vec<BBox>,
    pub measures: Measures,
}

/// True when the zone's rules apply now.
pub fn enforced(zone: &Zone, scene: &Scene) -> bool {
    zone.schedule.enforced(scene.local)
}

/// Tracks seen in this update whose ground point lies in the zone.
pub fn tracks_in<'a>(
    zone: &'a Zone,
    scene: &'a Scene,
    classes: &'a [String],
) -> impl Iterator<Item = &'a Track> + 'a {
    scene.tracks.iter().filter(move |t| {
        t.present && classes.contains(&t.class) && zone.polygon.contains(t.bbox.foot())
    })
}

/// Runs every detector on every zone.
pub fn observe(cal: &Calibration, scene: &Scene) -> Vec<Observation> {
    let mut out = Vec::new();
    for (zi, zone) in cal.zones.iter().enumerate() {
        if !enforced(zone, scene) {
            continue;
        }
        let obs = match zone.zone_type() {
            ZoneType::NoVending | ZoneType::Storefront => vending::observe(zi, zone, cal, scene),
            ZoneType::NoParking | ZoneType::BikeParking | ZoneType::Walkway => {
                parking::observe(zi, zone, cal, scene)
            }
            ZoneType::SmokeWatch => smoke::observe(zi, zone, scene),
        };
        out.extend(obs);
    }
    out
}

#[cfg(test)]
pub(crate) mod testutil;

#[cfg(test)]
mod tests;
