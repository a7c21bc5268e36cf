//! Family decoders: raw output tensors → candidate boxes in model-input pixels.
//! Pure functions over slices, so they are unit-tested with synthetic tensors.

use crate::geometry::BBox;
use crate::model::manifest::{DecodeSpec, Family, InputSpec};

/// A raw output tensor (row-major).
#[derive(Debug, Clone, Default)]
pub struct RawTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A scored box before NMS, in model-input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub bbox: BBox,
    pub score: f32,
    pub class_id: usize,
}

/// Which output tensor holds what, resolved once from the model's output shapes.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputPlan {
    /// Per stride: (stride, class-map output index, box-map output index).
    Nanodet(Vec<(usize, usize, usize)>),
    Yolox(usize),
    Yolov8(usize),
}

/// Resolves the plan from output shapes (dynamic dims as -1), or says what does not fit.
pub fn plan(
    family: Family,
    input: &InputSpec,
    decode: &DecodeSpec,
    num_classes: usize,
    shapes: &[Vec<i64>],
) -> Result<OutputPlan, String> {
    let dims = |i: usize| -> Vec<i64> { shapes[i].clone() };
    match family {
        Family::Nanodet => {
            let bins = 4 * (decode.reg_max + 1) as i64;
            let mut levels = Vec::new();
            for &s in &decode.strides {
                let n = ((input.width / s) * (input.height / s)) as i64;
                let find = |last: i64| {
                    (0..shapes.len())
                        .find(|&i| dims(i).len() == 3 && dims(i)[1] == n && dims(i)[2] == last)
                };
                let cls = find(num_classes as i64).ok_or_else(|| {
                    format!("no class map [1,{n},{num_classes}] for stride {s} among outputs {shapes:?}")
                })?;
                let reg = find(bins).ok_or_else(|| {
                    format!("no box map [1,{n},{bins}] for stride {s} among outputs {shapes:?}")
                })?;
                levels.push((s, cls, reg));
            }
            Ok(OutputPlan::Nanodet(levels))
        }
        Family::Yolox => {
            let n: i64 = decode
                .strides
                .iter()
                .map(|s| ((input.width / s) * (input.height / s)) as i64)
                .sum();
            let want = 5 + num_classes as i64;
            (0..shapes.len())
                .find(|&i| dims(i).len() == 3 && dims(i)[1] == n && dims(i)[2] == want)
                .map(OutputPlan::Yolox)
                .ok_or_else(|| format!("no output [1,{n},{want}] among {shapes:?}"))
        }
        Family::Yolov8 => {
            let want = 4 + num_classes as i64;
            (0..shapes.len())
                .find(|&i| dims(i).len() == 3 && dims(i)[1] == want)
                .map(OutputPlan::Yolov8)
                .ok_or_else(|| format!("no output [1,{want},N] among {shapes:?}"))
        }
    }
}

fn argmax(scores: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, &s) in scores.iter().enumerate() {
        if s > best.1 {
            best = (i, s);
        }
    }
    best
}

/// Decodes all outputs; keeps candidates whose score is above `threshold`.
pub fn decode(
    plan: &OutputPlan,
    outputs: &[RawTensor],
    input: &InputSpec,
    spec: &DecodeSpec,
    num_classes: usize,
    threshold: f32,
    out: &mut Vec<Candidate>,
) {
    out.clear();
    match plan {
        OutputPlan::Nanodet(levels) => {
            for &(stride, cls, reg) in levels {
                decode_nanodet_level(
                    &outputs[cls].data,
                    &outputs[reg].data,
                    input.width / stride,
                    stride,
                    spec,
                    num_classes,
                    threshold,
                    out,
                );
            }
        }
        OutputPlan::Yolox(i) => decode_yolox(
            &outputs[*i].data,
            input,
            &spec.strides,
            num_classes,
            threshold,
            out,
        ),
        OutputPlan::Yolov8(i) => decode_yolov8(&outputs[*i], num_classes, threshold, out),
    }
}

/// NanoDet (GFL): class scores are already sigmoid; each side is a distribution over
/// `reg_max + 1` bins whose expectation (softmax-weighted) times the stride is the distance
/// from the anchor centre.
#[allow(clippy::too_many_arguments)]
pub fn decode_nanodet_level(
    cls: &[f32],
    reg: &[f32],
    grid_w: usize,
    stride: usize,
    spec: &DecodeSpec,
    num_classes: usize,
    threshold: f32,
    out: &mut Vec<Candidate>,
) {
    let bins = spec.reg_max + 1;
    let n = cls.len() / num_classes;
    let s = stride as f32;
    for i in 0..n {
        let (class_id, score) = argmax(&cls[i * num_classes..(i + 1) * num_classes]);
        if score <= threshold {
            continue;
        }
        let cx = ((i % grid_w) as f32 + spec.center_offset) * s;
        let cy = ((i / grid_w) as f32 + spec.center_offset) * s;
        let mut d = [0f32; 4];
        for (k, side) in d.iter_mut().enumerate() {
            let logits = &reg[(i * 4 + k) * bins..(i * 4 + k + 1) * bins];
            let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let (mut sum, mut acc) = (0f32, 0f32);
            for (b, &l) in logits.iter().enumerate() {
                let e = (l - max).exp();
                sum += e;
                acc += e * b as f32;
            }
            *side = acc / sum * s;
        }
        out.push(Candidate {
            bbox: BBox::new(cx - d[0], cy - d[1], cx + d[2], cy + d[3]),
            score,
            class_id,
        });
    }
}

/// YOLOX raw grid: (dx, dy, log w, log h) relative to the cell, objectness and class
/// probabilities already sigmoid; score = objectness × class probability.
pub fn decode_yolox(
    data: &[f32],
    input: &InputSpec,
    strides: &[usize],
    num_classes: usize,
    threshold: f32,
    out: &mut Vec<Candidate>,
) {
    let row = 5 + num_classes;
    let mut i = 0;
    for &stride in strides {
        let (gw, gh) = (input.width / stride, input.height / stride);
        let s = stride as f32;
        for gy in 0..gh {
            for gx in 0..gw {
                let r = &data[i * row..(i + 1) * row];
                i += 1;
                let obj = r[4];
                if obj <= threshold {
                    // score = obj * cls <= obj: nothing in this cell can pass.
                    continue;
                }
                let mut best = (0usize, f32::NEG_INFINITY);
                for (c, &p) in r[5..].iter().enumerate() {
                    let sc = p * obj;
                    if sc > best.1 {
                        best = (c, sc);
                    }
                }
                if best.1 <= threshold {
                    continue;
                }
                let cx = (r[0] + gx as f32) * s;
                let cy = (r[1] + gy as f32) * s;
                let w = r[2].exp() * s;
                let h = r[3].exp() * s;
                out.push(Candidate {
                    bbox: BBox::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0),
                    score: best.1,
                    class_id: best.0,
                });
            }
        }
    }
}

/// Ultralytics YOLOv8 export: [1, 4 + C, N], columns are anchors; (cx, cy, w, h) in input pixels.
pub fn decode_yolov8(t: &RawTensor, num_classes: usize, threshold: f32, out: &mut Vec<Candidate>) {
    let n = t.shape.get(2).copied().unwrap_or(0);
    let d = &t.data;
    for a in 0..n {
        let mut best = (0usize, f32::NEG_INFINITY);
        for c in 0..num_classes {
            let sc = d[(4 + c) * n + a];
            if sc > best.1 {
                best = (c, sc);
            }
        }
        if best.1 <= threshold {
            continue;
        }
        let (cx, cy, w, h) = (d[a], d[n + a], d[2 * n + a], d[3 * n + a]);
        out.push(Candidate {
            bbox: BBox::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0),
            score: best.1,
            class_id: best.0,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::manifest::{Align, ColorOrder, Layout, Resize};

    fn input(w: usize, h: usize) -> InputSpec {
        InputSpec {
            name: "x".into(),
            width: w,
            height: h,
            layout: Layout::Nchw,
            color: ColorOrder::Bgr,
            resize: Resize::Letterbox,
            letterbox_align: Align::Center,
            pad_value: 0.0,
            mean: [0.0; 3],
            std: [1.0; 3],
        }
    }

    fn spec(strides: Vec<usize>, reg_max: usize) -> DecodeSpec {
        DecodeSpec {
            score_threshold: 0.5,
            class_thresholds: Default::default(),
            nms_iou: 0.5,
            max_detections: 10,
            strides,
            reg_max,
            center_offset: 0.5,
        }
    }

    #[test]
    fn nanodet_distribution_expectation_and_centre() {
        // 4x4 input, stride 2 → 2x2 grid, 3 classes, reg_max 3 (4 bins).
        let (nc, bins) = (3, 4);
        let mut cls = vec![0.0f32; 4 * nc];
        cls[3 * nc + 2] = 0.9; // cell (1,1), class 2
        cls[nc] = 0.4; // cell (1,0) below threshold
        let mut reg = vec![-30.0f32; 4 * 4 * bins];
        // Cell 3: left → bin 1, top → bin 2, right: equal logits on bins 0 and 2 (expectation 1), bottom → bin 3.
        let cell = 3;
        reg[(cell * 4) * bins + 1] = 30.0;
        reg[(cell * 4 + 1) * bins + 2] = 30.0;
        reg[(cell * 4 + 2) * bins] = 30.0;
        reg[(cell * 4 + 2) * bins + 2] = 30.0;
        reg[(cell * 4 + 3) * bins + 3] = 30.0;
        let mut out = Vec::new();
        decode_nanodet_level(&cls, &reg, 2, 2, &spec(vec![2], 3), nc, 0.5, &mut out);
        assert_eq!(out.len(), 1);
        let c = out[0];
        assert_eq!((c.class_id, c.score), (2, 0.9));
        // centre (1.5*2, 1.5*2) = (3, 3); distances 2, 4, 2, 6.
        let b = c.bbox;
        for (got, want) in [(b.x1, 1.0), (b.y1, -1.0), (b.x2, 5.0), (b.y2, 9.0)] {
            assert!((got - want).abs() < 1e-4, "{b:?}");
        }
    }

    #[test]
    fn nanodet_plan_pairs_outputs_by_shape() {
        let inp = input(416, 416);
        let shapes = vec![
            vec![1, 169, 80],
            vec![1, 169, 44],
            vec![1, 676, 80],
            vec![1, 2704, 80],
            vec![1, 676, 44],
            vec![1, 2704, 44],
        ];
        let p = plan(
            Family::Nanodet,
            &inp,
            &spec(vec![8, 16, 32], 10),
            80,
            &shapes,
        )
        .unwrap();
        assert_eq!(
            p,
            OutputPlan::Nanodet(vec![(8, 3, 5), (16, 2, 4), (32, 0, 1)])
        );
        let err = plan(
            Family::Nanodet,
            &inp,
            &spec(vec![8, 16, 32], 7),
            80,
            &shapes,
        )
        .unwrap_err();
        assert!(err.contains("[1,2704,32]"), "{err}");
    }

    #[test]
    fn yolox_grid_decoding_and_objectness() {
        // 8x8 input, strides 4 and 8 → 4 + 1 cells, 2 classes.
        let inp = input(8, 8);
        let row = 7;
        let mut data = vec![0.0f32; 5 * row];
        // cell (gx=1, gy=1) of stride 4 = index 3: offset (0.5, 0.25), w = e^0 * 4, h = e^ln2 * 4.
        data[3 * row..4 * row].copy_from_slice(&[
            0.5,
            0.25,
            0.0,
            std::f32::consts::LN_2,
            0.9,
            0.2,
            0.8,
        ]);
        // stride-8 cell: high class prob but low objectness → score 0.3*0.9 below 0.5.
        data[4 * row..5 * row].copy_from_slice(&[0.0, 0.0, 0.0, 0.0, 0.3, 0.9, 0.1]);
        let mut out = Vec::new();
        decode_yolox(&data, &inp, &[4, 8], 2, 0.5, &mut out);
        assert_eq!(out.len(), 1);
        let c = out[0];
        assert_eq!(c.class_id, 1);
        assert!((c.score - 0.72).abs() < 1e-6);
        // centre (6, 5), w 4, h 8.
        let b = c.bbox;
        for (got, want) in [(b.x1, 4.0), (b.y1, 1.0), (b.x2, 8.0), (b.y2, 9.0)] {
            assert!((got - want).abs() < 1e-4, "{b:?}");
        }
    }

    #[test]
    fn yolov8_columns_are_anchors() {
        // 2 classes, 3 anchors: rows cx, cy, w, h, c0, c1.
        let t = RawTensor {
            shape: vec![1, 6, 3],
            data: vec![
                10.0, 20.0, 30.0, // cx
                11.0, 21.0, 31.0, // cy
                2.0, 4.0, 6.0, // w
                2.0, 4.0, 8.0, // h
                0.1, 0.6, 0.2, // smoke
                0.2, 0.1, 0.7, // fire
            ],
        };
        let mut out = Vec::new();
        decode_yolov8(&t, 2, 0.5, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].class_id, out[0].bbox),
            (0, BBox::new(18.0, 19.0, 22.0, 23.0))
        );
        assert_eq!(
            (out[1].class_id, out[1].bbox),
            (1, BBox::new(27.0, 27.0, 33.0, 35.0))
        );
        let p = plan(
            Family::Yolov8,
            &input(640, 640),
            &spec(vec![], 0),
            2,
            &[vec![1, 6, 8400]],
        )
        .unwrap();
        assert_eq!(p, OutputPlan::Yolov8(0));
    }
}
