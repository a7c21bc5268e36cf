//! Outdoor barbecue smoke (露天烧烤) in `smoke_watch` zones: the image smoke cue (a smoke-coloured
//! layer over the background that keeps changing as it rises, drifts or spreads),
//! fused with an optional ONNX smoke model. Persistence is the episode's confirmation time, so
//! brief puffs (steam, exhaust) do not raise an alert.

use super::{Measures, Observation, Scene, Subtype, ViolationType};
use crate::calibration::Zone;

/// Smoke-like pixels must cover at least this fraction of the zone.
pub const MIN_FRACTION: f32 = 0.01;

pub fn observe(zi: usize, zone: &Zone, scene: &Scene) -> Vec<Observation> {
    let cue = scene.smoke.iter().find(|s| s.zone == zi);
    let model: Vec<_> = scene
        .smoke_detections
        .iter()
        .filter(|d| d.class == "smoke" && zone.polygon.contains(d.bbox.center()))
        .collect();
    let cue_ok = cue.is_some_and(|c| c.fraction >= MIN_FRACTION && c.dynamic);
    if !cue_ok && model.is_empty() {
        return Vec::new();
    }
    let model_score = model.iter().map(|d| d.score).fold(0.0f32, f32::max);
    let cue_score = cue.map_or(0.0, |c| (c.fraction / (4.0 * MIN_FRACTION)).min(1.0));
    // Either cue alone gives a moderate confidence; both together a high one.
    let confidence = if cue_ok && !model.is_empty() {
        1.0 - (1.0 - cue_score * 0.7) * (1.0 - model_score)
    } else if cue_ok {
        0.5 * cue_score + 0.2
    } else {
        model_score * 0.8
    };
    let mut regions: Vec<_> = model.iter().map(|d| d.bbox).collect();
    if let Some(b) = cue.and_then(|c| c.bbox) {
        regions.push(b);
    }
    vec![Observation {
        zone: zi,
        event_type: ViolationType::Smoke,
        subtype: Subtype::Barbecue,
        confidence,
        tracks: Vec::new(),
        regions,
        measures: Measures {
            count: model.len() as u32,
            smoke_fraction: cue.map(|c| (c.fraction as f64 * 1000.0).round() / 1000.0),
            ..Default::default()
        },
    }]
}
