//! `streetwatch verify`: recompute an evidence bundle's hashes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::bundle::{self, Verdict};

#[derive(Args)]
pub struct VerifyArgs {
    /// A bundle folder written by `replay` (its manifest.json and the files it lists).
    bundle: PathBuf,
}

pub fn run(args: &VerifyArgs) -> Result<ExitCode> {
    let bundle = &args.bundle;
    Ok(match bundle::verify(bundle)? {
        Verdict::Intact {
            files,
            truncated_source,
        } => {
            println!("{}: intact ({files} files verified)", bundle.display());
            if truncated_source {
                println!("note: the source video was truncated; the bundle covers what was readable (see manifest.json source)");
            }
            ExitCode::SUCCESS
        }
        Verdict::Incomplete { reason } => {
            println!("{}: INCOMPLETE: {reason}", bundle.display());
            ExitCode::from(super::EXIT_INCOMPLETE)
        }
        Verdict::Corrupt { problem } => {
            println!("{}: FAILED: {problem}", bundle.display());
            ExitCode::from(super::EXIT_FAILED)
        }
    })
}
