//! `streetwatch verify`: recompute an evidence bundle's hashes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::bundle::{self, Signature, Verdict};

#[derive(Args)]
pub struct VerifyArgs {
    /// A bundle folder written by `replay` (its manifest.json and the files it lists).
    bundle: PathBuf,
    /// The public key (`bundle.pub` from `streetwatch keygen`) of the box that signed the
    /// bundle: the bundle must carry a matching signature.
    #[arg(long)]
    key: Option<PathBuf>,
}

pub fn run(args: &VerifyArgs) -> Result<ExitCode> {
    let bundle = &args.bundle;
    let key = args
        .key
        .as_deref()
        .map(bundle::load_public_key)
        .transpose()?;
    Ok(match bundle::verify_with(bundle, key.as_ref())? {
        Verdict::Intact {
            files,
            truncated_source,
            signature,
        } => {
            let signed = match signature {
                Signature::Valid => ", signed by the given key",
                Signature::Unchecked => ", signed (not checked: give --key)",
                Signature::None => ", not signed",
            };
            println!(
                "{}: intact ({files} files verified{signed})",
                bundle.display()
            );
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
