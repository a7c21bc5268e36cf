//! `streetwatch console`: the control room's web console.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

#[derive(Args)]
pub struct ConsoleArgs {
    /// The console's configuration (`config/console.toml`): brokers to follow, database, data
    /// folder, listen address (loopback).
    #[arg(long, required_unless_present = "hash_password")]
    config: Option<PathBuf>,
    /// Print the Argon2 hash of a password read from standard input (one line), for an
    /// `[[operators]]` entry's `password_hash`, and exit.
    #[arg(long)]
    hash_password: bool,
}

pub fn run(args: &ConsoleArgs) -> Result<()> {
    if args.hash_password {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.trim_end_matches(['\n', '\r']);
        if password.chars().count() < 8 {
            anyhow::bail!("a password of at least 8 characters is needed");
        }
        let hash = crate::console::auth::hash_password(password).map_err(anyhow::Error::msg)?;
        println!("{hash}");
        return Ok(());
    }
    let Some(config) = &args.config else {
        anyhow::bail!("--config is needed");
    };
    let cfg = crate::console::config::ConsoleConfig::load(config)?;
    crate::console::run(cfg)?;
    Ok(())
}
