//! The scenario bench: do alerts hold on footage the detectors were not written against?
//!
//! `scripts/scenarios.py` (run by setup, cached per machine) composites two-wheelers, goods and
//! smoke plumes into the real sample footage, with ground truth, and makes clean clips,
//! distractors (steam, fog, glare, a white van, white shirts, shadows) and brief events that
//! must not alert. This bench replays every clip with `calibration/scenarios.toml` at 2.5, 5 and
//! 10 analysed frames per second, scores the bundles with `streetwatch score`, prints one table
//! per rate and checks the targets:
//!
//! - per violation type: precision >= 0.95 and recall >= 0.95;
//! - start delay <= the zone's `confirm_seconds` + 5 s after the violation began (for parking,
//!   after the bike had been parked for `parked_seconds`);
//! - end <= `clear_seconds` + 10 s after the object left (and not more than 5 s before);
//! - no episode on clips without violations;
//! - precision and recall at 2.5 and 10 within 0.05 of those at 5.
//!
//! Commands:
//!
//!     cargo bench --bench scenarios                   # every clip, 2.5 / 5 / 10 det/s
//!     cargo bench --bench scenarios -- --quick        # the clips tagged `quick` (what CI runs)
//!     STREETWATCH_BENCH_RATES=5 cargo bench --bench scenarios   # one rate only
//!
//! Not covered: footage other than vtest's view (one camera, daylight footage darkened for
//! night), real smoke and real goods (composited ones), rain, snow, camera shake.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use streetwatch::calibration::Calibration;
use streetwatch::score::{self, ClipScore, Summary, Truth, TruthClip};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where setup put the scenario clips (`samples/scenarios`, a link into the machine cache).
fn scenario_dir() -> PathBuf {
    let d = root().join("samples/scenarios");
    assert!(
        d.join("truth.toml").is_file(),
        "{} has no truth.toml: run scripts/setup.sh",
        d.display()
    );
    d
}

struct Run {
    rate: f64,
    scores: Vec<ClipScore>,
    summary: Summary,
    seconds: f64,
}

fn replay(clip: &Path, cal: &Path, out: &Path, rate: f64) {
    let o = Command::new(env!("CARGO_BIN_EXE_streetwatch"))
        .current_dir(root())
        .args(["replay"])
        .arg(clip)
        .arg("--calibration")
        .arg(cal)
        .arg("--out")
        .arg(out)
        .args(["--detect-fps", &rate.to_string(), "--quiet", "--overwrite"])
        .args(["--clip-before", "0", "--clip-after", "0"])
        .output()
        .expect("run streetwatch");
    assert!(
        o.status.success(),
        "replay {} failed: {}",
        clip.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn run(dir: &Path, clips: &[&TruthClip], rate: f64, work: &Path) -> Run {
    let t0 = Instant::now();
    let mut scores = Vec::new();
    for c in clips {
        let cal = root().join(
            c.calibration
                .as_deref()
                .unwrap_or("calibration/scenarios.toml"),
        );
        let out = work.join(format!("{rate}")).join(&c.file);
        replay(&dir.join(&c.file), &cal, &out, rate);
        let (_, alerts) = score::load_bundle(&out).expect("bundle");
        scores.push(score::score_clip(c, &score::episodes(&alerts)));
    }
    let summary = score::summarise(&scores, clips);
    Run {
        rate,
        scores,
        summary,
        seconds: t0.elapsed().as_secs_f64(),
    }
}

fn print(run: &Run) {
    println!(
        "\n`{} det/s: {} clips, {} without violations ({} episodes on them); {:.0} s`\n",
        run.rate,
        run.summary.clips,
        run.summary.clean_clips,
        run.summary.alerts_on_clean_clips,
        run.seconds
    );
    print!("{}", score::table(&run.summary));
    print!("{}", score::listing(&run.scores));
}

/// Checks the targets; returns the failures (all of them, not just the first).
fn check(run: &Run, clips: &[&TruthClip]) -> Vec<String> {
    let mut bad = Vec::new();
    let r = run.rate;
    for t in &run.summary.types {
        if t.precision < 0.95 || t.recall < 0.95 {
            bad.push(format!(
                "{r} det/s {}: precision {:.2}, recall {:.2} (target 0.95 each)",
                t.event_type, t.precision, t.recall
            ));
        }
    }
    if run.summary.alerts_on_clean_clips > 0 {
        bad.push(format!(
            "{r} det/s: {} episode(s) on clips without violations",
            run.summary.alerts_on_clean_clips
        ));
    }
    // Delays against each zone's own timings.
    let mut cals: BTreeMap<String, Calibration> = BTreeMap::new();
    for (s, c) in run.scores.iter().zip(clips) {
        let path = c
            .calibration
            .clone()
            .unwrap_or("calibration/scenarios.toml".into());
        let cal = cals
            .entry(path.clone())
            .or_insert_with(|| Calibration::load(&root().join(&path)).expect("calibration"));
        for m in &s.matched {
            let Some(zone) = cal.zones.iter().find(|z| z.name == m.episode.zone) else {
                continue;
            };
            let onset = zone.parked().map_or(0.0, |p| p.parked_seconds);
            let late = m.start_delay_s - onset;
            if late > zone.confirm_seconds + 5.0 + 1e-6 {
                bad.push(format!(
                    "{r} det/s {}: {} started {late:.1} s after the violation began (limit {:.0})",
                    s.file,
                    m.event.event_type,
                    zone.confirm_seconds + 5.0
                ));
            }
            if let Some(e) = m.end_error_s {
                if e > zone.clear_seconds + 10.0 + 1e-6 || e < -5.0 {
                    bad.push(format!(
                        "{r} det/s {}: {} ended {e:.1} s after the object left (limits -5 .. {:.0})",
                        s.file,
                        m.event.event_type,
                        zone.clear_seconds + 10.0
                    ));
                }
            }
        }
    }
    bad
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    // `cargo bench` passes --bench; `cargo test --all-targets` runs the bench without it: quick.
    let quick = !args.iter().any(|a| a == "--bench")
        || args.iter().any(|a| a == "--quick")
        || std::env::var_os("STREETWATCH_BENCH_QUICK").is_some();
    let dir = scenario_dir();
    let truth: Truth = score::load_truth(&dir.join("truth.toml")).expect("truth.toml");
    let clips: Vec<&TruthClip> = truth
        .clip
        .iter()
        .filter(|c| !quick || c.tags.iter().any(|t| t == "quick"))
        .collect();
    assert!(
        clips.len() >= if quick { 6 } else { 40 },
        "{} clips only",
        clips.len()
    );
    let work = tempfile::tempdir().unwrap();
    // STREETWATCH_BENCH_RATES="5" (comma-separated) runs some of the rates only, while tuning.
    let rates: Vec<f64> = match std::env::var("STREETWATCH_BENCH_RATES") {
        Ok(v) => v
            .split(',')
            .map(|r| r.trim().parse().expect("STREETWATCH_BENCH_RATES: numbers"))
            .collect(),
        Err(_) => vec![5.0, 2.5, 10.0],
    };
    let rates = &rates[..];
    let mut runs = Vec::new();
    for &rate in rates {
        let r = run(&dir, &clips, rate, work.path());
        print(&r);
        runs.push(r);
    }
    let mut bad: Vec<String> = runs.iter().flat_map(|r| check(r, &clips)).collect();
    // The same results whatever the analysis rate.
    let base = &runs[0].summary;
    for r in &runs[1..] {
        for t in &r.summary.types {
            if let Some(b) = base.types.iter().find(|b| b.event_type == t.event_type) {
                if (t.precision - b.precision).abs() > 0.05 || (t.recall - b.recall).abs() > 0.05 {
                    bad.push(format!(
                        "{} det/s {}: precision/recall {:.2}/{:.2} vs {:.2}/{:.2} at 5 det/s",
                        r.rate, t.event_type, t.precision, t.recall, b.precision, b.recall
                    ));
                }
            }
        }
    }
    if !bad.is_empty() {
        panic!("scenario targets not met:\n  {}", bad.join("\n  "));
    }
    println!("\nscenario targets met at {rates:?} det/s");
}
