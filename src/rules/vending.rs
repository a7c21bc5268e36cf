//! Street vending and occupation (占道经营, 流动摊贩, 店外经营) in `no_vending` and `storefront`
//! zones: people staying together with stall objects, stall objects or goods occupying the zone
//! without a person, and regions that became occupied and stay occupied (static foreground).
//!
//! Sub-types: `mobile_vendor` (people + stall in a no_vending zone), `out_of_store` (people +
//! stall in a storefront zone), `piled_goods` (objects or occupied regions without people),
//! `person_occupation` (people staying without any stall cue: loitering or a stall the detector
//! cannot see).

use super::{tracks_in, Measures, Observation, Scene, TrackRef};
use crate::calibration::{Calibration, Zone, ZoneType};

/// Static regions smaller than this fraction of the zone are noise.
const MIN_STATIC_FRACTION: f32 = 0.03;

pub fn observe(zi: usize, zone: &Zone, cal: &Calibration, scene: &Scene) -> Vec<Observation> {
    let people: Vec<TrackRef> = tracks_in(zone, scene, &zone.classes)
        .filter(|t| t.still_for(scene.t) >= zone.dwell_seconds)
        .map(|t| TrackRef::of(t, scene.t))
        .collect();
    let stalls: Vec<TrackRef> = tracks_in(zone, scene, &zone.stall_classes)
        .filter(|t| t.still_for(scene.t) >= zone.dwell_seconds.min(10.0))
        .map(|t| TrackRef::of(t, scene.t))
        .collect();
    let zone_px = zone.polygon.area().max(1.0);
    let statics = scene.static_regions.iter().filter(|s| {
        zone.static_foreground && s.zone == zi && s.area_px / zone_px >= MIN_STATIC_FRACTION
    });
    let mut regions = Vec::new();
    let mut area_px = 0.0f64;
    let mut area_m2: Option<f64> = None;
    for s in statics {
        area_px += s.area_px as f64;
        for r in &s.regions {
            regions.push(bounding(r));
            if let Some(g) = cal
                .ground
                .as_ref()
                .and_then(|g| g.homography.apply_polygon(r))
            {
                *area_m2.get_or_insert(0.0) += g.area() as f64;
            }
        }
    }
    let has_goods = !stalls.is_empty() || area_px > 0.0;
    let subtype = match (people.is_empty(), has_goods) {
        (true, false) => return Vec::new(),
        (false, true) if zone.zone_type == ZoneType::Storefront => "out_of_store",
        (false, true) => "mobile_vendor",
        (true, true) => "piled_goods",
        (false, false) => "person_occupation",
    };
    let scores: Vec<f32> = people.iter().chain(&stalls).map(|t| t.score).collect();
    let confidence = if scores.is_empty() {
        0.5
    } else {
        scores.iter().sum::<f32>() / scores.len() as f32
    };
    let measures = Measures {
        count: (people.len() + stalls.len()) as u32,
        people: Some(people.len() as u32),
        occupied_area_m2: area_m2.map(|a| (a * 100.0).round() / 100.0),
        occupied_area_px: (area_px > 0.0).then_some(area_px.round()),
        ..Default::default()
    };
    let mut tracks = people;
    tracks.extend(stalls);
    vec![Observation {
        zone: zi,
        event_type: "vending",
        subtype,
        confidence,
        tracks,
        regions,
        measures,
    }]
}

fn bounding(p: &crate::geometry::Polygon) -> crate::geometry::BBox {
    let mut b = crate::geometry::BBox::new(f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for q in &p.points {
        b.x1 = b.x1.min(q.x);
        b.y1 = b.y1.min(q.y);
        b.x2 = b.x2.max(q.x);
        b.y2 = b.y2.max(q.y);
    }
    b
}
