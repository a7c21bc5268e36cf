//! View watch on real frames: the reference view of vtest.avi is recognised across the clip with
//! people walking, and a turned, covered or defocused camera is told apart.

mod common;

use opencv::core::{Mat, Point2f, Scalar, Size, BORDER_CONSTANT};
use opencv::imgproc;
use opencv::prelude::*;
use streetwatch::source::VideoFile;
use streetwatch::viewwatch::{Reference, ViewState, ViewWatch};

fn frames(clip: &str, picks: &[u64]) -> Vec<Mat> {
    let mut v = VideoFile::open(&common::sample(clip)).unwrap();
    let mut out = Vec::new();
    while let Some(f) = v.read().unwrap() {
        if picks.contains(&f.index) {
            out.push(f.image);
        }
    }
    out
}

fn shifted(img: &Mat, dx: f32, dy: f32) -> Mat {
    let m = Mat::from_slice_2d(&[[1.0f32, 0.0, dx], [0.0, 1.0, dy]]).unwrap();
    let mut out = Mat::default();
    imgproc::warp_affine(
        img,
        &mut out,
        &m,
        img.size().unwrap(),
        imgproc::INTER_LINEAR,
        BORDER_CONSTANT,
        Scalar::all(0.0),
    )
    .unwrap();
    out
}

#[test]
fn reference_view_is_recognised_and_changes_are_classified() {
    let v = frames("vtest.avi", &[0, 100, 200, 300, 400, 500, 600, 700, 790]);
    let reference = Reference::new(&v[0]).unwrap();
    for (i, f) in v.iter().enumerate().skip(1) {
        let (s, m) = reference.compare(f).unwrap();
        assert_eq!(s, ViewState::Ok, "frame #{i} of the same view: {m:?}");
    }
    let f = &v[3];
    let (s, m) = reference.compare(&shifted(f, 60.0, 25.0)).unwrap();
    assert_eq!(s, ViewState::Moved, "{m:?}");
    let mut blurred = Mat::default();
    imgproc::gaussian_blur_def(f, &mut blurred, Size::new(0, 0), 4.0).unwrap();
    let (s, m) = reference.compare(&blurred).unwrap();
    assert_eq!(s, ViewState::Blurred, "{m:?}");
    let black = Mat::new_size_with_default(f.size().unwrap(), f.typ(), Scalar::all(12.0)).unwrap();
    assert_eq!(reference.compare(&black).unwrap().0, ViewState::Covered);
    // Another scene altogether (the camera turned to a street).
    let other = &frames("bikes.mp4", &[140])[0];
    let mut resized = Mat::default();
    imgproc::resize(
        other,
        &mut resized,
        f.size().unwrap(),
        0.0,
        0.0,
        imgproc::INTER_LINEAR,
    )
    .unwrap();
    let (s, m) = reference.compare(&resized).unwrap();
    assert_eq!(s, ViewState::Moved, "{m:?}");
    let _ = Point2f::default();
}

#[test]
fn states_are_debounced() {
    let v = frames("vtest.avi", &[0, 300]);
    let mut w = ViewWatch::new(Reference::new(&v[0]).unwrap());
    let moved = shifted(&v[1], 80.0, 0.0);
    assert_eq!(w.check(&moved).unwrap(), None);
    assert_eq!(
        w.check(&v[1]).unwrap(),
        None,
        "one good frame resets the streak"
    );
    assert_eq!(w.check(&moved).unwrap(), None);
    assert_eq!(w.check(&moved).unwrap(), None);
    assert_eq!(w.check(&moved).unwrap(), Some(ViewState::Moved));
    assert_eq!(w.state, ViewState::Moved);
    for _ in 0..2 {
        assert_eq!(w.check(&v[1]).unwrap(), None);
    }
    assert_eq!(w.check(&v[1]).unwrap(), Some(ViewState::Ok));
}

#[test]
fn the_same_view_stays_ok_through_the_clip_twice_over() {
    // A looped camera (or hours of checks) must not wear the reference down: every 10th frame of
    // vtest.avi, two passes, never leaves Ok, and a check is repeatable.
    let every: Vec<u64> = (0..800).step_by(10).collect();
    let v = frames("vtest.avi", &every);
    let mut w = ViewWatch::new(Reference::new(&v[0]).unwrap());
    let first = w.reference.compare(&v[5]).unwrap().1;
    for pass in 0..2 {
        for (i, f) in v.iter().enumerate() {
            let change = w.check(f).unwrap();
            assert_eq!(
                change, None,
                "pass {pass}, frame {}: {:?}",
                every[i], w.last
            );
        }
    }
    assert_eq!(w.reference.compare(&v[5]).unwrap().1, first);
}
