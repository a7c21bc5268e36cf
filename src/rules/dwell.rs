//! Zone dwell: an object of a listed class whose ground point (bottom centre of its box) stays
//! inside a zone for at least the zone's `dwell_seconds` raises one event per (zone, track).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::calibration::Zone;
use crate::geometry::BBox;
use crate::track::Track;

/// A track confirmed as dwelling in a zone.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DwellEvent {
    pub zone: String,
    pub zone_index: usize,
    pub track_id: u64,
    pub class: String,
    pub score: f32,
    pub bbox: BBox,
    /// Media time the track entered the zone, seconds.
    pub since: f64,
    /// Media time the dwell was confirmed, seconds.
    pub at: f64,
}

#[derive(Debug, Clone)]
struct Presence {
    since: f64,
    last_inside: f64,
    fired: bool,
}

/// State of the dwell rule for one camera.
#[derive(Debug, Default)]
pub struct DwellRule {
    /// (zone index, track id) → presence. BTreeMap: deterministic iteration order.
    presence: BTreeMap<(usize, u64), Presence>,
    /// Seconds a track may be outside (or unseen) before its presence resets.
    pub grace: f64,
}

impl DwellRule {
    pub fn new(grace: f64) -> DwellRule {
        DwellRule {
            presence: BTreeMap::new(),
            grace,
        }
    }

    /// Updates with the tracks seen at time `t`; returns newly confirmed dwells.
    pub fn update(
        &mut self,
        t: f64,
        zones: &[Zone],
        tracks: &[Track],
        seen: &[u64],
    ) -> Vec<DwellEvent> {
        let mut events = Vec::new();
        for (zi, zone) in zones.iter().enumerate() {
            for tr in tracks.iter().filter(|tr| seen.contains(&tr.id)) {
                if !zone.classes.contains(&tr.class) || !zone.polygon.contains(tr.bbox.foot()) {
                    continue;
                }
                let p = self.presence.entry((zi, tr.id)).or_insert(Presence {
                    since: t,
                    last_inside: t,
                    fired: false,
                });
                p.last_inside = t;
                if !p.fired && t - p.since >= zone.dwell_seconds {
                    p.fired = true;
                    events.push(DwellEvent {
                        zone: zone.name.clone(),
                        zone_index: zi,
                        track_id: tr.id,
                        class: tr.class.clone(),
                        score: tr.score,
                        bbox: tr.bbox,
                        since: p.since,
                        at: t,
                    });
                }
            }
        }
        let grace = self.grace;
        self.presence.retain(|_, p| t - p.last_inside <= grace);
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibration::ZoneType;
    use crate::geometry::{Point, Polygon};

    fn zone(dwell: f64) -> Zone {
        Zone {
            name: "z".into(),
            zone_type: ZoneType::NoVending,
            polygon: Polygon::new(vec![
                Point { x: 0.0, y: 0.0 },
                Point { x: 100.0, y: 0.0 },
                Point { x: 100.0, y: 100.0 },
                Point { x: 0.0, y: 100.0 },
            ]),
            classes: vec!["person".into()],
            dwell_seconds: dwell,
            classes_line: 1,
        }
    }

    fn track(id: u64, x: f32, class: &str) -> Track {
        Track {
            id,
            class_id: 0,
            class: class.into(),
            bbox: BBox::new(x, 40.0, x + 10.0, 60.0),
            score: 0.8,
            first_seen: 0.0,
            last_seen: 0.0,
            hits: 1,
        }
    }

    fn run(rule: &mut DwellRule, zones: &[Zone], steps: &[(f64, Vec<Track>)]) -> Vec<DwellEvent> {
        let mut all = Vec::new();
        for (t, tracks) in steps {
            let seen: Vec<u64> = tracks.iter().map(|t| t.id).collect();
            all.extend(rule.update(*t, zones, tracks, &seen));
        }
        all
    }

    #[test]
    fn fires_once_after_dwell() {
        let zones = [zone(3.0)];
        let steps: Vec<_> = (0..=30)
            .map(|i| (i as f64 * 0.2, vec![track(7, 50.0, "person")]))
            .collect();
        let ev = run(&mut DwellRule::new(1.0), &zones, &steps);
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].track_id, ev[0].since), (7, 0.0));
        assert!((ev[0].at - 3.0).abs() < 1e-9);
    }

    #[test]
    fn walking_through_or_wrong_class_does_not_fire() {
        let zones = [zone(3.0)];
        // Crosses the 100-px zone in 2 s, then is outside.
        let walk: Vec<_> = (0..=20)
            .map(|i| {
                (
                    i as f64 * 0.2,
                    vec![track(1, -20.0 + i as f32 * 12.0, "person")],
                )
            })
            .collect();
        assert!(run(&mut DwellRule::new(1.0), &zones, &walk).is_empty());
        let bike: Vec<_> = (0..=30)
            .map(|i| (i as f64 * 0.2, vec![track(2, 50.0, "bicycle")]))
            .collect();
        assert!(run(&mut DwellRule::new(1.0), &zones, &bike).is_empty());
    }

    #[test]
    fn leaving_longer_than_grace_resets() {
        let zones = [zone(3.0)];
        let mut steps = Vec::new();
        for i in 0..10 {
            steps.push((i as f64 * 0.2, vec![track(1, 50.0, "person")])); // 0 .. 1.8 s inside
        }
        steps.push((3.5, vec![track(1, 150.0, "person")])); // outside, 1.7 s after last inside
        for i in 0..10 {
            steps.push((3.6 + i as f64 * 0.2, vec![track(1, 50.0, "person")])); // 3.6 .. 5.4 s
        }
        assert!(run(&mut DwellRule::new(1.0), &zones, &steps).is_empty());
    }
}
