//! Image cues that need no detector class: static foreground (objects left in a zone: goods, a
//! stall, a cart) and smoke. They keep background models across frames (OpenCV's MOG2) and hand
//! plain values (`StaticRegions`, `SmokeMeasure`) to the rules.
//!
//! All work is done on a downscaled copy of the frame (`WORK_WIDTH` pixels wide), and every rate
//! is per second of media time, so results do not depend on how many frames are analysed.
//!
//! **Static foreground.** A region that differs from the long-term background, is not moving
//! (the short-term model has absorbed it), is not covered by a tracked person or vehicle, whose
//! change stops at its outline (light, haze and the ghost of someone who stood there spread
//! beyond it), is not whitened like smoke over the ground and whose outline is not the
//! background's (a ghost of something that left) is a *candidate*; a candidate seen
//! in the same place for `HOLD_CONFIRM_S` becomes a *held object* with its own appearance (the
//! grey patch) and the background it covers. From then on the held object, not the background
//! model, decides: it is present while the frame there looks more like the object than like the
//! old background (after a global gain for changes of light), kept while a passer-by covers it,
//! and removed once it has looked like the old background for `REMOVE_S`. So a stall stays
//! present for hours, whatever the long-term model absorbs, and its episode ends within the
//! zone's clear time of its removal. Horizon: an object that is already there when the camera
//! starts is background; an object whose colour and texture equal the ground's is not seen.
//!
//! **Smoke.** Smoke is a translucent, changing layer: pixels that differ from the long-term
//! background, whose colour is smoke-like (grey or white, desaturated against the background,
//! or lit warm by a fire below) and not saturated glare, outside tracked people and vehicles.
//! Brightening over a dark background and lost texture over a bright one both count. The layer
//! must be *dynamic* — a good share of its pixels change over half a second, as a rising,
//! drifting or spreading plume does, and a parked white van does not — and local: a change that
//! covers the whole view (fog, a cloud) is not smoke.

use std::collections::VecDeque;

use opencv::core::{self, Mat, Point as CvPoint, Rect, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;
use opencv::video;

use crate::calibration::{Calibration, ZoneType};
use crate::error::Result;
use crate::geometry::{BBox, Point, Polygon};
use crate::rules::{SmokeMeasure, StaticRegions};

pub const WORK_WIDTH: i32 = 320;

/// Time constants of the background models, seconds: the short model absorbs a still object in
/// about 0.1 x its constant (~0.5 s), the long one in ~30 s. MOG2's history is irrelevant: the
/// learning rate is given per frame as dt / tau.
const SHORT_TAU_S: f64 = 5.0;
const LONG_TAU_S: f64 = 300.0;
/// Both models learn as a running mean for this long after the start.
const WARM_UP_S: f64 = 5.0;
/// Warm-up frames are kept for the long model's rebuild at most this often, seconds.
const WARM_FRAME_S: f64 = 0.25;
/// While the long model is rebuilt, a warm-up pixel this far (grey levels, any channel) from the
/// warm-up's median is a passer-by, and the median is learnt in its place.
const WARM_OUTLIER: u8 = 20;
/// Gaussians per pixel of each background model (OpenCV's default is 5). Each costs 5 floats
/// per pixel of the work image (weight, variance, three means): at 320x240 the two models take
/// 9.2 MB per camera with 3, against 15.4 MB with 5. Three are the ground, a shadow or a lit
/// version of it, and whatever passes.
const MIXTURES: i32 = 3;
/// A static candidate seen this long in one place becomes a held object.
pub const HOLD_CONFIRM_S: f64 = 1.0;
/// A held object that looks like the background it covered for this long has been removed.
pub const REMOVE_S: f64 = 1.5;
/// A held object's appearance follows slow changes of light with this time constant, seconds.
const TEMPLATE_TAU_S: f64 = 60.0;
/// A held object more than this share covered by moving pixels or tracked people is occluded.
const OCCLUDED_SHARE: f64 = 0.3;
/// At most this many held objects per camera.
const MAX_HELD: usize = 32;
/// A static candidate needs this much more edge energy (relative to brightness) along its
/// outline in the frame than in the background: a ghost has its outline in the background.
/// (Measured on the scenario bench: at -0.03, goods set down on the kerb line start 18 s
/// sooner, but five ghosts of people who stood at the forecourt's edge become goods.)
const OUTLINE_MARGIN: f64 = 0.03;
/// A static candidate with more than this share of hazy pixels is smoke or fog, not goods.
const HAZE_SHARE: f64 = 0.3;
/// A static candidate whose change against the background carries on past its outline at more
/// than this share of its strength inside is light, haze or a ghost, not an object (measured on
/// the scenario bench: goods 0.10-0.68 when taken; a lamp's glow and ghosts at a sign 1.04-2.5).
const BEYOND_MAX: f64 = 0.85;
/// A static candidate whose surroundings are this much smoke-lit (brightened against the
/// background and whitened or warm) is a still part of a smoke cloud, not goods. On the bench:
/// every goods candidate 0.01-0.14; smoke haze over the forecourt held as goods 0.33-1.0.
const SMOKE_AROUND_MAX: f64 = 0.25;
/// Smallest static candidate, work pixels (about 0.1 % of the frame).
const MIN_CANDIDATE_PX: f64 = 60.0;
/// Smoke-like colour: low saturation, not dark (HSV, OpenCV scales 0-255).
const SMOKE_MAX_SAT: f64 = 60.0;
const SMOKE_MIN_VAL: f64 = 90.0;
/// Glare: saturated brightness is a lamp or headlight, not smoke.
const GLARE_VAL: f64 = 250.0;
/// Smoke's layer is compared with the layer this many seconds earlier.
const SMOKE_LAG_S: f64 = 0.5;
/// A layer pixel changed by more than this (grey levels) over `SMOKE_LAG_S` is dynamic.
const SMOKE_CHANGE: f64 = 8.0;
/// Share of smoke-candidate pixels that must be dynamic, averaged over `SMOKE_WINDOW_S`.
const SMOKE_DYNAMIC: f64 = 0.03;
const SMOKE_WINDOW_S: f64 = 3.0;
/// A smoke candidate covering this share of the view outside the smoke zones is global (fog).
const GLOBAL_SHARE: f64 = 0.25;

struct ZoneMask {
    zone: usize,
    kind: ZoneType,
    mask: Mat,
    /// The zone and 20 work pixels around it: where the outline of a static region that
    /// reaches into the zone is looked at.
    near: Mat,
    pixels: f64,
}

/// What a frame's cues share, each part computed at most once per frame and only when a cue
/// needs it: the long-term background image and its grey version; the edge energy of the frame
/// and of the background (the static cue's outline test); the HSV planes of the frame and of the
/// background (the smoke cue, and the static cue's smoke-lit surroundings).
struct Derived {
    bg: Mat,
    bg_gray: Mat,
    /// Edge energy of the frame and of the background.
    energy: Option<(Mat, Mat)>,
    /// HSV planes of the frame and of the background.
    hsv: Option<(Vector<Mat>, Vector<Mat>)>,
}

impl Derived {
    fn of(long: &mut core::Ptr<video::BackgroundSubtractorMOG2>) -> Result<Derived> {
        let mut bg = Mat::default();
        long.get_background_image(&mut bg)?;
        let mut bg_gray = Mat::default();
        imgproc::cvt_color_def(&bg, &mut bg_gray, imgproc::COLOR_BGR2GRAY)?;
        Ok(Derived {
            bg,
            bg_gray,
            energy: None,
            hsv: None,
        })
    }

    fn ensure_energy(&mut self, gray: &Mat) -> Result<()> {
        if self.energy.is_none() {
            self.energy = Some((energy(gray)?, energy(&self.bg_gray)?));
        }
        Ok(())
    }

    fn ensure_hsv(&mut self, small: &Mat) -> Result<()> {
        if self.hsv.is_none() {
            self.hsv = Some((hsv_planes(small)?, hsv_planes(&self.bg)?));
        }
        Ok(())
    }
}

/// A static candidate: a region seen static for a while, not yet held.
struct Candidate {
    zone: usize,
    rect: Rect,
    first: f64,
    last: f64,
    /// The grey levels over `rect` when first seen: a candidate whose look changes (someone
    /// walking slowly, seen at a low analysis rate) starts again.
    look: Mat,
    look_rect: Rect,
}

/// Largest per-frame learning rate of the short-term model: at low analysis rates it still needs
/// about two frames to absorb a change, so that a walker is "moving" at 1 frame per second.
const SHORT_MAX_RATE: f64 = 0.05;
/// Mean grey-level change over a candidate's overlap with its first look that restarts it.
const LOOK_CHANGE: f64 = 12.0;

/// An object left in a zone, with its own appearance (grey levels over its mask) and the
/// background it covers.
struct Held {
    zone: usize,
    rect: Rect,
    mask: Vec<bool>,
    object: Vec<f32>,
    back: Vec<f32>,
    /// Mean grey level of the frame when the object was taken (for the global gain).
    frame_mean: f64,
    outline: Polygon,
    area_px: f32,
    absent_since: Option<f64>,
    updated: f64,
}

/// Where a held object was removed, until when: a static candidate there that looks like the
/// old background is the long-term model's ghost of the object, not a new object.
struct Ghost {
    was: Held,
    until: f64,
}

/// Frames of the last second with their times, to compare each frame with the one about
/// `SMOKE_LAG_S` earlier.
#[derive(Default)]
struct Lagged(VecDeque<(f64, Mat)>);

impl Lagged {
    /// Keeps `m` (taken at `t`) and returns the newest kept frame at least 0.75 x `SMOKE_LAG_S`
    /// older, if there is one.
    fn push(&mut self, t: f64, m: &Mat) -> Option<Mat> {
        let earlier = self
            .0
            .iter()
            .rfind(|(at, _)| t - at >= SMOKE_LAG_S * 0.75)
            .map(|(_, m)| m.clone());
        self.0.push_back((t, m.clone()));
        while self
            .0
            .front()
            .is_some_and(|(at, _)| t - at > SMOKE_LAG_S * 2.0)
        {
            self.0.pop_front();
        }
        earlier
    }
}

pub struct Cues {
    scale: f64,
    size: Size,
    short: core::Ptr<video::BackgroundSubtractorMOG2>,
    long: core::Ptr<video::BackgroundSubtractorMOG2>,
    long_fg: Mat,
    zones: Vec<ZoneMask>,
    small: Mat,
    gray: Mat,
    /// Smoke layers (|frame - background|) of the last second, with their times.
    layers: Lagged,
    /// Grey frames of the last second, with their times (what keeps changing is not goods).
    grays: Lagged,
    history: Vec<VecDeque<(f64, f64)>>,
    candidates: Vec<Candidate>,
    held: Vec<Held>,
    ghosts: Vec<Ghost>,
    /// Frames of the warm-up (one per `WARM_FRAME_S` at most), for rebuilding the long model
    /// without the passers-by when it ends; empty afterwards.
    warm_frames: Vec<Mat>,
    start: Option<f64>,
    last_t: Option<f64>,
}

/// The grey levels of `img` over `rect` (row-major).
fn patch(img: &Mat, rect: Rect) -> Result<Vec<f32>> {
    let roi = Mat::roi(img, rect)?;
    let mut out = Vec::with_capacity((rect.width * rect.height) as usize);
    for y in 0..rect.height {
        out.extend(roi.at_row::<u8>(y)?.iter().map(|&v| v as f32));
    }
    Ok(out)
}

/// A region (`mask` over `rect`) and the band from 1 to `outer` work pixels around it, both as
/// masks of `area`: the rect grown by `outer` + 2 and clipped to the frame (`size`).
fn band_around(size: Size, rect: Rect, mask: &[bool], outer: i32) -> Result<(Rect, Mat, Mat)> {
    let margin = outer + 2;
    let x0 = (rect.x - margin).max(0);
    let y0 = (rect.y - margin).max(0);
    let area = Rect::new(
        x0,
        y0,
        (rect.x + rect.width + margin).min(size.width) - x0,
        (rect.y + rect.height + margin).min(size.height) - y0,
    );
    let mut inner = Mat::new_size_with_default(area.size(), core::CV_8UC1, Scalar::all(0.0))?;
    for y in 0..rect.height {
        let row = inner.at_row_mut::<u8>(rect.y - y0 + y)?;
        for x in 0..rect.width {
            if mask[(y * rect.width + x) as usize] {
                row[(rect.x - x0 + x) as usize] = 255;
            }
        }
    }
    let mut band = Mat::default();
    core::bitwise_xor_def(
        &morph(&inner, imgproc::MORPH_DILATE, 2 * outer + 1)?,
        &morph(&inner, imgproc::MORPH_DILATE, 3)?,
        &mut band,
    )?;
    Ok((area, inner, band))
}

/// How far a region's change against the background carries on past its edge: the mean
/// |frame - background| in a band 1-4 work pixels outside the region (inside the zone, where
/// nothing moves) over the mean inside it. An object's change stops at its outline (near 0);
/// light and haze fade out over many pixels, and the ghost of someone who stood there is larger
/// than what it reveals (near 1 or above).
fn change_beyond(
    gray: &Mat,
    bg_gray: &Mat,
    busy: &Mat,
    zone: &Mat,
    rect: Rect,
    mask: &[bool],
) -> Result<f64> {
    let (area, inner, band) = band_around(gray.size()?, rect, mask, 4)?;
    // Only the band inside the zone (where the candidate was cut by the zone's edge, the object
    // may go on past it) and where nothing moves.
    let mut in_zone = Mat::default();
    core::bitwise_and_def(&band, &Mat::roi(zone, area)?, &mut in_zone)?;
    let mut busy_band = Mat::default();
    core::bitwise_and_def(&in_zone, &Mat::roi(busy, area)?, &mut busy_band)?;
    let mut free_band = Mat::default();
    core::bitwise_xor_def(&in_zone, &busy_band, &mut free_band)?;
    let mut diff = Mat::default();
    core::absdiff(&Mat::roi(gray, area)?, &Mat::roi(bg_gray, area)?, &mut diff)?;
    let d_in = core::mean(&diff, &inner)?[0];
    if core::count_non_zero(&free_band)? < 10 || d_in <= 0.0 {
        return Ok(0.0);
    }
    Ok(core::mean(&diff, &free_band)?[0] / d_in)
}

/// Per-pixel, per-channel median of `frames` (8-bit, three channels, the size of `first`,
/// which is one of them).
fn median_image(first: &Mat, frames: &[Mat]) -> Result<Mat> {
    let mut out = first.try_clone()?;
    let mut values = Vec::with_capacity(frames.len());
    for y in 0..first.rows() {
        let rows: Vec<&[core::Vec3b]> = frames
            .iter()
            .map(|f| f.at_row::<core::Vec3b>(y))
            .collect::<std::result::Result<_, _>>()?;
        for (x, d) in out.at_row_mut::<core::Vec3b>(y)?.iter_mut().enumerate() {
            for k in 0..3 {
                values.clear();
                values.extend(rows.iter().map(|row| row[x].0[k]));
                let mid = values.len() / 2;
                d.0[k] = *values.select_nth_unstable(mid).1;
            }
        }
    }
    Ok(out)
}

/// `frame` with every pixel that is more than `limit` from `median` in any channel taken from
/// `median`.
fn replace_outliers(frame: &Mat, median: &Mat, limit: u8) -> Result<Mat> {
    let mut diff = Mat::default();
    core::absdiff(frame, median, &mut diff)?;
    let mut planes = Vector::<Mat>::new();
    core::split(&diff, &mut planes)?;
    let mut far = Mat::default();
    core::max(&planes.get(0)?, &planes.get(1)?, &mut far)?;
    let mut far3 = Mat::default();
    core::max(&far, &planes.get(2)?, &mut far3)?;
    let mut mask = Mat::default();
    imgproc::threshold(
        &far3,
        &mut mask,
        limit as f64,
        255.0,
        imgproc::THRESH_BINARY,
    )?;
    let mut out = frame.try_clone()?;
    median.copy_to_masked(&mut out, &mask)?;
    Ok(out)
}

/// Hue, saturation and value planes of a BGR image.
fn hsv_planes(img: &Mat) -> Result<Vector<Mat>> {
    let mut hsv = Mat::default();
    imgproc::cvt_color_def(img, &mut hsv, imgproc::COLOR_BGR2HSV)?;
    let mut planes = Vector::<Mat>::new();
    core::split(&hsv, &mut planes)?;
    Ok(planes)
}

/// Pixels lit as smoke lights the ground: changed against the long-term model and brighter than
/// the background, and whitened (less saturated) or warm (lit by a fire under it). A shadow is
/// darker; an object's own colour stops at its outline.
fn smoke_lit(cur: &Vector<Mat>, back: &Vector<Mat>, long_fg: &Mat) -> Result<Mat> {
    let (h, s, v, s_bg, v_bg) = (
        cur.get(0)?,
        cur.get(1)?,
        cur.get(2)?,
        back.get(1)?,
        back.get(2)?,
    );
    let mut v_bg8 = Mat::default();
    v_bg.convert_to(&mut v_bg8, -1, 1.0, 8.0)?;
    let mut brighter = Mat::default();
    core::compare(&v, &v_bg8, &mut brighter, core::CMP_GT)?;
    let mut s_lim = Mat::default();
    s_bg.convert_to(&mut s_lim, -1, 0.85, 2.0)?;
    let mut whitened = Mat::default();
    core::compare(&s, &s_lim, &mut whitened, core::CMP_LT)?;
    let mut warm = Mat::default();
    core::compare(&h, &Scalar::all(30.0), &mut warm, core::CMP_LE)?;
    let mut lit = Mat::default();
    core::bitwise_or_def(&whitened, &warm, &mut lit)?;
    let mut out = Mat::default();
    core::bitwise_and_def(&lit, &brighter, &mut out)?;
    let mut changed = Mat::default();
    core::bitwise_and_def(&out, long_fg, &mut changed)?;
    Ok(changed)
}

/// Share of a band 1-8 work pixels around a region that is smoke-lit (anywhere in the view,
/// moving or not: drifting smoke moves).
fn smoke_around(lit: &Mat, rect: Rect, mask: &[bool]) -> Result<f64> {
    let (area, _, band) = band_around(lit.size()?, rect, mask, 8)?;
    let n = core::count_non_zero(&band)?;
    if n == 0 {
        return Ok(0.0);
    }
    let mut hit = Mat::default();
    core::bitwise_and_def(&band, &Mat::roi(lit, area)?, &mut hit)?;
    Ok(core::count_non_zero(&hit)? as f64 / n as f64)
}

/// Mean absolute difference between `cur` and `gain * reference` over `mask`.
fn mean_diff(cur: &[f32], reference: &[f32], mask: &[bool], gain: f32) -> f64 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for ((c, r), m) in cur.iter().zip(reference).zip(mask) {
        if *m {
            sum += (c - gain * r).abs() as f64;
            n += 1;
        }
    }
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// The contour among `whole` (the static regions of the whole view) that holds the candidate
/// contour `part` (a region clipped to a zone).
fn region_of(
    whole: &Vector<Vector<CvPoint>>,
    part: &Vector<CvPoint>,
) -> Result<Option<Vector<CvPoint>>> {
    let Some(p) = part.iter().next() else {
        return Ok(None);
    };
    let p = core::Point2f::new(p.x as f32, p.y as f32);
    for c in whole.iter() {
        if imgproc::point_polygon_test(&c, p, false)? >= 0.0 {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// A band of 5 work pixels along a contour (its outline), as a mask of the whole work frame.
fn outline_ring(contour: &Vector<CvPoint>, size: Size) -> Result<Mat> {
    let mut m = Mat::new_size_with_default(size, core::CV_8UC1, Scalar::all(0.0))?;
    let mut one = Vector::<Vector<CvPoint>>::new();
    one.push(contour.clone());
    imgproc::draw_contours(
        &mut m,
        &one,
        -1,
        Scalar::all(255.0),
        5,
        imgproc::LINE_8,
        &core::no_array(),
        i32::MAX,
        CvPoint::new(0, 0),
    )?;
    Ok(m)
}

/// Share of a region's pixels that are desaturated and brightened against the background, as
/// smoke or fog over the ground is.
fn haze_share(cur: &Mat, bg: &Mat, rect: Rect, mask: &[bool]) -> Result<f64> {
    let hsv = |img: &Mat| -> Result<Vec<[u8; 3]>> {
        let mut out = Mat::default();
        imgproc::cvt_color_def(&Mat::roi(img, rect)?, &mut out, imgproc::COLOR_BGR2HSV)?;
        let mut px = Vec::with_capacity((rect.width * rect.height) as usize);
        for y in 0..rect.height {
            px.extend(out.at_row::<core::Vec3b>(y)?.iter().map(|v| v.0));
        }
        Ok(px)
    };
    let (c, b) = (hsv(cur)?, hsv(bg)?);
    let (mut hazy, mut n) = (0usize, 0usize);
    for ((c, b), m) in c.iter().zip(&b).zip(mask) {
        if *m {
            n += 1;
            if (c[1] as f64) < b[1] as f64 * 0.85 + 2.0 && c[2] as f64 > b[2] as f64 + 8.0 {
                hazy += 1;
            }
        }
    }
    Ok(if n == 0 { 0.0 } else { hazy as f64 / n as f64 })
}

fn rect_iou(a: Rect, b: Rect) -> f64 {
    let i = a & b;
    let inter = (i.width.max(0) * i.height.max(0)) as f64;
    let union = (a.area() + b.area()) as f64 - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// Share of `rect`'s masked pixels that are set in `img` (u8).
fn covered_share(img: &Mat, rect: Rect, mask: &[bool]) -> Result<f64> {
    let p = patch(img, rect)?;
    let (mut on, mut n) = (0usize, 0usize);
    for (v, m) in p.iter().zip(mask) {
        if *m {
            n += 1;
            if *v > 0.0 {
                on += 1;
            }
        }
    }
    Ok(if n == 0 { 0.0 } else { on as f64 / n as f64 })
}

fn fg_binary(fg: &Mat) -> Result<Mat> {
    // MOG2 marks shadows 127, foreground 255.
    let mut out = Mat::default();
    imgproc::threshold(fg, &mut out, 200.0, 255.0, imgproc::THRESH_BINARY)?;
    Ok(out)
}

/// Local edge energy: |Laplacian| averaged over 7x7.
fn energy(g: &Mat) -> Result<Mat> {
    let mut lap = Mat::default();
    imgproc::laplacian(g, &mut lap, core::CV_16S, 3, 1.0, 0.0, core::BORDER_DEFAULT)?;
    let mut abs = Mat::default();
    core::convert_scale_abs(&lap, &mut abs, 1.0, 0.0)?;
    let mut blurred = Mat::default();
    imgproc::blur_def(&abs, &mut blurred, Size::new(7, 7))?;
    Ok(blurred)
}

fn morph(src: &Mat, op: i32, k: i32) -> Result<Mat> {
    let kernel = imgproc::get_structuring_element(
        imgproc::MORPH_ELLIPSE,
        Size::new(k, k),
        CvPoint::new(-1, -1),
    )?;
    let mut out = Mat::default();
    imgproc::morphology_ex(
        src,
        &mut out,
        op,
        &kernel,
        CvPoint::new(-1, -1),
        1,
        core::BORDER_CONSTANT,
        imgproc::morphology_default_border_value()?,
    )?;
    Ok(out)
}

fn mog2() -> Result<core::Ptr<video::BackgroundSubtractorMOG2>> {
    let mut m = video::create_background_subtractor_mog2(500, 16.0, true)?;
    m.set_n_mixtures(MIXTURES)?;
    Ok(m)
}

impl Cues {
    /// `None` when the calibration has no zone that uses a cue.
    pub fn new(cal: &Calibration) -> Result<Option<Cues>> {
        let wants_static = cal.zones.iter().any(|z| z.static_foreground());
        let wants_smoke = cal
            .zones
            .iter()
            .any(|z| z.zone_type() == ZoneType::SmokeWatch);
        if !wants_static && !wants_smoke {
            return Ok(None);
        }
        let scale = WORK_WIDTH as f64 / cal.frame_width as f64;
        let size = Size::new(WORK_WIDTH, (cal.frame_height as f64 * scale).round() as i32);
        let mut zones = Vec::new();
        for (i, z) in cal.zones.iter().enumerate() {
            if !(z.zone_type() == ZoneType::SmokeWatch || z.static_foreground()) {
                continue;
            }
            let mut mask = Mat::new_size_with_default(size, core::CV_8UC1, Scalar::all(0.0))?;
            let pts: Vector<CvPoint> = z
                .polygon
                .points
                .iter()
                .map(|p| {
                    CvPoint::new(
                        (p.x as f64 * scale).round() as i32,
                        (p.y as f64 * scale).round() as i32,
                    )
                })
                .collect();
            let mut polys = Vector::<Vector<CvPoint>>::new();
            polys.push(pts);
            imgproc::fill_poly(
                &mut mask,
                &polys,
                Scalar::all(255.0),
                imgproc::LINE_8,
                0,
                CvPoint::new(0, 0),
            )?;
            let pixels = core::count_non_zero(&mask)? as f64;
            zones.push(ZoneMask {
                zone: i,
                kind: z.zone_type(),
                near: morph(&mask, imgproc::MORPH_DILATE, 41)?,
                mask,
                pixels: pixels.max(1.0),
            });
        }
        Ok(Some(Cues {
            scale,
            size,
            short: mog2()?,
            long: mog2()?,
            history: vec![VecDeque::new(); cal.zones.len()],
            zones,
            long_fg: Mat::default(),
            small: Mat::default(),
            gray: Mat::default(),
            layers: Lagged::default(),
            grays: Lagged::default(),
            candidates: Vec::new(),
            held: Vec::new(),
            ghosts: Vec::new(),
            warm_frames: Vec::new(),
            start: None,
            last_t: None,
        }))
    }

    /// Held objects (for tests and diagnostics): zone and outline in frame pixels.
    pub fn held(&self) -> Vec<(usize, Polygon)> {
        self.held
            .iter()
            .map(|h| (h.zone, h.outline.clone()))
            .collect()
    }

    fn to_work(&self, b: &BBox, grow: f64) -> Rect {
        let (w, h) = (b.width() as f64, b.height() as f64);
        Rect::new(
            ((b.x1 as f64 - grow * w / 2.0) * self.scale) as i32,
            ((b.y1 as f64 - grow * h / 4.0) * self.scale) as i32,
            (w * (1.0 + grow) * self.scale).ceil() as i32 + 1,
            (h * (1.0 + grow) * self.scale).ceil() as i32 + 1,
        )
    }

    /// Feeds one analysed frame at media time `t`. `exclude` are boxes (frame pixels) of
    /// tracked people and vehicles: they are neither goods nor smoke, even when they stand still
    /// or wear white.
    pub fn update(
        &mut self,
        t: f64,
        frame: &Mat,
        exclude: &[BBox],
    ) -> Result<(Vec<StaticRegions>, Vec<SmokeMeasure>)> {
        imgproc::resize(
            frame,
            &mut self.small,
            self.size,
            0.0,
            0.0,
            imgproc::INTER_AREA,
        )?;
        imgproc::cvt_color_def(&self.small, &mut self.gray, imgproc::COLOR_BGR2GRAY)?;
        let start = *self.start.get_or_insert(t);
        let dt = self.last_t.map_or(0.0, |l| (t - l).clamp(0.0, 5.0));
        self.last_t = Some(t);
        let elapsed = t - start;
        let warm = elapsed < WARM_UP_S;
        // Learning rates per frame from time constants in seconds; a running mean while warming up.
        let rate = |tau: f64| -> f64 {
            if warm {
                (dt / (elapsed + dt).max(1e-3)).clamp(0.0, 1.0).max(0.05)
            } else {
                (dt / tau).clamp(0.0, 1.0)
            }
        };
        let (r_short, r_long) = if dt == 0.0 {
            (1.0, 1.0)
        } else {
            (rate(SHORT_TAU_S).min(SHORT_MAX_RATE), rate(LONG_TAU_S))
        };
        let mut fg_short = Mat::default();
        opencv::video::BackgroundSubtractorMOG2Trait::apply(
            &mut self.short,
            &self.small,
            &mut fg_short,
            r_short,
        )?;
        let moving = fg_binary(&fg_short)?;
        self.apply_long(r_long)?;
        if warm {
            if self.warm_due(t) {
                self.warm_frames.push(self.small.clone());
            }
        } else if !self.warm_frames.is_empty() {
            // The running mean of the warm-up holds everyone who walked by in it (a faint
            // streak per passer-by that would last minutes at the long time constant and hide
            // or fake outlines): learn it again from the frames with passers-by replaced by
            // the warm-up's median.
            let frames = std::mem::take(&mut self.warm_frames);
            self.rebuild_long(&frames)?;
            self.apply_long(r_long)?;
        }
        // Tracked people and vehicles, in work pixels.
        let mut others = Mat::new_size_with_default(self.size, core::CV_8UC1, Scalar::all(0.0))?;
        for b in exclude {
            let r = self.to_work(b, 0.2);
            imgproc::rectangle(&mut others, r, Scalar::all(255.0), -1, imgproc::LINE_8, 0)?;
        }
        // What changed over the last half second (drifting haze, flicker): not goods.
        let reference = self.grays.push(t, &self.gray);
        let mut moving = moving;
        if let Some(r) = reference {
            let mut diff = Mat::default();
            core::absdiff(&self.gray, &r, &mut diff)?;
            let mut changed = Mat::default();
            imgproc::threshold(
                &diff,
                &mut changed,
                SMOKE_CHANGE,
                255.0,
                imgproc::THRESH_BINARY,
            )?;
            let mut both = Mat::default();
            core::bitwise_or_def(&moving, &changed, &mut both)?;
            moving = both;
        }
        let mut derived: Option<Derived> = None;
        let statics = if self.zones.iter().any(|z| z.kind.is_vending()) && !warm {
            self.statics(t, &moving, &others, &mut derived)?
        } else {
            Vec::new()
        };
        let smoke = if self.zones.iter().any(|z| z.kind == ZoneType::SmokeWatch) && dt > 0.0 {
            let mut d = match derived {
                Some(d) => d,
                None => Derived::of(&mut self.long)?,
            };
            self.smoke(t, warm, &mut d, &others)?
        } else {
            Vec::new()
        };
        Ok((statics, smoke))
    }

    /// Feeds the frame to the long model at `rate`; `long_fg` is what changed against it.
    fn apply_long(&mut self, rate: f64) -> Result<()> {
        let mut fg_long = Mat::default();
        opencv::video::BackgroundSubtractorMOG2Trait::apply(
            &mut self.long,
            &self.small,
            &mut fg_long,
            rate,
        )?;
        self.long_fg = fg_binary(&fg_long)?;
        Ok(())
    }

    /// Whether a warm-up frame is due at `t` (at most one per `WARM_FRAME_S`).
    fn warm_due(&self, t: f64) -> bool {
        let start = self.start.unwrap_or(t);
        let kept = self.warm_frames.len() as f64;
        t - start >= kept * WARM_FRAME_S
    }

    /// Learns the long model again from the warm-up's frames: first their per-pixel median,
    /// then each frame as a running mean with every pixel far from the median (a passer-by)
    /// replaced by the median, so that the model keeps the ground's real variation.
    fn rebuild_long(&mut self, frames: &[Mat]) -> Result<()> {
        let Some(first) = frames.first() else {
            return Ok(());
        };
        let median = median_image(first, frames)?;
        let mut fg = Mat::default();
        opencv::video::BackgroundSubtractorMOG2Trait::apply(&mut self.long, &median, &mut fg, 1.0)?;
        for (k, f) in frames.iter().enumerate() {
            let cleaned = replace_outliers(f, &median, WARM_OUTLIER)?;
            let rate = (1.0 / (k as f64 + 2.0)).max(0.05);
            opencv::video::BackgroundSubtractorMOG2Trait::apply(
                &mut self.long,
                &cleaned,
                &mut fg,
                rate,
            )?;
        }
        Ok(())
    }

    /// Static candidates → held objects → the zones' static regions.
    fn statics(
        &mut self,
        t: f64,
        moving: &Mat,
        others: &Mat,
        derived: &mut Option<Derived>,
    ) -> Result<Vec<StaticRegions>> {
        let frame_mean = core::mean_def(&self.gray)?[0].max(1.0);
        let mut busy = Mat::default();
        core::bitwise_or_def(moving, others, &mut busy)?;
        // 1. Held objects: still there, hidden, or gone?
        let mut kept = Vec::new();
        for mut h in std::mem::take(&mut self.held) {
            let covered = covered_share(&busy, h.rect, &h.mask)?;
            let occluded = covered > OCCLUDED_SHARE;
            tracing::trace!(
                t,
                zone = h.zone,
                x = h.rect.x,
                y = h.rect.y,
                w = h.rect.width,
                h = h.rect.height,
                covered,
                "held object"
            );
            if occluded {
                kept.push(h);
                continue;
            }
            let cur = patch(&self.gray, h.rect)?;
            let gain = (frame_mean / h.frame_mean) as f32;
            let d_obj = mean_diff(&cur, &h.object, &h.mask, gain);
            let d_back = mean_diff(&cur, &h.back, &h.mask, gain);
            tracing::trace!(t, zone = h.zone, d_obj, d_back, "held object judged");
            if d_obj <= d_back {
                h.absent_since = None;
                // Follow slow changes of light.
                let k = ((t - h.updated) / TEMPLATE_TAU_S).clamp(0.0, 1.0) as f32;
                for ((o, c), m) in h.object.iter_mut().zip(&cur).zip(&h.mask) {
                    if *m {
                        *o += k * (c / gain - *o);
                    }
                }
                h.updated = t;
                kept.push(h);
            } else {
                let since = *h.absent_since.get_or_insert(t);
                if t - since >= REMOVE_S {
                    tracing::debug!(t, zone = h.zone, "held object removed");
                    self.ghosts.push(Ghost {
                        was: h,
                        until: t + LONG_TAU_S * 0.4,
                    });
                } else {
                    kept.push(h);
                }
            }
        }
        self.held = kept;
        self.ghosts.retain(|g| g.until > t);
        // 2. Static candidates: changed against the long-term model, not moving, not people or
        //    vehicles, with edges of their own.
        let mut not_busy = Mat::default();
        core::bitwise_not_def(&busy, &mut not_busy)?;
        let mut stat = Mat::default();
        core::bitwise_and_def(&self.long_fg, &not_busy, &mut stat)?;
        let stat = morph(
            &morph(&stat, imgproc::MORPH_OPEN, 3)?,
            imgproc::MORPH_CLOSE,
            5,
        )?;
        let mut seen: Vec<(usize, Rect, Vec<bool>)> = Vec::new();
        let mut lit: Option<Mat> = None;
        let mut whole: Option<Vector<Vector<CvPoint>>> = None;
        for z in self.zones.iter().filter(|z| z.kind.is_vending()) {
            let mut inside = Mat::default();
            core::bitwise_and_def(&stat, &z.mask, &mut inside)?;
            if (core::count_non_zero(&inside)? as f64) < MIN_CANDIDATE_PX {
                continue;
            }
            let mut contours = Vector::<Vector<CvPoint>>::new();
            imgproc::find_contours_def(
                &inside,
                &mut contours,
                imgproc::RETR_EXTERNAL,
                imgproc::CHAIN_APPROX_SIMPLE,
            )?;
            for c in contours.iter() {
                if imgproc::contour_area_def(&c)? < MIN_CANDIDATE_PX {
                    continue;
                }
                let r = imgproc::bounding_rect(&c)?;
                let mut m = Mat::new_size_with_default(
                    Size::new(r.width, r.height),
                    core::CV_8UC1,
                    Scalar::all(0.0),
                )?;
                let mut one = Vector::<Vector<CvPoint>>::new();
                one.push(
                    c.iter()
                        .map(|p| CvPoint::new(p.x - r.x, p.y - r.y))
                        .collect(),
                );
                imgproc::fill_poly(
                    &mut m,
                    &one,
                    Scalar::all(255.0),
                    imgproc::LINE_8,
                    0,
                    CvPoint::new(0, 0),
                )?;
                let mask: Vec<bool> = patch(&m, Rect::new(0, 0, r.width, r.height))?
                    .iter()
                    .map(|v| *v > 0.0)
                    .collect();
                // A ghost (something that was in the background model and left) has its outline
                // in the background, not in the frame; an object set down has its outline in the
                // frame. The outline is the whole static region's, not the candidate's: where
                // the zone's edge cuts an object (goods on the zone's kerb line), that part of
                // the candidate's contour is the zone's, and the object's own goes on outside.
                // The inside does not tell: a smooth tarp on textured paving has fewer edges.
                if derived.is_none() {
                    *derived = Some(Derived::of(&mut self.long)?);
                }
                let d = derived.as_mut().expect("computed above");
                d.ensure_energy(&self.gray)?;
                let d = &*d;
                let (e_cur, e_bg) = d.energy.as_ref().expect("computed above");
                // Edge energy relative to brightness, so that a change of light (which scales
                // both) does not look like an outline.
                if whole.is_none() {
                    let mut all = Vector::<Vector<CvPoint>>::new();
                    imgproc::find_contours_def(
                        &stat,
                        &mut all,
                        imgproc::RETR_EXTERNAL,
                        imgproc::CHAIN_APPROX_SIMPLE,
                    )?;
                    whole = Some(all);
                }
                let region = region_of(whole.as_ref().expect("found above"), &c)?;
                let mut ring = outline_ring(region.as_ref().unwrap_or(&c), self.size)?;
                core::bitwise_and_def(&ring.clone(), &z.near, &mut ring)?;
                let e_now =
                    core::mean(e_cur, &ring)?[0] / core::mean(&self.gray, &ring)?[0].max(8.0);
                let e_back =
                    core::mean(e_bg, &ring)?[0] / core::mean(&d.bg_gray, &ring)?[0].max(8.0);
                if e_now < e_back + OUTLINE_MARGIN {
                    tracing::debug!(
                        t,
                        zone = z.zone,
                        e_now,
                        e_back,
                        "static candidate dropped as a ghost or light"
                    );
                    continue;
                }
                // Translucent haze (smoke drifting over the zone) is whitened ground, not goods.
                let haze = haze_share(&self.small, &d.bg, r, &mask)?;
                if haze > HAZE_SHARE {
                    tracing::debug!(t, zone = z.zone, haze, "static candidate dropped as haze");
                    continue;
                }
                // An object's change stops at its outline; light, haze and the long model's
                // ghost of someone who stood there spread beyond it.
                let beyond = change_beyond(&self.gray, &d.bg_gray, &busy, &z.mask, r, &mask)?;
                if beyond > BEYOND_MAX {
                    tracing::debug!(
                        t,
                        zone = z.zone,
                        beyond,
                        "static candidate dropped: its change spreads beyond it"
                    );
                    continue;
                }
                // Still parts of a smoke cloud: the smoke around them drifts (it is busy, so
                // the spread above does not see it) and lights the ground.
                if lit.is_none() {
                    let d = derived.as_mut().expect("computed above");
                    d.ensure_hsv(&self.small)?;
                    let (cur, back) = d.hsv.as_ref().expect("computed above");
                    lit = Some(smoke_lit(cur, back, &self.long_fg)?);
                }
                let around = smoke_around(lit.as_ref().expect("computed above"), r, &mask)?;
                if around > SMOKE_AROUND_MAX {
                    tracing::debug!(
                        t,
                        zone = z.zone,
                        around,
                        "static candidate dropped in smoke"
                    );
                    continue;
                }
                tracing::trace!(
                    t,
                    zone = z.zone,
                    x = r.x,
                    y = r.y,
                    e_now,
                    e_back,
                    haze,
                    beyond,
                    around,
                    "static candidate"
                );
                seen.push((z.zone, r, mask));
            }
        }
        // 3. Candidates seen in one place for HOLD_CONFIRM_S become held objects.
        for (zone, r, mask) in seen {
            if self
                .held
                .iter()
                .any(|h| rect_iou(h.rect, r) > 0.3 || (h.rect & r) == r)
            {
                continue;
            }
            let is_ghost = self.ghosts.iter().map(|g| &g.was).any(|g| {
                if rect_iou(g.rect, r) <= 0.3 {
                    return false;
                }
                match patch(&self.gray, g.rect) {
                    Ok(cur) => {
                        let gain = (frame_mean / g.frame_mean) as f32;
                        mean_diff(&cur, &g.back, &g.mask, gain)
                            < mean_diff(&cur, &g.object, &g.mask, gain)
                    }
                    Err(_) => false,
                }
            });
            if is_ghost {
                continue;
            }
            let outline = Polygon::new(vec![
                self.to_frame(r.x, r.y),
                self.to_frame(r.x + r.width, r.y),
                self.to_frame(r.x + r.width, r.y + r.height),
                self.to_frame(r.x, r.y + r.height),
            ]);
            let area_px =
                (mask.iter().filter(|m| **m).count() as f64 / (self.scale * self.scale)) as f32;
            let gray = &self.gray;
            match self
                .candidates
                .iter_mut()
                .find(|c| c.zone == zone && rect_iou(c.rect, r) > 0.3)
            {
                Some(c) => {
                    let overlap = c.look_rect & r;
                    let changed = if overlap.width <= 0 || overlap.height <= 0 {
                        true
                    } else {
                        let before = Mat::roi(
                            &c.look,
                            Rect::new(
                                overlap.x - c.look_rect.x,
                                overlap.y - c.look_rect.y,
                                overlap.width,
                                overlap.height,
                            ),
                        )?;
                        let mut diff = Mat::default();
                        core::absdiff(&before, &Mat::roi(gray, overlap)?, &mut diff)?;
                        core::mean_def(&diff)?[0] > LOOK_CHANGE
                    };
                    if changed {
                        c.first = t;
                        c.look = Mat::roi(gray, r)?.try_clone()?;
                        c.look_rect = r;
                    }
                    c.rect = r;
                    c.last = t;
                    if t - c.first >= HOLD_CONFIRM_S && self.held.len() < MAX_HELD {
                        let d = derived.as_ref().expect("computed for every candidate");
                        tracing::debug!(
                            t,
                            zone,
                            x = r.x,
                            y = r.y,
                            w = r.width,
                            h = r.height,
                            "static object held"
                        );
                        self.held.push(Held {
                            zone,
                            rect: r,
                            object: patch(&self.gray, r)?,
                            back: patch(&d.bg_gray, r)?,
                            mask,
                            frame_mean,
                            outline,
                            area_px,
                            absent_since: None,
                            updated: t,
                        });
                        c.last = f64::NEG_INFINITY;
                    }
                }
                None => self.candidates.push(Candidate {
                    zone,
                    rect: r,
                    first: t,
                    last: t,
                    look: Mat::roi(gray, r)?.try_clone()?,
                    look_rect: r,
                }),
            }
        }
        self.candidates.retain(|c| t - c.last <= 1.0);
        // 4. The zones' static regions: their held objects.
        let mut out: Vec<StaticRegions> = Vec::new();
        for h in &self.held {
            match out.iter_mut().find(|s| s.zone == h.zone) {
                Some(s) => {
                    s.regions.push(h.outline.clone());
                    s.area_px += h.area_px;
                }
                None => out.push(StaticRegions {
                    zone: h.zone,
                    regions: vec![h.outline.clone()],
                    area_px: h.area_px,
                }),
            }
        }
        Ok(out)
    }

    fn to_frame(&self, x: i32, y: i32) -> Point {
        Point {
            x: (x as f64 / self.scale) as f32,
            y: (y as f64 / self.scale) as f32,
        }
    }

    fn smoke(
        &mut self,
        t: f64,
        warm: bool,
        d: &mut Derived,
        others: &Mat,
    ) -> Result<Vec<SmokeMeasure>> {
        d.ensure_hsv(&self.small)?;
        let d = &*d;
        // Colour: grey/white (low saturation, not dark), desaturated and brightened compared
        // with the background (thin smoke over grass or tarmac, smoke over a dark ground), or
        // lit warm by the fire (orange hue, brighter than the background); never glare.
        let (cur, back) = d.hsv.as_ref().expect("computed above");
        let (h_cur, s_cur, v_cur, s_bg, v_bg) = (
            cur.get(0)?,
            cur.get(1)?,
            cur.get(2)?,
            back.get(1)?,
            back.get(2)?,
        );
        let cmp = |a: &Mat, b: &Mat, op: i32| -> Result<Mat> {
            let mut out = Mat::default();
            core::compare(a, b, &mut out, op)?;
            Ok(out)
        };
        let cmp_v = |a: &Mat, v: f64, op: i32| -> Result<Mat> {
            let mut out = Mat::default();
            core::compare(a, &Scalar::all(v), &mut out, op)?;
            Ok(out)
        };
        let and = |a: &Mat, b: &Mat| -> Result<Mat> {
            let mut out = Mat::default();
            core::bitwise_and_def(a, b, &mut out)?;
            Ok(out)
        };
        let or = |a: &Mat, b: &Mat| -> Result<Mat> {
            let mut out = Mat::default();
            core::bitwise_or_def(a, b, &mut out)?;
            Ok(out)
        };
        let grey = and(
            &cmp_v(&s_cur, SMOKE_MAX_SAT, core::CMP_LT)?,
            &cmp_v(&v_cur, SMOKE_MIN_VAL, core::CMP_GT)?,
        )?;
        let mut s_bg85 = Mat::default();
        s_bg.convert_to(&mut s_bg85, -1, 0.85, 0.0)?;
        let mut v_bg8 = Mat::default();
        v_bg.convert_to(&mut v_bg8, -1, 1.0, 8.0)?;
        let brighter = cmp(&v_cur, &v_bg8, core::CMP_GT)?;
        let whitened = and(&cmp(&s_cur, &s_bg85, core::CMP_LT)?, &brighter)?;
        let warm_hue = and(
            &cmp_v(&h_cur, 30.0, core::CMP_LE)?,
            &cmp_v(&s_cur, 170.0, core::CMP_LT)?,
        )?;
        let warm_lit = and(&warm_hue, &brighter)?;
        let colour = or(&or(&grey, &whitened)?, &warm_lit)?;
        let not_glare = cmp_v(&v_cur, GLARE_VAL, core::CMP_LT)?;
        let mut free = Mat::default();
        core::bitwise_not_def(others, &mut free)?;
        let cand = and(&and(&and(&self.long_fg, &colour)?, &not_glare)?, &free)?;
        let cand = morph(&cand, imgproc::MORPH_OPEN, 3)?;
        // The smoke layer (what differs from the background) and its change over SMOKE_LAG_S.
        let mut layer = Mat::default();
        core::absdiff(&self.gray, &d.bg_gray, &mut layer)?;
        let reference = self.layers.push(t, &layer);
        let changed = match &reference {
            Some(r) => {
                let mut diff = Mat::default();
                core::absdiff(&layer, r, &mut diff)?;
                Some(cmp_v(&diff, SMOKE_CHANGE, core::CMP_GT)?)
            }
            None => None,
        };
        if warm {
            return Ok(Vec::new());
        }
        // A change over the whole view (fog, a cloud's shadow) is not smoke.
        let mut outside = Mat::new_size_with_default(self.size, core::CV_8UC1, Scalar::all(255.0))?;
        for z in self.zones.iter().filter(|z| z.kind == ZoneType::SmokeWatch) {
            let mut not_zone = Mat::default();
            core::bitwise_not_def(&z.mask, &mut not_zone)?;
            outside = and(&outside, &not_zone)?;
        }
        let outside_px = core::count_non_zero(&outside)? as f64;
        let global = outside_px > 0.0
            && core::count_non_zero(&and(&cand, &outside)?)? as f64 / outside_px > GLOBAL_SHARE;
        let mut out = Vec::new();
        for z in self.zones.iter().filter(|z| z.kind == ZoneType::SmokeWatch) {
            let inside = and(&cand, &z.mask)?;
            let n = core::count_non_zero(&inside)? as f64;
            let hist = &mut self.history[z.zone];
            if n < 4.0 || global {
                tracing::debug!(t, zone = z.zone, global, "smoke cue: nothing");
                hist.clear();
                continue;
            }
            let dynamic = match &changed {
                Some(c) => core::count_non_zero(&and(&inside, c)?)? as f64 / n,
                None => 0.0,
            };
            hist.push_back((t, dynamic));
            while hist.front().is_some_and(|(t0, _)| t - t0 > SMOKE_WINDOW_S) {
                hist.pop_front();
            }
            let span = hist.back().map_or(0.0, |b| b.0) - hist.front().map_or(0.0, |f| f.0);
            let mean = hist.iter().map(|h| h.1).sum::<f64>() / hist.len() as f64;
            let r = imgproc::bounding_rect(&inside)?;
            let bbox = BBox::new(
                (r.x as f64 / self.scale) as f32,
                (r.y as f64 / self.scale) as f32,
                ((r.x + r.width) as f64 / self.scale) as f32,
                ((r.y + r.height) as f64 / self.scale) as f32,
            );
            tracing::debug!(
                t,
                zone = z.zone,
                fraction = n / z.pixels,
                dynamic,
                mean,
                "smoke cue"
            );
            out.push(SmokeMeasure {
                zone: z.zone,
                fraction: (n / z.pixels) as f32,
                bbox: Some(bbox),
                dynamic: span >= SMOKE_WINDOW_S * 0.5 && mean >= SMOKE_DYNAMIC,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 60x40 grey image from a function of the pixel.
    fn image(f: impl Fn(i32, i32) -> f64) -> Mat {
        let mut m =
            Mat::new_rows_cols_with_default(40, 60, core::CV_8UC1, Scalar::all(0.0)).unwrap();
        for y in 0..40 {
            let row = m.at_row_mut::<u8>(y).unwrap();
            for (x, v) in row.iter_mut().enumerate() {
                *v = f(x as i32, y).clamp(0.0, 255.0) as u8;
            }
        }
        m
    }

    /// Ground with texture; the region is the 16x10 block at (22, 15).
    fn ground(x: i32, y: i32) -> f64 {
        100.0 + ((x * 7 + y * 13) % 11) as f64
    }

    fn beyond(frame: &Mat, bg: &Mat, busy: &Mat) -> f64 {
        let zone = image(|_, _| 255.0);
        let rect = Rect::new(22, 15, 16, 10);
        change_beyond(frame, bg, busy, &zone, rect, &[true; 160]).unwrap()
    }

    #[test]
    fn an_objects_change_stops_at_its_outline_light_and_ghosts_spread() {
        let bg = image(ground);
        let idle = image(|_, _| 0.0);
        let inside = |x: i32, y: i32| (22..38).contains(&x) && (15..25).contains(&y);
        // A box set down: dark inside, ground unchanged around it.
        let object = image(|x, y| if inside(x, y) { 40.0 } else { ground(x, y) });
        assert!(beyond(&object, &bg, &idle) < 0.1);
        // A lamp's glow on the ground: the region found is where it lifts the ground most, and
        // it goes on past that region, fading out 25-40 pixels from its centre.
        let glow = image(|x, y| {
            let d = (((x - 30).pow(2) + (y - 20).pow(2)) as f64).sqrt();
            ground(x, y) + 20.0 * ((40.0 - d) / 15.0).clamp(0.0, 1.0)
        });
        assert!(beyond(&glow, &bg, &idle) > BEYOND_MAX);
        // The ghost of someone who stood there, larger than the region found.
        let ghost = image(|x, y| {
            if (18..42).contains(&x) && (10..30).contains(&y) {
                160.0
            } else {
                ground(x, y)
            }
        });
        assert!(beyond(&ghost, &bg, &idle) > BEYOND_MAX);
        // A passer-by right beside the box does not count against it.
        let passer = |x: i32, _y: i32| (38..46).contains(&x);
        let with_passer = image(|x, y| {
            if inside(x, y) {
                40.0
            } else if passer(x, y) {
                200.0
            } else {
                ground(x, y)
            }
        });
        let busy = image(|x, y| if passer(x, y) { 255.0 } else { 0.0 });
        assert!(beyond(&with_passer, &bg, &idle) > 0.3);
        assert!(beyond(&with_passer, &bg, &busy) < 0.1);
    }

    /// A passer-by crossing the view during the warm-up leaves no trace in the long model's
    /// background: the warm-up is learnt again from the median. (Before, the running mean kept
    /// a streak per passer-by for minutes, which hid the outline of goods set down on it.)
    /// Not covered: someone standing still for more than half of the warm-up, who is the
    /// median there.
    #[test]
    fn passers_by_in_the_warm_up_leave_no_streak_in_the_background() {
        let cal = Calibration::parse(
            std::path::Path::new("warm.toml"),
            "camera_id = \"t\"\nsite = \"s\"\nframe_width = 320\nframe_height = 240\n\n\
             [[zones]]\nname = \"forecourt\"\ntype = \"no_vending\"\n\
             polygon = [[10, 100], [300, 100], [300, 200], [10, 200]]\n",
        )
        .unwrap();
        let mut cues = Cues::new(&cal).unwrap().unwrap();
        let ground = |x: i32, y: i32| 110.0 + ((x * 7 + y * 13) % 17) as f64;
        let frame = |walker: Option<i32>| {
            let mut m =
                Mat::new_rows_cols_with_default(240, 320, core::CV_8UC3, Scalar::all(0.0)).unwrap();
            for y in 0..240 {
                for (x, px) in m
                    .at_row_mut::<core::Vec3b>(y)
                    .unwrap()
                    .iter_mut()
                    .enumerate()
                {
                    let x = x as i32;
                    let dark = walker.is_some_and(|w| (w..w + 12).contains(&x) && y >= 120);
                    let v = if dark { 30.0 } else { ground(x, y) } as u8;
                    *px = core::Vec3b::from([v, v, v]);
                }
            }
            m
        };
        // 10 frames per second; someone walks across at 40 px/s during the warm-up, then the
        // ground is empty for two seconds.
        for i in 0..70 {
            let t = i as f64 / 10.0;
            let walker = (t < WARM_UP_S).then_some((t * 40.0) as i32 + 40);
            cues.update(t, &frame(walker), &[]).unwrap();
        }
        let mut bg = Mat::default();
        cues.long.get_background_image(&mut bg).unwrap();
        let mut worst = 0.0f64;
        for y in 120..240 {
            let row = bg.at_row::<core::Vec3b>(y).unwrap();
            for x in 40..260 {
                worst = worst.max((row[x as usize].0[0] as f64 - ground(x, y)).abs());
            }
        }
        assert!(
            worst <= 3.0,
            "the walker's streak is {worst} grey levels deep"
        );
    }
}
