//! Scripted scenes for rule tests: detections per time step go through the real tracker, the
//! rules and the episode lifecycle. No model, no video.

use super::{observe, Episodes, LifecycleEvent, Scene, SmokeMeasure, StaticRegions};
use crate::calibration::Calibration;
use crate::detection::Detection;
use crate::geometry::BBox;
use crate::time::LocalTime;
use crate::track::{Tracker, TrackerConfig};

/// 1000x800 frame seen top-down: 100 px = 1 m.
pub const HEADER: &str = r#"
camera_id = "test-cam"
site = "test-site"
frame_width = 1000
frame_height = 800
timezone = "+08:00"
grid_cell = "G-1"
gps = [31.23, 121.47]

[ground]
pairs = [
  { image = [0, 0], ground = [0, 0] },
  { image = [1000, 0], ground = [10, 0] },
  { image = [1000, 800], ground = [10, 8] },
  { image = [0, 800], ground = [0, 8] },
]
"#;

pub fn calibration(zones: &str) -> Calibration {
    Calibration::parse(
        std::path::Path::new("test.toml"),
        &format!("{HEADER}\n{zones}"),
    )
    .unwrap()
}

pub const COCO: &[&str] = &[
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "umbrella",
    "chair",
    "dining table",
    "suitcase",
];

/// A detection of `class` whose box's bottom centre is at (x, y) pixels.
pub fn det(class: &str, x: f32, y: f32, w: f32, h: f32, score: f32) -> Detection {
    Detection {
        class_id: COCO.iter().position(|c| *c == class).unwrap(),
        class: class.into(),
        score,
        bbox: BBox::new(x - w / 2.0, y - h, x + w / 2.0, y),
    }
}

pub fn person(x: f32, y: f32) -> Detection {
    det("person", x, y, 40.0, 170.0, 0.85)
}

pub fn bike(x: f32, y: f32) -> Detection {
    det("bicycle", x, y, 170.0, 100.0, 0.8)
}

/// Per step: detections, static regions and smoke measures.
pub struct Step {
    pub dets: Vec<Detection>,
    pub statics: Vec<StaticRegions>,
    pub smoke: Vec<SmokeMeasure>,
    pub smoke_dets: Vec<Detection>,
}

impl Step {
    pub fn dets(dets: Vec<Detection>) -> Step {
        Step {
            dets,
            statics: Vec::new(),
            smoke: Vec::new(),
            smoke_dets: Vec::new(),
        }
    }
}

/// Runs `seconds` of a scene at 5 analyses per second; `start_unix` gives a wall clock.
pub fn run(
    cal: &Calibration,
    seconds: f64,
    start_unix: Option<f64>,
    script: impl FnMut(f64) -> Step,
) -> Vec<LifecycleEvent> {
    run_on(cal, seconds, start_unix, 5.0, Episodes::new(), script)
}

/// Runs `seconds` of a scene at `fps` analyses per second on `episodes` (which may carry
/// episodes of a previous run).
pub fn run_on(
    cal: &Calibration,
    seconds: f64,
    start_unix: Option<f64>,
    fps: f64,
    mut episodes: Episodes,
    mut script: impl FnMut(f64) -> Step,
) -> Vec<LifecycleEvent> {
    let cfg = TrackerConfig {
        class_groups: vec![vec![1, 3]],
        ..Default::default()
    };
    let mut tracker = Tracker::new(cfg);
    let mut events = Vec::new();
    let steps = (seconds * fps) as usize;
    for i in 0..=steps {
        let t = i as f64 / fps;
        let step = script(t);
        tracker.update(t, &step.dets, cal.ground.as_ref().map(|g| &g.homography));
        let scene = Scene {
            t,
            local: start_unix.map(|s| LocalTime::from_unix(s + t, &cal.time_zone)),
            tracks: tracker.tracks(),
            static_regions: &step.statics,
            smoke: &step.smoke,
            smoke_detections: &step.smoke_dets,
        };
        let obs = observe(cal, &scene);
        events.extend(episodes.update(t, &cal.zones, obs));
    }
    events.extend(episodes.finish(seconds));
    events
}

/// "start vending/mobile_vendor@12.0" style summary for assertions.
pub fn summary(events: &[LifecycleEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            format!(
                "{:?} {}/{}",
                e.phase, e.observation.event_type, e.observation.subtype
            )
            .to_lowercase()
        })
        .collect()
}
