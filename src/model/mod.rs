//! Models: manifests, finding and verifying model files, and the ONNX Runtime session.

pub mod manifest;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::digest::sha256_file;
use ort::session::{builder::GraphOptimizationLevel, Session};

pub use manifest::{Family, Manifest};

use crate::error::{Error, Result};

/// Version of the ONNX Runtime library setup installs.
pub const ORT_VERSION: &str = "1.31.1";

/// The per-machine cache (`$STREETWATCH_CACHE`, default `~/.cache/streetwatch`).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("STREETWATCH_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("streetwatch")
}

/// A path of the installed layout (the Debian package: `<prefix>/bin/streetwatch`,
/// `<prefix>/lib/streetwatch/`, `<prefix>/share/streetwatch/`), relative to the running
/// executable's prefix, when it exists. An unpacked package therefore works wherever it lies.
pub fn installed(relative: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join(relative);
    p.exists().then_some(p)
}

/// Where the ONNX Runtime library is looked for when no path is given: `$ORT_DYLIB_PATH`, the
/// installed package's copy, then the one setup puts in the cache.
pub fn default_ort_lib() -> PathBuf {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = installed(&format!("lib/streetwatch/libonnxruntime.so.{ORT_VERSION}")) {
        return p;
    }
    cache_dir()
        .join(format!("onnxruntime-{ORT_VERSION}"))
        .join(format!("libonnxruntime.so.{ORT_VERSION}"))
}

static ENV: OnceLock<std::result::Result<ort::environment::Environment, String>> = OnceLock::new();

/// Loads the ONNX Runtime library once per process and returns the environment.
pub fn runtime(lib: &Path) -> Result<&'static ort::environment::Environment> {
    if !lib.is_file() {
        return Err(Error::OrtMissing {
            path: lib.to_path_buf(),
        });
    }
    let env = ENV.get_or_init(|| {
        let builder = ort::init_from(lib).map_err(|e| e.to_string())?;
        builder
            .with_name("streetwatch")
            .build()
            .map_err(|e| e.to_string())
    });
    env.as_ref().map_err(|message| Error::OrtLoad {
        path: lib.to_path_buf(),
        message: message.clone(),
    })
}

/// Resolves a `--model` argument: a manifest path, or a manifest name in `models/` (of the
/// working folder, of the installed package, of the source tree this was built from).
pub fn find_manifest(arg: &str) -> Result<PathBuf> {
    let direct = PathBuf::from(arg);
    if direct.is_file() {
        return Ok(direct);
    }
    let roots = [
        Some(PathBuf::from("models")),
        installed("share/streetwatch/models"),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")),
    ];
    for root in roots.iter().flatten() {
        let p = root.join(format!("{arg}.toml"));
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(Error::config(
        direct,
        None,
        "no such model manifest (a path, or a name of a file in models/ such as 'nanodet')",
    ))
}

/// Folders searched for model files, in order.
pub fn model_dirs(manifest: &Manifest) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("STREETWATCH_MODELS").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(d));
    }
    if let Some(parent) = manifest.path.parent() {
        dirs.push(parent.to_path_buf());
    }
    dirs.push(cache_dir().join("models"));
    dirs
}

/// Finds the manifest's model file and checks its identity. Returns the path and its sha256.
pub fn locate_model(manifest: &Manifest) -> Result<(PathBuf, String)> {
    let dirs = model_dirs(manifest);
    let path = dirs
        .iter()
        .map(|d| d.join(&manifest.file))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::ModelMissing {
            path: dirs
                .first()
                .map(|d| d.join(&manifest.file))
                .unwrap_or_default(),
            manifest: manifest.path.clone(),
        })?;
    let actual = sha256_file(&path)?;
    // A local conversion has its own file sha256; setup verified its content digest and left the
    // file's sha256 beside it.
    let stamp = std::fs::read_to_string(path.with_file_name(format!("{}.sha256", manifest.file)))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if actual != manifest.sha256 && actual != stamp {
        return Err(Error::ModelChecksum {
            path,
            manifest: manifest.path.clone(),
            expected: manifest.sha256.clone(),
            actual,
        });
    }
    Ok((path, actual))
}

/// Where ONNX Runtime runs a model (its execution provider). The library setup installs (the
/// PyPI `onnxruntime` wheel, also in the Debian package) has the CPU one only: the others need an
/// ONNX Runtime built with them, given with `ORT_DYLIB_PATH` / `--ort-lib` (see `hint`). Only the
/// CPU provider is tested here (no GPU on these machines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    #[default]
    Cpu,
    /// NVIDIA GPUs (Jetson-class boxes, x86 with a GPU).
    Cuda,
    /// NVIDIA TensorRT (Jetson-class boxes): builds an engine per model on the first run.
    TensorRt,
    /// Intel CPUs, integrated GPUs and NPUs.
    OpenVino,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::Cpu,
        Provider::Cuda,
        Provider::TensorRt,
        Provider::OpenVino,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Cpu => "cpu",
            Provider::Cuda => "cuda",
            Provider::TensorRt => "tensorrt",
            Provider::OpenVino => "openvino",
        }
    }

    /// Which ONNX Runtime build has this provider.
    pub fn hint(self) -> &'static str {
        match self {
            Provider::Cpu => "every ONNX Runtime build",
            Provider::Cuda => "the PyPI wheel onnxruntime-gpu (x86-64, CUDA 12 and cuDNN 9 installed) or NVIDIA's JetPack build of ONNX Runtime on Jetson",
            Provider::TensorRt => "onnxruntime-gpu with NVIDIA's TensorRT libraries installed, or NVIDIA's JetPack build on Jetson",
            Provider::OpenVino => "the PyPI wheel onnxruntime-openvino (x86-64, Intel)",
        }
    }

    fn dispatch(self) -> Option<ort::ep::ExecutionProviderDispatch> {
        match self {
            Provider::Cpu => None,
            Provider::Cuda => Some(ort::ep::CUDA::default().build()),
            Provider::TensorRt => Some(ort::ep::TensorRT::default().build()),
            Provider::OpenVino => Some(ort::ep::OpenVINO::default().build()),
        }
    }
}

impl std::str::FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Provider, String> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
                format!("'{s}' is not an execution provider ({})", names.join(", "))
            })
    }
}

/// How to run a model.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    pub ort_lib: PathBuf,
    /// Intra-op threads; 0 = number of cores.
    pub threads: usize,
    pub provider: Provider,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            ort_lib: default_ort_lib(),
            threads: 0,
            provider: Provider::Cpu,
        }
    }
}

/// A loaded model: manifest, session and identity.
pub struct LoadedModel {
    pub manifest: Manifest,
    pub path: PathBuf,
    pub sha256: String,
    pub session: Session,
    /// Output names in session order.
    pub outputs: Vec<(String, Vec<i64>)>,
}

impl LoadedModel {
    pub fn load(manifest: Manifest, opts: &RuntimeOptions) -> Result<LoadedModel> {
        let env = runtime(&opts.ort_lib)?;
        let (path, sha256) = locate_model(&manifest)?;
        let threads = if opts.threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            opts.threads
        };
        let load_err = |e: ort::Error| Error::ModelLoad {
            path: path.clone(),
            message: e.to_string(),
        };
        let mut builder = Session::builder(env).map_err(load_err)?;
        if let Some(ep) = opts.provider.dispatch() {
            // No silent fall-back to the CPU: a box configured for its GPU that runs on its CPU
            // would miss its frame rate without saying why.
            builder = builder
                .with_execution_providers([ep.error_on_failure()])
                .map_err(|e| Error::Provider {
                    provider: opts.provider.as_str(),
                    lib: opts.ort_lib.clone(),
                    message: ort::Error::<()>::from(e).to_string(),
                    hint: opts.provider.hint(),
                })?;
        }
        let session = builder
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| load_err(e.into()))?
            .with_intra_threads(threads)
            .map_err(|e| load_err(e.into()))?
            // Idle intra-op threads sleep instead of spinning: the spinning ones took CPU from
            // each other and from decoding and analytics on this 2-core box (NanoDet, 2 threads,
            // raw inference median 25.9 ms spinning vs 21.7 ms not; `cargo bench --bench e2e`).
            .with_intra_op_spinning(false)
            .map_err(|e| load_err(e.into()))?
            .commit_from_file(&path)
            .map_err(load_err)?;
        let model = LoadedModel {
            outputs: session
                .outputs()
                .iter()
                .map(|o| {
                    let shape = o
                        .dtype()
                        .tensor_shape()
                        .map(|s| s.to_vec())
                        .unwrap_or_default();
                    (o.name().to_string(), shape)
                })
                .collect(),
            manifest,
            path,
            sha256,
            session,
        };
        model.check_input()?;
        Ok(model)
    }

    fn check_input(&self) -> Result<()> {
        let m = &self.manifest;
        let mismatch = |message: String| Error::ModelMismatch {
            path: self.path.clone(),
            manifest: m.path.clone(),
            message,
        };
        let inputs = self.session.inputs();
        let input = inputs
            .iter()
            .find(|i| i.name() == m.input.name)
            .ok_or_else(|| {
                let names: Vec<&str> = inputs.iter().map(|i| i.name()).collect();
                mismatch(format!(
                    "field input.name is '{}', the model's inputs are {names:?}",
                    m.input.name
                ))
            })?;
        let shape = input
            .dtype()
            .tensor_shape()
            .map(|s| s.to_vec())
            .unwrap_or_default();
        let want = [1, 3, m.input.height as i64, m.input.width as i64];
        let fits = shape.len() == 4 && shape.iter().zip(want).all(|(&got, w)| got == w || got < 0);
        if !fits {
            return Err(mismatch(format!(
                "input '{}' has shape {shape:?}, fields input.height/width say {want:?}",
                m.input.name
            )));
        }
        Ok(())
    }
}
