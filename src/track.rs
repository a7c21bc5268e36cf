//! Multi-object tracking. This first tracker associates detections to tracks greedily by IoU
//! within a class; tracks unseen for longer than `max_lost` seconds end. Time is a field of each
//! update (media time), never a clock.

use serde::Serialize;

use crate::detect::Detection;
use crate::geometry::BBox;

#[derive(Debug, Clone, Serialize)]
pub struct Track {
    pub id: u64,
    pub class_id: usize,
    pub class: String,
    pub bbox: BBox,
    pub score: f32,
    pub first_seen: f64,
    pub last_seen: f64,
    pub hits: u32,
}

impl Track {
    /// Seconds since the track was born.
    pub fn age(&self) -> f64 {
        self.last_seen - self.first_seen
    }
}

#[derive(Debug, Clone)]
pub struct TrackerConfig {
    pub min_iou: f32,
    pub max_lost: f64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            min_iou: 0.3,
            max_lost: 2.0,
        }
    }
}

#[derive(Debug, Default)]
pub struct Tracker {
    cfg: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Tracker {
        Tracker {
            cfg,
            tracks: Vec::new(),
            next_id: 1,
        }
    }

    /// Live tracks (including those not seen in the last update but not yet ended).
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Associates the detections made at time `t`; returns the ids of tracks seen at `t`.
    pub fn update(&mut self, t: f64, dets: &[Detection]) -> Vec<u64> {
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, tr) in self.tracks.iter().enumerate() {
            for (di, d) in dets.iter().enumerate() {
                if d.class_id == tr.class_id {
                    let iou = tr.bbox.iou(&d.bbox);
                    if iou >= self.cfg.min_iou {
                        pairs.push((iou, ti, di));
                    }
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut track_used = vec![false; self.tracks.len()];
        let mut det_used = vec![false; dets.len()];
        let mut seen = Vec::new();
        for (_, ti, di) in pairs {
            if track_used[ti] || det_used[di] {
                continue;
            }
            track_used[ti] = true;
            det_used[di] = true;
            let tr = &mut self.tracks[ti];
            tr.bbox = dets[di].bbox;
            tr.score = dets[di].score;
            tr.last_seen = t;
            tr.hits += 1;
            seen.push(tr.id);
        }
        for (di, d) in dets.iter().enumerate() {
            if det_used[di] {
                continue;
            }
            let id = self.next_id.max(1);
            self.next_id = id + 1;
            self.tracks.push(Track {
                id,
                class_id: d.class_id,
                class: d.class.clone(),
                bbox: d.bbox,
                score: d.score,
                first_seen: t,
                last_seen: t,
                hits: 1,
            });
            seen.push(id);
        }
        let max_lost = self.cfg.max_lost;
        self.tracks.retain(|tr| t - tr.last_seen <= max_lost);
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, class_id: usize) -> Detection {
        Detection {
            class_id,
            class: if class_id == 0 {
                "person".into()
            } else {
                "bicycle".into()
            },
            score: 0.9,
            bbox: BBox::new(x, 0.0, x + 10.0, 20.0),
        }
    }

    #[test]
    fn keeps_id_while_moving_slowly_and_ends_after_max_lost() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let a = tr.update(0.0, &[det(0.0, 0)]);
        let b = tr.update(0.2, &[det(2.0, 0)]);
        assert_eq!(a, b);
        assert_eq!(tr.tracks()[0].age(), 0.2);
        tr.update(1.0, &[]);
        assert_eq!(tr.tracks().len(), 1, "lost for 0.8 s only");
        tr.update(2.5, &[]);
        assert!(tr.tracks().is_empty(), "lost for 2.3 s");
    }

    #[test]
    fn other_class_or_far_box_starts_new_track() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let a = tr.update(0.0, &[det(0.0, 0)]);
        let b = tr.update(0.2, &[det(0.0, 1), det(40.0, 0)]);
        assert_eq!(b.len(), 2);
        assert!(!b.contains(&a[0]));
    }
}
