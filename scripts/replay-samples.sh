#!/usr/bin/env bash
# The main job on the bundled samples, with all its setup, on a fresh Debian 12 machine:
#   scripts/replay-samples.sh [OUT_DIR]
# Builds streetwatch and replays samples/vtest.avi and samples/bikes.mp4 with their calibrations (at
# realistic timings neither has a violation), then three scenario clips with a composited violation
# each (a bicycle parked on a pavement, goods piled on a forecourt, barbecue smoke on a lawn),
# printing alerts as they fire and writing an evidence bundle for each (alerts.jsonl, snapshots,
# clips, report.html, manifest.json; `streetwatch verify` checks it) to OUT_DIR/<clip>/
# (default: out/, replaced on each run). No external service is needed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

OUT="${1:-out}"
eval "$(scripts/setup.sh)"
log "cargo build --release"
cargo build --release --quiet
for clip in vtest:vtest.avi:vtest bikes:bikes.mp4:bikes \
  parking:scenarios/parking-01-occluded.avi:scenarios \
  goods:scenarios/goods-01-boxes-stays.avi:scenarios \
  smoke:scenarios/smoke-02-breeze-dense.avi:scenarios; do
  IFS=: read -r name file cal <<<"$clip"
  log "replay samples/$file -> $OUT/$name"
  ./target/release/streetwatch replay "samples/$file" --calibration "calibration/$cal.toml" --out "$OUT/$name" --overwrite
done
