//! `streetwatch verify`: recompute an evidence bundle's hashes, or check the signatures of saved
//! alerts.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::bundle::{self, Signature, Verdict};

#[derive(Args)]
pub struct VerifyArgs {
    /// A bundle folder written by `replay` (its manifest.json and the files it lists), or a
    /// file of alerts from the live service: one alert saved by `subscribe --save` (`<id>.json`)
    /// or the service's alert log (`alerts.jsonl`), checked with `--key`.
    bundle: PathBuf,
    /// The public key (`bundle.pub` from `streetwatch keygen`) of the box that signed the
    /// bundle or the alerts: they must carry a matching signature.
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
    if bundle.is_file() {
        let Some(key) = key else {
            anyhow::bail!(
                "{}: a file of alerts is checked by its signatures: give --key bundle.pub",
                bundle.display()
            );
        };
        return alerts(bundle, &key);
    }
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

/// Checks every alert of a file (one payload per line): its signature, and its snapshot's
/// SHA-256 when the image is beside it (`<id>.jpg`, as `subscribe --save` keeps them, or
/// `snapshots/<id>.jpg`, as the service does).
fn alerts(path: &std::path::Path, key: &ed25519_dalek::VerifyingKey) -> Result<ExitCode> {
    use crate::signature::{verify_payload, Check};
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let (mut count, mut images, mut problems) = (0, 0, Vec::new());
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        count += 1;
        let v: serde_json::Value = serde_json::from_slice(line).unwrap_or_default();
        let id = v["id"].as_str().unwrap_or("?");
        let at = format!(
            "line {} (alert {})",
            i + 1,
            crate::subscriber::printable(id)
        );
        match verify_payload(line, key) {
            Check::Valid => {}
            Check::Unsigned => {
                problems.push(format!("{at}: not signed"));
                continue;
            }
            Check::Mismatch => {
                problems.push(format!(
                    "{at}: the signature does not match: not signed by this key, or changed after"
                ));
                continue;
            }
        }
        let (Some(sha), true) = (
            v["snapshot_sha256"].as_str(),
            crate::subscriber::safe_name(id),
        ) else {
            continue;
        };
        let beside = [
            dir.join(format!("{id}.jpg")),
            dir.join("snapshots").join(format!("{id}.jpg")),
        ];
        if let Some(img) = beside.iter().find(|p| p.is_file()) {
            images += 1;
            let got = crate::digest::sha256_file(img)?;
            if got != sha {
                problems.push(format!(
                    "{at}: its snapshot {} is not the one signed (sha256 {got}, signed {sha})",
                    img.display()
                ));
            }
        }
    }
    if count == 0 {
        println!("{}: FAILED: no alert in the file", path.display());
        return Ok(ExitCode::from(super::EXIT_FAILED));
    }
    if problems.is_empty() {
        println!(
            "{}: {count} alert(s) signed by the given key, unchanged ({images} snapshot(s) beside them checked)",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for p in problems.iter().take(20) {
        println!("{}: FAILED: {p}", path.display());
    }
    if problems.len() > 20 {
        println!("{}: … and {} more", path.display(), problems.len() - 20);
    }
    Ok(ExitCode::from(super::EXIT_FAILED))
}
