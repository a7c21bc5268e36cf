#!/usr/bin/env bash
# The main job on the bundled samples, with all its setup, on a fresh Debian 12 machine:
#   scripts/replay-samples.sh [OUT_DIR]
# Builds streetwatch and replays samples/vtest.avi and samples/bikes.mp4 with their calibrations,
# printing alerts as they fire and writing an evidence bundle for each (alerts.jsonl, snapshots,
# clips, report.html, manifest.json; `streetwatch verify` checks it) to OUT_DIR/<clip>/
# (default: out/, replaced on each run). No external service is needed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

OUT="${1:-out}"
eval "$(scripts/setup.sh)"
log "cargo build --release"
cargo build --release --quiet
for clip in vtest:vtest.avi bikes:bikes.mp4; do
  name="${clip%%:*}"
  file="${clip#*:}"
  log "replay samples/$file -> $OUT/$name"
  ./target/release/streetwatch replay "samples/$file" --calibration "calibration/$name.toml" --out "$OUT/$name" --overwrite
done
