//! View watch: a calibration is only valid for the view it was drawn on. Each camera's frames are
//! compared with the calibration's reference frame; a view that moved (turned camera), is covered
//! or is blurred (defocused, dirty lens) suspends the rules that depend on the calibration until
//! the view returns. Decisions are debounced: a state must be seen `STREAK` checks in a row.

use opencv::core::{self, Mat, Point2d, Size};
use opencv::imgproc;
use opencv::prelude::*;
use serde::Serialize;

use crate::error::Result;

/// Width the comparison works at.
const WIDTH: i32 = 160;
/// Consecutive checks before the state changes.
pub const STREAK: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewState {
    Ok,
    Moved,
    Covered,
    Blurred,
}

impl ViewState {
    pub fn as_str(&self) -> &'static str {
        match self {
            ViewState::Ok => "ok",
            ViewState::Moved => "moved",
            ViewState::Covered => "covered",
            ViewState::Blurred => "blurred",
        }
    }
}

/// What one comparison measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ViewMeasures {
    /// Global shift from the reference, as a fraction of the frame width.
    pub shift: f64,
    /// Phase-correlation peak (1 = identical structure, ~0 = unrelated images).
    pub response: f64,
    /// Edge energy relative to the reference's.
    pub sharpness: f64,
    /// Grey-level standard deviation (a covered lens is nearly uniform).
    pub contrast: f64,
}

pub struct Reference {
    gray: Mat,
    window: Mat,
    energy: f64,
}

fn prepare(img: &Mat) -> Result<Mat> {
    let h = (img.rows() as f64 * WIDTH as f64 / img.cols().max(1) as f64).round() as i32;
    let mut small = Mat::default();
    imgproc::resize(
        img,
        &mut small,
        Size::new(WIDTH, h.max(1)),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )?;
    let mut gray = Mat::default();
    if small.channels() == 3 {
        imgproc::cvt_color_def(&small, &mut gray, imgproc::COLOR_BGR2GRAY)?;
    } else {
        gray = small;
    }
    let mut f = Mat::default();
    gray.convert_to(&mut f, core::CV_32F, 1.0, 0.0)?;
    Ok(f)
}

fn energy(gray: &Mat) -> Result<f64> {
    let mut lap = Mat::default();
    imgproc::laplacian(
        gray,
        &mut lap,
        core::CV_32F,
        3,
        1.0,
        0.0,
        core::BORDER_DEFAULT,
    )?;
    let abs = core::abs(&lap)?.to_mat()?;
    Ok(core::mean(&abs, &core::no_array())?[0])
}

impl Reference {
    pub fn new(img: &Mat) -> Result<Reference> {
        let gray = prepare(img)?;
        let mut window = Mat::default();
        imgproc::create_hanning_window(&mut window, gray.size()?, core::CV_32F)?;
        Ok(Reference {
            energy: energy(&gray)?.max(1e-3),
            gray,
            window,
        })
    }

    /// Compares a frame with the reference.
    pub fn compare(&self, frame: &Mat) -> Result<(ViewState, ViewMeasures)> {
        let gray = prepare(frame)?;
        if gray.size()? != self.gray.size()? {
            return Ok((
                ViewState::Moved,
                ViewMeasures {
                    shift: 1.0,
                    response: 0.0,
                    sharpness: 0.0,
                    contrast: 0.0,
                },
            ));
        }
        let mut mean = core::Scalar::default();
        let mut std = core::Scalar::default();
        core::mean_std_dev(&gray, &mut mean, &mut std, &core::no_array())?;
        let sharpness = energy(&gray)? / self.energy;
        let mut response = 0.0;
        // OpenCV 4.6's phaseCorrelate multiplies its inputs by the window in place: it gets a
        // copy of the reference, or the reference would fade a little more at every check.
        let reference = self.gray.try_clone()?;
        let shift: Point2d =
            imgproc::phase_correlate(&reference, &gray, &self.window, Some(&mut response))?;
        let m = ViewMeasures {
            shift: (shift.x.powi(2) + shift.y.powi(2)).sqrt() / WIDTH as f64,
            response,
            sharpness,
            contrast: std[0],
        };
        let state = if m.contrast < 8.0 || m.sharpness < 0.15 {
            ViewState::Covered
        } else if m.sharpness < 0.5 {
            ViewState::Blurred
        } else if m.shift > 0.03 || m.response < 0.05 {
            ViewState::Moved
        } else {
            ViewState::Ok
        };
        Ok((state, m))
    }
}

/// Debounced view state of one camera.
pub struct ViewWatch {
    pub reference: Reference,
    pub state: ViewState,
    candidate: ViewState,
    streak: u32,
    pub last: Option<ViewMeasures>,
}

impl ViewWatch {
    pub fn new(reference: Reference) -> ViewWatch {
        ViewWatch {
            reference,
            state: ViewState::Ok,
            candidate: ViewState::Ok,
            streak: 0,
            last: None,
        }
    }

    /// Checks a frame; returns the new state when it changed.
    pub fn check(&mut self, frame: &Mat) -> Result<Option<ViewState>> {
        let (s, m) = self.reference.compare(frame)?;
        self.last = Some(m);
        if s == self.state {
            self.streak = 0;
            return Ok(None);
        }
        if s == self.candidate {
            self.streak += 1;
        } else {
            self.candidate = s;
            self.streak = 1;
        }
        if self.streak >= STREAK {
            self.state = s;
            self.streak = 0;
            return Ok(Some(s));
        }
        Ok(None)
    }
}
