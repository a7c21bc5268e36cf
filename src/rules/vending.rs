//! Street vending and occupation (占道经营, 流动摊贩, 店外经营) in `no_vending` and `storefront`
//! zones: people staying together with stall objects, stall objects or goods occupying the zone
//! without a person, and regions that became occupied and stay occupied (static foreground).
//!
//! Sub-types: `mobile_vendor` (people + stall in a no_vending zone), `out_of_store` (people +
//! stall in a storefront zone), `piled_goods` (objects or occupied regions without people),
//! `person_occupation` (people staying without any stall cue: loitering or a stall the detector
//! cannot see).

use super::{tracks_in, Measures, Observation, Scene, Subtype, TrackRef, ViolationType};
use crate::calibration::{Calibration, Zone, ZoneType};
use crate::track::Track;

/// Static regions smaller than this fraction of the zone are noise.
const MIN_STATIC_FRACTION: f32 = 0.03;

/// With a ground plane, people who stand less than this tall on it are not people: a road cone
/// or a bollard the detector calls a person (vtest's cone measures 0.5 m, at scores up to 0.5).
/// A vendor sitting on a stool or crouching over goods measures 0.9-1.3 m.
pub const MIN_PERSON_HEIGHT_M: f32 = 0.75;

pub fn observe(zi: usize, zone: &Zone, cal: &Calibration, scene: &Scene) -> Vec<Observation> {
    let Some(v) = zone.vending() else {
        return Vec::new();
    };
    let people: Vec<TrackRef> = tracks_in(zone, scene, &zone.classes)
        .filter(|t| t.still_for(scene.t) >= v.dwell_seconds && tall_enough(t, cal))
        .map(|t| TrackRef::of(t, scene.t))
        .collect();
    let stalls: Vec<TrackRef> = tracks_in(zone, scene, &v.stall_classes)
        .filter(|t| t.still_for(scene.t) >= v.dwell_seconds.min(10.0))
        .map(|t| TrackRef::of(t, scene.t))
        .collect();
    let zone_px = zone.polygon.area().max(1.0);
    let statics = scene.static_regions.iter().filter(|s| {
        v.static_foreground && s.zone == zi && s.area_px / zone_px >= MIN_STATIC_FRACTION
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
        (false, true) if zone.zone_type() == ZoneType::Storefront => Subtype::OutOfStore,
        (false, true) => Subtype::MobileVendor,
        (true, true) => Subtype::PiledGoods,
        (false, false) => Subtype::PersonOccupation,
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
        event_type: ViolationType::Vending,
        subtype,
        confidence,
        tracks,
        regions,
        measures,
    }]
}

/// Whether a person track stands tall enough on the ground plane to be a person. A box cut by
/// the frame's top or bottom edge shows only part of one and is not judged; neither is anything
/// without a ground plane.
fn tall_enough(t: &Track, cal: &Calibration) -> bool {
    let Some(g) = &cal.ground else {
        return true;
    };
    if t.bbox.y1 <= 1.0 || t.bbox.y2 >= cal.frame_height as f32 - 1.0 {
        return true;
    }
    g.homography
        .upright_height_m(&t.bbox)
        .is_none_or(|h| h >= MIN_PERSON_HEIGHT_M)
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
