//! Typed errors of the library. Each variant names the file (and, where known, the line and
//! field) so that an operator can fix the input without reading code.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed. The cause is part of the message (and not also a
    /// `source`, so that a chain printed with `{:#}` says it once).
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },

    /// A configuration-like file (manifest, calibration) that does not parse or validate.
    #[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Config {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },

    #[error("ONNX Runtime library not found at {path} (set ORT_DYLIB_PATH or --ort-lib, or run scripts/setup.sh)")]
    OrtMissing { path: PathBuf },

    #[error("cannot load the ONNX Runtime library {path}: {message}")]
    OrtLoad { path: PathBuf, message: String },

    #[error("model file {path} not found (manifest {manifest}; run scripts/setup.sh or set STREETWATCH_MODELS)")]
    ModelMissing { path: PathBuf, manifest: PathBuf },

    #[error("model file {path} is corrupt or not the one {manifest} names: sha256 {actual}, field sha256 says {expected}")]
    ModelChecksum {
        path: PathBuf,
        manifest: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("ONNX Runtime cannot load model {path}: {message}")]
    ModelLoad { path: PathBuf, message: String },

    #[error("execution provider {provider} is not available in the ONNX Runtime library {lib}: {message} (it comes with {hint}; give that library with ORT_DYLIB_PATH or --ort-lib, or use execution_provider = \"cpu\")")]
    Provider {
        provider: &'static str,
        lib: PathBuf,
        message: String,
        hint: &'static str,
    },

    #[error("model {path} does not match its manifest {manifest}: {message}")]
    ModelMismatch {
        path: PathBuf,
        manifest: PathBuf,
        message: String,
    },

    #[error("inference failed: {0}")]
    Inference(String),

    #[error("{path}: {message}")]
    Video { path: PathBuf, message: String },

    #[error("OpenCV: {0}")]
    OpenCv(#[from] opencv::Error),

    /// The MQTT client could not do what it was asked (subscribe, publish).
    #[error("MQTT broker {broker}: {message}")]
    Mqtt { broker: String, message: String },

    /// A run bounded in time ended before it had done its work.
    #[error("timed out: {0}")]
    TimedOut(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause: source,
        }
    }

    pub fn config(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Error::Config {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}

/// Line number (1-based) of a byte offset in a text.
pub fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Turns a `toml` parse/deserialise error into a [`Error::Config`] with its line.
pub fn toml_error(path: &std::path::Path, text: &str, err: toml::de::Error) -> Error {
    let line = err.span().map(|s| line_of(text, s.start));
    Error::config(path, line, err.message().to_string())
}
