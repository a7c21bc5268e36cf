//! Multi-object tracking in the ByteTrack family: a constant-velocity Kalman filter per track,
//! two-stage association (high-score detections first, then low-score ones for the tracks still
//! unmatched), tentative birth and timed death. Each track carries its ground-plane position,
//! speed and a stationary state decided in metres per second when the camera has a ground
//! homography. Time is the media time passed to `update`, never a clock.

pub mod assign;
pub mod kalman;

use std::collections::VecDeque;

use serde::Serialize;

use crate::detect::Detection;
use crate::geometry::{BBox, Homography, Point};
use kalman::BoxFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackState {
    /// Born from one detection; confirmed by a second.
    Tentative,
    /// Matched in the last update.
    Tracked,
    /// Not matched; predicted until `max_lost` seconds pass.
    Lost,
}

#[derive(Debug, Clone, Serialize)]
pub struct Track {
    pub id: u64,
    pub class_id: usize,
    pub class: String,
    /// Last matched detection box (for a lost track, the Kalman prediction).
    pub bbox: BBox,
    pub score: f32,
    pub state: TrackState,
    pub first_seen: f64,
    pub last_seen: f64,
    pub hits: u32,
    /// Ground position of the box's bottom centre, metres (with a homography).
    pub ground: Option<Point>,
    /// Speed over the last `speed_window` seconds: m/s with a homography, else box heights/s.
    pub speed: Option<f64>,
    /// Whether `speed` is in metres per second.
    pub speed_in_mps: bool,
    /// Media time since which the track has been stationary.
    pub stationary_since: Option<f64>,
    #[serde(skip)]
    filter: BoxFilter,
    #[serde(skip)]
    votes: Vec<(usize, String, f32)>,
    #[serde(skip)]
    history: VecDeque<(f64, Point)>,
}

impl Track {
    pub fn age(&self) -> f64 {
        self.last_seen - self.first_seen
    }

    pub fn is_stationary(&self) -> bool {
        self.stationary_since.is_some()
    }

    /// Seconds stationary at time `t` (0 when moving).
    pub fn still_for(&self, t: f64) -> f64 {
        self.stationary_since.map_or(0.0, |s| (t - s).max(0.0))
    }

    /// Seen in the latest update.
    pub fn is_current(&self, t: f64) -> bool {
        self.last_seen >= t && self.state != TrackState::Lost
    }
}

#[derive(Debug, Clone)]
pub struct TrackerConfig {
    /// Detections at or above this score take part in the first association and may start tracks.
    pub high_score: f32,
    /// Detections between `low_score` and `high_score` only keep existing tracks alive.
    pub low_score: f32,
    /// A new track needs this score.
    pub new_track_score: f32,
    /// Minimum IoU of the first association (tracked and lost tracks × high detections).
    pub first_iou: f32,
    /// Minimum IoU of the second association (still unmatched tracked tracks × low detections).
    pub second_iou: f32,
    /// Minimum IoU to confirm a tentative track.
    pub tentative_iou: f32,
    /// Seconds a tentative track may go unmatched before it is dropped.
    pub tentative_max_age: f64,
    /// Seconds a lost track is kept.
    pub max_lost: f64,
    /// Groups of class ids that may be associated with each other (e.g. bicycle and motorcycle,
    /// which detectors confuse); other classes only match themselves.
    pub class_groups: Vec<Vec<usize>>,
    /// Window over which speed is measured, seconds.
    pub speed_window: f64,
    /// Below this speed a track is stationary: m/s with a homography.
    pub stationary_mps: f64,
    /// The same without a homography, in box heights per second.
    pub stationary_heights: f64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            high_score: 0.45,
            low_score: 0.2,
            new_track_score: 0.5,
            first_iou: 0.2,
            second_iou: 0.5,
            tentative_iou: 0.3,
            tentative_max_age: 1.0,
            max_lost: 3.0,
            class_groups: Vec::new(),
            speed_window: 1.0,
            stationary_mps: 0.25,
            stationary_heights: 0.15,
        }
    }
}

#[derive(Debug)]
pub struct Tracker {
    cfg: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
    last_t: Option<f64>,
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Tracker {
        Tracker {
            cfg,
            tracks: Vec::new(),
            next_id: 1,
            last_t: None,
        }
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.cfg
    }

    /// All live tracks (tentative, tracked and lost).
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    fn compatible(&self, a: usize, b: usize) -> bool {
        a == b
            || self
                .cfg
                .class_groups
                .iter()
                .any(|g| g.contains(&a) && g.contains(&b))
    }

    /// Matches `track_ids` (indices) with `det_ids` (indices) by IoU ≥ `min_iou`.
    fn associate(
        &self,
        track_ids: &[usize],
        det_ids: &[usize],
        dets: &[Detection],
        min_iou: f32,
    ) -> Vec<(usize, usize)> {
        let cost: Vec<Vec<f64>> = track_ids
            .iter()
            .map(|&ti| {
                let tr = &self.tracks[ti];
                let pred = tr.filter.bbox();
                det_ids
                    .iter()
                    .map(|&di| {
                        let d = &dets[di];
                        if self.compatible(tr.class_id, d.class_id) {
                            1.0 - pred.iou(&d.bbox) as f64
                        } else {
                            f64::INFINITY
                        }
                    })
                    .collect()
            })
            .collect();
        assign::assign(&cost, 1.0 - min_iou as f64)
            .into_iter()
            .map(|(r, c)| (track_ids[r], det_ids[c]))
            .collect()
    }

    /// Drops detections that duplicate a better one of another class of the same group (a
    /// detector that calls one object both "bicycle" and "motorcycle").
    fn dedup_groups(&self, dets: &[Detection]) -> Vec<Detection> {
        let mut order: Vec<usize> = (0..dets.len()).collect();
        order.sort_by(|&a, &b| dets[b].score.total_cmp(&dets[a].score).then(a.cmp(&b)));
        let mut kept: Vec<usize> = Vec::new();
        for i in order {
            let dup = kept.iter().any(|&k| {
                dets[k].class_id != dets[i].class_id
                    && self.compatible(dets[k].class_id, dets[i].class_id)
                    && dets[k].bbox.iou(&dets[i].bbox) > 0.7
            });
            if !dup {
                kept.push(i);
            }
        }
        kept.sort_unstable();
        kept.into_iter().map(|i| dets[i].clone()).collect()
    }

    /// Advances to time `t` with the detections made then. `ground` maps image pixels to metres.
    pub fn update(&mut self, t: f64, dets: &[Detection], ground: Option<&Homography>) {
        let deduped;
        let dets = if self.cfg.class_groups.is_empty() {
            dets
        } else {
            deduped = self.dedup_groups(dets);
            &deduped
        };
        let dt = self.last_t.map_or(0.0, |l| (t - l).max(0.0));
        self.last_t = Some(t);
        for tr in self.tracks.iter_mut() {
            tr.filter.predict(dt);
        }
        let high: Vec<usize> = (0..dets.len())
            .filter(|&i| dets[i].score >= self.cfg.high_score)
            .collect();
        let low: Vec<usize> = (0..dets.len())
            .filter(|&i| dets[i].score < self.cfg.high_score && dets[i].score >= self.cfg.low_score)
            .collect();
        let confirmed: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| self.tracks[i].state != TrackState::Tentative)
            .collect();
        let tentative: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| self.tracks[i].state == TrackState::Tentative)
            .collect();

        // 1. Confirmed (tracked and lost) tracks × high-score detections.
        let first = self.associate(&confirmed, &high, dets, self.cfg.first_iou);
        let mut matched_t: Vec<usize> = first.iter().map(|m| m.0).collect();
        let mut matched_d: Vec<usize> = first.iter().map(|m| m.1).collect();
        // 2. Tracks that were tracked until now and are still unmatched × low-score detections.
        let rest: Vec<usize> = confirmed
            .iter()
            .copied()
            .filter(|i| !matched_t.contains(i) && self.tracks[*i].state == TrackState::Tracked)
            .collect();
        let second = self.associate(&rest, &low, dets, self.cfg.second_iou);
        // 3. Tentative tracks × remaining high-score detections.
        let high_left: Vec<usize> = high
            .iter()
            .copied()
            .filter(|d| !matched_d.contains(d))
            .collect();
        let third = self.associate(&tentative, &high_left, dets, self.cfg.tentative_iou);
        let mut all = first;
        all.extend(second);
        all.extend(third);
        for &(ti, di) in &all {
            matched_t.push(ti);
            matched_d.push(di);
            let tr = &mut self.tracks[ti];
            observe(tr, &dets[di], t, ground, &self.cfg);
            tr.state = TrackState::Tracked;
        }
        // Unmatched: tentative tracks die after a short grace, tracked ones become lost.
        let (max_lost, max_tentative) = (self.cfg.max_lost, self.cfg.tentative_max_age);
        let mut i = 0;
        self.tracks.retain(|tr| {
            let limit = if tr.state == TrackState::Tentative {
                max_tentative
            } else {
                max_lost
            };
            let keep = matched_t.contains(&i) || t - tr.last_seen <= limit;
            i += 1;
            keep
        });
        for tr in self.tracks.iter_mut() {
            if tr.last_seen < t {
                if tr.state != TrackState::Tentative {
                    tr.state = TrackState::Lost;
                }
                tr.bbox = tr.filter.bbox();
            }
        }
        // 4. New tracks from unmatched confident detections; confirmed on their first frame only
        //    when the tracker has no history yet.
        let first_frame = self.tracks.is_empty() && dt == 0.0;
        for &di in &high {
            let d = &dets[di];
            if matched_d.contains(&di) || d.score < self.cfg.new_track_score {
                continue;
            }
            let mut tr = Track {
                id: self.next_id,
                class_id: d.class_id,
                class: d.class.clone(),
                bbox: d.bbox,
                score: d.score,
                state: if first_frame {
                    TrackState::Tracked
                } else {
                    TrackState::Tentative
                },
                first_seen: t,
                last_seen: t,
                hits: 0,
                ground: None,
                speed: None,
                speed_in_mps: ground.is_some(),
                stationary_since: None,
                filter: BoxFilter::new(&d.bbox),
                votes: Vec::new(),
                history: VecDeque::new(),
            };
            self.next_id += 1;
            observe(&mut tr, d, t, ground, &self.cfg);
            self.tracks.push(tr);
        }
    }
}

/// Records a matched detection on a track: box, class vote, ground position, speed, stationarity.
fn observe(
    tr: &mut Track,
    d: &Detection,
    t: f64,
    ground: Option<&Homography>,
    cfg: &TrackerConfig,
) {
    if tr.hits > 0 {
        tr.filter.update(&d.bbox);
    }
    tr.hits += 1;
    tr.bbox = d.bbox;
    tr.score = d.score;
    tr.last_seen = t;
    // The track's class is the one with the highest summed score so far.
    match tr.votes.iter_mut().find(|v| v.0 == d.class_id) {
        Some(v) => v.2 += d.score,
        None => tr.votes.push((d.class_id, d.class.clone(), d.score)),
    }
    if let Some((best, name, _)) = tr.votes.iter().max_by(|a, b| a.2.total_cmp(&b.2)) {
        if *best != tr.class_id {
            tr.class_id = *best;
            tr.class = name.clone();
        }
    }
    // Position in metres on the ground, or in box heights in the image.
    let foot = d.bbox.foot();
    let pos = match ground.and_then(|h| h.apply(foot)) {
        Some(g) => {
            tr.ground = Some(g);
            g
        }
        None => {
            let h = d.bbox.height().max(1.0);
            Point {
                x: foot.x / h,
                y: foot.y / h,
            }
        }
    };
    tr.speed_in_mps = ground.is_some();
    tr.history.push_back((t, pos));
    while tr.history.len() > 2 && t - tr.history[1].0 >= cfg.speed_window {
        tr.history.pop_front();
    }
    let (t0, p0) = tr.history[0];
    if t - t0 >= cfg.speed_window * 0.75 {
        let speed =
            (((pos.x - p0.x) as f64).powi(2) + ((pos.y - p0.y) as f64).powi(2)).sqrt() / (t - t0);
        tr.speed = Some(speed);
        let limit = if tr.speed_in_mps {
            cfg.stationary_mps
        } else {
            cfg.stationary_heights
        };
        // Hysteresis: a stationary track must clearly move to leave the state.
        match tr.stationary_since {
            None if speed < limit => tr.stationary_since = Some(t0),
            Some(_) if speed > 1.5 * limit => tr.stationary_since = None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
