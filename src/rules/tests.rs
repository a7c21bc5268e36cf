//! Rule tests driven by scripted detections: each detector fires on its scenario, stays quiet on
//! near misses, respects schedules and cooldown, and ends its episodes.

use super::lifecycle::{Carried, Phase, Reason};
use super::testutil::*;
use super::Episodes;
use super::{SmokeMeasure, StaticRegions};
use crate::geometry::{BBox, Point, Polygon};

const VENDING_ZONE: &str = r#"
[[zones]]
name = "pavement"
type = "no_vending"
polygon = [[100, 100], [900, 100], [900, 700], [100, 700]]
dwell_seconds = 10
confirm_seconds = 10
clear_seconds = 5
cooldown_seconds = 60
"#;

#[test]
fn vendor_with_stall_is_one_episode_with_start_and_end() {
    let cal = calibration(VENDING_ZONE);
    // A vendor and an umbrella stand still from 0 to 60 s, then leave.
    let ev = run(&cal, 80.0, None, |t| {
        Step::dets(if t < 60.0 {
            vec![
                person(400.0, 500.0),
                det("umbrella", 480.0, 500.0, 120.0, 150.0, 0.7),
            ]
        } else {
            vec![]
        })
    });
    assert_eq!(
        summary(&ev),
        vec!["start vending/mobile_vendor", "end vending/mobile_vendor"],
        "{ev:#?}"
    );
    let start = &ev[0];
    // Stationary from ~0-1 s, counted after 10 s of dwell, confirmed 10 s later.
    assert!((19.0..=22.5).contains(&start.at), "{}", start.at);
    assert_eq!(start.observation.measures.people, Some(1));
    assert_eq!(start.observation.tracks.len(), 2);
    let end = &ev[1];
    assert!(
        (64.0..=66.0).contains(&end.at) && (59.0..=60.0).contains(&end.last_seen),
        "{end:?}"
    );
    assert_eq!(start.episode, end.episode);
}

#[test]
fn walking_through_is_not_vending() {
    let cal = calibration(VENDING_ZONE);
    // Crosses the 8 m zone at 1.2 m/s, then a slow browse at 0.5 m/s back.
    let ev = run(&cal, 40.0, None, |t| {
        let x = if t < 8.0 {
            100.0 + 120.0 * t as f32
        } else {
            1060.0 - 50.0 * (t as f32 - 8.0)
        };
        Step::dets(vec![person(x, 400.0)])
    });
    assert!(ev.is_empty(), "{:?}", summary(&ev));
}

#[test]
fn storefront_goods_and_person_only_subtypes() {
    let store = calibration(&VENDING_ZONE.replace("no_vending", "storefront"));
    let ev = run(&store, 40.0, None, |_| {
        Step::dets(vec![
            person(400.0, 500.0),
            det("chair", 300.0, 520.0, 60.0, 90.0, 0.6),
        ])
    });
    assert_eq!(summary(&ev)[0], "start vending/out_of_store");
    let cal = calibration(VENDING_ZONE);
    let goods = run(&cal, 40.0, None, |_| {
        Step::dets(vec![det("suitcase", 300.0, 520.0, 60.0, 70.0, 0.7)])
    });
    assert_eq!(summary(&goods)[0], "start vending/piled_goods");
    let person_only = run(&cal, 40.0, None, |_| Step::dets(vec![person(400.0, 500.0)]));
    assert_eq!(summary(&person_only)[0], "start vending/person_occupation");
}

/// A road cone the detector calls a person (0.5 m tall on the ground) stands in the zone all
/// along; a vendor sitting on a stool (1.1 m) and one standing (1.7 m) are people. Boxes cut by
/// the frame's bottom edge are not judged.
#[test]
fn people_too_short_on_the_ground_are_not_people() {
    let cal = calibration(VENDING_ZONE);
    let cone = run(&cal, 60.0, None, |_| {
        Step::dets(vec![det("person", 400.0, 500.0, 30.0, 50.0, 0.45)])
    });
    assert!(cone.is_empty(), "{:?}", summary(&cone));
    let seated = run(&cal, 40.0, None, |_| {
        Step::dets(vec![det("person", 400.0, 500.0, 50.0, 110.0, 0.7)])
    });
    assert_eq!(summary(&seated)[0], "start vending/person_occupation");
    let low =
        calibration(&VENDING_ZONE.replace("[900, 700], [100, 700]", "[900, 800], [100, 800]"));
    let cut = run(&low, 40.0, None, |_| {
        Step::dets(vec![det("person", 400.0, 799.5, 40.0, 50.0, 0.7)])
    });
    assert!(
        !cut.is_empty(),
        "a box cut by the frame's edge is not judged"
    );
}

#[test]
fn static_foreground_counts_as_goods_with_area_in_square_metres() {
    let cal = calibration(VENDING_ZONE);
    // A 2 m x 1 m region became occupied (200 x 100 px at 100 px/m).
    let region = Polygon::new(vec![
        Point { x: 500.0, y: 300.0 },
        Point { x: 700.0, y: 300.0 },
        Point { x: 700.0, y: 400.0 },
        Point { x: 500.0, y: 400.0 },
    ]);
    let ev = run(&cal, 30.0, None, |_| Step {
        statics: vec![StaticRegions {
            zone: 0,
            regions: vec![region.clone()],
            area_px: 20_000.0,
        }],
        ..Step::dets(vec![])
    });
    assert_eq!(summary(&ev)[0], "start vending/piled_goods");
    assert_eq!(ev[0].observation.measures.occupied_area_m2, Some(2.0));
}

#[test]
fn approved_market_hours_are_exempt() {
    let zone = format!("{VENDING_ZONE}schedule = {{ exempt = [\"daily 18:00-22:00\"] }}\n");
    let cal = calibration(&zone);
    let stall = |_| {
        Step::dets(vec![
            person(400.0, 500.0),
            det("umbrella", 480.0, 500.0, 120.0, 150.0, 0.7),
        ])
    };
    // 2026-11-27 19:00 Beijing time: inside the approved hours.
    let evening = crate::time::parse_rfc3339("2026-11-27T19:00:00+08:00").unwrap();
    assert!(run(&cal, 60.0, Some(evening), stall).is_empty());
    let morning = crate::time::parse_rfc3339("2026-11-27T09:00:00+08:00").unwrap();
    assert_eq!(
        summary(&run(&cal, 60.0, Some(morning), stall))[0],
        "start vending/mobile_vendor"
    );
}

#[test]
fn cooldown_keeps_a_returning_vendor_in_one_case() {
    let cal = calibration(VENDING_ZONE);
    // Present 0-40 s, away 40-50 s (episode ends at ~45 s), back 50-100 s (inside the 60 s
    // cooldown: quiet), away, back 130-180 s (after the cooldown: a new episode).
    let ev = run(&cal, 180.0, None, |t| {
        let here = t < 40.0 || (50.0..100.0).contains(&t) || t >= 130.0;
        Step::dets(if here {
            vec![
                person(400.0, 500.0),
                det("umbrella", 480.0, 500.0, 120.0, 150.0, 0.7),
            ]
        } else {
            vec![]
        })
    });
    let s = summary(&ev);
    assert_eq!(
        s.iter().filter(|x| x.starts_with("start")).count(),
        2,
        "{s:?}"
    );
    assert_eq!(
        s.iter().filter(|x| x.starts_with("end")).count(),
        2,
        "{s:?}"
    );
    let second = ev
        .iter()
        .filter(|e| e.phase == Phase::Start)
        .nth(1)
        .unwrap();
    // Back at 130 s: 10 s of dwell and 10 s of confirmation after the cooldown (until ~105 s).
    assert!(
        (149.0..=152.0).contains(&second.at),
        "second start at {}",
        second.at
    );
}

#[test]
fn updates_follow_changes_in_count() {
    let cal = calibration(VENDING_ZONE);
    let ev = run(&cal, 60.0, None, |t| {
        let mut d = vec![
            person(400.0, 500.0),
            det("umbrella", 480.0, 500.0, 120.0, 150.0, 0.7),
        ];
        if t >= 30.0 {
            d.push(person(250.0, 300.0)); // a helper joins
        }
        Step::dets(d)
    });
    let s = summary(&ev);
    assert_eq!(
        s,
        vec![
            "start vending/mobile_vendor",
            "update vending/mobile_vendor",
            "end vending/mobile_vendor"
        ]
    );
    assert_eq!(ev[1].observation.measures.people, Some(2));
}

const NO_PARKING: &str = r#"
[[zones]]
name = "entrance"
type = "no_parking"
polygon = [[100, 100], [900, 100], [900, 700], [100, 700]]
parked_seconds = 20
confirm_seconds = 10
clear_seconds = 5
"#;

#[test]
fn bike_parked_in_no_parking_zone_fires_ridden_through_does_not() {
    let cal = calibration(NO_PARKING);
    let ev = run(&cal, 60.0, None, |_| Step::dets(vec![bike(500.0, 400.0)]));
    assert_eq!(
        summary(&ev),
        vec![
            "start parking/no_parking_zone",
            "end parking/no_parking_zone"
        ]
    );
    assert!((29.0..=32.0).contains(&ev[0].at), "{}", ev[0].at);
    // Ridden through at 4 m/s, then wheeled slowly (0.8 m/s) — neither is parked.
    let ridden = run(&cal, 30.0, None, |t| {
        Step::dets(vec![
            bike(100.0 + 400.0 * t as f32 % 900.0, 300.0),
            bike(100.0 + 80.0 * t as f32, 600.0),
        ])
    });
    assert!(ridden.is_empty(), "{:?}", summary(&ridden));
}

const BIKE_AREA: &str = r#"
[[zones]]
name = "racks"
type = "bike_parking"
polygon = [[100, 100], [900, 100], [900, 700], [100, 700]]
capacity = 2
stalls = [[[100, 100], [900, 100], [900, 400], [100, 400]]]
parked_seconds = 10
confirm_seconds = 5
"#;

#[test]
fn bike_area_capacity_and_stalls() {
    let cal = calibration(BIKE_AREA);
    // Two bikes in their stalls: nothing (a parked bike inside its area is fine).
    let ok = run(&cal, 40.0, None, |_| {
        Step::dets(vec![bike(300.0, 300.0), bike(600.0, 300.0)])
    });
    assert!(ok.is_empty(), "{:?}", summary(&ok));
    // A third bike: over capacity, with the count and capacity measured.
    let over = run(&cal, 40.0, None, |_| {
        Step::dets(vec![
            bike(250.0, 300.0),
            bike(500.0, 300.0),
            bike(750.0, 300.0),
        ])
    });
    assert_eq!(summary(&over)[0], "start parking/over_capacity");
    assert_eq!(
        (
            over[0].observation.measures.count,
            over[0].observation.measures.capacity
        ),
        (3, Some(2))
    );
    // Two bikes, one outside the stalls: disorder.
    let outside = run(&cal, 40.0, None, |_| {
        Step::dets(vec![bike(300.0, 300.0), bike(600.0, 600.0)])
    });
    assert_eq!(summary(&outside)[0], "start parking/disorder");
    assert_eq!(outside[0].observation.tracks.len(), 1);
}

#[test]
fn orientation_spread_is_disorder() {
    let zone = BIKE_AREA.replace(
        "capacity = 2\nstalls = [[[100, 100], [900, 100], [900, 400], [100, 400]]]\n",
        "max_orientation_spread = 0.3\n",
    );
    let cal = calibration(&zone);
    let row = run(&cal, 40.0, None, |_| {
        Step::dets(vec![
            bike(300.0, 300.0),
            bike(500.0, 300.0),
            bike(700.0, 300.0),
        ])
    });
    assert!(row.is_empty(), "{:?}", summary(&row));
    // One bike seen head-on (narrow box) and one across: aspect ratios 0.5 and 1.7.
    let mixed = run(&cal, 40.0, None, |_| {
        Step::dets(vec![
            det("bicycle", 300.0, 300.0, 60.0, 120.0, 0.8),
            bike(600.0, 300.0),
            bike(600.0, 600.0),
        ])
    });
    assert_eq!(summary(&mixed)[0], "start parking/disorder");
}

#[test]
fn walkway_clear_width_below_minimum() {
    // A 3 m wide walkway (y 400..700 px) along x; minimum clear width 1.5 m.
    let cal = calibration(
        r#"
[[zones]]
name = "footpath"
type = "walkway"
polygon = [[50, 400], [950, 400], [950, 700], [50, 700]]
min_clear_width_m = 1.5
parked_seconds = 10
confirm_seconds = 5
"#,
    );
    // Two bikes side by side across the path (boxes 100 px wide, 400 px tall: 4 m deep each would
    // be absurd, so use short boxes whose bottom quarter is 1 m deep).
    let blocking = run(&cal, 40.0, None, |_| {
        Step::dets(vec![
            det("bicycle", 500.0, 500.0, 100.0, 400.0, 0.8),
            det("bicycle", 515.0, 690.0, 100.0, 400.0, 0.8),
        ])
    });
    let s = summary(&blocking);
    assert_eq!(s[0], "start parking/walkway_blocked", "{s:?}");
    let m = &blocking[0].observation.measures;
    // Free: 400..400 (bike 1 covers 400..500), gap 500..590, bike 2 covers 590..690, gap 690..700.
    assert!((m.clear_width_m.unwrap() - 0.9).abs() < 0.05, "{m:?}");
    // One bike at the edge leaves 2 m: fine.
    let edge = run(&cal, 40.0, None, |_| {
        Step::dets(vec![det("bicycle", 500.0, 500.0, 100.0, 400.0, 0.8)])
    });
    assert!(edge.is_empty(), "{:?}", summary(&edge));
}

const SMOKE_ZONE: &str = r#"
[[zones]]
name = "grill-corner"
type = "smoke_watch"
polygon = [[100, 100], [900, 100], [900, 700], [100, 700]]
confirm_seconds = 10
clear_seconds = 5
"#;

fn smoke(fraction: f32, dynamic: bool) -> SmokeMeasure {
    SmokeMeasure {
        zone: 0,
        fraction,
        bbox: Some(BBox::new(300.0, 200.0, 500.0, 500.0)),
        dynamic,
    }
}

#[test]
fn persistent_rising_smoke_fires_brief_puffs_do_not() {
    let cal = calibration(SMOKE_ZONE);
    let ev = run(&cal, 40.0, None, |t| Step {
        smoke: if (5.0..30.0).contains(&t) {
            vec![smoke(0.05, true)]
        } else {
            vec![]
        },
        ..Step::dets(vec![])
    });
    assert_eq!(
        summary(&ev),
        vec!["start smoke/barbecue", "end smoke/barbecue"]
    );
    assert!((14.9..=15.5).contains(&ev[0].at));
    // Steam-like puffs: 3 s each, 8 s apart.
    let puffs = run(&cal, 60.0, None, |t| Step {
        smoke: if (t % 8.0) < 3.0 {
            vec![smoke(0.05, true)]
        } else {
            vec![]
        },
        ..Step::dets(vec![])
    });
    assert!(puffs.is_empty(), "{:?}", summary(&puffs));
    // Smoke-coloured motion that neither rises nor spreads (a grey car) is not smoke.
    let flat = run(&cal, 40.0, None, |_| Step {
        smoke: vec![smoke(0.05, false)],
        ..Step::dets(vec![])
    });
    assert!(flat.is_empty());
}

#[test]
fn smoke_model_alone_and_fused_with_the_cue() {
    let cal = calibration(SMOKE_ZONE);
    let plume = || {
        vec![crate::detection::Detection {
            class_id: 0,
            class: "smoke".into(),
            score: 0.6,
            bbox: BBox::new(300.0, 200.0, 500.0, 500.0),
        }]
    };
    let model_only = run(&cal, 30.0, None, |_| Step {
        smoke_dets: plume(),
        ..Step::dets(vec![])
    });
    assert_eq!(summary(&model_only)[0], "start smoke/barbecue");
    let fused = run(&cal, 30.0, None, |_| Step {
        smoke_dets: plume(),
        smoke: vec![smoke(0.05, true)],
        ..Step::dets(vec![])
    });
    assert!(fused[0].observation.confidence > model_only[0].observation.confidence);
}

/// A vendor and an umbrella standing still from 0 s until `until`.
fn stall_until(until: f64) -> impl FnMut(f64) -> Step {
    move |t| {
        Step::dets(if t < until {
            vec![
                person(400.0, 500.0),
                det("umbrella", 480.0, 500.0, 120.0, 150.0, 0.7),
            ]
        } else {
            vec![]
        })
    }
}

/// The episode a first run had open when it stopped 30 s in (the restart comes 100 s later),
/// carried into a fresh `Episodes`.
fn carried_stall() -> (Episodes, u64, Carried) {
    let cal = calibration(VENDING_ZONE);
    let first = run(&cal, 30.0, None, stall_until(1000.0));
    let start = first
        .iter()
        .find(|e| e.phase == Phase::Start)
        .expect("the first run confirms the stall");
    let c = Carried {
        first_seen: start.first_seen - 130.0,
        confirmed_at: start.confirmed_at - 130.0,
        last_seen: -100.0,
        observation: start.observation.clone(),
        grace: 10.0 + 5.0 + 30.0,
    };
    let mut episodes = Episodes::new();
    let n = episodes.carry(c.clone()).expect("nothing carried yet");
    assert!(
        episodes.carry(c.clone()).is_none(),
        "a second episode for the same zone and violation is refused"
    );
    assert_eq!(episodes.open(), 1);
    (episodes, n, c)
}

#[test]
fn an_episode_open_at_a_restart_goes_on_when_seen_again() {
    let cal = calibration(VENDING_ZONE);
    for fps in [2.5, 5.0, 10.0] {
        let (episodes, n, c) = carried_stall();
        let ev = run_on(&cal, 60.0, None, fps, episodes, stall_until(1000.0));
        // No second start: the same episode goes on, then the footage ends.
        assert_eq!(
            summary(&ev),
            vec!["update vending/mobile_vendor", "end vending/mobile_vendor"],
            "{fps} det/s: {ev:#?}"
        );
        let (resumed, end) = (&ev[0], &ev[1]);
        assert_eq!(resumed.reason, Some(Reason::Resumed));
        assert_eq!((resumed.episode, end.episode), (n, n));
        // It keeps its first sighting and confirmation from before the restart...
        assert_eq!(
            (resumed.first_seen, resumed.confirmed_at),
            (c.first_seen, c.confirmed_at)
        );
        // ...and is resumed once confirmed again (dwell 10 s + confirm 10 s), whatever the rate.
        assert!(
            (19.0..=23.0).contains(&resumed.at),
            "{fps} det/s: resumed at {}",
            resumed.at
        );
        assert_eq!(end.reason, Some(Reason::FootageEnded));
    }
}

#[test]
fn an_episode_open_at_a_restart_ends_when_not_seen_within_its_grace() {
    let cal = calibration(VENDING_ZONE);
    for fps in [2.5, 5.0, 10.0] {
        let (mut episodes, n, c) = carried_stall();
        // The camera's first frame comes 12 s after the restart (a slow reconnect): the grace
        // counts from the first frame analysed, not from the restart.
        let mut ev = Vec::new();
        for i in 0..(120.0 * fps) as usize {
            ev.extend(episodes.update(12.0 + i as f64 / fps, &cal.zones, vec![]));
        }
        assert_eq!(summary(&ev), vec!["end vending/mobile_vendor"], "{ev:#?}");
        let end = &ev[0];
        assert_eq!(end.reason, Some(Reason::NotSeenAfterRestart));
        assert_eq!(end.episode, n);
        let due = 12.0 + c.grace;
        assert!(
            (due..due + 1.0 / fps + 1e-9).contains(&end.at),
            "{fps} det/s: {}",
            end.at
        );
        assert_eq!(episodes.open(), 0);
        // Its last sighting is the one from before the restart, not the moment it lapsed.
        assert_eq!(end.last_seen, c.last_seen);
    }
}

#[test]
fn a_stall_back_after_the_grace_is_a_new_episode() {
    let cal = calibration(VENDING_ZONE);
    let (episodes, n, _) = carried_stall();
    // Nothing for 60 s (past the 45 s grace), then a stall again.
    let ev = run_on(&cal, 120.0, None, 5.0, episodes, |t| {
        stall_until(1000.0)(if t < 60.0 { 10_000.0 } else { t })
    });
    assert_eq!(
        summary(&ev),
        vec![
            "end vending/mobile_vendor",
            "start vending/mobile_vendor",
            "end vending/mobile_vendor"
        ],
        "{ev:#?}"
    );
    assert_eq!(ev[0].reason, Some(Reason::NotSeenAfterRestart));
    assert_eq!(ev[0].episode, n);
    assert_ne!(ev[1].episode, n);
}
