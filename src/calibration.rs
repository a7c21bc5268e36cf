//! Per-camera calibration files (`calibration/*.toml`): identity, frame size and zones.
//! Every validation error names the file, the line and the field.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::{line_of, toml_error, Error, Result};
use crate::geometry::{Point, Polygon};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneType {
    NoVending,
    Storefront,
    NoParking,
    BikeParking,
    Walkway,
    SmokeWatch,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    name: Spanned<String>,
    #[serde(rename = "type")]
    zone_type: Spanned<ZoneType>,
    polygon: Spanned<Vec<[f32; 2]>>,
    #[serde(default)]
    classes: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    dwell_seconds: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalibration {
    camera_id: Spanned<String>,
    site: String,
    #[serde(default)]
    description: String,
    frame_width: Spanned<u32>,
    frame_height: Spanned<u32>,
    #[serde(default)]
    zones: Vec<RawZone>,
}

/// A validated zone.
#[derive(Debug, Clone)]
pub struct Zone {
    pub name: String,
    pub zone_type: ZoneType,
    pub polygon: Polygon,
    /// Object classes the dwell rule watches in this zone.
    pub classes: Vec<String>,
    pub dwell_seconds: f64,
    /// Line of the zone's `classes` field, for errors found later (unknown class names).
    pub classes_line: usize,
}

#[derive(Debug, Clone)]
pub struct Calibration {
    pub path: PathBuf,
    pub sha256: String,
    pub camera_id: String,
    pub site: String,
    pub description: String,
    pub frame_width: u32,
    pub frame_height: u32,
    pub zones: Vec<Zone>,
}

const DEFAULT_DWELL_SECONDS: f64 = 10.0;

impl Calibration {
    pub fn load(path: &Path) -> Result<Calibration> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Calibration> {
        let raw: RawCalibration = toml::from_str(text).map_err(|e| toml_error(path, text, e))?;
        let at = |span: std::ops::Range<usize>, msg: String| {
            Error::config(path, Some(line_of(text, span.start)), msg)
        };
        let (w, h) = (*raw.frame_width.get_ref(), *raw.frame_height.get_ref());
        if w == 0 {
            return Err(at(
                raw.frame_width.span(),
                "field frame_width: must be positive".into(),
            ));
        }
        if h == 0 {
            return Err(at(
                raw.frame_height.span(),
                "field frame_height: must be positive".into(),
            ));
        }
        if raw.camera_id.get_ref().trim().is_empty() {
            return Err(at(
                raw.camera_id.span(),
                "field camera_id: must not be empty".into(),
            ));
        }
        let mut zones = Vec::new();
        for z in raw.zones {
            let name = z.name.get_ref().clone();
            if zones.iter().any(|other: &Zone| other.name == name) {
                return Err(at(
                    z.name.span(),
                    format!("field zones.name: duplicate zone name '{name}'"),
                ));
            }
            let pts = z.polygon.get_ref();
            if pts.len() < 3 {
                return Err(at(
                    z.polygon.span(),
                    format!(
                        "zone '{name}' field polygon: needs at least 3 points, has {}",
                        pts.len()
                    ),
                ));
            }
            for p in pts {
                if !(0.0..=w as f32).contains(&p[0]) || !(0.0..=h as f32).contains(&p[1]) {
                    return Err(at(
                        z.polygon.span(),
                        format!("zone '{name}' field polygon: point [{}, {}] is outside the {w}x{h} frame", p[0], p[1]),
                    ));
                }
            }
            let polygon = Polygon::new(pts.iter().map(|p| Point { x: p[0], y: p[1] }).collect());
            if polygon.self_intersects() {
                return Err(at(
                    z.polygon.span(),
                    format!("zone '{name}' field polygon: edges cross each other"),
                ));
            }
            if polygon.area() < 1.0 {
                return Err(at(
                    z.polygon.span(),
                    format!("zone '{name}' field polygon: has no area"),
                ));
            }
            let dwell_seconds = match &z.dwell_seconds {
                Some(d) if !(d.get_ref().is_finite() && *d.get_ref() > 0.0) => {
                    return Err(at(
                        d.span(),
                        format!("zone '{name}' field dwell_seconds: must be a positive number"),
                    ));
                }
                Some(d) => *d.get_ref(),
                None => DEFAULT_DWELL_SECONDS,
            };
            let (classes, classes_line) = match &z.classes {
                Some(c) => (c.get_ref().clone(), line_of(text, c.span().start)),
                None => (
                    vec!["person".to_string()],
                    line_of(text, z.name.span().start),
                ),
            };
            zones.push(Zone {
                name,
                zone_type: *z.zone_type.get_ref(),
                polygon,
                classes,
                dwell_seconds,
                classes_line,
            });
        }
        Ok(Calibration {
            path: path.to_path_buf(),
            sha256: crate::model::sha256_bytes(text.as_bytes()),
            camera_id: raw.camera_id.into_inner(),
            site: raw.site,
            description: raw.description,
            frame_width: w,
            frame_height: h,
            zones,
        })
    }

    /// Checks that every class a zone names exists in the model's class list.
    pub fn check_classes(&self, classes: &[String]) -> Result<()> {
        for z in &self.zones {
            for c in &z.classes {
                if !classes.contains(c) {
                    return Err(Error::config(
                        &self.path,
                        Some(z.classes_line),
                        format!(
                            "zone '{}' field classes: '{c}' is not a class of the model",
                            z.name
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
camera_id = "cam-1"
site = "test"
frame_width = 100
frame_height = 80

[[zones]]
name = "a"
type = "no_vending"
polygon = [[10, 10], [90, 10], [90, 70], [10, 70]]
classes = ["person"]
dwell_seconds = 5
"#;

    fn err_of(text: &str) -> String {
        Calibration::parse(Path::new("cal.toml"), text)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn good_file_parses() {
        let c = Calibration::parse(Path::new("cal.toml"), GOOD).unwrap();
        assert_eq!(c.zones.len(), 1);
        assert_eq!(c.zones[0].dwell_seconds, 5.0);
        assert_eq!(c.zones[0].zone_type, ZoneType::NoVending);
    }

    #[test]
    fn out_of_frame_point_names_line_and_field() {
        let e = err_of(&GOOD.replace("[90, 70]", "[190, 70]"));
        assert!(e.starts_with("cal.toml:10:"), "{e}");
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
    fn unknown_type_and_syntax_error_have_lines() {
        let e = err_of(&GOOD.replace("\"no_vending\"", "\"no_vendingg\""));
        assert!(e.starts_with("cal.toml:9:"), "{e}");
        let e = err_of(&GOOD.replace("dwell_seconds = 5", "dwell_seconds = "));
        assert!(e.starts_with("cal.toml:12:"), "{e}");
        let e = err_of(&GOOD.replace("dwell_seconds = 5", "dwell_seconds = -1"));
        assert!(e.contains("dwell_seconds"), "{e}");
    }

    #[test]
    fn unknown_class_is_reported_with_line() {
        let c = Calibration::parse(
            Path::new("cal.toml"),
            &GOOD.replace("[\"person\"]", "[\"persn\"]"),
        )
        .unwrap();
        let e = c.check_classes(&["person".into()]).unwrap_err().to_string();
        assert!(e.starts_with("cal.toml:11:") && e.contains("persn"), "{e}");
    }
}
