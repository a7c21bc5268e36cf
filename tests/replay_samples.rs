//! End-to-end: `streetwatch replay` over each sample clip raises exactly the episodes that
//! samples/expected.toml lists, with complete payloads and snapshots on disk.

mod common;

use std::collections::BTreeMap;

use common::{bin, run};
use streetwatch::alert::Alert;
use streetwatch::rules::Phase;
use streetwatch::violation::{Subtype, ViolationType};

#[derive(serde::Deserialize)]
struct Expected {
    clip: Vec<Clip>,
}

#[derive(serde::Deserialize)]
struct Clip {
    file: String,
    calibration: String,
    tolerance_s: f64,
    #[serde(default)]
    episode: Vec<Episode>,
}

#[derive(serde::Deserialize, Debug)]
struct Episode {
    #[serde(rename = "type")]
    event_type: ViolationType,
    subtype: Subtype,
    zone: String,
    start_s: f64,
    end_s: f64,
}

#[test]
fn samples_raise_exactly_the_expected_episodes() {
    let root = common::root();
    let expected: Expected =
        toml::from_str(&std::fs::read_to_string(root.join("samples/expected.toml")).unwrap())
            .unwrap();
    assert_eq!(expected.clip.len(), 5);
    for clip in expected.clip {
        let out = tempfile::tempdir().unwrap();
        let (ok, stdout, err) = run(bin().current_dir(&root).args([
            "replay",
            &common::sample(&clip.file).to_string_lossy(),
            "--calibration",
            &clip.calibration,
            "--out",
            &out.path().to_string_lossy(),
            "--quiet",
            "--start-time",
            "2026-11-27T10:00:00+08:00",
        ]));
        assert!(ok, "{}: {err}", clip.file);
        let text = std::fs::read_to_string(out.path().join("alerts.jsonl")).unwrap();
        let alerts: Vec<Alert> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let mut episodes: BTreeMap<String, Vec<&Alert>> = BTreeMap::new();
        for a in &alerts {
            episodes.entry(a.episode_id.clone()).or_default().push(a);
        }
        let got: Vec<String> = alerts
            .iter()
            .map(|a| {
                format!(
                    "{:?} {}/{} {} {:.2}",
                    a.phase, a.event_type, a.subtype, a.zone, a.event_media_s
                )
            })
            .collect();
        assert_eq!(
            episodes.len(),
            clip.episode.len(),
            "{}: got {got:#?}",
            clip.file
        );
        // Episodes in start order (ids are UUIDv7, sortable by creation).
        for (msgs, e) in episodes.values().zip(&clip.episode) {
            let start = msgs.first().unwrap();
            let end = msgs.last().unwrap();
            assert_eq!(
                (start.phase, end.phase),
                (Phase::Start, Phase::End),
                "{}: {got:#?}",
                clip.file
            );
            assert!(msgs[1..msgs.len() - 1]
                .iter()
                .all(|m| m.phase == Phase::Update));
            for m in msgs {
                assert_eq!(
                    (&m.event_type, &m.subtype, &m.zone),
                    (&e.event_type, &e.subtype, &e.zone),
                    "{}: {got:#?}",
                    clip.file
                );
            }
            assert!(
                (start.event_media_s - e.start_s).abs() <= clip.tolerance_s,
                "{}: start {got:#?} vs {e:?}",
                clip.file
            );
            assert!(
                (end.event_media_s - e.end_s).abs() <= clip.tolerance_s,
                "{}: end {got:#?} vs {e:?}",
                clip.file
            );
            // The payload carries what a case needs.
            let d = start.dispatch.as_ref().expect("dispatch code");
            assert!(!d.code.is_empty() && !d.name.is_empty());
            // Tracks for parking; regions (goods, smoke) and their measures otherwise.
            let m = &start.measures;
            assert!(
                !start.grid_cell.is_empty()
                    && (!start.tracks.is_empty() || !start.regions.is_empty())
                    && (m.count >= 1 || m.occupied_area_m2.is_some() || m.smoke_fraction.is_some()),
                "{}: {start:?}",
                clip.file
            );
            assert!(
                start
                    .confirmed_wall
                    .as_deref()
                    .unwrap()
                    .starts_with("2026-11-27T10:"),
                "{:?}",
                start.confirmed_wall
            );
            assert!(start.confirmation_s >= 0.0 && end.duration_s >= start.duration_s);
            assert!(
                start.first_seen_media_s <= start.confirmed_media_s
                    && end.last_seen_media_s <= end.event_media_s + 1e-9
            );
            for m in msgs {
                let snap = out.path().join(m.snapshot.as_ref().unwrap());
                assert!(
                    std::fs::metadata(&snap).unwrap().len() > 10_000,
                    "snapshot {} missing or empty",
                    snap.display()
                );
                assert!(
                    stdout.contains(&m.summary()),
                    "terminal output lacks {}",
                    m.summary()
                );
            }
        }
        let ids: Vec<&String> = alerts.iter().map(|a| &a.id).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "message ids are unique");
    }
}
