use super::*;

const GOOD: &str = r#"
camera_id = "cam-1"
site = "test"
frame_width = 100
frame_height = 80
timezone = "+08:00"
grid_cell = "110105-01-03"
gps = [39.9, 116.4]

[ground]
pairs = [
  { image = [0, 80], ground = [0, 0] },
  { image = [100, 80], ground = [10, 0] },
  { image = [100, 0], ground = [10, 8] },
  { image = [0, 0], ground = [0, 8] },
]

[[zones]]
name = "a"
type = "no_vending"
polygon = [[10, 10], [90, 10], [90, 70], [10, 70]]
classes = ["person"]
dwell_seconds = 5
schedule = { active = ["mon-fri 07:00-22:00"], exempt = ["daily 18:00-21:00"] }
"#;

fn err_of(text: &str) -> String {
    Calibration::parse(Path::new("cal.toml"), text)
        .unwrap_err()
        .to_string()
}

fn line_of_text(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn good_file_parses_with_ground_and_schedule() {
    let c = Calibration::parse(Path::new("cal.toml"), GOOD).unwrap();
    assert_eq!(c.zones.len(), 1);
    let z = &c.zones[0];
    assert_eq!(
        (z.vending().map(|v| v.dwell_seconds), z.zone_type()),
        (Some(5.0), ZoneType::NoVending)
    );
    assert_eq!(
        crate::time::format_rfc3339(0.0, &c.time_zone),
        "1970-01-01T08:00:00.000+08:00"
    );
    let g = c.ground.as_ref().unwrap();
    assert!(g.reprojection_rms_m < 1e-3);
    // 80x60 px of a 100x80 px frame that spans 10x8 m: 8 m x 6 m.
    assert!((z.ground.as_ref().unwrap().area() - 48.0).abs() < 0.01);
    assert_eq!(z.schedule.active.len(), 1);
    assert_eq!(
        c.dispatch
            .lookup(crate::violation::Subtype::MobileVendor)
            .unwrap()
            .code,
        "0101"
    );
}

#[test]
fn time_zone_by_name_or_offset_and_a_bad_one_names_the_field() {
    let named = GOOD.replace("timezone = \"+08:00\"", "timezone = \"Asia/Shanghai\"");
    assert_ne!(named, GOOD);
    let c = Calibration::parse(Path::new("cal.toml"), &named).unwrap();
    assert_eq!(
        crate::time::format_rfc3339(0.0, &c.time_zone),
        "1970-01-01T08:00:00.000+08:00"
    );
    for bad in ["Asia/Shanghia", "+25:00", "2026-11-2€"] {
        let text = GOOD.replace("timezone = \"+08:00\"", &format!("timezone = \"{bad}\""));
        let e = err_of(&text);
        assert!(
            e.starts_with(&format!("cal.toml:{}:", line_of_text(&text, bad)))
                && e.contains("field timezone")
                && e.contains(bad),
            "{e}"
        );
    }
}

#[test]
fn out_of_frame_point_names_line_and_field() {
    let text = GOOD.replace("[90, 70]", "[190, 70]");
    let e = err_of(&text);
    assert!(
        e.starts_with(&format!("cal.toml:{}:", line_of_text(&text, "[190, 70]"))),
        "{e}"
    );
    assert!(e.contains("field polygon") && e.contains("outside"), "{e}");
}

#[test]
fn crossing_polygon_and_too_few_points() {
    let e = err_of(&GOOD.replace(
        "[[10, 10], [90, 10], [90, 70], [10, 70]]",
        "[[10, 10], [90, 70], [90, 10], [10, 70]]",
    ));
    assert!(e.contains("cross"), "{e}");
    let e = err_of(&GOOD.replace(
        "[[10, 10], [90, 10], [90, 70], [10, 70]]",
        "[[10, 10], [90, 10]]",
    ));
    assert!(e.contains("at least 3"), "{e}");
}

#[test]
fn unknown_type_and_syntax_errors_have_lines() {
    let text = GOOD.replace("\"no_vending\"", "\"no_vendingg\"");
    let e = err_of(&text);
    assert!(
        e.starts_with(&format!("cal.toml:{}:", line_of_text(&text, "no_vendingg"))),
        "{e}"
    );
    let text = GOOD.replace("dwell_seconds = 5", "dwell_seconds = ");
    assert!(err_of(&text).starts_with(&format!(
        "cal.toml:{}:",
        line_of_text(&text, "dwell_seconds")
    )));
    assert!(
        err_of(&GOOD.replace("dwell_seconds = 5", "dwell_seconds = -1")).contains("dwell_seconds")
    );
}

#[test]
fn degenerate_or_too_few_ground_pairs() {
    let three = GOOD.replace("  { image = [0, 0], ground = [0, 8] },\n", "");
    let e = err_of(&three);
    assert!(
        e.contains("field ground.pairs") && e.contains("at least 4"),
        "{e}"
    );
    assert!(
        e.starts_with(&format!("cal.toml:{}:", line_of_text(&three, "pairs = ["))),
        "{e}"
    );
    let collinear = GOOD
        .replace("image = [100, 0]", "image = [50, 80]")
        .replace("image = [0, 0]", "image = [25, 80]");
    assert!(
        err_of(&collinear).contains("degenerate"),
        "{}",
        err_of(&collinear)
    );
    // A mistyped ground point shows as a large reprojection error.
    let typo = GOOD
        .replace("ground = [10, 8]", "ground = [10, 80]")
        .replace(
            "  { image = [0, 0], ground = [0, 8] },\n",
            "  { image = [0, 0], ground = [0, 8] },\n  { image = [50, 40], ground = [5, 4] },\n",
        );
    assert!(
        err_of(&typo).contains("reprojection error"),
        "{}",
        err_of(&typo)
    );
}

#[test]
fn overlapping_schedule_and_bad_window() {
    let e = err_of(&GOOD.replace(
        "[\"mon-fri 07:00-22:00\"]",
        "[\"mon-fri 07:00-22:00\", \"fri 21:00-23:00\"]",
    ));
    assert!(e.contains("field schedule") && e.contains("overlap"), "{e}");
    let e = err_of(&GOOD.replace("daily 18:00-21:00", "dayly 18:00-21:00"));
    assert!(e.contains("dayly"), "{e}");
}

#[test]
fn parameters_of_another_zone_type_are_rejected() {
    let e = err_of(&GOOD.replace("dwell_seconds = 5", "dwell_seconds = 5\ncapacity = 10"));
    assert!(
        e.contains("field capacity: applies to bike_parking zones only"),
        "{e}"
    );
    let walkway = GOOD.replace("\"no_vending\"", "\"walkway\"");
    assert!(err_of(&walkway).contains("needs min_clear_width_m"));
    let no_ground = GOOD.split("[ground]").next().unwrap().to_string()
        + &GOOD[GOOD.find("[[zones]]").unwrap()..]
            .replace("\"no_vending\"", "\"walkway\"")
            .replace("dwell_seconds = 5", "min_clear_width_m = 1.5");
    assert!(
        err_of(&no_ground).contains("needs a [ground] table"),
        "{}",
        err_of(&no_ground)
    );
    let bike = GOOD
        .replace("\"no_vending\"", "\"bike_parking\"")
        .replace("classes = [\"person\"]\n", "");
    assert!(
        err_of(&bike).contains("needs capacity"),
        "{}",
        err_of(&bike)
    );
}

#[test]
fn dispatch_overrides_and_unknown_class() {
    let text = GOOD.replace(
        "[[zones]]",
        "[dispatch]\nsmoke = { code = \"S-1\", name = \"油烟\" }\n\n[[zones]]",
    );
    let c = Calibration::parse(Path::new("cal.toml"), &text).unwrap();
    assert_eq!(
        c.dispatch
            .lookup(crate::violation::Subtype::Barbecue)
            .unwrap()
            .code,
        "S-1"
    );
    let bad = GOOD.replace(
        "[[zones]]",
        "[dispatch]\nsmok = { code = \"S-1\", name = \"x\" }\n\n[[zones]]",
    );
    assert!(err_of(&bad).contains("unknown event key 'smok'"));
    let c = Calibration::parse(
        Path::new("cal.toml"),
        &GOOD.replace("[\"person\"]", "[\"persn\"]"),
    )
    .unwrap();
    let e = c.check_classes(&["person".into()]).unwrap_err().to_string();
    assert!(e.contains("persn"), "{e}");
}

/// Values a file may hold but nothing can mean: a point with three numbers (anywhere a pair is
/// written), timings past a day, a zone too small to hold anything, an identifier that would
/// inject a topic level. Each is refused with its line and field.
#[test]
fn values_nothing_can_mean_are_refused() {
    for (from, to, says) in [
        ("[10, 10], [90, 10]", "[10, 10, 5], [90, 10]", "two numbers"),
        ("image = [0, 80]", "image = [0, 80, 1]", "two numbers"),
        (
            "gps = [39.9, 116.4]",
            "gps = [39.9, 116.4, 3]",
            "two numbers",
        ),
        ("dwell_seconds = 5", "dwell_seconds = 4e9", "dwell_seconds"),
        (
            "polygon = [[10, 10], [90, 10], [90, 70], [10, 70]]",
            "polygon = [[10, 10], [11.5, 10], [11.5, 11], [10, 11]]",
            "px²",
        ),
        (
            "camera_id = \"cam-1\"",
            "camera_id = \"cam+1\"",
            "camera_id",
        ),
        ("site = \"test\"", "site = \"east/district-9\"", "site"),
    ] {
        assert!(GOOD.contains(from), "{from}");
        let text = GOOD.replacen(from, to, 1);
        let e = err_of(&text);
        let has_line = e
            .strip_prefix("cal.toml:")
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
        assert!(e.contains(says) && has_line, "{to}: {e}");
    }
}
