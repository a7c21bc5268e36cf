//! The zone editor's core: a camera's zones as the editor sends them are written into its
//! calibration TOML with `toml_edit`, so that everything the editor did not change (comments,
//! other tables, a zone's schedule, classes and stalls, the formatting of untouched values)
//! stays as it was; the result is validated by the same parser as `streetwatch check` before it
//! may be saved, and its error is given back with the zone and field it is about. Also the
//! ground grid drawn over the view, from the calibration's homography. Pure: text in, text out.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, Value};

use crate::calibration::Calibration;
use crate::error::Error;

/// Zone parameters the editor sets (numbers, and `static_foreground` true/false). A zone's
/// other keys (classes, stall classes, stalls, schedule) are kept as the file has them.
pub const EDITABLE: &[(&str, Kind)] = &[
    ("confirm_seconds", Kind::Seconds),
    ("dwell_seconds", Kind::Seconds),
    ("parked_seconds", Kind::Seconds),
    ("clear_seconds", Kind::Seconds),
    ("cooldown_seconds", Kind::Seconds),
    ("capacity", Kind::Count),
    ("min_clear_width_m", Kind::Number),
    ("max_orientation_spread", Kind::Number),
    ("static_foreground", Kind::Bool),
];

/// What a parameter's text must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Seconds,
    Count,
    Number,
    Bool,
}

/// Most zones per camera and points per zone the editor accepts.
pub const MAX_ZONES: usize = 64;
pub const MAX_POINTS: usize = 256;

/// One zone as the editor sends it (and is sent).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneEdit {
    /// Its index among the file's zones when the editor loaded it (`None`: drawn now).
    #[serde(default)]
    pub orig: Option<usize>,
    pub name: String,
    #[serde(rename = "type")]
    pub zone_type: String,
    pub polygon: Vec<[f64; 2]>,
    /// Parameter texts by name; an empty text removes the key (the parser's default applies).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
}

/// Why an edit cannot be saved: the message (the parser's, with file and line), and the zone
/// (its index in the edit) and field it is about, when known.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EditError {
    pub zone: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl EditError {
    fn at(zone: usize, field: &str, message: impl Into<String>) -> EditError {
        EditError {
            zone: Some(zone),
            field: Some(field.to_string()),
            message: message.into(),
        }
    }
}

fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        Value::from(v as i64)
    } else {
        Value::from((v * 100.0).round() / 100.0)
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    v.as_float().or_else(|| v.as_integer().map(|i| i as f64))
}

/// The polygon as a TOML array `[[x, y], ...]`, pixel coordinates to 0.01.
fn polygon_value(points: &[[f64; 2]]) -> Value {
    let mut arr = Array::new();
    for p in points {
        let mut pair = Array::new();
        pair.push(number(p[0]));
        pair.push(number(p[1]));
        arr.push(Value::Array(pair));
    }
    arr.fmt();
    Value::Array(arr)
}

fn same_polygon(old: &Value, points: &[[f64; 2]]) -> bool {
    let Some(arr) = old.as_array() else {
        return false;
    };
    arr.len() == points.len()
        && arr.iter().zip(points).all(|(v, p)| {
            v.as_array().is_some_and(|xy| {
                xy.len() == 2
                    && xy.iter().zip(p).all(|(c, q)| {
                        as_f64(c).is_some_and(|c| (c - (q * 100.0).round() / 100.0).abs() < 1e-9)
                    })
            })
        })
}

/// Sets `key` to `new` unless it already holds that value; a replaced value keeps its comments.
fn set(table: &mut Table, key: &str, new: Value, same: impl Fn(&Value) -> bool) {
    match table.get_mut(key).and_then(Item::as_value_mut) {
        Some(old) if same(old) => {}
        Some(old) => {
            let decor = old.decor().clone();
            *old = new;
            *old.decor_mut() = decor;
        }
        None => {
            table.insert(key, Item::Value(new));
        }
    }
}

/// Parses a parameter's text by its kind.
fn param_value(kind: Kind, text: &str) -> Result<Value, String> {
    match kind {
        Kind::Bool => match text {
            "true" => Ok(Value::from(true)),
            "false" => Ok(Value::from(false)),
            _ => Err(format!("'{text}' is not true or false")),
        },
        Kind::Count => text
            .parse::<u32>()
            .map(|n| Value::from(i64::from(n)))
            .map_err(|_| format!("'{text}' is not a whole number")),
        Kind::Seconds | Kind::Number => match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(number(v)),
            _ => Err(format!("'{text}' is not a number")),
        },
    }
}

/// A parameter's value as the editor shows it.
fn param_text(v: &Value) -> Option<String> {
    if let Some(b) = v.as_bool() {
        return Some(b.to_string());
    }
    as_f64(v).map(|x| x.to_string())
}

/// The file's zones as the editor starts from them: the values the file sets (not the
/// parser's defaults), every zone's `orig` its index.
pub fn zones_of(text: &str) -> Result<Vec<ZoneEdit>, String> {
    let doc: DocumentMut = text.parse().map_err(|e| format!("{e}"))?;
    let Some(aot) = doc.get("zones").and_then(Item::as_array_of_tables) else {
        return Ok(Vec::new());
    };
    Ok(aot
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let text = |k: &str| {
                t.get(k)
                    .and_then(Item::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let polygon = t
                .get("polygon")
                .and_then(Item::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|p| {
                            let xy = p.as_array()?;
                            Some([as_f64(xy.get(0)?)?, as_f64(xy.get(1)?)?])
                        })
                        .collect()
                })
                .unwrap_or_default();
            let params = EDITABLE
                .iter()
                .filter_map(|(k, _)| {
                    let v = t.get(k)?.as_value()?;
                    Some((k.to_string(), param_text(v)?))
                })
                .collect();
            ZoneEdit {
                orig: Some(i),
                name: text("name"),
                zone_type: text("type"),
                polygon,
                params,
            }
        })
        .collect())
}

/// The calibration text with its zones replaced by `zones`, validated as `streetwatch check`
/// validates it (`path`: the file it will be saved as, for relative paths and messages).
pub fn apply(path: &Path, text: &str, zones: &[ZoneEdit]) -> Result<String, EditError> {
    let general = |m: String| EditError {
        zone: None,
        field: None,
        message: m,
    };
    if zones.len() > MAX_ZONES {
        return Err(general(format!("at most {MAX_ZONES} zones per camera")));
    }
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| general(format!("{}: {e}", path.display())))?;
    let old: Vec<Table> = doc
        .get("zones")
        .and_then(Item::as_array_of_tables)
        .map(|a| a.iter().cloned().collect())
        .unwrap_or_default();
    let mut out = ArrayOfTables::new();
    for (i, z) in zones.iter().enumerate() {
        if !(3..=MAX_POINTS).contains(&z.polygon.len()) {
            return Err(EditError::at(
                i,
                "polygon",
                format!(
                    "a zone needs 3 to {MAX_POINTS} points, has {}",
                    z.polygon.len()
                ),
            ));
        }
        let name = z.name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(EditError::at(
                i,
                "name",
                "field name: 1 to 64 characters, no line breaks or control characters",
            ));
        }
        if serde_json::from_value::<crate::calibration::ZoneType>(z.zone_type.clone().into())
            .is_err()
        {
            return Err(EditError::at(
                i,
                "type",
                format!(
                    "zone '{}' field type: '{}' is not a zone type",
                    z.name, z.zone_type
                ),
            ));
        }
        if z.polygon.iter().flatten().any(|c| !c.is_finite()) {
            return Err(EditError::at(i, "polygon", "a point is not a number"));
        }
        let mut t = match z.orig.and_then(|o| old.get(o)) {
            Some(t) => t.clone(),
            None => {
                let mut t = Table::new();
                t.decor_mut().set_prefix("\n");
                t
            }
        };
        set(&mut t, "name", Value::from(name), |v| {
            v.as_str() == Some(name)
        });
        set(&mut t, "type", Value::from(z.zone_type.as_str()), |v| {
            v.as_str() == Some(z.zone_type.as_str())
        });
        set(&mut t, "polygon", polygon_value(&z.polygon), |v| {
            same_polygon(v, &z.polygon)
        });
        for key in z.params.keys() {
            if !EDITABLE.iter().any(|(k, _)| k == key) {
                return Err(EditError::at(
                    i,
                    key,
                    format!("field {key}: not a zone parameter the editor sets"),
                ));
            }
        }
        for (key, kind) in EDITABLE {
            let Some(text) = z.params.get(*key).map(|s| s.trim()) else {
                continue; // not sent: left as it is
            };
            if text.is_empty() {
                t.remove(key);
                continue;
            }
            let v = param_value(*kind, text).map_err(|m| {
                EditError::at(i, key, format!("zone '{}' field {key}: {m}", z.name))
            })?;
            let same = |old: &Value| match (as_f64(old), as_f64(&v)) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                _ => old.as_bool().is_some() && old.as_bool() == v.as_bool(),
            };
            set(&mut t, key, v.clone(), same);
        }
        out.push(t);
    }
    if out.is_empty() {
        doc.remove("zones");
    } else {
        doc.insert("zones", Item::ArrayOfTables(out));
    }
    let new_text = doc.to_string();
    match Calibration::parse(path, &new_text) {
        Ok(_) => Ok(new_text),
        Err(e) => Err(locate(&new_text, zones, e)),
    }
}

/// The zone (index in the edit) and field a parser error is about.
fn locate(text: &str, zones: &[ZoneEdit], e: Error) -> EditError {
    let message = e.to_string();
    let (line, msg) = match &e {
        Error::Config { line, message, .. } => (*line, message.as_str()),
        _ => (None, message.as_str()),
    };
    // A message of the form "[zone 'NAME'] field FIELD: ...".
    let field = msg.split("field ").nth(1).and_then(|rest| {
        let f: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        (!f.is_empty()).then(|| f.trim_start_matches("zones.").to_string())
    });
    let by_name = msg.strip_prefix("zone '").and_then(|rest| {
        let name = rest.split('\'').next()?;
        zones.iter().position(|z| z.name == name)
    });
    // Else the zone whose table holds the line: the Nth `[[zones]]` header above it.
    let by_line = line.and_then(|l| {
        let headers = text
            .lines()
            .take(l)
            .filter(|x| x.trim_start().starts_with("[[zones]]"))
            .count();
        (headers > 0 && headers <= zones.len()).then(|| headers - 1)
    });
    EditError {
        zone: by_name.or(by_line),
        field,
        message,
    }
}

/// Lines of the ground grid in image pixels (each a polyline), every `step` metres over the
/// surveyed area and as far again around it, cut where they leave the frame's neighbourhood or
/// pass the horizon.
pub fn ground_grid(cal: &Calibration) -> Vec<Vec<[f32; 2]>> {
    let Some(g) = &cal.ground else {
        return Vec::new();
    };
    let Some(inv) = g.homography.inverse() else {
        return Vec::new();
    };
    let (w, h) = (cal.frame_width as f64, cal.frame_height as f64);
    let gx: Vec<f64> = g.pairs.iter().map(|(_, q)| q.x as f64).collect();
    let gy: Vec<f64> = g.pairs.iter().map(|(_, q)| q.y as f64).collect();
    let span = |v: &[f64]| {
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
        let pad = (hi - lo).max(1.0);
        ((lo - pad).floor(), (hi + pad).ceil())
    };
    let ((x0, x1), (y0, y1)) = (span(&gx), span(&gy));
    let step = if (x1 - x0).max(y1 - y0) > 60.0 {
        5.0
    } else {
        1.0
    };
    let m = inv.m;
    // The sign of w on the visible ground (the surveyed points are seen).
    let (cx, cy) = (
        gx.iter().sum::<f64>() / gx.len() as f64,
        gy.iter().sum::<f64>() / gy.len() as f64,
    );
    let sign = (m[6] * cx + m[7] * cy + m[8]).signum();
    let project = |x: f64, y: f64| -> Option<[f32; 2]> {
        let wz = m[6] * x + m[7] * y + m[8];
        if wz.signum() != sign || wz.abs() < 1e-9 {
            return None;
        }
        let (u, v) = (
            (m[0] * x + m[1] * y + m[2]) / wz,
            (m[3] * x + m[4] * y + m[5]) / wz,
        );
        let near = (-0.5 * w..=1.5 * w).contains(&u) && (-0.5 * h..=1.5 * h).contains(&v);
        near.then_some([u as f32, v as f32])
    };
    let mut lines = Vec::new();
    let mut trace = |pts: Vec<Option<[f32; 2]>>| {
        let mut run = Vec::new();
        for p in pts {
            match p {
                Some(p) => run.push(p),
                None => {
                    if run.len() > 1 {
                        lines.push(std::mem::take(&mut run));
                    }
                    run.clear();
                }
            }
        }
        if run.len() > 1 {
            lines.push(run);
        }
    };
    const SAMPLES: usize = 24;
    let mut x = x0;
    while x <= x1 + 1e-9 {
        trace(
            (0..=SAMPLES)
                .map(|i| project(x, y0 + (y1 - y0) * i as f64 / SAMPLES as f64))
                .collect(),
        );
        x += step;
    }
    let mut y = y0;
    while y <= y1 + 1e-9 {
        trace(
            (0..=SAMPLES)
                .map(|i| project(x0 + (x1 - x0) * i as f64 / SAMPLES as f64, y))
                .collect(),
        );
        y += step;
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAL: &str = r#"# A camera over a pavement.
camera_id = "cam-1"
site = "s1"
frame_width = 640
frame_height = 480

[ground]
pairs = [
  { image = [100, 400], ground = [0.0, 0.0] },
  { image = [540, 400], ground = [4.0, 0.0] },
  { image = [440, 200], ground = [4.0, 6.0] },
  { image = [200, 200], ground = [0.0, 6.0] },
]

# The pavement by the school gate.
[[zones]]
name = "gate"
type = "no_vending"
polygon = [[100, 300], [300, 300], [300, 400], [100, 400]]   # surveyed 2026-10
confirm_seconds = 30.0 # bureau rule 7

[zones.schedule]
active = ["mon-fri 07:00-18:00"]

# The corner where bikes pile up.
[[zones]]
name = "corner"
type = "no_parking"
polygon = [[400, 300], [600, 300], [600, 460], [400, 460]]
"#;

    fn zone(orig: Option<usize>, name: &str, ty: &str, poly: &[[f64; 2]]) -> ZoneEdit {
        ZoneEdit {
            orig,
            name: name.into(),
            zone_type: ty.into(),
            polygon: poly.to_vec(),
            params: BTreeMap::new(),
        }
    }

    const GATE: [[f64; 2]; 4] = [
        [100.0, 300.0],
        [300.0, 300.0],
        [300.0, 400.0],
        [100.0, 400.0],
    ];
    const CORNER: [[f64; 2]; 4] = [
        [400.0, 300.0],
        [600.0, 300.0],
        [600.0, 460.0],
        [400.0, 460.0],
    ];

    fn p() -> &'static Path {
        Path::new("/tmp/cam-1.toml")
    }

    #[test]
    fn an_unchanged_edit_gives_the_file_back_byte_for_byte() {
        let zones = [
            zone(Some(0), "gate", "no_vending", &GATE),
            zone(Some(1), "corner", "no_parking", &CORNER),
        ];
        assert_eq!(apply(p(), CAL, &zones).unwrap(), CAL);
        // As the editor loads them: the values set in the file, no defaults.
        let loaded = zones_of(CAL).unwrap();
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded[0].polygon, GATE.to_vec());
        assert_eq!(
            loaded[0].params.get("confirm_seconds").map(String::as_str),
            Some("30")
        );
        assert!(loaded[1].params.is_empty());
        assert_eq!(
            apply(p(), CAL, &loaded).unwrap(),
            CAL,
            "loaded and saved unchanged"
        );
    }

    #[test]
    fn edits_keep_comments_schedules_and_untouched_zones() {
        let mut gate = zone(Some(0), "gate", "no_vending", &GATE);
        gate.polygon[0] = [110.5, 290.0];
        gate.params.insert("confirm_seconds".into(), "45".into());
        let mut new = zone(
            None,
            "kiosk",
            "storefront",
            &[[10.0, 10.0], [90.0, 10.0], [90.0, 60.0]],
        );
        new.params.insert("dwell_seconds".into(), "120".into());
        // "corner" deleted; a new zone drawn.
        let out = apply(p(), CAL, &[gate, new]).unwrap();
        let c = Calibration::parse(p(), &out).unwrap();
        assert_eq!(c.zones.len(), 2);
        assert_eq!(c.zones[0].polygon.points[0].x, 110.5);
        assert_eq!(c.zones[0].confirm_seconds, 45.0);
        assert_eq!(c.zones[1].name, "kiosk");
        for kept in [
            "# A camera over a pavement.",
            "# The pavement by the school gate.",
            "# bureau rule 7",
            "# surveyed 2026-10",
            "active = [\"mon-fri 07:00-18:00\"]",
            "{ image = [540, 400], ground = [4.0, 0.0] },",
        ] {
            assert!(out.contains(kept), "lost {kept:?}:\n{out}");
        }
        assert!(!out.contains("corner"), "{out}");
        assert!(
            out.contains("polygon = [[110.5, 290], [300, 300], [300, 400], [100, 400]]"),
            "{out}"
        );
        // An emptied parameter goes (its default applies).
        let mut gate = zone(Some(0), "gate", "no_vending", &GATE);
        gate.params.insert("confirm_seconds".into(), " ".into());
        let out = apply(p(), CAL, &[gate]).unwrap();
        assert!(!out.contains("confirm_seconds"), "{out}");
    }

    #[test]
    fn invalid_edits_name_the_zone_and_field() {
        let cases: Vec<(Vec<ZoneEdit>, Option<usize>, &str)> = vec![
            // A parameter's text.
            (
                vec![zone(Some(0), "gate", "no_vending", &GATE), {
                    let mut z = zone(Some(1), "corner", "no_parking", &CORNER);
                    z.params.insert("parked_seconds".into(), "soon".into());
                    z
                }],
                Some(1),
                "parked_seconds",
            ),
            // The parser: a parameter of another zone type.
            (
                vec![zone(Some(0), "gate", "no_vending", &GATE), {
                    let mut z = zone(Some(1), "corner", "no_parking", &CORNER);
                    z.params.insert("capacity".into(), "5".into());
                    z
                }],
                Some(1),
                "capacity",
            ),
            // The parser: a negative time.
            (
                vec![{
                    let mut z = zone(Some(0), "gate", "no_vending", &GATE);
                    z.params.insert("confirm_seconds".into(), "-5".into());
                    z
                }],
                Some(0),
                "confirm_seconds",
            ),
            // A crossing polygon.
            (
                vec![zone(
                    None,
                    "bow",
                    "no_vending",
                    &[[0.0, 0.0], [100.0, 100.0], [100.0, 0.0], [0.0, 100.0]],
                )],
                Some(0),
                "polygon",
            ),
            // Too few points, an unknown type, a duplicate name, a hostile name.
            (
                vec![zone(None, "line", "no_vending", &[[0.0, 0.0], [9.0, 9.0]])],
                Some(0),
                "polygon",
            ),
            (
                vec![zone(Some(0), "gate", "no_nothing", &GATE)],
                Some(0),
                "type",
            ),
            (
                vec![
                    zone(Some(0), "gate", "no_vending", &GATE),
                    zone(None, "gate", "no_vending", &CORNER),
                ],
                Some(1),
                "name",
            ),
            (
                vec![zone(Some(0), "../gate\"]\n[x]", "no_vending", &GATE)],
                Some(0),
                "name",
            ),
            (
                vec![zone(
                    Some(0),
                    "gate",
                    "no_vending",
                    &[[0.0, f64::NAN], [1.0, 1.0], [2.0, 0.0]],
                )],
                Some(0),
                "polygon",
            ),
        ];
        for (i, (zones, zone_at, field)) in cases.into_iter().enumerate() {
            let e = apply(p(), CAL, &zones).unwrap_err();
            assert_eq!(e.zone, zone_at, "case {i}: {e:?}");
            assert!(
                e.field.as_deref() == Some(field) || e.message.contains(field),
                "case {i}: {e:?}"
            );
        }
    }

    #[test]
    fn the_ground_grid_passes_through_the_surveyed_points() {
        let c = Calibration::parse(p(), CAL).unwrap();
        let grid = ground_grid(&c);
        assert!(grid.len() > 10, "{}", grid.len());
        // The ground point (0, 0) is seen at (100, 400): some grid line passes within a pixel.
        let near = |q: [f32; 2]| {
            grid.iter()
                .flatten()
                .any(|p| (p[0] - q[0]).hypot(p[1] - q[1]) < 1.0)
        };
        assert!(near([100.0, 400.0]) && near([540.0, 400.0]) && near([200.0, 200.0]));
        // Nothing far outside the frame or beyond the horizon.
        assert!(grid.iter().flatten().all(|p| p[0].is_finite()
            && (-320.0..=960.0).contains(&p[0])
            && (-240.0..=720.0).contains(&p[1])));
        let head = CAL.split("[ground]").next().unwrap();
        let zones = &CAL[CAL.find("# The pavement").unwrap()..];
        let flat = Calibration::parse(p(), &format!("{head}{zones}")).unwrap();
        assert!(flat.ground.is_none() && ground_grid(&flat).is_empty());
    }
}
