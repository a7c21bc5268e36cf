//! `streetwatch console`: the control room's web console.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct ConsoleArgs {
    /// The console's configuration (`config/console.toml`): brokers to follow, database, data
    /// folder, listen address (loopback).
    #[arg(long)]
    config: PathBuf,
}

pub fn run(args: &ConsoleArgs) -> Result<()> {
    let cfg = crate::console::config::ConsoleConfig::load(&args.config)?;
    crate::console::run(cfg)?;
    Ok(())
}
