//! Multi-object tracking in the ByteTrack family: a constant-velocity Kalman filter per track,
//! two-stage association (high-score detections first, then low-score ones for the tracks still
//! unmatched), tentative birth and timed death. Each track carries its ground-plane position,
//! speed and a stationary state decided in metres per second when the camera has a ground
//! homography. Time is the media time passed to `update`, never a clock.
//!
//! Stationarity survives occlusion. Once a track is stationary it keeps an *anchor*: the box it
//! occupies at rest. An observation that is partial (the box shrank or changed shape against the
//! anchor, or a nearer object's box overlaps it) and lies within the anchor says nothing about
//! motion: a pedestrian passing in front of a parked bicycle makes the detector box half of it,
//! and the bottom centre of that half box may jump half a metre. Only whole observations are
//! measured, against the anchor, and the track leaves the stationary state only when it has
//! been away from the anchor for `leave_seconds`. While a stationary track is unseen it is kept
//! (and associated by its anchor) for `max_lost_stationary` seconds, and while another
//! detection covers its anchor it still counts as present for `occlusion_hold` seconds: a
//! person standing in front of a parked bicycle hides it, but does not move it.

pub mod assign;
pub mod kalman;

use std::collections::VecDeque;

use serde::Serialize;

use crate::detection::Detection;
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
    /// Seen in the latest update, or stationary, unseen for at most `occlusion_hold` seconds
    /// and covered by another detection (hidden, not gone). Rules count present tracks.
    pub present: bool,
    /// Whether the latest observation was partial (occluded or cut), so its box is the anchor's.
    pub occluded: bool,
    #[serde(skip)]
    anchor: Option<Anchor>,
    /// Media time since which whole observations have been away from the anchor.
    #[serde(skip)]
    away_since: Option<f64>,
    /// Media time since which the track has been neither seen nor covered by another detection.
    #[serde(skip)]
    uncovered_since: Option<f64>,
    #[serde(skip)]
    filter: BoxFilter,
    #[serde(skip)]
    votes: Vec<(usize, String, f32)>,
    #[serde(skip)]
    history: VecDeque<(f64, Point, BBox)>,
}

/// Where a stationary track rests: its whole box and that box's position (metres on the ground
/// or box heights in the image).
#[derive(Debug, Clone, Copy)]
struct Anchor {
    bbox: BBox,
    pos: Point,
    updated: f64,
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

    /// How well a detection box fits this track, 0..=1: IoU with the predicted box for a moving
    /// track; for a stationary one, IoU with its anchor, or, for a box lying within the anchor
    /// (the visible part of a partly hidden object), most of its share inside.
    fn similarity(&self, b: &BBox) -> f32 {
        match &self.anchor {
            Some(a) => {
                let iou = a.bbox.iou(b);
                let part = b.area() >= 0.15 * a.bbox.area();
                let held = if part {
                    iou.max(0.7 * b.inside_fraction(&a.bbox))
                } else {
                    iou
                };
                // An object that starts to move away is followed by its filter.
                held.max(self.filter.bbox().iou(b))
            }
            None => self.filter.bbox().iou(b),
        }
    }

    /// Whether a detection box shows only part of the object. For a stationary track: the box
    /// shrank, grew or changed shape against the anchor (a passer-by in front, a box cut in
    /// half, two objects merged). For a moving one: it changed shape against the last whole box
    /// while another detection nearer the camera (lower foot) covers part of it. Objects that
    /// overlap all the time (bicycles parked in a row) keep their shapes and are whole.
    fn is_partial(&self, b: &BBox, others: &[BBox]) -> bool {
        let changed = |r: &BBox| {
            let area = b.area() / r.area().max(1.0);
            let shape = b.aspect() / r.aspect().max(1e-3);
            !(0.75..=1.35).contains(&area) || !(0.75..=1.33).contains(&shape)
        };
        if let Some(a) = &self.anchor {
            return changed(&a.bbox);
        }
        let covered = || {
            others
                .iter()
                .any(|o| o.y2 > b.y2 + 0.05 * b.height() && o.intersection(b) > 0.15 * b.area())
        };
        self.history.back().is_some_and(|h| changed(&h.2)) && covered()
    }

    /// Whether a detection nearer the camera (its foot lower in the image) covers a tenth or
    /// more of this stationary track's anchor, so that not seeing it means it is hidden, not
    /// gone. People standing around it at the same depth do not hide it.
    fn hidden_by(&self, dets: &[Detection]) -> bool {
        self.anchor.as_ref().is_some_and(|a| {
            dets.iter().any(|d| {
                d.bbox.y2 > a.bbox.y2 + 0.05 * a.bbox.height()
                    && d.bbox.intersection(&a.bbox) >= 0.1 * a.bbox.area()
            })
        })
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
    /// Per-class `high_score` (and `new_track_score` = it + 0.05) for classes the detector scores
    /// low: (class id, score).
    pub class_high_scores: Vec<(usize, f32)>,
    /// Groups of class ids that may be associated with each other (e.g. bicycle and motorcycle,
    /// which detectors confuse); other classes only match themselves.
    pub class_groups: Vec<Vec<usize>>,
    /// Window over which speed is measured, seconds.
    pub speed_window: f64,
    /// Below this speed a track is stationary: m/s with a homography.
    pub stationary_mps: f64,
    /// The same without a homography, in box heights per second.
    pub stationary_heights: f64,
    /// A stationary track leaves the state when whole observations have been farther than this
    /// from its anchor for `leave_seconds`: metres with a homography.
    pub leave_metres: f64,
    /// The same without a homography, in box heights.
    pub leave_heights: f64,
    /// Seconds a stationary track must be seen away from its anchor before it counts as moving.
    pub leave_seconds: f64,
    /// Seconds an unseen stationary track is kept (and re-associated by its anchor).
    pub max_lost_stationary: f64,
    /// Seconds an unseen stationary track still counts as present while another detection
    /// covers it (hidden behind a passer-by, not gone).
    pub occlusion_hold: f64,
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
            class_high_scores: Vec::new(),
            class_groups: Vec::new(),
            speed_window: 1.0,
            stationary_mps: 0.25,
            stationary_heights: 0.15,
            leave_metres: 0.5,
            leave_heights: 0.3,
            leave_seconds: 0.8,
            max_lost_stationary: 60.0,
            occlusion_hold: 6.0,
        }
    }
}

/// A grouped class's detection lying this much inside another of its group, at most `PART_AREA`
/// of its size and scored at least `PART_SCORE` of it, is a part of that object.
const PART_INSIDE: f32 = 0.8;
const PART_AREA: f32 = 0.9;
const PART_SCORE: f32 = 0.8;

/// Whether box `a` holds box `b`: `b` lies at least `PART_INSIDE` inside it.
fn holds(a: &BBox, b: &BBox) -> bool {
    b.inside_fraction(a) >= PART_INSIDE
}

/// Whether two boxes show one object: one holds the other.
fn coincide(a: &BBox, b: &BBox) -> bool {
    holds(a, b) || holds(b, a)
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

    /// The high score of a class.
    fn high(&self, class_id: usize) -> f32 {
        self.cfg
            .class_high_scores
            .iter()
            .find(|c| c.0 == class_id)
            .map_or(self.cfg.high_score, |c| c.1)
    }

    /// The score a detection of this class needs to start a track.
    fn new_track(&self, class_id: usize) -> f32 {
        self.cfg
            .class_high_scores
            .iter()
            .find(|c| c.0 == class_id)
            .map_or(self.cfg.new_track_score, |c| c.1 + 0.05)
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
                det_ids
                    .iter()
                    .map(|&di| {
                        let d = &dets[di];
                        if self.compatible(tr.class_id, d.class_id) {
                            1.0 - tr.similarity(&d.bbox) as f64
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

    /// Drops detections that duplicate another of the same group: the same object under
    /// another class (a detector that calls one object both "bicycle" and "motorcycle"), or a
    /// part of it (NanoDet boxes a parked bicycle whole and, beside that, its rear half, at times
    /// scoring the half higher: two tracks on one bike, one clock restarting whenever the other
    /// wins the object). A part is dropped for a box that holds it and scores at least
    /// `PART_SCORE` of its score.
    fn dedup_groups(&self, dets: &[Detection]) -> Vec<Detection> {
        let grouped = |c: usize| self.cfg.class_groups.iter().any(|g| g.contains(&c));
        let mut order: Vec<usize> = (0..dets.len()).collect();
        order.sort_by(|&a, &b| dets[b].score.total_cmp(&dets[a].score).then(a.cmp(&b)));
        let mut kept: Vec<usize> = Vec::new();
        for i in order {
            let dup = kept.iter().any(|&k| {
                let (better, this) = (&dets[k], &dets[i]);
                better.class_id != this.class_id
                    && self.compatible(better.class_id, this.class_id)
                    && better.bbox.iou(&this.bbox) > 0.7
            });
            if !dup {
                kept.push(i);
            }
        }
        let part_of = |i: &Detection, k: &Detection| {
            grouped(i.class_id)
                && self.compatible(i.class_id, k.class_id)
                && holds(&k.bbox, &i.bbox)
                && i.bbox.area() <= PART_AREA * k.bbox.area()
                && k.score >= PART_SCORE * i.score
        };
        let mut whole: Vec<usize> = kept
            .iter()
            .copied()
            .filter(|&i| !kept.iter().any(|&k| k != i && part_of(&dets[i], &dets[k])))
            .collect();
        whole.sort_unstable();
        whole.into_iter().map(|i| dets[i].clone()).collect()
    }

    /// Stationary tracks of one group whose anchors coincide (one holds most of the other) are
    /// one object boxed twice (whole and part): they share the earlier stationary start, so
    /// whichever of them keeps the object keeps its clock. (Cost: a bike parked exactly where
    /// another one was lost a moment before takes its clock.)
    fn share_clocks(&mut self) {
        let n = self.tracks.len();
        for i in 0..n {
            let (Some(ai), Some(si)) = (self.tracks[i].anchor, self.tracks[i].stationary_since)
            else {
                continue;
            };
            let mut since = si;
            for j in 0..n {
                let (Some(aj), Some(sj)) = (self.tracks[j].anchor, self.tracks[j].stationary_since)
                else {
                    continue;
                };
                if j != i
                    && sj < since
                    && self.compatible(self.tracks[i].class_id, self.tracks[j].class_id)
                    && coincide(&ai.bbox, &aj.bbox)
                {
                    since = sj;
                }
            }
            self.tracks[i].stationary_since = Some(since);
        }
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
            .filter(|&i| dets[i].score >= self.high(dets[i].class_id))
            .collect();
        let low: Vec<usize> = (0..dets.len())
            .filter(|&i| {
                dets[i].score < self.high(dets[i].class_id) && dets[i].score >= self.cfg.low_score
            })
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
            let others: Vec<BBox> = (0..dets.len())
                .filter(|&k| k != di)
                .map(|k| dets[k].bbox)
                .collect();
            let tr = &mut self.tracks[ti];
            observe(tr, &dets[di], t, ground, &self.cfg, &others);
            tr.state = TrackState::Tracked;
        }
        // Unmatched: tentative tracks die after a short grace, tracked ones become lost; a
        // stationary track is kept longer (hidden, not gone).
        let (max_lost, max_tentative, max_still) = (
            self.cfg.max_lost,
            self.cfg.tentative_max_age,
            self.cfg.max_lost_stationary,
        );
        for (i, tr) in self.tracks.iter_mut().enumerate() {
            if matched_t.contains(&i) || tr.hidden_by(dets) {
                tr.uncovered_since = None;
            } else {
                tr.uncovered_since.get_or_insert(t);
            }
        }
        self.share_clocks();
        let mut i = 0;
        self.tracks.retain(|tr| {
            let limit = if tr.state == TrackState::Tentative {
                max_tentative
            } else if tr.anchor.is_some() {
                // Kept while hidden; gone once in plain view and unseen for `max_lost`.
                if tr.uncovered_since.is_some_and(|u| t - u > max_lost) {
                    max_lost
                } else {
                    max_still
                }
            } else {
                max_lost
            };
            let keep = matched_t.contains(&i) || t - tr.last_seen <= limit;
            if !keep {
                tracing::debug!(t, id = tr.id, class = %tr.class, state = ?tr.state, last_seen = tr.last_seen, "track dropped");
            }
            i += 1;
            keep
        });
        let hold = self.cfg.occlusion_hold;
        for tr in self.tracks.iter_mut() {
            if tr.last_seen < t {
                if tr.state != TrackState::Tentative {
                    tr.state = TrackState::Lost;
                }
                tr.bbox = match &tr.anchor {
                    Some(a) => a.bbox,
                    None => tr.filter.bbox(),
                };
                tr.present = t - tr.last_seen <= hold && tr.hidden_by(dets);
            } else {
                tr.present = true;
            }
        }
        // 4. New tracks from unmatched confident detections; confirmed on their first frame only
        //    when the tracker has no history yet.
        let first_frame = self.tracks.is_empty() && dt == 0.0;
        for &di in &high {
            let d = &dets[di];
            if matched_d.contains(&di) || d.score < self.new_track(d.class_id) {
                continue;
            }
            // A box that lies within a stationary object of its group, or holds it, is that
            // object (a part, or all of it) boxed twice, not a new one.
            let on_stationary = self.tracks.iter().any(|tr| {
                tr.anchor.as_ref().is_some_and(|a| {
                    self.compatible(tr.class_id, d.class_id) && coincide(&d.bbox, &a.bbox)
                })
            });
            if on_stationary {
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
                present: true,
                occluded: false,
                anchor: None,
                away_since: None,
                uncovered_since: None,
                filter: BoxFilter::new(&d.bbox),
                votes: Vec::new(),
                history: VecDeque::new(),
            };
            self.next_id += 1;
            let others: Vec<BBox> = (0..dets.len())
                .filter(|&k| k != di)
                .map(|k| dets[k].bbox)
                .collect();
            observe(&mut tr, d, t, ground, &self.cfg, &others);
            tracing::debug!(t, id = tr.id, class = %tr.class, score = d.score, "track born");
            self.tracks.push(tr);
        }
    }
}

/// Position of a box: its bottom centre on the ground (metres) with a homography, else in box
/// heights in the image. `None` when the homography cannot map the point.
fn position(b: &BBox, ground: Option<&Homography>) -> (Point, Option<Point>) {
    let foot = b.foot();
    match ground.and_then(|h| h.apply(foot)) {
        Some(g) => (g, Some(g)),
        None => {
            let h = b.height().max(1.0);
            (
                Point {
                    x: foot.x / h,
                    y: foot.y / h,
                },
                None,
            )
        }
    }
}

fn distance(a: Point, b: Point) -> f64 {
    (((a.x - b.x) as f64).powi(2) + ((a.y - b.y) as f64).powi(2)).sqrt()
}

/// Records a matched detection on a track: box, class vote, ground position, speed, stationarity.
/// `others` are the other detections of the frame (possible occluders).
fn observe(
    tr: &mut Track,
    d: &Detection,
    t: f64,
    ground: Option<&Homography>,
    cfg: &TrackerConfig,
    others: &[BBox],
) {
    let partial = tr.is_partial(&d.bbox, others);
    // A stationary object seen in part is where its anchor says it is.
    let seen = match (&tr.anchor, partial) {
        (Some(a), true) => a.bbox,
        _ => d.bbox,
    };
    if tr.hits > 0 {
        tr.filter.update(&seen);
    }
    tr.hits += 1;
    tr.bbox = seen;
    tr.occluded = partial;
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
    tr.speed_in_mps = ground.is_some();
    let (pos, on_ground) = position(&d.bbox, ground);
    if !partial {
        if on_ground.is_some() {
            tr.ground = on_ground;
        }
        tr.history.push_back((t, pos, d.bbox));
        while tr.history.len() > 2 && t - tr.history[1].0 >= cfg.speed_window {
            tr.history.pop_front();
        }
    }
    let (limit, leave) = if tr.speed_in_mps {
        (cfg.stationary_mps, cfg.leave_metres)
    } else {
        (cfg.stationary_heights, cfg.leave_heights)
    };
    // Speed over the window of whole observations.
    if let (Some(&(t0, p0, _)), Some(&(t1, p1, _))) = (tr.history.front(), tr.history.back()) {
        if t1 - t0 >= cfg.speed_window * 0.75 && t1 == t {
            tr.speed = Some(distance(p1, p0) / (t1 - t0));
        }
    }
    match tr.anchor {
        None => {
            // Moving: becomes stationary when the speed over a whole window falls below the limit.
            let Some(&(t0, _, _)) = tr.history.front() else {
                return;
            };
            if !partial && t - t0 >= cfg.speed_window * 0.75 && tr.speed.is_some_and(|s| s < limit)
            {
                let n = tr.history.len() as f32;
                let mut b = BBox::new(0.0, 0.0, 0.0, 0.0);
                for (_, _, h) in &tr.history {
                    b.x1 += h.x1 / n;
                    b.y1 += h.y1 / n;
                    b.x2 += h.x2 / n;
                    b.y2 += h.y2 / n;
                }
                tracing::debug!(t, id = tr.id, class = %tr.class, since = t0, "track stationary");
                tr.stationary_since = Some(t0);
                tr.anchor = Some(Anchor {
                    bbox: b,
                    pos: position(&b, ground).0,
                    updated: t,
                });
                tr.away_since = None;
            }
        }
        Some(mut a) => {
            // Stationary: only whole observations away from the anchor, or parts mostly outside
            // it, are evidence of motion, and it must last `leave_seconds`. A box that holds the
            // anchor is the object seen more fully (it stopped half hidden, the passer-by moved
            // on), not the object moving.
            let away = if partial {
                d.bbox.inside_fraction(&a.bbox) < 0.5 && !holds(&d.bbox, &a.bbox)
            } else {
                distance(pos, a.pos) > leave
            };
            if away {
                let since = *tr.away_since.get_or_insert(t);
                if t - since >= cfg.leave_seconds {
                    tracing::debug!(t, id = tr.id, class = %tr.class, "track moving again");
                    tr.stationary_since = None;
                    tr.anchor = None;
                    tr.away_since = None;
                    tr.history.retain(|h| h.0 >= since);
                }
            } else {
                tr.away_since = None;
                if !partial {
                    // The anchor follows small shifts (a person changing stance) over seconds.
                    let k = ((t - a.updated) / 5.0).clamp(0.0, 1.0) as f32;
                    a.bbox = a.bbox.lerp(&d.bbox, k);
                    a.pos = position(&a.bbox, ground).0;
                    a.updated = t;
                    tr.anchor = Some(a);
                } else if holds(&d.bbox, &a.bbox) && d.bbox.area() > a.bbox.area() {
                    // Seen more fully than when it stopped: the anchor grows to the whole object,
                    // so that its whole box keeps matching this track and not a new one.
                    a.bbox = d.bbox;
                    a.pos = position(&a.bbox, ground).0;
                    a.updated = t;
                    tr.anchor = Some(a);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
