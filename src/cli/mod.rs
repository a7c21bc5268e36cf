//! The `streetwatch` command line: one module per subcommand (its arguments and what it does),
//! over the library. `src/main.rs` only calls [`main`].
//!
//! Exit codes (every command): 0 done, 1 failed (the error is printed), 2 usage error (clap).
//! `verify` adds 3 (the bundle is incomplete) and 4 (not a readable bundle); its 1 means the
//! bundle was altered.

mod calibrate;
mod check;
mod console;
mod detect;
mod keygen;
mod replay;
mod run;
mod score;
mod subscribe;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::detect::Detector;
use crate::model::{self, Manifest, RuntimeOptions};

/// Exit code of a command that failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code of `verify` when the bundle is incomplete.
pub const EXIT_INCOMPLETE: u8 = 3;
/// Exit code of `verify` when the folder is not a readable bundle.
pub const EXIT_UNREADABLE: u8 = 4;

#[derive(Parser)]
#[command(
    name = "streetwatch",
    version,
    about = "Street-order violations from CCTV: detect, track, alert"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Detect objects in an image or a video; prints JSON lines and writes an annotated image.
    Detect(detect::DetectArgs),
    /// Replay video files through the whole pipeline and write an evidence bundle for each.
    Replay(replay::ReplayArgs),
    /// Check an evidence bundle: recompute every hash. Exit 0 intact, 1 altered, 3 incomplete,
    /// 4 not a readable bundle (2 is a usage error, as for every command).
    Verify(verify::VerifyArgs),
    /// Make the box's key pair for signing evidence bundles (`replay --sign-key`,
    /// `verify --key`).
    Keygen(keygen::KeygenArgs),
    /// Run the live service: cameras → detection → rules → alerts over MQTT.
    Run(run::RunArgs),
    /// The control room's terminal client: shows alerts as they arrive, drops repeats by id.
    Subscribe(subscribe::SubscribeArgs),
    /// The control room's web console: cases from one or more brokers in a database, on a page.
    Console(console::ConsoleArgs),
    /// Validate a calibration file or a service configuration.
    Check(check::CheckArgs),
    /// Draw a calibration (zones, names, a metre grid from the homography) on a real frame.
    Calibrate(calibrate::CalibrateArgs),
    /// Print the JSON Schema of the alert payload.
    Schema,
    /// Score replay bundles against ground truth: per violation type, episode-level precision,
    /// recall, start delay and end error (truth format: src/score.rs, samples/README.md).
    Score(score::ScoreArgs),
}

#[derive(Args, Clone)]
pub struct ModelArgs {
    /// Model manifest: a path, or a name in models/ (nanodet, yolox_nano, smoke_fire_yolov8).
    #[arg(long, default_value = "nanodet")]
    pub model: String,
    /// ONNX Runtime shared library (default: $ORT_DYLIB_PATH, else the one setup installs).
    #[arg(long)]
    pub ort_lib: Option<PathBuf>,
    /// Inference threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Score threshold (default: the manifest's).
    #[arg(long)]
    pub threshold: Option<f32>,
    /// ONNX Runtime execution provider: cpu, cuda, tensorrt, openvino (all but cpu need an
    /// ONNX Runtime built with them).
    #[arg(long, default_value = "cpu")]
    pub execution_provider: model::Provider,
}

pub fn load_detector(args: &ModelArgs) -> Result<Detector> {
    let manifest_path = model::find_manifest(&args.model)?;
    let manifest = Manifest::load(&manifest_path)?;
    let opts = RuntimeOptions {
        ort_lib: args.ort_lib.clone().unwrap_or_else(model::default_ort_lib),
        threads: args.threads,
        provider: args.execution_provider,
    };
    let mut det = Detector::new(manifest, &opts)?;
    det.threshold = args.threshold;
    tracing::info!(model = %det.manifest().name, file = %det.model.path.display(), "model loaded");
    Ok(det)
}

/// Parses the command line, sets up logging and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The one-shot commands print results for pipes (`check F | head -1`): a closed pipe ends
    // them quietly, as it does any Unix tool, instead of a panic in `println!`. The service
    // keeps Rust's default (SIGPIPE ignored): a closed socket is an error it handles.
    if !matches!(cli.command, Command::Run(_) | Command::Console(_)) {
        #[cfg(unix)]
        // SAFETY: restores the default disposition of one signal before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    // The service logs what it does (start, cameras, broker, alerts); the one-shot commands print
    // their own results and log only warnings. STREETWATCH_LOG overrides both.
    let default_level = match cli.command {
        Command::Run(_) => "info,ort=warn",
        Command::Console(_) => "info,sqlx=warn",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STREETWATCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: not in the journal or a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Detect(args) => detect::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Verify(args) => {
            return verify::run(&args).unwrap_or_else(|e| {
                eprintln!("error: {e:#}");
                ExitCode::from(EXIT_UNREADABLE)
            })
        }
        Command::Check(args) => check::run(&args),
        Command::Keygen(args) => keygen::run(&args),
        Command::Run(args) => run::run(args),
        Command::Subscribe(args) => subscribe::run(args),
        Command::Console(args) => console::run(&args),
        Command::Calibrate(args) => calibrate::run(&args),
        Command::Schema => {
            print!("{}", crate::alert::schema_json());
            Ok(())
        }
        Command::Score(args) => score::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `streetwatch <command> --help` explains every argument, positional ones too.
    #[test]
    fn every_argument_of_every_command_has_help() {
        let cli = Cli::command();
        let mut missing = Vec::new();
        for sub in cli.get_subcommands() {
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && arg.get_help().is_none() {
                    missing.push(format!("{} {id}", sub.get_name()));
                }
            }
        }
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
        cli.debug_assert();
    }

    /// The exit codes are distinct, and none is clap's usage error (2).
    #[test]
    fn exit_codes_are_distinct_and_not_the_usage_code() {
        let codes = [0, EXIT_FAILED, EXIT_INCOMPLETE, EXIT_UNREADABLE];
        let set: std::collections::BTreeSet<u8> = codes.iter().copied().collect();
        assert_eq!(set.len(), codes.len());
        assert!(!set.contains(&2));
    }
}
