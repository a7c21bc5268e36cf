//! Per-camera calibration files (`calibration/*.toml`): identity and dispatch metadata, frame
//! size, the ground-plane homography, and zones with their rule parameters and schedules.
//! Every validation error names the file, the line and the field. With `schedule` (when zones
//! are enforced) and `dispatch` (the bureau's case codes) this is the configuration layer the
//! rules read; it imports nothing above it.

pub mod dispatch;
pub mod schedule;

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::detection::{CocoClass, TWO_WHEELERS};
use crate::error::{line_of, toml_error, Error, Result};
use crate::geometry::{Homography, Point, Polygon};
use crate::time::{self, TimeZone};
use dispatch::DispatchTable;
use schedule::{Schedule, Window};

/// Longest time a zone's timing field may take, seconds (a day).
const MAX_SECONDS: f64 = 86_400.0;
/// Smallest zone or stall, square pixels (a 10 x 10 patch).
const MIN_ZONE_PX2: f32 = 100.0;

/// Two numbers written as `[a, b]`: exactly two (a TOML array of three is an error, where a
/// plain `[T; 2]` would drop the third silently).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "Vec<T>")]
struct Pair<T: Copy>([T; 2]);

impl<T: Copy> TryFrom<Vec<T>> for Pair<T> {
    type Error = String;

    fn try_from(v: Vec<T>) -> std::result::Result<Self, String> {
        match v[..] {
            [a, b] => Ok(Pair([a, b])),
            _ => Err(format!("expected two numbers [x, y], found {}", v.len())),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ZoneType {
    /// Pavement or road where stalls are not allowed.
    NoVending,
    /// The strip in front of shops (out-of-store business).
    Storefront,
    /// Two-wheelers not allowed.
    NoParking,
    /// A marked parking area with a capacity.
    BikeParking,
    /// A path whose clear width must stay above a minimum.
    Walkway,
    /// Where outdoor barbecue smoke is watched for.
    SmokeWatch,
}

impl ZoneType {
    pub fn as_str(&self) -> &'static str {
        match self {
            ZoneType::NoVending => "no_vending",
            ZoneType::Storefront => "storefront",
            ZoneType::NoParking => "no_parking",
            ZoneType::BikeParking => "bike_parking",
            ZoneType::Walkway => "walkway",
            ZoneType::SmokeWatch => "smoke_watch",
        }
    }

    pub fn is_vending(&self) -> bool {
        matches!(self, ZoneType::NoVending | ZoneType::Storefront)
    }

    pub fn is_parking(&self) -> bool {
        matches!(
            self,
            ZoneType::NoParking | ZoneType::BikeParking | ZoneType::Walkway
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    #[serde(default)]
    active: Vec<String>,
    #[serde(default)]
    exempt: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    name: Spanned<String>,
    #[serde(rename = "type")]
    zone_type: Spanned<ZoneType>,
    polygon: Spanned<Vec<Pair<f32>>>,
    classes: Option<Spanned<Vec<String>>>,
    stall_classes: Option<Spanned<Vec<String>>>,
    dwell_seconds: Option<Spanned<f64>>,
    confirm_seconds: Option<Spanned<f64>>,
    clear_seconds: Option<Spanned<f64>>,
    cooldown_seconds: Option<Spanned<f64>>,
    parked_seconds: Option<Spanned<f64>>,
    capacity: Option<Spanned<u32>>,
    stalls: Option<Spanned<Vec<Vec<Pair<f32>>>>>,
    max_orientation_spread: Option<Spanned<f64>>,
    min_clear_width_m: Option<Spanned<f64>>,
    static_foreground: Option<Spanned<bool>>,
    schedule: Option<Spanned<RawSchedule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPair {
    image: Pair<f32>,
    ground: Pair<f32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGround {
    pairs: Spanned<Vec<RawPair>>,
    max_reprojection_error_m: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalibration {
    camera_id: Spanned<String>,
    site: Spanned<String>,
    #[serde(default)]
    description: String,
    frame_width: Spanned<u32>,
    frame_height: Spanned<u32>,
    timezone: Option<Spanned<String>>,
    grid_cell: Option<String>,
    gps: Option<Spanned<Pair<f64>>>,
    ground: Option<Spanned<RawGround>>,
    /// The view the calibration was drawn on: an image, or a video (with `reference_at`).
    reference_frame: Option<Spanned<PathBuf>>,
    reference_at: Option<f64>,
    #[serde(default)]
    dispatch: Option<Spanned<toml::Table>>,
    #[serde(default)]
    zones: Vec<RawZone>,
}

/// A validated zone: where, which classes, the timings every rule has, and the rules of its
/// type with that type's own parameters.
#[derive(Debug, Clone)]
pub struct Zone {
    pub name: String,
    pub polygon: Polygon,
    /// The zone on the ground (metres), when the camera has a homography.
    pub ground: Option<Polygon>,
    /// Classes whose staying is watched (vending: people; parking: two-wheelers).
    pub classes: Vec<String>,
    /// Seconds the violation must hold before an alert starts.
    pub confirm_seconds: f64,
    /// Seconds the violation must be absent before its episode ends.
    pub clear_seconds: f64,
    /// Seconds after an episode ends during which the same zone and violation do not start a new one.
    pub cooldown_seconds: f64,
    pub schedule: Schedule,
    pub rules: ZoneRules,
    /// Line of the zone's `classes`/`stall_classes` fields, for errors found later.
    pub classes_line: usize,
}

/// A zone's type with the parameters only that type has.
#[derive(Debug, Clone)]
pub enum ZoneRules {
    /// Pavement or road where stalls are not allowed.
    NoVending(Vending),
    /// The strip in front of shops (out-of-store business).
    Storefront(Vending),
    /// Two-wheelers not allowed.
    NoParking(Parked),
    /// A marked parking area.
    BikeParking(BikeParking),
    /// A path whose clear width must stay above a minimum.
    Walkway(Walkway),
    /// Where outdoor barbecue smoke is watched for.
    SmokeWatch,
}

/// Vending zones' parameters.
#[derive(Debug, Clone)]
pub struct Vending {
    /// Seconds a person must stay (stationary) before they count.
    pub dwell_seconds: f64,
    /// Objects that indicate a stall or goods.
    pub stall_classes: Vec<String>,
    /// Use the static-foreground cue (goods no detector class shows).
    pub static_foreground: bool,
}

/// Seconds a two-wheeler must be stationary to count as parked (every parking zone).
#[derive(Debug, Clone)]
pub struct Parked {
    pub parked_seconds: f64,
}

/// A marked parking area's limits (at least one is given).
#[derive(Debug, Clone)]
pub struct BikeParking {
    pub parked: Parked,
    pub capacity: Option<u32>,
    /// Marked bays: a bike parked outside all of them is out of order.
    pub stalls: Vec<Polygon>,
    /// Maximum spread (standard deviation) of parked bikes' box aspect ratios (w/h) before the
    /// area counts as disordered.
    pub max_orientation_spread: Option<f64>,
}

/// A walkway's minimum clear width.
#[derive(Debug, Clone)]
pub struct Walkway {
    pub parked: Parked,
    pub min_clear_width_m: f64,
}

impl Zone {
    pub fn zone_type(&self) -> ZoneType {
        match &self.rules {
            ZoneRules::NoVending(_) => ZoneType::NoVending,
            ZoneRules::Storefront(_) => ZoneType::Storefront,
            ZoneRules::NoParking(_) => ZoneType::NoParking,
            ZoneRules::BikeParking(_) => ZoneType::BikeParking,
            ZoneRules::Walkway(_) => ZoneType::Walkway,
            ZoneRules::SmokeWatch => ZoneType::SmokeWatch,
        }
    }

    /// A vending zone's parameters.
    pub fn vending(&self) -> Option<&Vending> {
        match &self.rules {
            ZoneRules::NoVending(v) | ZoneRules::Storefront(v) => Some(v),
            _ => None,
        }
    }

    /// A parking zone's parked time.
    pub fn parked(&self) -> Option<&Parked> {
        match &self.rules {
            ZoneRules::NoParking(p) => Some(p),
            ZoneRules::BikeParking(b) => Some(&b.parked),
            ZoneRules::Walkway(w) => Some(&w.parked),
            _ => None,
        }
    }

    /// Whether the zone uses the static-foreground cue.
    pub fn static_foreground(&self) -> bool {
        self.vending().is_some_and(|v| v.static_foreground)
    }
}

#[derive(Debug, Clone)]
pub struct GroundPlane {
    pub homography: Homography,
    pub pairs: Vec<(Point, Point)>,
    /// RMS distance of the mapped image points from their ground points, metres.
    pub reprojection_rms_m: f64,
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
    /// The camera's local time zone (`timezone`: an offset or a name; UTC when not given).
    pub time_zone: TimeZone,
    pub grid_cell: String,
    /// Latitude, longitude.
    pub gps: Option<[f64; 2]>,
    pub ground: Option<GroundPlane>,
    /// The reference view (image or video) and, for a video, the media time of the frame.
    pub reference_frame: Option<(PathBuf, f64)>,
    pub dispatch: DispatchTable,
    pub zones: Vec<Zone>,
}

/// The COCO classes that stalls and goods show.
pub const DEFAULT_STALL_CLASSES: &[&str] = &[
    "umbrella",
    "dining table",
    "chair",
    "bench",
    "suitcase",
    "handbag",
    "backpack",
    "bottle",
    "bowl",
    "cup",
    "potted plant",
    "truck",
    "refrigerator",
    "oven",
    "microwave",
];

/// Builder of errors at a span of the file.
struct At<'a> {
    path: &'a Path,
    text: &'a str,
}

impl At<'_> {
    fn err(&self, span: Range<usize>, msg: impl Into<String>) -> Error {
        Error::config(self.path, Some(line_of(self.text, span.start)), msg)
    }

    fn positive(
        &self,
        v: &Option<Spanned<f64>>,
        zone: &str,
        field: &str,
        default: f64,
    ) -> Result<f64> {
        match v {
            Some(s) if !(s.get_ref().is_finite() && (0.0..=MAX_SECONDS).contains(s.get_ref())) => {
                Err(self.err(
                    s.span(),
                    format!(
                        "zone '{zone}' field {field}: must be a number of seconds from 0 to {MAX_SECONDS} (a day)"
                    ),
                ))
            }
            Some(s) => Ok(*s.get_ref()),
            None => Ok(default),
        }
    }

    fn polygon(
        &self,
        pts: &[Pair<f32>],
        span: Range<usize>,
        zone: &str,
        field: &str,
        w: u32,
        h: u32,
    ) -> Result<Polygon> {
        if pts.len() < 3 {
            return Err(self.err(
                span,
                format!(
                    "zone '{zone}' field {field}: needs at least 3 points, has {}",
                    pts.len()
                ),
            ));
        }
        for p in pts {
            if !(0.0..=w as f32).contains(&p.0[0]) || !(0.0..=h as f32).contains(&p.0[1]) {
                return Err(self.err(
                    span,
                    format!(
                        "zone '{zone}' field {field}: point [{}, {}] is outside the {w}x{h} frame",
                        p.0[0], p.0[1]
                    ),
                ));
            }
        }
        let polygon = Polygon::new(
            pts.iter()
                .map(|p| Point {
                    x: p.0[0],
                    y: p.0[1],
                })
                .collect(),
        );
        if polygon.self_intersects() {
            return Err(self.err(
                span,
                format!("zone '{zone}' field {field}: edges cross each other"),
            ));
        }
        if polygon.area() < MIN_ZONE_PX2 {
            return Err(self.err(
                span,
                format!(
                    "zone '{zone}' field {field}: covers {:.1} px², less than {MIN_ZONE_PX2} (nothing fits in it)",
                    polygon.area()
                ),
            ));
        }
        Ok(polygon)
    }
}

impl Calibration {
    pub fn load(path: &Path) -> Result<Calibration> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Calibration> {
        let raw: RawCalibration = toml::from_str(text).map_err(|e| toml_error(path, text, e))?;
        let at = At { path, text };
        let (w, h) = (*raw.frame_width.get_ref(), *raw.frame_height.get_ref());
        if w == 0 {
            return Err(at.err(
                raw.frame_width.span(),
                "field frame_width: must be positive",
            ));
        }
        if h == 0 {
            return Err(at.err(
                raw.frame_height.span(),
                "field frame_height: must be positive",
            ));
        }
        if let Err(e) = crate::ident::check(raw.camera_id.get_ref()) {
            return Err(at.err(raw.camera_id.span(), format!("field camera_id: {e}")));
        }
        if let Err(e) = crate::ident::check(raw.site.get_ref()) {
            return Err(at.err(raw.site.span(), format!("field site: {e}")));
        }
        let time_zone = match &raw.timezone {
            Some(tz) => time::parse_zone(tz.get_ref())
                .map_err(|e| at.err(tz.span(), format!("field timezone: {e}")))?,
            None => TimeZone::UTC,
        };
        if let Some(g) = &raw.gps {
            let Pair([lat, lon]) = *g.get_ref();
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                return Err(at.err(
                    g.span(),
                    "field gps: must be [latitude, longitude] in degrees",
                ));
            }
        }
        let ground = match &raw.ground {
            None => None,
            Some(g) => {
                let pairs: Vec<(Point, Point)> = g
                    .get_ref()
                    .pairs
                    .get_ref()
                    .iter()
                    .map(|p| {
                        (
                            Point {
                                x: p.image.0[0],
                                y: p.image.0[1],
                            },
                            Point {
                                x: p.ground.0[0],
                                y: p.ground.0[1],
                            },
                        )
                    })
                    .collect();
                let span = g.get_ref().pairs.span();
                for (img, _) in &pairs {
                    if !(0.0..=w as f32).contains(&img.x) || !(0.0..=h as f32).contains(&img.y) {
                        return Err(at.err(
                            span.clone(),
                            format!("field ground.pairs: image point [{}, {}] is outside the {w}x{h} frame", img.x, img.y),
                        ));
                    }
                }
                let homography = Homography::from_pairs(&pairs)
                    .map_err(|e| at.err(span.clone(), format!("field ground.pairs: {e}")))?;
                let rms = homography.reprojection_rms(&pairs);
                let limit = g.get_ref().max_reprojection_error_m.unwrap_or(0.5);
                if rms.is_nan() || rms > limit {
                    return Err(at.err(
                        span,
                        format!("field ground.pairs: reprojection error {rms:.3} m exceeds max_reprojection_error_m {limit} m (a mistyped point?)"),
                    ));
                }
                Some(GroundPlane {
                    homography,
                    pairs,
                    reprojection_rms_m: rms,
                })
            }
        };
        let reference_frame = match &raw.reference_frame {
            Some(r) => {
                let p = path.parent().unwrap_or(Path::new(".")).join(r.get_ref());
                if !p.is_file() {
                    return Err(at.err(
                        r.span(),
                        format!("field reference_frame: no such file {}", p.display()),
                    ));
                }
                Some((p, raw.reference_at.unwrap_or(0.0).max(0.0)))
            }
            None => None,
        };
        let dispatch = match &raw.dispatch {
            None => DispatchTable::default(),
            Some(t) => DispatchTable::with_overrides(t.get_ref())
                .map_err(|e| at.err(t.span(), format!("table dispatch: {e}")))?,
        };

        let mut zones: Vec<Zone> = Vec::new();
        for z in raw.zones {
            let name = z.name.get_ref().clone();
            if zones.iter().any(|other| other.name == name) {
                return Err(at.err(
                    z.name.span(),
                    format!("field zones.name: duplicate zone name '{name}'"),
                ));
            }
            let zt = *z.zone_type.get_ref();
            let polygon = at.polygon(
                z.polygon.get_ref(),
                z.polygon.span(),
                &name,
                "polygon",
                w,
                h,
            )?;
            // Parameters that do not apply to the zone's type are mistakes, not silently ignored.
            let only = |present: bool,
                        span: Option<Range<usize>>,
                        field: &str,
                        ok: bool,
                        types: &str|
             -> Result<()> {
                if present && !ok {
                    return Err(at.err(
                        span.unwrap_or(0..0),
                        format!("zone '{name}' field {field}: applies to {types} zones only"),
                    ));
                }
                Ok(())
            };
            only(
                z.stall_classes.is_some(),
                z.stall_classes.as_ref().map(|s| s.span()),
                "stall_classes",
                zt.is_vending(),
                "no_vending/storefront",
            )?;
            only(
                z.capacity.is_some(),
                z.capacity.as_ref().map(|s| s.span()),
                "capacity",
                zt == ZoneType::BikeParking,
                "bike_parking",
            )?;
            only(
                z.stalls.is_some(),
                z.stalls.as_ref().map(|s| s.span()),
                "stalls",
                zt == ZoneType::BikeParking,
                "bike_parking",
            )?;
            only(
                z.max_orientation_spread.is_some(),
                z.max_orientation_spread.as_ref().map(|s| s.span()),
                "max_orientation_spread",
                zt == ZoneType::BikeParking,
                "bike_parking",
            )?;
            only(
                z.min_clear_width_m.is_some(),
                z.min_clear_width_m.as_ref().map(|s| s.span()),
                "min_clear_width_m",
                zt == ZoneType::Walkway,
                "walkway",
            )?;
            only(
                z.parked_seconds.is_some(),
                z.parked_seconds.as_ref().map(|s| s.span()),
                "parked_seconds",
                zt.is_parking(),
                "no_parking/bike_parking/walkway",
            )?;
            only(
                z.static_foreground.is_some(),
                z.static_foreground.as_ref().map(|s| s.span()),
                "static_foreground",
                zt.is_vending(),
                "no_vending/storefront",
            )?;
            if zt == ZoneType::BikeParking
                && z.capacity.is_none()
                && z.stalls.is_none()
                && z.max_orientation_spread.is_none()
            {
                return Err(at.err(
                    z.zone_type.span(),
                    format!("zone '{name}': a bike_parking zone needs capacity, stalls or max_orientation_spread"),
                ));
            }
            let min_clear_width_m = match &z.min_clear_width_m {
                Some(v) if !(v.get_ref().is_finite() && *v.get_ref() > 0.0) => {
                    return Err(at.err(
                        v.span(),
                        format!("zone '{name}' field min_clear_width_m: must be positive"),
                    ));
                }
                Some(v) => Some(*v.get_ref()),
                None if zt == ZoneType::Walkway => {
                    return Err(at.err(
                        z.zone_type.span(),
                        format!("zone '{name}': a walkway zone needs min_clear_width_m"),
                    ));
                }
                None => None,
            };
            if zt == ZoneType::Walkway && ground.is_none() {
                return Err(at.err(
                    z.zone_type.span(),
                    format!("zone '{name}': a walkway's clear width is measured on the ground: the file needs a [ground] table"),
                ));
            }
            let mut stalls = Vec::new();
            if let Some(s) = &z.stalls {
                for (i, pts) in s.get_ref().iter().enumerate() {
                    stalls.push(at.polygon(pts, s.span(), &name, &format!("stalls[{i}]"), w, h)?);
                }
            }
            let schedule = match &z.schedule {
                None => Schedule::default(),
                Some(s) => {
                    let parse = |list: &[String]| -> Result<Vec<Window>> {
                        list.iter()
                            .map(|t| {
                                Window::parse(t).map_err(|e| {
                                    at.err(s.span(), format!("zone '{name}' field schedule: {e}"))
                                })
                            })
                            .collect()
                    };
                    let sched = Schedule {
                        active: parse(&s.get_ref().active)?,
                        exempt: parse(&s.get_ref().exempt)?,
                    };
                    if let Some(e) = sched.overlap_error() {
                        return Err(at.err(s.span(), format!("zone '{name}' field schedule: {e}")));
                    }
                    sched
                }
            };
            let (dwell_default, confirm_default) = match zt {
                ZoneType::NoVending | ZoneType::Storefront => (60.0, 30.0),
                ZoneType::SmokeWatch => (0.0, 10.0),
                _ => (0.0, 10.0),
            };
            let classes_line = line_of(
                text,
                z.classes
                    .as_ref()
                    .map(|c| c.span().start)
                    .or(z.stall_classes.as_ref().map(|c| c.span().start))
                    .unwrap_or(z.name.span().start),
            );
            let default_classes: Vec<String> = match zt {
                ZoneType::NoVending | ZoneType::Storefront => {
                    vec![CocoClass::Person.as_str().into()]
                }
                ZoneType::NoParking | ZoneType::BikeParking | ZoneType::Walkway => {
                    TWO_WHEELERS.iter().map(|c| c.as_str().into()).collect()
                }
                ZoneType::SmokeWatch => vec![],
            };
            let dwell_seconds =
                at.positive(&z.dwell_seconds, &name, "dwell_seconds", dwell_default)?;
            let parked = Parked {
                parked_seconds: at.positive(&z.parked_seconds, &name, "parked_seconds", 30.0)?,
            };
            let vending = || Vending {
                dwell_seconds,
                stall_classes: z
                    .stall_classes
                    .clone()
                    .map(|c| c.into_inner())
                    .unwrap_or_else(|| {
                        DEFAULT_STALL_CLASSES
                            .iter()
                            .map(|s| s.to_string())
                            .collect()
                    }),
                static_foreground: z
                    .static_foreground
                    .clone()
                    .map(|s| s.into_inner())
                    .unwrap_or(true),
            };
            let rules = match zt {
                ZoneType::NoVending => ZoneRules::NoVending(vending()),
                ZoneType::Storefront => ZoneRules::Storefront(vending()),
                ZoneType::NoParking => ZoneRules::NoParking(parked),
                ZoneType::BikeParking => ZoneRules::BikeParking(BikeParking {
                    parked,
                    capacity: z.capacity.clone().map(|c| c.into_inner()),
                    stalls,
                    max_orientation_spread: z
                        .max_orientation_spread
                        .clone()
                        .map(|c| c.into_inner()),
                }),
                ZoneType::Walkway => ZoneRules::Walkway(Walkway {
                    parked,
                    // Required for a walkway (checked above).
                    min_clear_width_m: min_clear_width_m.unwrap_or_default(),
                }),
                ZoneType::SmokeWatch => ZoneRules::SmokeWatch,
            };
            zones.push(Zone {
                ground: ground
                    .as_ref()
                    .and_then(|g| g.homography.apply_polygon(&polygon)),
                name: name.clone(),
                polygon,
                classes: z.classes.map(|c| c.into_inner()).unwrap_or(default_classes),
                confirm_seconds: at.positive(
                    &z.confirm_seconds,
                    &name,
                    "confirm_seconds",
                    confirm_default,
                )?,
                clear_seconds: at.positive(&z.clear_seconds, &name, "clear_seconds", 10.0)?,
                cooldown_seconds: at.positive(
                    &z.cooldown_seconds,
                    &name,
                    "cooldown_seconds",
                    60.0,
                )?,
                schedule,
                rules,
                classes_line,
            });
        }
        Ok(Calibration {
            path: path.to_path_buf(),
            sha256: crate::digest::sha256_bytes(text.as_bytes()),
            camera_id: raw.camera_id.into_inner(),
            site: raw.site.into_inner(),
            description: raw.description,
            frame_width: w,
            frame_height: h,
            time_zone,
            grid_cell: raw.grid_cell.unwrap_or_default(),
            gps: raw.gps.map(|g| g.into_inner().0),
            ground,
            reference_frame,
            dispatch,
            zones,
        })
    }

    /// Checks that every class a zone names exists in the model's class list.
    pub fn check_classes(&self, classes: &[String]) -> Result<()> {
        for z in &self.zones {
            for c in z.classes.iter().chain(if let Some(v) = z.vending() {
                v.stall_classes.iter()
            } else {
                [].iter()
            }) {
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
mod tests;
