//! The layout reads as the pipeline and every import points down: the pure core (geometry,
//! detection, violation, time, calibration with its schedules and dispatch table, track, rules,
//! alert) imports nothing that does I/O, inference or wiring, and no two top-level modules import
//! each other, directly or round a cycle. Read from the `use` lines and paths of `src/`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The core's modules (files or folders under src/).
const CORE: &[&str] = &[
    "geometry",
    "ident",
    "detection",
    "violation",
    "time",
    "calibration",
    "track",
    "rules",
    "alert",
    "signature",
];

/// What the core must not import.
const OUTSIDE_CORE: &[&str] = &[
    "detect",
    "model",
    "source",
    "service",
    "sink",
    "bundle",
    "pipeline",
    "analytics",
    "cues",
    "annotate",
    "report",
    "score",
    "subscriber",
    "config",
    "outbox",
    "viewwatch",
    "cli",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`src/track/kalman.rs` → `track`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Top-level modules a source text names as `crate::NAME`.
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        // Not `streetwatch_crate::` or the like.
        if text[..i]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let rest = &text[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::X, b}`: the first name of each item at the group's own level.
            let mut depth = 0;
            let mut item_start = true;
            let mut name = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => name.push(c),
                    _ if item_start && !name.is_empty() => {
                        out.insert(std::mem::take(&mut name));
                        item_start = false;
                    }
                    _ => {}
                }
            }
            if !name.is_empty() {
                out.insert(name);
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let m = module_of(&src, &f);
        if m == "main" || m == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let deps = imports(&text);
        let entry = g.entry(m.clone()).or_default();
        entry.extend(deps.into_iter().filter(|d| *d != m && d != "error"));
    }
    g
}

#[test]
fn the_core_imports_no_io_inference_or_wiring() {
    let g = graph();
    let mut bad = Vec::new();
    for m in CORE {
        let deps = g.get(*m).unwrap_or_else(|| panic!("module {m} not found"));
        for d in deps {
            if OUTSIDE_CORE.contains(&d.as_str()) {
                bad.push(format!("{m} imports {d}"));
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

/// The image cues look at frames they are given: they open no file or stream, write nothing,
/// and know nothing of the service (`viewwatch`'s reference frame is read by its caller).
#[test]
fn the_image_cues_do_no_io() {
    let g = graph();
    let mut bad = Vec::new();
    for m in ["cues", "viewwatch"] {
        let deps = g.get(m).unwrap_or_else(|| panic!("module {m} not found"));
        for d in deps {
            if [
                "source", "sink", "bundle", "service", "pipeline", "outbox", "cli",
            ]
            .contains(&d.as_str())
            {
                bad.push(format!("{m} imports {d}"));
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn no_import_cycle_between_modules() {
    let g = graph();
    // Depth-first search for a back edge.
    fn visit(
        m: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(2) => return None,
            Some(1) => {
                let at = path.iter().position(|p| p == m).unwrap_or(0);
                let mut cycle = path[at..].to_vec();
                cycle.push(m.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(m.to_string(), 1);
        path.push(m.to_string());
        for d in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(d, g, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(m.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in g.keys() {
        if let Some(c) = visit(m, &g, &mut state, &mut Vec::new()) {
            panic!("import cycle: {}", c.join(" → "));
        }
    }
}

/// The test reads what it claims to: a module that imports a forbidden one is caught.
#[test]
fn the_import_reader_sees_paths_in_use_lines_and_code() {
    let text = "use crate::geometry::BBox;\nfn f() { crate::detect::x(); }\nuse crate::{sink::S, model::{a, b}, source};\nlet s = \"not_crate::bundle\";";
    let got = imports(text);
    let want: BTreeSet<String> = ["geometry", "detect", "sink", "model", "source"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(got, want);
}

/// The README's map of the code names every module of `src/` (a file or a folder), so a
/// newcomer finds each one there.
#[test]
fn the_readme_map_names_every_module() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme
        .find("## Map of the code")
        .expect("README has a map of the code");
    let map = &readme[start..];
    let map = &map[..map[3..].find("\n## ").map_or(map.len(), |e| e + 3)];
    let mut missing = Vec::new();
    for e in std::fs::read_dir(root.join("src")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let shown = if p.is_dir() {
            format!("`src/{name}/`")
        } else {
            format!("`src/{name}`")
        };
        if !map.contains(&shown) {
            missing.push(shown);
        }
    }
    assert!(missing.is_empty(), "not in the README's map: {missing:?}");
}
