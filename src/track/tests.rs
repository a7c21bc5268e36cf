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
