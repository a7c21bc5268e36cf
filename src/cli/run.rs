//! `streetwatch run`: the live service.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::{load_detector, ModelArgs};

#[derive(Args)]
pub struct RunArgs {
    /// Service configuration (TOML): cameras, MQTT broker, storage, metrics address.
    #[arg(long)]
    config: PathBuf,
    /// ONNX Runtime shared library (default: $ORT_DYLIB_PATH, else the one setup installs).
    #[arg(long)]
    ort_lib: Option<PathBuf>,
    /// At shutdown, write the run's figures here (JSON: per camera analysed fps, lag p50/p99/max
    /// and p99 per minute, captured/dropped frames).
    #[arg(long)]
    stats: Option<PathBuf>,
}

pub fn run(args: RunArgs) -> Result<()> {
    let RunArgs {
        config,
        ort_lib,
        stats,
    } = args;
    // One thread per camera plus inference, analytics and I/O: glibc would give each its own
    // malloc arena (up to 8 per core), and the fragmentation costs RSS on a box with little
    // memory. Two arenas: 303 → 280 MB peak with four cameras (benches/live_load.rs).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it runs before any thread is started.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let cfg = crate::config::ServiceConfig::load(&config)?;
    let model = ModelArgs {
        model: cfg.model.clone(),
        ort_lib,
        threads: cfg.threads,
        threshold: None,
        execution_provider: cfg.execution_provider,
    };
    let det = load_detector(&model)?;
    let more = (1..cfg.inference_sessions)
        .map(|_| load_detector(&model))
        .collect::<Result<Vec<_>>>()?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    crate::service::run(cfg, det, more, stop, stats.as_deref())?;
    Ok(())
}
