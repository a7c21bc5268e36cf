//! Detection: pre-processing → ONNX Runtime → family decoder → class-aware NMS, with the time of
//! each stage measured separately.

pub mod decode;
pub mod nms;
pub mod preprocess;

use std::time::{Duration, Instant};

use opencv::core::Mat;
use ort::value::TensorRef;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::geometry::BBox;
use crate::model::{LoadedModel, Manifest, RuntimeOptions};

pub use decode::{Candidate, OutputPlan, RawTensor};
pub use preprocess::{Preprocessor, Transform};

/// One detection in frame pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub class_id: usize,
    pub class: String,
    pub score: f32,
    pub bbox: BBox,
}

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
    /// Score threshold in use (the manifest's unless overridden).
    pub threshold: f32,
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
            threshold: m.decode.score_threshold,
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
        let m = &self.model.manifest;
        let shape = [1usize, 3, m.input.height, m.input.width];
        let tensor = TensorRef::from_array_view((shape, self.pre.tensor.as_slice()))
            .map_err(|e| Error::Inference(e.to_string()))?;
        let outputs = self
            .model
            .session
            .run(ort::inputs![m.input.name.as_str() => tensor])
            .map_err(|e| Error::Inference(e.to_string()))?;
        for (slot, (name, _)) in self.raw.iter_mut().zip(&self.model.outputs) {
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

    /// Stage 3: decodes the last outputs, maps boxes to the frame and applies NMS.
    pub fn postprocess(&mut self, transform: &Transform) -> Vec<Detection> {
        let m = &self.model.manifest;
        decode::decode(
            &self.plan,
            &self.raw,
            &m.input,
            &m.decode,
            m.classes.len(),
            self.threshold,
            &mut self.candidates,
        );
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
