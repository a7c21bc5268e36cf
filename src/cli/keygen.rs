//! `streetwatch keygen`: the box's key pair for signing evidence bundles.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::bundle;

#[derive(Args)]
pub struct KeygenArgs {
    /// Folder for `bundle.key` (the secret key, mode 0600: keep it on the box) and `bundle.pub`
    /// (the public key: give it to whoever verifies the box's bundles). Existing files are
    /// never replaced.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: &KeygenArgs) -> Result<()> {
    let (secret, public) = bundle::keygen(&args.out)?;
    println!(
        "secret key {} (stays on this box, readable by its owner only)",
        secret.display()
    );
    println!(
        "public key {} (for `streetwatch verify --key`)",
        public.display()
    );
    Ok(())
}
