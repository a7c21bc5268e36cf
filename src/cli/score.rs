//! `streetwatch score`: replay bundles against ground truth.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::score;

#[derive(Args)]
pub struct ScoreArgs {
    /// The truth file (TOML: clips and the violations each must raise).
    #[arg(long)]
    truth: PathBuf,
    /// Replay bundles (each matched with a truth clip by its source file name).
    #[arg(required = true)]
    bundles: Vec<PathBuf>,
    /// Print the scores as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &ScoreArgs) -> Result<()> {
    let (truth, bundles, json) = (&args.truth, &args.bundles, args.json);
    let t = score::load_truth(truth)?;
    let mut scores = Vec::new();
    let mut clips = Vec::new();
    for b in bundles {
        let (file, alerts) = score::load_bundle(b)?;
        let clip = t.clip.iter().find(|c| {
            std::path::Path::new(&c.file)
                .file_name()
                .is_some_and(|n| n.to_string_lossy() == file)
        });
        let Some(clip) = clip else {
            anyhow::bail!(
                "{}: its source {file} is not a clip of {}",
                b.display(),
                truth.display()
            );
        };
        scores.push(score::score_clip(clip, &score::episodes(&alerts)));
        clips.push(clip);
    }
    let summary = score::summarise(&scores, &clips);
    if json {
        let v = serde_json::json!({ "summary": summary, "clips": scores });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    print!("{}", score::listing(&scores));
    println!("\n{}", score::table(&summary));
    println!(
        "{} clips; {} without violations raised {} episode(s)",
        summary.clips, summary.clean_clips, summary.alerts_on_clean_clips
    );
    Ok(())
}
