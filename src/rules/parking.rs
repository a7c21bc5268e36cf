//! Chaotic two-wheeler parking (非机动车乱停乱放): bicycles and motorcycles/e-bikes that are parked
//! (stationary for `parked_seconds`, decided in m/s by the tracker) in a `no_parking` zone; a
//! `bike_parking` area over capacity or in disorder (bikes outside its stalls, or a spread of
//! orientations); a `walkway` whose clear width on the ground falls below its minimum.

use super::{tracks_in, Measures, Observation, Scene, Subtype, TrackRef, ViolationType};
use crate::calibration::{Calibration, Zone, ZoneRules};
use crate::geometry::{clear_width, BBox, Point, Polygon};
use crate::track::Track;

/// Ground footprint of a parked two-wheeler: the bottom quarter of its box (where its wheels
/// touch the ground), mapped to the ground plane.
pub fn footprint(b: &BBox, cal: &Calibration) -> Option<Polygon> {
    let h = cal.ground.as_ref()?;
    let top = b.y2 - 0.25 * b.height();
    let img = Polygon::new(vec![
        Point { x: b.x1, y: b.y2 },
        Point { x: b.x2, y: b.y2 },
        Point { x: b.x2, y: top },
        Point { x: b.x1, y: top },
    ]);
    h.homography.apply_polygon(&img)
}

/// Standard deviation of box aspect ratios (w/h): bikes parked in a row have similar boxes.
pub fn orientation_spread(tracks: &[&Track]) -> f64 {
    if tracks.len() < 2 {
        return 0.0;
    }
    let r: Vec<f64> = tracks
        .iter()
        .map(|t| (t.bbox.width() / t.bbox.height().max(1.0)) as f64)
        .collect();
    let m = r.iter().sum::<f64>() / r.len() as f64;
    (r.iter().map(|x| (x - m).powi(2)).sum::<f64>() / r.len() as f64).sqrt()
}

pub fn observe(zi: usize, zone: &Zone, cal: &Calibration, scene: &Scene) -> Vec<Observation> {
    let Some(p) = zone.parked() else {
        return Vec::new();
    };
    let parked: Vec<&Track> = tracks_in(zone, scene, &zone.classes)
        .filter(|t| t.still_for(scene.t) >= p.parked_seconds)
        .collect();
    if parked.is_empty() {
        return Vec::new();
    }
    let refs =
        |ts: &[&Track]| -> Vec<TrackRef> { ts.iter().map(|t| TrackRef::of(t, scene.t)).collect() };
    let confidence = parked.iter().map(|t| t.score).sum::<f32>() / parked.len() as f32;
    let obs = |subtype: Subtype, tracks: Vec<TrackRef>, measures: Measures| Observation {
        zone: zi,
        event_type: ViolationType::Parking,
        subtype,
        confidence,
        tracks,
        regions: Vec::new(),
        measures,
    };
    let count = parked.len() as u32;
    match &zone.rules {
        ZoneRules::NoParking(_) => vec![obs(
            Subtype::NoParkingZone,
            refs(&parked),
            Measures {
                count,
                ..Default::default()
            },
        )],
        ZoneRules::BikeParking(b) => {
            if let Some(cap) = b.capacity.filter(|&c| count > c) {
                let m = Measures {
                    count,
                    capacity: Some(cap),
                    ..Default::default()
                };
                return vec![obs(Subtype::OverCapacity, refs(&parked), m)];
            }
            let outside: Vec<&Track> = parked
                .iter()
                .copied()
                .filter(|t| {
                    !b.stalls.is_empty() && !b.stalls.iter().any(|s| s.contains(t.bbox.foot()))
                })
                .collect();
            let spread = orientation_spread(&parked);
            let disordered = b.max_orientation_spread.is_some_and(|max| spread > max);
            if !outside.is_empty() || disordered {
                let involved = if outside.is_empty() {
                    parked.clone()
                } else {
                    outside
                };
                let m = Measures {
                    count: involved.len() as u32,
                    capacity: b.capacity,
                    orientation_spread: Some((spread * 1000.0).round() / 1000.0),
                    ..Default::default()
                };
                return vec![obs(Subtype::Disorder, refs(&involved), m)];
            }
            Vec::new()
        }
        ZoneRules::Walkway(w) => {
            let Some(walk) = zone.ground.as_ref() else {
                return Vec::new();
            };
            let min = w.min_clear_width_m;
            let feet: Vec<Polygon> = parked
                .iter()
                .filter_map(|t| footprint(&t.bbox, cal))
                .collect();
            match clear_width(walk, &feet, 100) {
                Some((clear, _)) if (clear as f64) < min => {
                    let m = Measures {
                        count,
                        clear_width_m: Some((clear as f64 * 100.0).round() / 100.0),
                        min_clear_width_m: Some(min),
                        ..Default::default()
                    };
                    vec![obs(Subtype::WalkwayBlocked, refs(&parked), m)]
                }
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}
