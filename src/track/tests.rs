//! Tracker tests with scripted detections (no model).

use super::*;

fn det(class_id: usize, x: f32, y: f32, score: f32) -> Detection {
    Detection {
        class_id,
        class: ["person", "bicycle", "car", "motorcycle"][class_id].into(),
        score,
        bbox: BBox::new(x, y, x + 20.0, y + 50.0),
    }
}

fn ids_at(tr: &Tracker, t: f64) -> Vec<(u64, f32)> {
    let mut v: Vec<(u64, f32)> = tr
        .tracks()
        .iter()
        .filter(|x| x.is_current(t))
        .map(|x| (x.id, x.bbox.x1))
        .collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1));
    v
}

#[test]
fn crossing_objects_keep_their_ids() {
    // Two people walk towards each other on one line, cross (boxes overlap) and go on.
    let mut tr = Tracker::new(TrackerConfig::default());
    let mut a_id = None;
    let mut b_id = None;
    for i in 0..40 {
        let t = i as f64 * 0.1;
        let (xa, xb) = (i as f32 * 8.0, 312.0 - i as f32 * 8.0);
        tr.update(t, &[det(0, xa, 100.0, 0.9), det(0, xb, 104.0, 0.8)], None);
        let cur: Vec<&Track> = tr.tracks().iter().filter(|x| x.is_current(t)).collect();
        if i == 2 {
            a_id = cur.iter().find(|x| x.bbox.x1 < 100.0).map(|x| x.id);
            b_id = cur.iter().find(|x| x.bbox.x1 > 200.0).map(|x| x.id);
        }
    }
    let end = ids_at(&tr, 3.9);
    assert_eq!(end.len(), 2);
    // After crossing, A is on the right and B on the left.
    assert_eq!(Some(end[0].0), b_id, "{end:?}");
    assert_eq!(Some(end[1].0), a_id, "{end:?}");
}

#[test]
fn occlusion_for_a_few_frames_keeps_the_id() {
    let mut tr = Tracker::new(TrackerConfig::default());
    for i in 0..10 {
        tr.update(
            i as f64 * 0.2,
            &[det(0, 100.0 + i as f32 * 4.0, 100.0, 0.9)],
            None,
        );
    }
    let id = ids_at(&tr, 1.8)[0].0;
    for i in 10..15 {
        tr.update(i as f64 * 0.2, &[], None); // 1 s hidden behind a pole
        assert_eq!(tr.tracks()[0].state, TrackState::Lost);
    }
    // It reappears where its motion predicts it.
    tr.update(3.0, &[det(0, 160.0, 100.0, 0.9)], None);
    assert_eq!(ids_at(&tr, 3.0), vec![(id, 160.0)]);
    // Gone for longer than max_lost: the track ends.
    tr.update(6.5, &[], None);
    assert!(tr.tracks().is_empty());
}

#[test]
fn flickering_scores_are_bridged_by_the_low_score_stage() {
    let mut tr = Tracker::new(TrackerConfig::default());
    for i in 0..20 {
        let score = if i % 2 == 0 { 0.8 } else { 0.3 }; // every other frame below the high threshold
        tr.update(i as f64 * 0.2, &[det(0, 100.0, 100.0, score)], None);
    }
    assert_eq!(tr.tracks().len(), 1, "one track, not one per flicker");
    assert_eq!(tr.tracks()[0].hits, 20);
    // A low-score detection alone never starts a track.
    let mut fresh = Tracker::new(TrackerConfig::default());
    fresh.update(0.0, &[det(0, 0.0, 0.0, 0.3)], None);
    assert!(fresh.tracks().is_empty());
}

#[test]
fn a_single_false_positive_dies_tentative() {
    let mut tr = Tracker::new(TrackerConfig::default());
    tr.update(0.0, &[det(0, 0.0, 0.0, 0.9)], None);
    tr.update(0.2, &[det(0, 0.0, 0.0, 0.9), det(2, 300.0, 0.0, 0.9)], None);
    assert_eq!(tr.tracks().len(), 2);
    assert_eq!(tr.tracks()[1].state, TrackState::Tentative);
    tr.update(0.4, &[det(0, 0.0, 0.0, 0.9)], None);
    assert_eq!(tr.tracks().len(), 2, "a tentative track gets a short grace");
    tr.update(1.4, &[det(0, 0.0, 0.0, 0.9)], None);
    assert_eq!(tr.tracks().len(), 1, "the one-frame car is gone");
}

#[test]
fn confused_two_wheeler_classes_stay_one_track_with_a_grouped_config() {
    let cfg = TrackerConfig {
        class_groups: vec![vec![1, 3]],
        ..Default::default()
    };
    let mut tr = Tracker::new(cfg);
    for i in 0..10 {
        let (c, s) = if i % 3 == 0 { (3, 0.6) } else { (1, 0.7) };
        tr.update(i as f64 * 0.2, &[det(c, 50.0, 50.0, s)], None);
    }
    assert_eq!(tr.tracks().len(), 1);
    assert_eq!(tr.tracks()[0].class, "bicycle");
    // The same object reported as both classes at once is one track, not two.
    let mut both = Tracker::new(TrackerConfig {
        class_groups: vec![vec![1, 3]],
        ..Default::default()
    });
    for i in 0..5 {
        both.update(
            i as f64 * 0.2,
            &[det(1, 50.0, 50.0, 0.7), det(3, 51.0, 50.0, 0.65)],
            None,
        );
    }
    assert_eq!(both.tracks().len(), 1);
    // Without the group the classes do not associate.
    let mut strict = Tracker::new(TrackerConfig::default());
    for i in 0..10 {
        let (c, s) = if i % 2 == 0 { (3, 0.6) } else { (1, 0.7) };
        strict.update(i as f64 * 0.2, &[det(c, 50.0, 50.0, s)], None);
    }
    assert_eq!(strict.tracks().len(), 2);
}

#[test]
fn stationary_is_decided_in_metres_per_second() {
    // 25 px = 1 m on the ground (an affine, top-down "homography").
    let h = Homography {
        m: [0.04, 0.0, 0.0, 0.0, 0.04, 0.0, 0.0, 0.0, 1.0],
    };
    let mut tr = Tracker::new(TrackerConfig::default());
    // A standing person jittering ±2 px (8 cm) and a walker at 1.2 m/s (30 px/s).
    for i in 0..30 {
        let t = i as f64 * 0.2;
        let jitter = if i % 2 == 0 { 2.0 } else { -2.0 };
        tr.update(
            t,
            &[
                det(0, 100.0 + jitter, 300.0, 0.9),
                det(0, 400.0 + 6.0 * i as f32, 100.0, 0.9),
            ],
            Some(&h),
        );
    }
    let t = 29.0 * 0.2;
    let standing = tr.tracks().iter().find(|x| x.bbox.x1 < 200.0).unwrap();
    let walker = tr.tracks().iter().find(|x| x.bbox.x1 > 200.0).unwrap();
    assert!(
        standing.speed_in_mps && standing.speed.unwrap() < 0.2,
        "{:?}",
        standing.speed
    );
    assert!(
        standing.is_stationary() && standing.still_for(t) > 4.0,
        "{:?}",
        standing.stationary_since
    );
    assert!(
        (walker.speed.unwrap() - 1.2).abs() < 0.1,
        "{:?}",
        walker.speed
    );
    assert!(!walker.is_stationary());
    let g = standing.ground.unwrap();
    // Foot at (110 ± 2, 350) px.
    assert!(
        (g.x - 4.4).abs() < 0.1 && (g.y - 14.0).abs() < 0.01,
        "{g:?}"
    );
}

#[test]
fn slow_walker_is_not_stationary_but_a_stop_is() {
    let h = Homography {
        m: [0.01, 0.0, 0.0, 0.0, 0.01, 0.0, 0.0, 0.0, 1.0],
    };
    let mut tr = Tracker::new(TrackerConfig::default());
    // Walks at 0.6 m/s for 3 s, then stops for 4 s.
    let mut x = 0.0f32;
    for i in 0..35 {
        let t = i as f64 * 0.2;
        if t < 3.0 {
            x += 12.0;
        }
        tr.update(t, &[det(0, x, 100.0, 0.9)], Some(&h));
        if (1.0..3.0).contains(&t) {
            assert!(!tr.tracks()[0].is_stationary(), "moving at t={t}");
        }
    }
    let tr0 = &tr.tracks()[0];
    assert!(tr0.is_stationary());
    let since = tr0.stationary_since.unwrap();
    // Speed is measured over a 1 s window, so the stop is dated to that window's start.
    assert!((2.2..=4.2).contains(&since), "stationary since {since}");
}

// --- Stationarity under occlusion ------------------------------------------------------------
// 25 px = 1 m on the ground. A bicycle parked with its box at (200, 300)-(260, 340) (2.4 m x
// 1.6 m of image, side-on). Passers-by are people walking in front of it (their feet lower in
// the image, so nearer the camera).

const BIKE: BBox = BBox {
    x1: 200.0,
    y1: 300.0,
    x2: 260.0,
    y2: 340.0,
};

fn ground_25px() -> Homography {
    Homography {
        m: [0.04, 0.0, 0.0, 0.0, 0.04, 0.0, 0.0, 0.0, 1.0],
    }
}

fn boxed(class_id: usize, b: BBox, score: f32) -> Detection {
    Detection {
        class_id,
        class: ["person", "bicycle", "car", "motorcycle"][class_id].into(),
        score,
        bbox: b,
    }
}

/// What the detector reports for the parked bike at time `t` while passers-by go by every 6 s
/// (each for 2 s): the whole box, the half not hidden, the top half (wheels hidden: the bottom
/// centre jumps 0.8 m), or nothing.
fn occluded_bike_scene(t: f64) -> Vec<Detection> {
    let phase = (t + 2.0) % 6.0;
    let mut dets = Vec::new();
    if t >= 4.0 && phase < 2.0 {
        // A pedestrian 1.6 m tall crosses left to right at 1.4 m/s, 0.8 m nearer than the bike.
        let x = 150.0 + (phase * 35.0) as f32 * 2.0;
        let person = BBox::new(x, 260.0, x + 20.0, 360.0);
        dets.push(boxed(0, person, 0.8));
        // Parts only while the pedestrian covers a quarter of the bike or more; missed only then.
        let n = if person.intersection(&BIKE) >= 0.25 * BIKE.area() {
            (t * 7.3).floor() as i64 % 4
        } else {
            4
        };
        let part = match n {
            0 => Some(BBox::new(BIKE.x1, BIKE.y1, BIKE.x1 + 30.0, BIKE.y2)), // left half
            1 => Some(BBox::new(BIKE.x1 + 30.0, BIKE.y1, BIKE.x2, BIKE.y2)), // right half
            2 => Some(BBox::new(BIKE.x1, BIKE.y1, BIKE.x2, BIKE.y1 + 20.0)), // top half
            3 => None,                                                       // missed
            _ => Some(BIKE),
        };
        if let Some(b) = part {
            dets.push(boxed(1, b, 0.5));
        }
    } else {
        // Detector jitter of ±1 px on the whole box.
        let j = if (t * 10.0).round() as i64 % 2 == 0 {
            1.0
        } else {
            -1.0
        };
        dets.push(boxed(
            1,
            BBox::new(BIKE.x1 + j, BIKE.y1, BIKE.x2 + j, BIKE.y2),
            0.7,
        ));
    }
    dets
}

/// Time, the bike track's id, its stationary start and whether it is present.
type BikeStep = (f64, Option<u64>, Option<f64>, bool);

/// Runs `scene` at `hz` analyses per second for `seconds`; returns the tracker and, for every
/// step from `check_from`, the bike track's id and stationary start.
fn run_bike(
    hz: f64,
    seconds: f64,
    scene: impl Fn(f64) -> Vec<Detection>,
) -> (Tracker, Vec<BikeStep>) {
    let h = ground_25px();
    let mut tr = Tracker::new(TrackerConfig {
        class_groups: vec![vec![1, 3]],
        ..Default::default()
    });
    let mut seen = Vec::new();
    let steps = (seconds * hz) as usize;
    for i in 0..=steps {
        let t = i as f64 / hz;
        tr.update(t, &scene(t), Some(&h));
        let bike = tr
            .tracks()
            .iter()
            .find(|x| x.class == "bicycle" && x.state != TrackState::Tentative);
        seen.push((
            t,
            bike.map(|b| b.id),
            bike.and_then(|b| b.stationary_since),
            bike.is_some_and(|b| b.present),
        ));
    }
    (tr, seen)
}

#[test]
fn a_parked_bike_keeps_its_clock_while_passers_by_hide_parts_of_it() {
    for hz in [2.5, 5.0, 10.0] {
        let (_, seen) = run_bike(hz, 60.0, occluded_bike_scene);
        let late: Vec<_> = seen.iter().filter(|s| s.0 >= 3.0).collect();
        if std::env::var("TRACE").is_ok() {
            for s in &seen {
                eprintln!("{hz} {s:?}");
            }
        }
        let id = late[0].1;
        assert!(id.is_some(), "{hz} Hz: no bike track");
        for (t, i, since, present) in &late {
            assert_eq!(*i, id, "{hz} Hz: the bike's track changed at t={t}");
            assert!(
                since.is_some_and(|s| s <= 2.5),
                "{hz} Hz: stationary clock restarted or lost at t={t}: {since:?}"
            );
            assert!(*present, "{hz} Hz: the bike counted absent at t={t}");
        }
    }
}

#[test]
fn a_parked_bike_hidden_for_seconds_keeps_its_track_and_clock() {
    // A person stands right in front of the bike from 20 s to 25 s (hidden: no detection),
    // then from 40 s to 52 s (longer than the presence hold).
    let scene = |t: f64| -> Vec<Detection> {
        let hidden = (20.0..25.0).contains(&t) || (40.0..52.0).contains(&t);
        if hidden {
            vec![boxed(0, BBox::new(215.0, 250.0, 245.0, 365.0), 0.8)]
        } else {
            vec![boxed(1, BIKE, 0.7)]
        }
    };
    let cfg = TrackerConfig::default();
    let (_, seen) = run_bike(5.0, 60.0, scene);
    let id = seen.iter().find(|s| s.0 >= 3.0).and_then(|s| s.1);
    for (t, i, since, present) in seen.iter().filter(|s| s.0 >= 3.0) {
        assert_eq!(*i, id, "track changed at t={t}");
        assert!(since.is_some_and(|s| s <= 1.0), "clock lost at t={t}");
        // Last seen at 39.8 s; present for `occlusion_hold` seconds after that.
        let expect = !(*t > 39.8 + cfg.occlusion_hold + 1e-9 && *t < 52.0);
        assert_eq!(*present, expect, "presence at t={t}");
    }
}

#[test]
fn a_box_that_jumps_for_a_frame_does_not_move_a_parked_bike() {
    // Every 3 s the detector boxes only the top half (0.8 m "jump" of the bottom centre) or a
    // box twice as wide (merged with a neighbour) for one frame, with nobody in front.
    let scene = |t: f64| -> Vec<Detection> {
        let k = (t * 5.0).round() as i64;
        let b = match k % 15 {
            0 => BBox::new(BIKE.x1, BIKE.y1, BIKE.x2, BIKE.y1 + 20.0),
            7 => BBox::new(
                BIKE.x1 - 30.0,
                BIKE.y1 - 10.0,
                BIKE.x2 + 30.0,
                BIKE.y2 + 10.0,
            ),
            _ => BIKE,
        };
        vec![boxed(1, b, 0.7)]
    };
    let (_, seen) = run_bike(5.0, 40.0, scene);
    for (t, _, since, _) in seen.iter().filter(|s| s.0 >= 3.0) {
        assert!(since.is_some_and(|s| s <= 1.0), "clock restarted at t={t}");
    }
}

#[test]
fn a_bike_that_rides_off_and_a_walker_through_its_spot_are_moving() {
    // The bike is parked until 20 s, then ridden away at 2 m/s (50 px/s). A pedestrian walks
    // through the bike's spot at 1.4 m/s from 8 s to 12 s.
    let scene = |t: f64| -> Vec<Detection> {
        let mut dets = Vec::new();
        let dx = if t < 20.0 {
            0.0
        } else {
            ((t - 20.0) * 50.0) as f32
        };
        dets.push(boxed(
            1,
            BBox::new(BIKE.x1 + dx, BIKE.y1, BIKE.x2 + dx, BIKE.y2),
            0.7,
        ));
        if (8.0..12.0).contains(&t) {
            let x = 160.0 + ((t - 8.0) * 35.0) as f32;
            dets.push(boxed(0, BBox::new(x, 250.0, x + 20.0, 338.0), 0.8));
        }
        dets
    };
    let h = ground_25px();
    let mut tr = Tracker::new(TrackerConfig::default());
    let mut left_at = None;
    for i in 0..=150 {
        let t = i as f64 * 0.2;
        tr.update(t, &scene(t), Some(&h));
        let bike = tr.tracks().iter().find(|x| x.class == "bicycle").unwrap();
        if (3.0..20.0).contains(&t) {
            assert!(bike.is_stationary(), "parked bike moving at t={t}");
        }
        if t >= 20.0 && left_at.is_none() && !bike.is_stationary() {
            left_at = Some(t);
        }
        if (9.0..12.0).contains(&t) {
            let walker = tr.tracks().iter().find(|x| x.class == "person").unwrap();
            assert!(!walker.is_stationary(), "walker stationary at t={t}");
        }
    }
    let left = left_at.expect("the bike never left the stationary state");
    assert!(left <= 21.6, "left the stationary state at {left}");
}

/// NanoDet on a parked bicycle (scenarios parking-08, parking-01): the whole bike at 0.4 and,
/// in the same frames, its rear half at 0.3-0.5, at times above the whole (inside the whole box,
/// too little overlap for NMS); for stretches only the half. (Scores here scaled to the default config's thresholds.) One bike, one track, one clock. Two bikes parked side by side,
/// their boxes overlapping by a third, stay two.
#[test]
fn a_bike_boxed_whole_and_as_its_rear_half_is_one_track() {
    let rear = BBox::new(BIKE.x1 + 25.0, BIKE.y1 + 3.0, BIKE.x2, BIKE.y2);
    let scene = |t: f64| {
        let k = (t * 5.0).round() as i64;
        let mut dets = Vec::new();
        // Every fifth second-long stretch only the half is found.
        let half_only = (t as i64) % 5 == 2;
        if !half_only {
            dets.push(boxed(1, BIKE, 0.7));
        }
        if half_only || k % 3 != 0 {
            // The half scores above the whole in some frames.
            let score = if k % 4 == 1 { 0.72 } else { 0.55 };
            dets.push(boxed(if k % 2 == 0 { 1 } else { 3 }, rear, score));
        }
        dets
    };
    for hz in [2.5, 5.0, 10.0] {
        let (tr, seen) = run_bike(hz, 40.0, scene);
        let confirmed: Vec<_> = tr
            .tracks()
            .iter()
            .filter(|x| x.state != TrackState::Tentative)
            .collect();
        assert_eq!(confirmed.len(), 1, "{hz} Hz: {confirmed:#?}");
        let late: Vec<_> = seen.iter().filter(|s| s.0 >= 3.0).collect();
        for (t, i, since, _) in &late {
            assert_eq!(*i, late[0].1, "{hz} Hz: the bike's track changed at t={t}");
            assert!(
                since.is_some_and(|s| s <= 1.5),
                "{hz} Hz: stationary clock restarted at t={t}: {since:?}"
            );
        }
    }
    let next = BBox::new(BIKE.x1 + 40.0, BIKE.y1, BIKE.x2 + 40.0, BIKE.y2);
    let (tr, _) = run_bike(5.0, 10.0, |_| {
        vec![boxed(1, BIKE, 0.6), boxed(1, next, 0.5)]
    });
    assert_eq!(tr.tracks().len(), 2, "two bikes side by side");
}

/// A bike that came to rest half hidden (scenario parking-01: only its right half boxed for
/// seconds), then seen whole once the passer-by moved on, and whole and as its half after that:
/// the whole box holds the anchor, so the clock runs on from the first stop.
#[test]
fn a_bike_that_stopped_half_hidden_keeps_its_clock_when_seen_whole() {
    let right = BBox::new(BIKE.x1 + 30.0, BIKE.y1 + 5.0, BIKE.x2, BIKE.y2);
    let scene = |t: f64| match t {
        t if t < 6.0 => vec![boxed(1, right, 0.6)],
        t if t < 11.0 => vec![boxed(1, BIKE, 0.7)],
        t if ((t * 5.0).round() as i64) % 3 == 0 => vec![boxed(1, right, 0.6)],
        _ => vec![boxed(1, BIKE, 0.7)],
    };
    for hz in [2.5, 5.0, 10.0] {
        let (_, seen) = run_bike(hz, 30.0, scene);
        let late: Vec<_> = seen.iter().filter(|s| s.0 >= 3.0).collect();
        assert!(late[0].1.is_some(), "{hz} Hz: no bike track");
        for (t, i, since, _) in &late {
            assert_eq!(*i, late[0].1, "{hz} Hz: the bike's track changed at t={t}");
            assert!(
                since.is_some_and(|s| s <= 1.5),
                "{hz} Hz: stationary clock restarted at t={t}: {since:?}"
            );
        }
    }
}

/// Two stationary tracks on one object (a part box born before the whole one came to rest, or
/// the other way round) share the earlier clock; a neighbour that only overlaps keeps its own,
/// and so do objects of another group.
#[test]
fn stationary_tracks_on_one_object_share_the_earlier_clock() {
    let mut tr = Tracker::new(TrackerConfig {
        class_groups: vec![vec![1, 3]],
        ..Default::default()
    });
    let part = BBox::new(BIKE.x1 + 25.0, BIKE.y1, BIKE.x2, BIKE.y2);
    let next = BBox::new(BIKE.x1 + 45.0, BIKE.y1, BIKE.x2 + 45.0, BIKE.y2);
    // A person standing over the bike: their box holds it.
    let rider = BBox::new(BIKE.x1 + 5.0, BIKE.y1 - 60.0, BIKE.x2 - 5.0, BIKE.y2);
    tr.update(
        0.0,
        &[
            boxed(1, BIKE, 0.7),
            boxed(3, part, 0.9),
            boxed(1, next, 0.7),
            boxed(0, rider, 0.9),
        ],
        None,
    );
    assert_eq!(tr.tracks.len(), 4);
    let starts = [10.0, 25.0, 26.0, 5.0];
    for (t, s) in tr.tracks.iter_mut().zip(starts) {
        t.anchor = Some(Anchor {
            bbox: t.bbox,
            pos: t.bbox.foot(),
            updated: 0.0,
        });
        t.stationary_since = Some(s);
    }
    tr.share_clocks();
    let since: Vec<f64> = tr
        .tracks
        .iter()
        .map(|t| t.stationary_since.unwrap())
        .collect();
    // Whole and part: 10. The neighbour overlaps the whole by a quarter: its own 26. The person
    // (another group) keeps 5 and lends it to nobody.
    assert_eq!(since, vec![10.0, 10.0, 26.0, 5.0]);
}
