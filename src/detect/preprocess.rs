//! Frame (BGR, 8-bit) → model input tensor (NCHW f32), as the manifest describes.

use opencv::core::{Mat, Size};
use opencv::prelude::*;

use crate::error::{Error, Result};
use crate::geometry::BBox;
use crate::model::manifest::{Align, ColorOrder, InputSpec, Resize};

/// How model-input coordinates map back to frame pixels: frame = (input - offset) / scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    pub sx: f32,
    pub sy: f32,
    pub left: f32,
    pub top: f32,
    pub frame_w: f32,
    pub frame_h: f32,
}

impl Transform {
    pub fn to_frame(&self, b: BBox) -> BBox {
        BBox::new(
            (b.x1 - self.left) / self.sx,
            (b.y1 - self.top) / self.sy,
            (b.x2 - self.left) / self.sx,
            (b.y2 - self.top) / self.sy,
        )
        .clip(self.frame_w, self.frame_h)
    }
}

/// Computes the resize geometry for a frame of `w`×`h`: (resized w, resized h, left, top).
pub fn layout(spec: &InputSpec, w: usize, h: usize) -> (usize, usize, usize, usize, f32, f32) {
    let (tw, th) = (spec.width, spec.height);
    match spec.resize {
        Resize::Stretch => (tw, th, 0, 0, tw as f32 / w as f32, th as f32 / h as f32),
        Resize::Letterbox => {
            let s = (tw as f64 / w as f64).min(th as f64 / h as f64);
            let nw = ((w as f64 * s + 0.5).floor() as usize).clamp(1, tw);
            let nh = ((h as f64 * s + 0.5).floor() as usize).clamp(1, th);
            let (left, top) = match spec.letterbox_align {
                Align::Center => ((tw - nw) / 2, (th - nh) / 2),
                Align::TopLeft => (0, 0),
            };
            (nw, nh, left, top, s as f32, s as f32)
        }
    }
}

/// Reusable pre-processing state: lookup tables and buffers allocated once per model.
pub struct Preprocessor {
    spec: InputSpec,
    /// lut[c][v] = (v - mean[c]) / std[c], c in the model's colour order.
    lut: [[f32; 256]; 3],
    pad: [f32; 3],
    resized: Mat,
    /// The input tensor, NCHW, 1×3×H×W.
    pub tensor: Vec<f32>,
}

impl Preprocessor {
    pub fn new(spec: &InputSpec) -> Preprocessor {
        let mut lut = [[0f32; 256]; 3];
        for (c, table) in lut.iter_mut().enumerate() {
            for (v, slot) in table.iter_mut().enumerate() {
                *slot = (v as f32 - spec.mean[c]) / spec.std[c];
            }
        }
        let pad = [0, 1, 2].map(|c| (spec.pad_value - spec.mean[c]) / spec.std[c]);
        Preprocessor {
            spec: spec.clone(),
            lut,
            pad,
            resized: Mat::default(),
            tensor: vec![0.0; 3 * spec.width * spec.height],
        }
    }

    /// Fills `self.tensor` from a BGR 8-bit frame and returns the box transform.
    pub fn run(&mut self, frame: &Mat) -> Result<Transform> {
        let (w, h) = (frame.cols() as usize, frame.rows() as usize);
        if frame.typ() != opencv::core::CV_8UC3 || w == 0 || h == 0 {
            return Err(Error::Inference(format!(
                "pre-processing expects a non-empty 8-bit BGR frame, got {w}x{h} type {}",
                frame.typ()
            )));
        }
        let (nw, nh, left, top, sx, sy) = layout(&self.spec, w, h);
        let src: &Mat = if nw == w && nh == h {
            frame
        } else {
            opencv::imgproc::resize(
                frame,
                &mut self.resized,
                Size::new(nw as i32, nh as i32),
                0.0,
                0.0,
                opencv::imgproc::INTER_LINEAR,
            )?;
            &self.resized
        };
        let (tw, th) = (self.spec.width, self.spec.height);
        let plane = tw * th;
        if nw != tw || nh != th {
            for c in 0..3 {
                self.tensor[c * plane..(c + 1) * plane].fill(self.pad[c]);
            }
        }
        // Model channel c reads BGR byte src_c.
        let src_of = match self.spec.color {
            ColorOrder::Bgr => [0usize, 1, 2],
            ColorOrder::Rgb => [2usize, 1, 0],
        };
        let step = src.mat_step().first().copied().unwrap_or(nw * 3);
        let bytes = src.data_bytes()?;
        let (p0, rest) = self.tensor.split_at_mut(plane);
        let (p1, p2) = rest.split_at_mut(plane);
        let (l0, l1, l2) = (&self.lut[0], &self.lut[1], &self.lut[2]);
        for y in 0..nh {
            let row = &bytes[y * step..y * step + nw * 3];
            let base = (y + top) * tw + left;
            let (d0, d1, d2) = (
                &mut p0[base..base + nw],
                &mut p1[base..base + nw],
                &mut p2[base..base + nw],
            );
            for (x, px) in row.chunks_exact(3).enumerate() {
                d0[x] = l0[px[src_of[0]] as usize];
                d1[x] = l1[px[src_of[1]] as usize];
                d2[x] = l2[px[src_of[2]] as usize];
            }
        }
        Ok(Transform {
            sx,
            sy,
            left: left as f32,
            top: top as f32,
            frame_w: w as f32,
            frame_h: h as f32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::manifest::Layout;
    use opencv::core::{Scalar, CV_8UC3};

    fn spec(resize: Resize, align: Align, color: ColorOrder) -> InputSpec {
        InputSpec {
            name: "x".into(),
            width: 8,
            height: 8,
            layout: Layout::Nchw,
            color,
            resize,
            letterbox_align: align,
            pad_value: 114.0,
            mean: [0.0, 0.0, 0.0],
            std: [1.0, 1.0, 1.0],
        }
    }

    #[test]
    fn letterbox_centre_pads_and_maps_back() {
        // 16x8 frame into 8x8: scale 0.5, 8x4 image, 2 rows of padding above and below.
        let frame =
            Mat::new_rows_cols_with_default(8, 16, CV_8UC3, Scalar::new(10.0, 20.0, 30.0, 0.0))
                .unwrap();
        let mut p = Preprocessor::new(&spec(Resize::Letterbox, Align::Center, ColorOrder::Rgb));
        let t = p.run(&frame).unwrap();
        assert_eq!((t.sx, t.left, t.top), (0.5, 0.0, 2.0));
        // Row 0 is padding, row 2 is image; RGB order puts the red byte (30) first.
        assert_eq!(p.tensor[0], 114.0);
        assert_eq!(p.tensor[2 * 8], 30.0);
        assert_eq!(p.tensor[64 + 2 * 8], 20.0);
        assert_eq!(p.tensor[128 + 2 * 8], 10.0);
        let b = t.to_frame(BBox::new(1.0, 3.0, 5.0, 5.0));
        assert_eq!((b.x1, b.y1, b.x2, b.y2), (2.0, 2.0, 10.0, 6.0));
    }

    #[test]
    fn top_left_letterbox_and_stretch_geometry() {
        let s = spec(Resize::Letterbox, Align::TopLeft, ColorOrder::Bgr);
        let (nw, nh, left, top, _, _) = layout(&s, 768, 576);
        assert_eq!((nw, nh, left, top), (8, 6, 0, 0));
        let s = InputSpec {
            width: 416,
            height: 416,
            ..s
        };
        let (nw, nh, left, top, sx, _) = layout(&s, 768, 576);
        assert_eq!((nw, nh, left, top), (416, 312, 0, 0));
        assert!((sx - 416.0 / 768.0).abs() < 1e-6);
        let st = InputSpec {
            resize: Resize::Stretch,
            ..s
        };
        let (nw, nh, _, _, sx, sy) = layout(&st, 640, 272);
        assert_eq!((nw, nh), (416, 416));
        assert!((sx - 0.65).abs() < 1e-6 && (sy - 416.0 / 272.0).abs() < 1e-6);
    }
}
