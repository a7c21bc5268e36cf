//! Scoring replays against ground truth: how many of the violations that happened were alerted
//! (recall), how many alerted episodes were real (precision), how late each started and how far
//! its end was from the moment the object left.
//!
//! The truth file (TOML) lists clips and, per clip, the violations that must be alerted:
//!
//! ```toml
//! [[clip]]
//! file = "parking-01-occluded.avi"   # matched with a bundle's source file name
//! tags = ["parking", "occlusion"]    # optional
//! duration_s = 120.0                 # optional
//! [[clip.event]]
//! type = "parking"                   # vending | parking | smoke
//! zone = "pavement"                  # optional: any zone when absent
//! from_s = 14.5                      # the object is in place / the smoke starts (media seconds)
//! to_s = 96.0                        # it starts to leave / the smoke stops (absent: to the end)
//! ```
//!
//! A clip without events must raise no alert at all. Each truth event is matched with at most one
//! episode of its type (and zone) that overlaps it; every other episode is a false alarm,
//! including a second episode for one event (a case split in two).
//!
//! `score_clip` and `summarise` are pure; `load_truth` and `load_bundle` read files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::error::{Error, Result};
use crate::rules::Phase;
use crate::violation::ViolationType;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Truth {
    #[serde(default)]
    pub generator: Option<String>,
    pub clip: Vec<TruthClip>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthClip {
    pub file: String,
    #[serde(default)]
    pub calibration: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub duration_s: Option<f64>,
    #[serde(default)]
    pub event: Vec<TruthEvent>,
    /// Things that happen in the clip and must not alert (documentation only).
    #[serde(default)]
    pub distractor: Vec<Distractor>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TruthEvent {
    #[serde(rename = "type")]
    pub event_type: ViolationType,
    #[serde(default)]
    pub zone: Option<String>,
    pub from_s: f64,
    #[serde(default)]
    pub to_s: Option<f64>,
    /// Most objects at once (documentation).
    #[serde(default)]
    pub count_max: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Distractor {
    pub kind: String,
    #[serde(default)]
    pub from_s: Option<f64>,
    #[serde(default)]
    pub to_s: Option<f64>,
}

/// One alerted episode, folded from its start/update/end messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Episode {
    pub event_type: ViolationType,
    pub zone: String,
    pub start_s: f64,
    /// Media time of the `end` message (None: never ended).
    pub end_s: Option<f64>,
}

/// Folds alert messages into episodes (in start order).
pub fn episodes(alerts: &[Alert]) -> Vec<Episode> {
    let mut by_id: BTreeMap<&str, Episode> = BTreeMap::new();
    for a in alerts {
        let e = by_id.entry(&a.episode_id).or_insert_with(|| Episode {
            event_type: a.event_type,
            zone: a.zone.clone(),
            start_s: a.confirmed_media_s,
            end_s: None,
        });
        if a.phase == Phase::End {
            e.end_s = Some(a.event_media_s);
        }
    }
    let mut out: Vec<Episode> = by_id.into_values().collect();
    out.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct Match {
    pub event: TruthEvent,
    pub episode: Episode,
    /// Episode start minus the truth's `from_s`.
    pub start_delay_s: f64,
    /// Episode end minus the truth's `to_s` (None when either is open).
    pub end_error_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClipScore {
    pub file: String,
    pub tags: Vec<String>,
    pub matched: Vec<Match>,
    pub missed: Vec<TruthEvent>,
    pub false_alarms: Vec<Episode>,
}

fn overlaps(ev: &TruthEvent, ep: &Episode, slack: f64) -> bool {
    let ev_end = ev.to_s.unwrap_or(f64::INFINITY);
    let ep_end = ep.end_s.unwrap_or(f64::INFINITY);
    ep.start_s <= ev_end + slack && ep_end >= ev.from_s
}

/// Seconds after an event's end within which an episode may still start and match it (the
/// confirmation may complete while the object is already leaving).
pub const MATCH_SLACK_S: f64 = 5.0;

/// Matches one clip's episodes with its truth.
pub fn score_clip(clip: &TruthClip, episodes: &[Episode]) -> ClipScore {
    let mut used = vec![false; episodes.len()];
    let mut matched = Vec::new();
    let mut missed = Vec::new();
    let mut events: Vec<&TruthEvent> = clip.event.iter().collect();
    events.sort_by(|a, b| a.from_s.total_cmp(&b.from_s));
    for ev in events {
        let found = episodes.iter().enumerate().find(|(i, ep)| {
            !used[*i]
                && ep.event_type == ev.event_type
                && ev.zone.as_ref().is_none_or(|z| *z == ep.zone)
                && overlaps(ev, ep, MATCH_SLACK_S)
        });
        match found {
            Some((i, ep)) => {
                used[i] = true;
                matched.push(Match {
                    event: ev.clone(),
                    episode: ep.clone(),
                    start_delay_s: ep.start_s - ev.from_s,
                    end_error_s: ev.to_s.zip(ep.end_s).map(|(to, end)| end - to),
                });
            }
            None => missed.push(ev.clone()),
        }
    }
    let false_alarms = episodes
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(e, _)| e.clone())
        .collect();
    ClipScore {
        file: clip.file.clone(),
        tags: clip.tags.clone(),
        matched,
        missed,
        false_alarms,
    }
}

/// Figures for one violation type over many clips.
#[derive(Debug, Clone, Serialize)]
pub struct TypeSummary {
    pub event_type: ViolationType,
    pub events: usize,
    pub true_positives: usize,
    pub false_alarms: usize,
    pub missed: usize,
    pub precision: f64,
    pub recall: f64,
    pub start_delay_median_s: Option<f64>,
    pub start_delay_max_s: Option<f64>,
    pub end_error_median_s: Option<f64>,
    pub end_error_max_s: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub clips: usize,
    pub types: Vec<TypeSummary>,
    /// Episodes raised on clips that have no truth event at all (clean and distractor clips).
    pub alerts_on_clean_clips: usize,
    pub clean_clips: usize,
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Per-type precision, recall, delays and end errors over scored clips.
pub fn summarise(scores: &[ClipScore], clips: &[&TruthClip]) -> Summary {
    let mut types = vec![
        ViolationType::Vending,
        ViolationType::Parking,
        ViolationType::Smoke,
    ];
    for s in scores {
        for t in s
            .matched
            .iter()
            .map(|m| &m.event.event_type)
            .chain(s.missed.iter().map(|m| &m.event_type))
            .chain(s.false_alarms.iter().map(|e| &e.event_type))
        {
            if !types.contains(t) {
                types.push(*t);
            }
        }
    }
    let mut out = Summary {
        clips: scores.len(),
        ..Default::default()
    };
    for (s, c) in scores.iter().zip(clips) {
        if c.event.is_empty() {
            out.clean_clips += 1;
            out.alerts_on_clean_clips += s.false_alarms.len();
        }
    }
    for ty in types {
        let tp: Vec<&Match> = scores
            .iter()
            .flat_map(|s| &s.matched)
            .filter(|m| m.event.event_type == ty)
            .collect();
        let fa = scores
            .iter()
            .flat_map(|s| &s.false_alarms)
            .filter(|e| e.event_type == ty)
            .count();
        let missed = scores
            .iter()
            .flat_map(|s| &s.missed)
            .filter(|e| e.event_type == ty)
            .count();
        let events = tp.len() + missed;
        if events == 0 && fa == 0 {
            continue;
        }
        let mut delays: Vec<f64> = tp.iter().map(|m| m.start_delay_s).collect();
        let mut ends: Vec<f64> = tp.iter().filter_map(|m| m.end_error_s).collect();
        let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        out.types.push(TypeSummary {
            event_type: ty,
            events,
            true_positives: tp.len(),
            false_alarms: fa,
            missed,
            precision: round2(ratio(tp.len(), tp.len() + fa)),
            recall: round2(ratio(tp.len(), events)),
            start_delay_median_s: median(&mut delays).map(round2),
            start_delay_max_s: delays.iter().copied().reduce(f64::max).map(round2),
            end_error_median_s: median(&mut ends).map(round2),
            end_error_max_s: ends.iter().copied().reduce(f64::max).map(round2),
        });
    }
    out
}

/// The misses and false alarms of scored clips, one line each.
pub fn listing(scores: &[ClipScore]) -> String {
    let mut out = String::new();
    for s in scores {
        for m in &s.missed {
            out += &format!(
                "MISSED       {} {} from {:.1} s\n",
                s.file, m.event_type, m.from_s
            );
        }
        for e in &s.false_alarms {
            out += &format!(
                "FALSE ALARM  {} {} zone={} start {:.1} s\n",
                s.file, e.event_type, e.zone, e.start_s
            );
        }
    }
    out
}

/// The summary as a Markdown table, one row per violation type.
pub fn table(summary: &Summary) -> String {
    let opt = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.1}"));
    let mut out = String::from(
        "| type | events | alerted | false alarms | missed | precision | recall | start delay median / max s | end error median / max s |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for t in &summary.types {
        out += &format!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.2} | {} / {} | {} / {} |\n",
            t.event_type,
            t.events,
            t.true_positives,
            t.false_alarms,
            t.missed,
            t.precision,
            t.recall,
            opt(t.start_delay_median_s),
            opt(t.start_delay_max_s),
            opt(t.end_error_median_s),
            opt(t.end_error_max_s)
        );
    }
    out
}

/// Reads and checks a truth file.
pub fn load_truth(path: &Path) -> Result<Truth> {
    let text = std::fs::read_to_string(path).map_err(|cause| Error::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    let truth: Truth = toml::from_str(&text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        line: e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
        message: e.message().to_string(),
    })?;
    for (i, c) in truth.clip.iter().enumerate() {
        for e in &c.event {
            let bad = !e.from_s.is_finite()
                || e.from_s < 0.0
                || e.to_s.is_some_and(|to| !to.is_finite() || to < e.from_s);
            if bad {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    line: None,
                    message: format!(
                        "clip {} ({}): field from_s/to_s: {} .. {:?} is not a time span",
                        i + 1,
                        c.file,
                        e.from_s,
                        e.to_s
                    ),
                });
            }
        }
    }
    Ok(truth)
}

/// A bundle's source file name and its alerts.
pub fn load_bundle(dir: &Path) -> Result<(String, Vec<Alert>)> {
    let manifest = crate::bundle::Manifest::load(dir)?;
    let source = manifest.source.ok_or_else(|| Error::Config {
        path: dir.join("manifest.json"),
        line: None,
        message: "field source: missing (not a replay bundle)".into(),
    })?;
    let path: PathBuf = dir.join("alerts.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|cause| Error::Io {
        path: path.clone(),
        cause,
    })?;
    let mut alerts = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        alerts.push(
            serde_json::from_str::<Alert>(line).map_err(|e| Error::Config {
                path: path.clone(),
                line: Some(i + 1),
                message: e.to_string(),
            })?,
        );
    }
    Ok((source.file_name, alerts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(ty: ViolationType, from: f64, to: Option<f64>) -> TruthEvent {
        TruthEvent {
            event_type: ty,
            zone: None,
            from_s: from,
            to_s: to,
            count_max: None,
        }
    }

    fn ep(ty: ViolationType, start: f64, end: Option<f64>) -> Episode {
        Episode {
            event_type: ty,
            zone: "z".into(),
            start_s: start,
            end_s: end,
        }
    }

    fn clip(events: Vec<TruthEvent>) -> TruthClip {
        TruthClip {
            file: "c.avi".into(),
            calibration: None,
            tags: vec![],
            duration_s: None,
            event: events,
            distractor: vec![],
        }
    }

    #[test]
    fn matches_split_cases_and_false_alarms() {
        let c = clip(vec![
            ev(ViolationType::Parking, 10.0, Some(90.0)),
            ev(ViolationType::Smoke, 5.0, None),
        ]);
        let eps = vec![
            ep(ViolationType::Parking, 50.0, Some(70.0)), // matched: delay 40, ends 20 s early
            ep(ViolationType::Parking, 75.0, Some(100.0)), // the same bike's case split in two: false alarm
            ep(ViolationType::Vending, 30.0, Some(40.0)),  // wrong type: false alarm
        ];
        let s = score_clip(&c, &eps);
        assert_eq!(s.matched.len(), 1);
        assert_eq!(s.matched[0].start_delay_s, 40.0);
        assert_eq!(s.matched[0].end_error_s, Some(-20.0));
        assert_eq!(s.missed.len(), 1, "the smoke was not alerted");
        assert_eq!(s.false_alarms.len(), 2);
        let clean = clip(vec![]);
        let sc = score_clip(&clean, &[ep(ViolationType::Smoke, 3.0, Some(9.0))]);
        let sum = summarise(&[s, sc], &[&c, &clean]);
        assert_eq!(sum.alerts_on_clean_clips, 1);
        let parking = sum
            .types
            .iter()
            .find(|t| t.event_type == ViolationType::Parking)
            .unwrap();
        assert_eq!((parking.precision, parking.recall), (0.5, 1.0));
        let smoke = sum
            .types
            .iter()
            .find(|t| t.event_type == ViolationType::Smoke)
            .unwrap();
        assert_eq!((smoke.precision, smoke.recall), (0.0, 0.0));
    }

    #[test]
    fn an_episode_before_the_event_or_long_after_it_does_not_match() {
        let c = clip(vec![ev(ViolationType::Parking, 50.0, Some(60.0))]);
        let s = score_clip(
            &c,
            &[
                ep(ViolationType::Parking, 10.0, Some(20.0)),
                ep(ViolationType::Parking, 80.0, None),
            ],
        );
        assert!(s.matched.is_empty());
        assert_eq!(s.false_alarms.len(), 2);
    }

    #[test]
    fn bad_truth_names_the_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("truth.toml");
        std::fs::write(
            &p,
            "[[clip]]\nfile = \"a.avi\"\n[[clip.event]]\ntype = \"smoke\"\nfrom_s = 9.0\nto_s = 3.0\n",
        )
        .unwrap();
        let e = load_truth(&p).unwrap_err().to_string();
        assert!(e.contains("truth.toml") && e.contains("from_s/to_s"), "{e}");
        std::fs::write(&p, "[[clip]]\nfile = \"a.avi\"\nfiel = 1\n").unwrap();
        let e = load_truth(&p).unwrap_err().to_string();
        assert!(e.contains("truth.toml:3"), "{e}");
    }
}
