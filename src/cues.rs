//! Image cues that need no detector class: static foreground (regions of a zone that became
//! occupied and stay occupied) and smoke. They keep background models across frames (OpenCV's
//! MOG2, optical flow) and hand plain values (`StaticRegions`, `SmokeMeasure`) to the rules.
//!
//! All work is done on a downscaled copy of the frame (`WORK_WIDTH` pixels wide).

use std::collections::VecDeque;

use opencv::core::{self, Mat, Point as CvPoint, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;
use opencv::video;

use crate::calibration::{Calibration, ZoneType};
use crate::error::Result;
use crate::geometry::{BBox, Point, Polygon};
use crate::rules::{SmokeMeasure, StaticRegions};

pub const WORK_WIDTH: i32 = 320;

/// Background-model history, in analysed frames: short ≈ seconds, long ≈ minutes at 5 per second.
const SHORT_HISTORY: i32 = 25;
const LONG_HISTORY: i32 = 1500;
/// Smoke-like colour: low saturation, not dark (HSV, OpenCV scales 0-255).
const SMOKE_MAX_SAT: f64 = 60.0;
const SMOKE_MIN_VAL: f64 = 90.0;
/// Mean upward optical flow of the smoke layer (work pixels per analysed frame) that counts as
/// rising.
const RISE_FLOW: f64 = 0.3;

struct ZoneMask {
    zone: usize,
    kind: ZoneType,
    mask: Mat,
    pixels: f64,
    height: f64,
}

/// What a frame's cues share, computed at most once per frame when a cue needs it: the long-term
/// background image, its grey version, and the edge energy of the background and of the frame.
struct Derived {
    bg: Mat,
    bg_gray: Mat,
    e_bg: Mat,
    e_cur: Mat,
}

impl Derived {
    fn of(long: &mut core::Ptr<video::BackgroundSubtractorMOG2>, gray: &Mat) -> Result<Derived> {
        let mut bg = Mat::default();
        long.get_background_image(&mut bg)?;
        let mut bg_gray = Mat::default();
        imgproc::cvt_color_def(&bg, &mut bg_gray, imgproc::COLOR_BGR2GRAY)?;
        Ok(Derived {
            e_bg: energy(&bg_gray)?,
            e_cur: energy(gray)?,
            bg,
            bg_gray,
        })
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
    prev_layer: Mat,
    history: Vec<VecDeque<(f64, f64)>>,
    frames: u64,
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

/// Median of the vertical flow component over the pixels of `mask`.
fn median_flow_y(flow: &impl MatTraitConst, mask: &impl MatTraitConst) -> Result<f64> {
    let mut ys = Vec::new();
    let (rows, cols) = (flow.rows(), flow.cols());
    for y in 0..rows {
        let f = flow.at_row::<core::Vec2f>(y)?;
        let m = mask.at_row::<u8>(y)?;
        for x in 0..cols as usize {
            if m[x] != 0 {
                ys.push(f[x][1]);
            }
        }
    }
    if ys.is_empty() {
        return Ok(0.0);
    }
    ys.sort_by(f32::total_cmp);
    Ok(ys[ys.len() / 2] as f64)
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

impl Cues {
    /// `None` when the calibration has no zone that uses a cue.
    pub fn new(cal: &Calibration) -> Result<Option<Cues>> {
        let wants_static = cal
            .zones
            .iter()
            .any(|z| z.zone_type.is_vending() && z.static_foreground);
        let wants_smoke = cal
            .zones
            .iter()
            .any(|z| z.zone_type == ZoneType::SmokeWatch);
        if !wants_static && !wants_smoke {
            return Ok(None);
        }
        let scale = WORK_WIDTH as f64 / cal.frame_width as f64;
        let size = Size::new(WORK_WIDTH, (cal.frame_height as f64 * scale).round() as i32);
        let mut zones = Vec::new();
        for (i, z) in cal.zones.iter().enumerate() {
            if !(z.zone_type == ZoneType::SmokeWatch
                || (z.zone_type.is_vending() && z.static_foreground))
            {
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
            let (ymin, ymax) = z
                .polygon
                .points
                .iter()
                .fold((f32::MAX, f32::MIN), |a, p| (a.0.min(p.y), a.1.max(p.y)));
            zones.push(ZoneMask {
                zone: i,
                kind: z.zone_type,
                mask,
                pixels: pixels.max(1.0),
                height: ((ymax - ymin) as f64 * scale).max(1.0),
            });
        }
        Ok(Some(Cues {
            scale,
            size,
            short: video::create_background_subtractor_mog2(SHORT_HISTORY, 16.0, true)?,
            long: video::create_background_subtractor_mog2(LONG_HISTORY, 16.0, true)?,
            history: vec![VecDeque::new(); cal.zones.len()],
            zones,
            long_fg: Mat::default(),
            small: Mat::default(),
            gray: Mat::default(),
            prev_layer: Mat::default(),
            frames: 0,
        }))
    }

    /// Feeds one analysed frame. `exclude` are boxes (frame pixels) of tracked people, which are
    /// not "goods" even when they stand still.
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
        self.frames += 1;
        let mut fg_short = Mat::default();
        opencv::video::BackgroundSubtractorMOG2Trait::apply(
            &mut self.short,
            &self.small,
            &mut fg_short,
            -1.0,
        )?;
        let moving = fg_binary(&fg_short)?;
        // The long-term model learns fast while it warms up, then at 1/LONG_HISTORY per frame, so
        // that what changed in the scene stays "changed" for minutes.
        let rate = if self.frames > SHORT_HISTORY as u64 {
            1.0 / LONG_HISTORY as f64
        } else {
            -1.0
        };
        let mut fg_long = Mat::default();
        opencv::video::BackgroundSubtractorMOG2Trait::apply(
            &mut self.long,
            &self.small,
            &mut fg_long,
            rate,
        )?;
        self.long_fg = fg_binary(&fg_long)?;
        let mut statics = Vec::new();
        let mut derived: Option<Derived> = None;
        // Warm-up: the long model needs its own history before "static" means anything.
        if self.zones.iter().any(|z| z.kind.is_vending()) && self.frames > SHORT_HISTORY as u64 {
            {
                let long_fg = &self.long_fg;
                let mut not_moving = Mat::default();
                core::bitwise_not_def(&moving, &mut not_moving)?;
                let mut stat = Mat::default();
                core::bitwise_and_def(long_fg, &not_moving, &mut stat)?;
                for b in exclude {
                    let r = core::Rect::new(
                        ((b.x1 as f64 - 0.1 * b.width() as f64) * self.scale) as i32,
                        ((b.y1 as f64 - 0.05 * b.height() as f64) * self.scale) as i32,
                        (b.width() as f64 * 1.2 * self.scale).ceil() as i32 + 1,
                        (b.height() as f64 * 1.2 * self.scale).ceil() as i32 + 1,
                    );
                    imgproc::rectangle(&mut stat, r, Scalar::all(0.0), -1, imgproc::LINE_8, 0)?;
                }
                let stat = morph(
                    &morph(&stat, imgproc::MORPH_OPEN, 3)?,
                    imgproc::MORPH_CLOSE,
                    5,
                )?;
                for z in self.zones.iter().filter(|z| z.kind.is_vending()) {
                    let mut inside = Mat::default();
                    core::bitwise_and_def(&stat, &z.mask, &mut inside)?;
                    let n = core::count_non_zero(&inside)? as f64;
                    if n < 4.0 {
                        continue;
                    }
                    // A real object brings its own edges; a "ghost" (something that was in the
                    // background model and left) takes edges away, and a change of light on a flat
                    // surface adds none. Keep only regions with clearly more edges than before.
                    if derived.is_none() {
                        derived = Some(Derived::of(&mut self.long, &self.gray)?);
                    }
                    let d = derived.as_ref().expect("computed above");
                    let (e_now, e_back) = (
                        core::mean(&d.e_cur, &inside)?[0],
                        core::mean(&d.e_bg, &inside)?[0],
                    );
                    if e_now < e_back * 1.2 + 3.0 {
                        tracing::debug!(
                            t,
                            zone = z.zone,
                            e_now,
                            e_back,
                            "static foreground dropped as a ghost"
                        );
                        continue;
                    }
                    let mut contours = Vector::<Vector<CvPoint>>::new();
                    imgproc::find_contours_def(
                        &inside,
                        &mut contours,
                        imgproc::RETR_EXTERNAL,
                        imgproc::CHAIN_APPROX_SIMPLE,
                    )?;
                    let regions: Vec<Polygon> = contours
                        .iter()
                        .filter(|c| c.len() >= 3)
                        .map(|c| {
                            Polygon::new(
                                c.iter()
                                    .map(|p| Point {
                                        x: (p.x as f64 / self.scale) as f32,
                                        y: (p.y as f64 / self.scale) as f32,
                                    })
                                    .collect(),
                            )
                        })
                        .collect();
                    tracing::debug!(
                        t,
                        zone = z.zone,
                        area_px = n / (self.scale * self.scale),
                        "static foreground"
                    );
                    statics.push(StaticRegions {
                        zone: z.zone,
                        regions,
                        area_px: (n / (self.scale * self.scale)) as f32,
                    });
                }
            }
        }
        let smoke = if self.zones.iter().any(|z| z.kind == ZoneType::SmokeWatch) && self.frames > 2
        {
            let d = match derived {
                Some(d) => d,
                None => Derived::of(&mut self.long, &self.gray)?,
            };
            self.smoke(t, &d)?
        } else {
            Vec::new()
        };
        Ok((statics, smoke))
    }

    fn smoke(&mut self, t: f64, d: &Derived) -> Result<Vec<SmokeMeasure>> {
        let bg = &d.bg;
        // Colour: grey/white (low saturation, not dark), or desaturated and brightened compared
        // with the background (thin smoke over grass or tarmac).
        let hsv_of = |img: &Mat| -> Result<Vector<Mat>> {
            let mut hsv = Mat::default();
            imgproc::cvt_color_def(img, &mut hsv, imgproc::COLOR_BGR2HSV)?;
            let mut planes = Vector::<Mat>::new();
            core::split(&hsv, &mut planes)?;
            Ok(planes)
        };
        let (cur, back) = (hsv_of(&self.small)?, hsv_of(bg)?);
        let (s_cur, v_cur, s_bg, v_bg) = (cur.get(1)?, cur.get(2)?, back.get(1)?, back.get(2)?);
        let mut low_sat = Mat::default();
        core::compare(
            &s_cur,
            &Scalar::all(SMOKE_MAX_SAT),
            &mut low_sat,
            core::CMP_LT,
        )?;
        let mut bright = Mat::default();
        core::compare(
            &v_cur,
            &Scalar::all(SMOKE_MIN_VAL),
            &mut bright,
            core::CMP_GT,
        )?;
        let mut grey = Mat::default();
        core::bitwise_and_def(&low_sat, &bright, &mut grey)?;
        let mut s_bg85 = Mat::default();
        s_bg.convert_to(&mut s_bg85, -1, 0.85, 0.0)?;
        let mut desat = Mat::default();
        core::compare(&s_cur, &s_bg85, &mut desat, core::CMP_LT)?;
        let mut v_bg8 = Mat::default();
        v_bg.convert_to(&mut v_bg8, -1, 1.0, 8.0)?;
        let mut brighter = Mat::default();
        core::compare(&v_cur, &v_bg8, &mut brighter, core::CMP_GT)?;
        let mut whitened = Mat::default();
        core::bitwise_and_def(&desat, &brighter, &mut whitened)?;
        let mut colour = Mat::default();
        core::bitwise_or_def(&grey, &whitened, &mut colour)?;
        // Texture: smoke blurs what is behind it, so the current frame has less edge energy than
        // the background there.
        let (bg_gray, e_cur, e_bg) = (&d.bg_gray, &d.e_cur, &d.e_bg);
        let mut e_bg_scaled = Mat::default();
        e_bg.convert_to(&mut e_bg_scaled, -1, 0.85, 0.0)?;
        let mut blurred_here = Mat::default();
        core::compare(e_cur, &e_bg_scaled, &mut blurred_here, core::CMP_LT)?;
        let mut cand = Mat::default();
        core::bitwise_and_def(&self.long_fg, &colour, &mut cand)?;
        let mut cand2 = Mat::default();
        core::bitwise_and_def(&cand, &blurred_here, &mut cand2)?;
        let cand = morph(&cand2, imgproc::MORPH_OPEN, 3)?;
        // Motion of the smoke layer (what differs from the background), so that the texture
        // behind thin smoke does not anchor the flow at zero.
        let mut layer = Mat::default();
        core::absdiff(&self.gray, bg_gray, &mut layer)?;
        let prev_layer = std::mem::replace(&mut self.prev_layer, layer.clone());
        // Candidate pixels per smoke zone; optical flow (the costly part: ~15 ms for a whole
        // 320x240 frame) only runs where there are candidates, over their bounding rectangle
        // with a margin for the flow window.
        let mut found = Vec::new();
        let mut roi: Option<core::Rect> = None;
        for z in self.zones.iter().filter(|z| z.kind == ZoneType::SmokeWatch) {
            let mut inside = Mat::default();
            core::bitwise_and_def(&cand, &z.mask, &mut inside)?;
            let n = core::count_non_zero(&inside)? as f64;
            if n < 4.0 {
                tracing::debug!(t, zone = z.zone, "smoke cue: nothing");
                self.history[z.zone].clear();
                continue;
            }
            let r = imgproc::bounding_rect(&inside)?;
            roi = Some(match roi {
                Some(u) => u | r,
                None => r,
            });
            found.push((z.zone, z.pixels, z.height, inside, n, r));
        }
        let flow = match roi {
            Some(r) if !prev_layer.empty() => {
                const MARGIN: i32 = 24;
                let x0 = (r.x - MARGIN).max(0);
                let y0 = (r.y - MARGIN).max(0);
                let x1 = (r.x + r.width + MARGIN).min(self.size.width);
                let y1 = (r.y + r.height + MARGIN).min(self.size.height);
                let area = core::Rect::new(x0, y0, x1 - x0, y1 - y0);
                let mut flow = Mat::default();
                video::calc_optical_flow_farneback(
                    &Mat::roi(&prev_layer, area)?,
                    &Mat::roi(&layer, area)?,
                    &mut flow,
                    0.5,
                    3,
                    15,
                    3,
                    5,
                    1.2,
                    0,
                )?;
                Some((flow, area))
            }
            _ => None,
        };
        let mut out = Vec::new();
        for (zone, pixels, height, inside, n, r) in found {
            let hist = &mut self.history[zone];
            let bbox = BBox::new(
                (r.x as f64 / self.scale) as f32,
                (r.y as f64 / self.scale) as f32,
                ((r.x + r.width) as f64 / self.scale) as f32,
                ((r.y + r.height) as f64 / self.scale) as f32,
            );
            // Median vertical flow over the candidate pixels (negative = upwards).
            let up = match &flow {
                Some((flow, area)) => -median_flow_y(flow, &Mat::roi(&inside, *area)?)?,
                None => 0.0,
            };
            hist.push_back((t, up));
            while hist.front().is_some_and(|(t0, _)| t - t0 > 3.0) {
                hist.pop_front();
            }
            let mean_up = hist.iter().map(|h| h.1).sum::<f64>() / hist.len() as f64;
            tracing::debug!(t, zone, fraction = n / pixels, up, mean_up, "smoke cue");
            out.push(SmokeMeasure {
                zone,
                fraction: (n / pixels) as f32,
                bbox: Some(bbox),
                rising: hist.len() >= 3 && mean_up > RISE_FLOW * (height / 100.0).clamp(0.5, 2.0),
            });
        }
        Ok(out)
    }
}
