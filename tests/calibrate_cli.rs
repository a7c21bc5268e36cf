//! `streetwatch check` and `streetwatch calibrate` on the shipped calibrations and real frames.

mod common;

use common::{bin, run};
use opencv::prelude::*;

#[test]
fn shipped_calibrations_check_ok_with_their_measures() {
    for name in ["vtest", "bikes"] {
        let path = common::root().join(format!("calibration/{name}.toml"));
        let (ok, out, err) = run(bin().args(["check", &path.to_string_lossy()]));
        assert!(ok, "{err}");
        assert!(out.contains(": ok: camera"), "{out}");
    }
    let (_, out, _) = run(bin().args([
        "check",
        &common::root()
            .join("calibration/vtest.toml")
            .to_string_lossy(),
    ]));
    assert!(
        out.contains("reprojection error") && out.contains("m²"),
        "{out}"
    );
}

#[test]
fn overlay_draws_zones_and_metre_grid_on_a_real_frame() {
    let dir = tempfile::tempdir().unwrap();
    let overlay = dir.path().join("overlay.png");
    let (ok, _, err) = run(bin().current_dir(common::root()).args([
        "calibrate",
        "calibration/vtest.toml",
        "--frame",
        &common::sample("vtest.avi").to_string_lossy(),
        "--at",
        "10",
        "--out",
        &overlay.to_string_lossy(),
    ]));
    assert!(ok, "{err}");
    let img = opencv::imgcodecs::imread(&overlay, opencv::imgcodecs::IMREAD_COLOR).unwrap();
    assert_eq!((img.cols(), img.rows()), (768, 576));
    // Grid lines are cyan (255, 255, 0 in BGR) and zones orange (0, 200, 255): count them.
    let (mut cyan, mut orange) = (0, 0);
    let bytes = img.data_bytes().unwrap();
    for px in bytes.chunks_exact(3) {
        if px[0] > 230 && px[1] > 230 && px[2] < 40 {
            cyan += 1;
        }
        if px[0] < 40 && (180..=220).contains(&px[1]) && px[2] > 230 {
            orange += 1;
        }
    }
    assert!(cyan > 2000, "metre grid missing ({cyan} cyan pixels)");
    assert!(orange > 1000, "zones missing ({orange} orange pixels)");
}

#[test]
fn frame_of_another_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(bin().current_dir(common::root()).args([
        "calibrate",
        "calibration/vtest.toml",
        "--frame",
        &common::sample("bikes.mp4").to_string_lossy(),
        "--out",
        &dir.path().join("x.png").to_string_lossy(),
    ]));
    assert!(
        !ok && err.contains("frame_width/frame_height are 768x576") && err.contains("640x272"),
        "{err}"
    );
}

#[test]
fn check_tells_a_calibration_from_a_service_config_by_its_keys_not_its_text() {
    let dir = tempfile::tempdir().unwrap();
    // A calibration whose comment mentions [[cameras]] is still a calibration.
    let text = std::fs::read_to_string(common::root().join("calibration/vtest.toml"))
        .unwrap()
        .replace(
            "\"../samples/vtest.avi\"",
            &format!("{:?}", common::sample("vtest.avi")),
        );
    let cal = dir.path().join("cal.toml");
    std::fs::write(&cal, format!("# not a [[cameras]] table\n{text}")).unwrap();
    let (ok, out, err) = common::run(common::bin().arg("check").arg(&cal));
    assert!(
        ok && out.contains("ok: camera vtest-crossing"),
        "{out}{err}"
    );
    // A service configuration is checked as one.
    let (ok, out, err) = common::run(
        common::bin()
            .arg("check")
            .arg(common::root().join("config/example.toml")),
    );
    assert!(ok && out.contains("cameras, broker"), "{out}{err}");
}
