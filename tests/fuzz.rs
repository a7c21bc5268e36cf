//! Property tests over hostile input (proptest, a bounded number of cases per run so the suite
//! stays quick; set PROPTEST_CASES for a longer run): calibrations and service configurations
//! mutated from the real ones, outbox folders holding arbitrary files, and messages with
//! arbitrary topics and payloads at the control room's client. Each must give a result or a
//! clear error, never a panic, and never a file outside its folder.
//!
//! Not covered: inputs larger than a few kilobytes, and the video decoder (FFmpeg's own fuzzing
//! covers its demuxers).

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use streetwatch::calibration::Calibration;
use streetwatch::config::ServiceConfig;
use streetwatch::outbox::Outbox;
use streetwatch::subscriber::{on_message, safe_name, Shown};

/// An edit of a text: at a position (a fraction of its length), delete a few bytes, insert
/// bytes, or put an extreme value where a number was.
#[derive(Debug, Clone)]
enum Edit {
    Delete(f64, usize),
    Insert(f64, Vec<u8>),
    Number(f64, &'static str),
    DuplicateLine(f64),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = 0.0..1.0f64;
    prop_oneof![
        (at.clone(), 1usize..12).prop_map(|(a, n)| Edit::Delete(a, n)),
        (at.clone(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(a, b)| Edit::Insert(a, b)),
        (
            at.clone(),
            prop::sample::select(vec![
                "-1",
                "0",
                "1e308",
                "-1e308",
                "nan",
                "inf",
                "4e9",
                "65536",
                "1.5",
                "\"x\"",
                "[]",
                "[1, 2, 3]",
                "{}",
                "\"../../etc\"",
                "\"cam/+/#\"",
            ])
        )
            .prop_map(|(a, v)| Edit::Number(a, v)),
        at.prop_map(Edit::DuplicateLine),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut b = text.as_bytes().to_vec();
    for e in edits {
        let pos = |a: f64, len: usize| ((a * len as f64) as usize).min(len);
        match e {
            Edit::Delete(a, n) => {
                let p = pos(*a, b.len());
                let end = (p + n).min(b.len());
                b.drain(p..end);
            }
            Edit::Insert(a, bytes) => {
                let p = pos(*a, b.len());
                b.splice(p..p, bytes.iter().copied());
            }
            Edit::Number(a, v) => {
                // Replace the number nearest after the position.
                let p = pos(*a, b.len());
                if let Some(start) = b[p..].iter().position(|c| c.is_ascii_digit()) {
                    let start = p + start;
                    let end = b[start..]
                        .iter()
                        .position(|c| !(c.is_ascii_digit() || *c == b'.'))
                        .map_or(b.len(), |e| start + e);
                    b.splice(start..end, v.bytes());
                }
            }
            Edit::DuplicateLine(a) => {
                let p = pos(*a, b.len());
                let start = b[..p]
                    .iter()
                    .rposition(|c| *c == b'\n')
                    .map_or(0, |i| i + 1);
                let end = b[p..]
                    .iter()
                    .position(|c| *c == b'\n')
                    .map_or(b.len(), |i| p + i + 1);
                let line = b[start..end].to_vec();
                b.splice(end..end, line);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn sources(dir: &str) -> Vec<(PathBuf, String)> {
    let root = common::root().join(dir);
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| std::fs::read_to_string(&p).ok().map(|t| (p, t)))
        .filter(|(_, t)| t.contains("camera_id"))
        .collect();
    out.sort();
    out
}

/// A name from a message: plain, random, or one of the ways out of a folder (`ABS` stands for
/// an absolute path inside the test's own folder).
fn hostile_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9-]{1,12}",
        "[a-z0-9.\\\u{0}\u{1b}@-][a-z0-9./\\\u{0}\u{1b}@-]{0,19}",
        prop::sample::select(vec![
            "../escaped",
            "../../escaped",
            "../../../escaped",
            "..",
            ".",
            "a/b",
            "ABS/abs",
            "x\u{0}y",
            "\u{1b}[31mred",
            ".hidden",
            "",
        ])
        .prop_map(str::to_string),
        Just("x".repeat(300)),
    ]
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(300);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Mutated calibrations (every calibration in calibration/ and tests/data/) parse or are
    /// refused with an error naming the file; never a panic.
    #[test]
    fn mutated_calibrations_parse_or_fail_cleanly(
        which in 0usize..64,
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let mut all = sources("calibration");
        all.extend(sources("tests/data"));
        let (path, text) = &all[which % all.len()];
        let text = apply(text, &edits);
        if let Err(e) = Calibration::parse(Path::new("fuzz.toml"), &text) {
            let msg = e.to_string();
            prop_assert!(msg.starts_with("fuzz.toml"), "{}: {msg}", path.display());
        }
    }

    /// Mutated service configurations (config/example.toml, its calibrations beside it) load or
    /// are refused with an error; never a panic.
    #[test]
    fn mutated_configs_load_or_fail_cleanly(edits in prop::collection::vec(edit(), 1..6)) {
        let root = common::root();
        let text = std::fs::read_to_string(root.join("config/example.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::create_dir_all(dir.path().join("calibration")).unwrap();
        for c in ["vtest.toml", "bikes.toml"] {
            std::fs::copy(root.join("calibration").join(c), dir.path().join("calibration").join(c))
                .unwrap();
        }
        let p = dir.path().join("config/service.toml");
        std::fs::write(&p, apply(&text, &edits)).unwrap();
        if let Err(e) = ServiceConfig::load(&p) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    /// An outbox folder holding arbitrary files (names and bytes) gives only entries that pass
    /// its checks, in order; the rest go to quarantine/; never a panic.
    #[test]
    fn arbitrary_outbox_files_never_reach_the_broker(
        files in prop::collection::vec(
            (
                prop::sample::select(vec![
                    "00000000000000000001-a.json", "00000000000000000002-b@cam.jpg",
                    "00000000000000000003-c.json", "x.json", "00000000000000000004-..json",
                    "00000000000000000005-d@e@f.jpg", "00000000000000000006-e.json",
                ]),
                prop::collection::vec(any::<u8>(), 0..64),
                any::<bool>(),
            ),
            0..7,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path(), 100).unwrap();
        for (name, bytes, valid) in &files {
            let id = name.split_once('-').map(|x| x.1).unwrap_or("");
            let id = id.rsplit_once('.').map(|x| x.0).unwrap_or(id);
            let payload = if *valid && name.ends_with(".json") {
                serde_json::json!({"id": id, "camera_id": "cam"}).to_string().into_bytes()
            } else {
                bytes.clone()
            };
            std::fs::write(dir.path().join(name), payload).unwrap();
        }
        let pending = outbox.pending().unwrap();
        for e in &pending {
            prop_assert!(safe_name(e.id.split('@').next().unwrap_or("")));
            if e.kind == "json" {
                let v: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
                prop_assert_eq!(v["id"].as_str(), Some(e.id.as_str()));
            } else {
                prop_assert!(e.payload.starts_with(&[0xFF, 0xD8]) && e.payload.ends_with(&[0xFF, 0xD9]));
            }
        }
        let names: Vec<&String> = pending.iter().map(|e| &e.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        prop_assert_eq!(names, sorted);
    }

        /// Messages with arbitrary topics and payloads (mutated real alerts among them) at the
    /// control room's client: nothing panics, nothing is written outside the save folder, every
    /// file in it has a plain name, and nothing shown holds a control character.
    #[test]
    fn hostile_messages_stay_inside_the_save_folder(
        msgs in prop::collection::vec(
            (
                prop::sample::select(vec![
                    "streetwatch/s/cam/alerts", "streetwatch/s/cam/snapshots/",
                    "streetwatch/s/cam/status", "streetwatch/s/../alerts",
                ]),
                hostile_name(),
                prop::collection::vec(edit(), 0..4),
                hostile_name(),
            ),
            1..6,
        ),
    ) {
        let alert = std::fs::read_to_string(common::root().join("tests/data/alert.json")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        // Deep enough that every escape the names try lands inside the test's own folder.
        let save = dir.path().join("a/b/save");
        std::fs::create_dir_all(&save).unwrap();
        let mut seen = HashSet::new();
        let abs = dir.path().to_string_lossy().into_owned();
        for (topic, tail, edits, id) in &msgs {
            let topic = format!("{topic}{}", tail.replace("ABS", &abs));
            let id = id.replace("ABS", &abs);
            let quoted = serde_json::to_string(&id).unwrap();
            let payload = apply(&alert.replace("\"ALERT-ID\"", &quoted), edits);
            let text = match on_message(&topic, payload.as_bytes(), Some(&save), &mut seen) {
                Shown::Out(t) | Shown::Err(t) => t,
                Shown::Nothing => String::new(),
            };
            prop_assert!(!text.chars().any(char::is_control), "{:?}", text);
        }
        let mut outside = Vec::new();
        let mut stack = vec![dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    if !save.starts_with(&p) {
                        outside.push(p.clone());
                    }
                    stack.push(p);
                } else if p.parent() != Some(save.as_path()) {
                    outside.push(p);
                }
            }
        }
        prop_assert!(outside.is_empty(), "written outside the save folder: {:?}", outside);
        for e in std::fs::read_dir(&save).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            prop_assert!(e.file_type().unwrap().is_file());
            let stem = name.rsplit_once('.').map(|x| x.0).unwrap_or(&name);
            prop_assert!(safe_name(stem), "{name}");
        }
    }
}
