//! Sinks: where alerts go. Here: the terminal and an `alerts.jsonl` file (one JSON per line,
//! flushed per alert so that nothing accepted is lost when the run stops early).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::alert::Alert;
use crate::error::{Error, Result};

pub struct JsonlSink {
    path: PathBuf,
    out: BufWriter<File>,
}

impl JsonlSink {
    pub fn create(path: &Path) -> Result<JsonlSink> {
        let f = File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(JsonlSink {
            path: path.to_path_buf(),
            out: BufWriter::new(f),
        })
    }

    pub fn write(&mut self, alert: &Alert) -> Result<()> {
        let line = serde_json::to_string(alert)
            .map_err(|e| Error::io(&self.path, std::io::Error::other(e)))?;
        let io = |e| Error::io(&self.path, e);
        self.out.write_all(line.as_bytes()).map_err(io)?;
        self.out.write_all(b"\n").map_err(io)?;
        self.out.flush().map_err(io)?;
        Ok(())
    }

    pub fn finish(mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::io(&self.path, e))?;
        self.out
            .get_ref()
            .sync_all()
            .map_err(|e| Error::io(&self.path, e))
    }
}
