//! Model manifests (`models/*.toml`): everything streetwatch needs to know about a model file
//! to run it — family, input tensor, pre-processing, decoding parameters, classes, identity.
//! Adding a model of a supported family is a new manifest, not code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{toml_error, Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// NanoDet/GFL: per-stride class maps [1,N,C] and distribution box maps [1,N,4*(reg_max+1)].
    Nanodet,
    /// YOLOX raw grid output [1,N,5+C]: (dx, dy, log w, log h, objectness, classes).
    Yolox,
    /// Ultralytics YOLOv8 export [1,4+C,N]: (cx, cy, w, h, classes), no objectness.
    Yolov8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorOrder {
    Bgr,
    Rgb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resize {
    /// Scale each axis independently to the input size.
    Stretch,
    /// Keep the aspect ratio and pad the rest with `pad_value`.
    Letterbox,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    #[default]
    Center,
    TopLeft,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Nchw,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub name: String,
    pub width: usize,
    pub height: usize,
    pub layout: Layout,
    pub color: ColorOrder,
    pub resize: Resize,
    #[serde(default)]
    pub letterbox_align: Align,
    /// Raw pixel value (0-255) of the padding, before normalisation.
    #[serde(default)]
    pub pad_value: f32,
    /// value = (pixel - mean) / std, per channel in the model's colour order.
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecodeSpec {
    pub score_threshold: f32,
    /// Score thresholds of classes that differ from `score_threshold`, by class name (chosen on a
    /// labelled set: tests/data/labelset.toml, scripts/detect_eval.py).
    #[serde(default)]
    pub class_thresholds: BTreeMap<String, f32>,
    pub nms_iou: f32,
    pub max_detections: usize,
    #[serde(default)]
    pub strides: Vec<usize>,
    /// NanoDet: number of distribution bins per side minus one.
    #[serde(default)]
    pub reg_max: usize,
    /// NanoDet: anchor centre offset in cells (0.5 = cell centre).
    #[serde(default)]
    pub center_offset: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub family: Family,
    pub file: String,
    pub sha256: String,
    #[serde(default)]
    pub content_sha256: Option<String>,
    pub source: String,
    pub license: String,
    pub provenance: String,
    pub classes: Vec<String>,
    pub input: InputSpec,
    pub decode: DecodeSpec,
    /// Where the manifest was read from (not part of the file).
    #[serde(skip)]
    pub path: PathBuf,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Manifest> {
        let mut m: Manifest = toml::from_str(text).map_err(|e| toml_error(path, text, e))?;
        m.path = path.to_path_buf();
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<()> {
        let bad = |field: &str, msg: String| {
            Err(Error::config(
                &self.path,
                None,
                format!("field {field}: {msg}"),
            ))
        };
        if self.classes.is_empty() {
            return bad("classes", "must list at least one class".into());
        }
        if self.input.width == 0 || self.input.height == 0 {
            return bad("input.width/height", "must be positive".into());
        }
        if self.input.std.contains(&0.0) {
            return bad("input.std", "must not contain 0".into());
        }
        if !(0.0..=1.0).contains(&self.decode.score_threshold) {
            return bad("decode.score_threshold", "must be within 0..1".into());
        }
        for (class, t) in &self.decode.class_thresholds {
            if self.class_id(class).is_none() {
                return bad(
                    "decode.class_thresholds",
                    format!("'{class}' is not one of the model's classes"),
                );
            }
            if !(0.0..=1.0).contains(t) {
                return bad(
                    "decode.class_thresholds",
                    format!("{class}: {t} is not within 0..1"),
                );
            }
        }
        if !(0.0..=1.0).contains(&self.decode.nms_iou) {
            return bad("decode.nms_iou", "must be within 0..1".into());
        }
        if self.sha256.len() != 64 || !self.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return bad(
                "sha256",
                format!("'{}' is not a sha256 hex digest", self.sha256),
            );
        }
        match self.family {
            Family::Nanodet | Family::Yolox => {
                if self.decode.strides.is_empty() {
                    return bad(
                        "decode.strides",
                        format!("required for family {:?}", self.family),
                    );
                }
                for &s in &self.decode.strides {
                    if s == 0
                        || !self.input.width.is_multiple_of(s)
                        || !self.input.height.is_multiple_of(s)
                    {
                        return bad(
                            "decode.strides",
                            format!("stride {s} does not divide the input size"),
                        );
                    }
                }
                if self.family == Family::Nanodet && self.decode.reg_max == 0 {
                    return bad("decode.reg_max", "required for family nanodet".into());
                }
            }
            Family::Yolov8 => {}
        }
        Ok(())
    }

    pub fn class_id(&self, name: &str) -> Option<usize> {
        self.classes.iter().position(|c| c == name)
    }

    /// The score threshold of each class, by class id.
    pub fn class_thresholds(&self) -> Vec<f32> {
        self.classes
            .iter()
            .map(|c| {
                self.decode
                    .class_thresholds
                    .get(c)
                    .copied()
                    .unwrap_or(self.decode.score_threshold)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifests_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
    }

    #[test]
    fn every_shipped_manifest_parses() {
        let mut n = 0;
        for entry in std::fs::read_dir(manifests_dir()).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().and_then(|e| e.to_str()) == Some("toml") {
                let m = Manifest::load(&p).unwrap_or_else(|e| panic!("{e}"));
                assert!(!m.classes.is_empty());
                n += 1;
            }
        }
        assert!(n >= 3, "expected the three family manifests, found {n}");
    }

    #[test]
    fn unknown_field_names_file_and_line() {
        let text = std::fs::read_to_string(manifests_dir().join("yolox_nano.toml")).unwrap();
        let broken = text.replace("nms_iou = 0.6", "nms_iou = 0.6\nnms_iuo = 0.5");
        let err = Manifest::parse(Path::new("models/x.toml"), &broken)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("models/x.toml:"), "{err}");
        assert!(err.contains("nms_iuo"), "{err}");
        let line = broken
            .lines()
            .position(|l| l.starts_with("nms_iuo"))
            .unwrap()
            + 1;
        assert!(
            err.contains(&format!(":{line}:")),
            "{err} (expected line {line})"
        );
    }

    #[test]
    fn bad_stride_is_rejected_with_field() {
        let text = std::fs::read_to_string(manifests_dir().join("yolox_nano.toml")).unwrap();
        let broken = text.replace("strides = [8, 16, 32]", "strides = [8, 15, 32]");
        let err = Manifest::parse(Path::new("m.toml"), &broken)
            .unwrap_err()
            .to_string();
        assert!(err.contains("decode.strides"), "{err}");
    }

    #[test]
    fn class_thresholds_default_to_the_score_threshold_and_name_a_class() {
        let text = std::fs::read_to_string(manifests_dir().join("nanodet.toml")).unwrap();
        let m = Manifest::parse(Path::new("nanodet.toml"), &text).unwrap();
        let t = m.class_thresholds();
        let id = |c: &str| m.class_id(c).unwrap();
        assert_eq!(t[id("person")], m.decode.score_threshold);
        assert!(t[id("bicycle")] < m.decode.score_threshold);
        assert_eq!(t[id("bicycle")], t[id("motorcycle")]);
        for (bad, field) in [
            ("{ bicycel = 0.3 }", "bicycel"),
            ("{ bicycle = 1.3 }", "1.3"),
        ] {
            let broken = text.replace(
                "class_thresholds = { bicycle = 0.30, motorcycle = 0.30 }",
                &format!("class_thresholds = {bad}"),
            );
            assert_ne!(broken, text);
            let err = Manifest::parse(Path::new("m.toml"), &broken)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("decode.class_thresholds") && err.contains(field),
                "{err}"
            );
        }
    }
}
