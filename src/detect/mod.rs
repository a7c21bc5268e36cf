//! Detection: pre-processing → ONNX Runtime → family decoder → class-aware NMS, with the time of
//! each stage measured separately.

pub mod decode;
pub mod nms;
pub mod preprocess;
pub mod shared;

use std::time::{Duration, Instant};

use opencv::core::Mat;
use ort::value::TensorRef;

use crate::error::{Error, Result};
use crate::model::{LoadedModel, Manifest, RuntimeOptions};

pub use crate::detection::Detection;
pub use decode::{Candidate, OutputPlan, RawTensor};
pub use preprocess::{Preprocessor, Transform};

/// Time spent per stage for one frame.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    pub preprocess: Duration,
    pub inference: Duration,
    pub postprocess: Duration,
}

/// A ready-to-run detector for one model.
pub struct Detector {
    pub model: LoadedModel,
    plan: OutputPlan,
    pre: Preprocessor,
    raw: Vec<RawTensor>,
    candidates: Vec<Candidate>,
    /// One score threshold for every class, overriding the manifest's per-class thresholds.
    pub threshold: Option<f32>,
    /// The manifest's thresholds, by class id.
    class_thresholds: Vec<f32>,
}

impl Detector {
    pub fn new(manifest: Manifest, opts: &RuntimeOptions) -> Result<Detector> {
        let model = LoadedModel::load(manifest, opts)?;
        let m = &model.manifest;
        let shapes: Vec<Vec<i64>> = model.outputs.iter().map(|(_, s)| s.clone()).collect();
        let plan = decode::plan(m.family, &m.input, &m.decode, m.classes.len(), &shapes).map_err(
            |message| Error::ModelMismatch {
                path: model.path.clone(),
                manifest: m.path.clone(),
                message: format!("family {:?}: {message}", m.family),
            },
        )?;
        Ok(Detector {
            pre: Preprocessor::new(&m.input),
            threshold: None,
            class_thresholds: m.class_thresholds(),
            raw: vec![RawTensor::default(); model.outputs.len()],
            candidates: Vec::new(),
            plan,
            model,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.model.manifest
    }

    /// Stage 1: fills the input tensor.
    pub fn preprocess(&mut self, frame: &Mat) -> Result<Transform> {
        self.pre.run(frame)
    }

    /// Stage 2: runs the model on the current input tensor; outputs are kept in `self.raw`.
    pub fn infer(&mut self) -> Result<()> {
        run_model(&mut self.model, &self.pre.tensor, &mut self.raw)
    }

    /// Stage 2 on an input tensor filled elsewhere (by a `Preprocessor` for this model's input
    /// on another thread, so that pre-processing overlaps inference).
    pub fn infer_input(&mut self, tensor: &[f32]) -> Result<()> {
        run_model(&mut self.model, tensor, &mut self.raw)
    }

    /// Stage 3: decodes the last outputs, maps boxes to the frame and applies NMS.
    pub fn postprocess(&mut self, transform: &Transform) -> Vec<Detection> {
        let m = &self.model.manifest;
        let floor = self.threshold.unwrap_or_else(|| {
            self.class_thresholds
                .iter()
                .copied()
                .fold(f32::INFINITY, f32::min)
        });
        decode::decode(
            &self.plan,
            &self.raw,
            &m.input,
            &m.decode,
            m.classes.len(),
            floor,
            &mut self.candidates,
        );
        if self.threshold.is_none() {
            let per_class = &self.class_thresholds;
            self.candidates
                .retain(|c| per_class.get(c.class_id).is_some_and(|t| c.score > *t));
        }
        for c in self.candidates.iter_mut() {
            c.bbox = transform.to_frame(c.bbox);
        }
        let keep = nms::nms(&self.candidates, m.decode.nms_iou, m.decode.max_detections);
        keep.into_iter()
            .map(|i| {
                let c = self.candidates[i];
                Detection {
                    class_id: c.class_id,
                    class: m.classes[c.class_id].clone(),
                    score: c.score,
                    bbox: c.bbox,
                }
            })
            .collect()
    }

    /// All three stages on one frame.
    pub fn detect(&mut self, frame: &Mat) -> Result<(Vec<Detection>, StageTimes)> {
        let t0 = Instant::now();
        let transform = self.preprocess(frame)?;
        let t1 = Instant::now();
        self.infer()?;
        let t2 = Instant::now();
        let dets = self.postprocess(&transform);
        let t3 = Instant::now();
        Ok((
            dets,
            StageTimes {
                preprocess: t1 - t0,
                inference: t2 - t1,
                postprocess: t3 - t2,
            },
        ))
    }
}

fn run_model(model: &mut LoadedModel, input: &[f32], raw: &mut [RawTensor]) -> Result<()> {
    let m = &model.manifest;
    let shape = [1usize, 3, m.input.height, m.input.width];
    if input.len() != shape.iter().product::<usize>() {
        return Err(Error::Inference(format!(
            "input tensor has {} values, model {} expects 1x3x{}x{}",
            input.len(),
            model.path.display(),
            m.input.height,
            m.input.width
        )));
    }
    let tensor =
        TensorRef::from_array_view((shape, input)).map_err(|e| Error::Inference(e.to_string()))?;
    let outputs = model
        .session
        .run(ort::inputs![m.input.name.as_str() => tensor])
        .map_err(|e| Error::Inference(e.to_string()))?;
    for (slot, (name, _)) in raw.iter_mut().zip(&model.outputs) {
        let (shape, data) = outputs[name.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(|e| Error::Inference(format!("output {name}: {e}")))?;
        slot.shape.clear();
        slot.shape.extend(shape.iter().map(|&d| d.max(0) as usize));
        slot.data.clear();
        slot.data.extend_from_slice(data);
    }
    Ok(())
}

/// How well detections `b` agree with detections `a` taken as the truth: a pair matches when
/// the classes are equal and IoU >= `min_iou` (greedy, highest IoU first, one-to-one).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Agreement {
    pub matched: usize,
    /// In `b` only.
    pub extra: usize,
    /// In `a` only.
    pub missed: usize,
}

impl Agreement {
    pub fn of(a: &[Detection], b: &[Detection], min_iou: f32) -> Agreement {
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (i, x) in a.iter().enumerate() {
            for (j, y) in b.iter().enumerate() {
                if x.class_id == y.class_id {
                    let iou = x.bbox.iou(&y.bbox);
                    if iou >= min_iou {
                        pairs.push((iou, i, j));
                    }
                }
            }
        }
        pairs.sort_by(|p, q| q.0.total_cmp(&p.0));
        let (mut used_a, mut used_b) = (vec![false; a.len()], vec![false; b.len()]);
        let mut matched = 0;
        for (_, i, j) in pairs {
            if !used_a[i] && !used_b[j] {
                used_a[i] = true;
                used_b[j] = true;
                matched += 1;
            }
        }
        Agreement {
            matched,
            extra: b.len() - matched,
            missed: a.len() - matched,
        }
    }

    pub fn add(&mut self, o: Agreement) {
        self.matched += o.matched;
        self.extra += o.extra;
        self.missed += o.missed;
    }

    /// F1 = 2·matched / (|a| + |b|); 1 when both are empty.
    pub fn f1(&self) -> f64 {
        let total = 2 * self.matched + self.extra + self.missed;
        if total == 0 {
            1.0
        } else {
            2.0 * self.matched as f64 / total as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::BBox;

    fn d(class_id: usize, x: f32) -> Detection {
        Detection {
            class_id,
            class: String::new(),
            score: 0.9,
            bbox: BBox::new(x, 0.0, x + 10.0, 10.0),
        }
    }

    #[test]
    fn agreement_matches_same_class_overlaps_one_to_one() {
        let a = vec![d(0, 0.0), d(0, 100.0), d(1, 200.0)];
        // Shifted by 1 px (IoU 0.82), a class change, and one box twice.
        let b = vec![d(0, 1.0), d(0, 0.5), d(2, 200.0)];
        let g = Agreement::of(&a, &b, 0.5);
        assert_eq!(
            g,
            Agreement {
                matched: 1,
                extra: 2,
                missed: 2
            }
        );
        assert!((g.f1() - 2.0 / 6.0).abs() < 1e-9);
        assert_eq!(Agreement::of(&[], &[], 0.5).f1(), 1.0);
        assert_eq!(Agreement::of(&a, &a, 0.5).f1(), 1.0);
    }
}
