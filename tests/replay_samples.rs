//! End-to-end: `streetwatch replay` over each sample clip raises exactly the alerts that
//! samples/expected.toml lists, with snapshots on disk.

mod common;

use common::{bin, run};

#[derive(serde::Deserialize)]
struct Expected {
    clip: Vec<Clip>,
}

#[derive(serde::Deserialize)]
struct Clip {
    file: String,
    calibration: String,
    tolerance_s: f64,
    alert: Vec<ExpectedAlert>,
}

#[derive(serde::Deserialize, Debug)]
struct ExpectedAlert {
    #[serde(rename = "type")]
    event_type: String,
    zone: String,
    class: String,
    confirmed_media_s: f64,
}

#[test]
fn samples_raise_the_expected_alerts() {
    let root = common::root();
    let expected: Expected =
        toml::from_str(&std::fs::read_to_string(root.join("samples/expected.toml")).unwrap())
            .unwrap();
    assert_eq!(expected.clip.len(), 2);
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
        ]));
        assert!(ok, "{}: {err}", clip.file);
        let text = std::fs::read_to_string(out.path().join("alerts.jsonl")).unwrap();
        let alerts: Vec<streetwatch::alert::Alert> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let got: Vec<String> = alerts
            .iter()
            .map(|a| {
                format!(
                    "{} {} {} {:.2}",
                    a.event_type, a.zone, a.class, a.confirmed_media_s
                )
            })
            .collect();
        assert_eq!(
            alerts.len(),
            clip.alert.len(),
            "{}: got {got:?}, expected {:?}",
            clip.file,
            clip.alert
        );
        for (a, e) in alerts.iter().zip(&clip.alert) {
            assert_eq!(
                (&a.event_type, &a.zone, &a.class),
                (&e.event_type, &e.zone, &e.class),
                "{}: got {got:?}",
                clip.file
            );
            assert!(
                (a.confirmed_media_s - e.confirmed_media_s).abs() <= clip.tolerance_s,
                "{}: got {got:?}, expected {e:?}",
                clip.file
            );
            assert!(a.dwell_s >= 0.0 && a.start_media_s <= a.confirmed_media_s);
            let snap = out.path().join(a.snapshot.as_ref().unwrap());
            assert!(
                std::fs::metadata(&snap).unwrap().len() > 10_000,
                "snapshot {} missing or empty",
                snap.display()
            );
            // Each alert was printed to the terminal as it fired.
            assert!(
                stdout.contains(&a.summary()),
                "terminal output lacks {}",
                a.summary()
            );
        }
        // Ids are unique and sortable in firing order.
        let ids: Vec<&String> = alerts.iter().map(|a| &a.id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted);
    }
}
