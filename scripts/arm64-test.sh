#!/usr/bin/env bash
# The arm64 (aarch64) build, checked on this x86-64 machine under qemu-user:
#   1. cross-compiles the library's unit tests and runs them under qemu (with the aarch64
#      ONNX Runtime from its PyPI wheel and arm64 OpenCV from Debian);
#   2. cross-compiles the binary, detects a frame and replays the first frames of a sample with it;
#   3. packages that binary as the arm64 .deb and checks what is inside.
# A debug build (the quick mode: `scripts/package.sh --arch arm64` makes the release package).
# Not covered: real ARM hardware (none here), the package's installation on arm64, speed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

eval "$(scripts/setup.sh --arm64)"
source scripts/arm64-env.sh
export ORT_DYLIB_PATH="$ORT_DYLIB_PATH_ARM64"
T=aarch64-unknown-linux-gnu
OUT="$(mktemp -d "${TMPDIR:-/tmp}/streetwatch-arm64.XXXXXX")"
trap 'rm -rf "$OUT"' EXIT
qemu() { qemu-aarch64-static -L "$ARM64_SYSROOT" "$@"; }

log "arm64: cargo test --lib under qemu"
if ! cargo test --locked --quiet --target "$T" --lib > "$OUT/unit.log" 2>&1; then
  tail -n 60 "$OUT/unit.log" >&2
  die "arm64 unit tests failed under qemu"
fi
grep -E "^test result" "$OUT/unit.log" >&2

log "arm64: cargo build --bin streetwatch"
cargo build --locked --quiet --target "$T" --bin streetwatch
BIN="$ROOT/target/$T/debug/streetwatch"
readelf -h "$BIN" | grep -q "Machine:.*AArch64" || die "$BIN is not an AArch64 binary"

log "arm64: detect and a short replay under qemu"
qemu "$BIN" detect --model nanodet_int8 --max-frames 1 samples/vtest.avi > "$OUT/detect.json" \
  || die "arm64 detect failed"
grep -q '"person"' "$OUT/detect.json" || die "arm64 detect found no person in vtest.avi's first frame"
qemu "$BIN" replay samples/vtest.avi --calibration calibration/vtest.toml --model nanodet_int8 \
  --out "$OUT/replay" --max-frames 12 --detect-fps 5 > "$OUT/replay.log" 2>&1 \
  || { cat "$OUT/replay.log" >&2; die "arm64 replay failed"; }
grep -q '"complete": *true' "$OUT/replay/manifest.json" || die "arm64 replay: bundle not complete"
qemu "$BIN" verify "$OUT/replay" >/dev/null || die "arm64 replay: bundle does not verify"

log "arm64: the .deb"
DEB="$(scripts/package.sh --arch arm64 --bin "$BIN" --out "$OUT/deb" | tail -n1)"
dpkg-deb --info "$DEB" > "$OUT/info"
grep -q "Architecture: arm64" "$OUT/info" && grep -q "libopencv-core406" "$OUT/info" \
  || die "$DEB is not an arm64 package depending on arm64 OpenCV: $(cat "$OUT/info")"
mkdir -p "$OUT/x" && dpkg-deb -x "$DEB" "$OUT/x"
readelf -h "$OUT/x/usr/bin/streetwatch" | grep -q "Machine:.*AArch64" || die "the arm64 package's binary is not AArch64"
readelf -h "$OUT/x/usr/lib/streetwatch/libonnxruntime.so.1.31.1" | grep -q "Machine:.*AArch64" \
  || die "the arm64 package's ONNX Runtime is not AArch64"
# The packaged binary runs from the unpacked package with no environment: its own library and models.
env -u ORT_DYLIB_PATH -u STREETWATCH_MODELS -u STREETWATCH_CACHE HOME="$OUT" \
  qemu-aarch64-static -L "$ARM64_SYSROOT" "$OUT/x/usr/bin/streetwatch" check "$OUT/x/etc/streetwatch/config.toml" \
  | grep -q "no camera yet" || die "the arm64 package's binary cannot check its default configuration"
log "arm64: ok ($(grep -c '' "$OUT/detect.json") frame detected, 12 frames replayed, $(du -h "$DEB" | cut -f1) package)"
