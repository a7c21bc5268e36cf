#!/usr/bin/env bash
# Builds the Debian package of streetwatch for a roadside box:
#
#   scripts/package.sh                  # amd64, release build → target/deb/streetwatch_<v>_amd64.deb
#   scripts/package.sh --arch arm64     # aarch64, cross-built on this x86-64 machine
#   scripts/package.sh --bin PATH       # package an already built binary (the tests' quick mode)
#   scripts/package.sh --out DIR        # where the .deb goes
#
# The package holds the binary, the ONNX Runtime library it loads (from the PyPI wheel, with its
# licence texts), the default models (NanoDet FP32 and INT8, as setup verified them), the unit, the
# system user (sysusers.d), a commented /etc/streetwatch/config.toml and an example calibration
# (conffiles: upgrades keep a technician's edits). State lives in /var/lib/streetwatch.
# Its dependencies are the Debian packages that hold the libraries the binary links.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ARCH=amd64
BIN=""
OUT="$ROOT/target/deb"
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH="$2"; shift 2 ;;
    --bin) BIN="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    *) die "unknown option $1 (known: --arch amd64|arm64, --bin PATH, --out DIR)" ;;
  esac
done

case "$ARCH" in
  amd64) eval "$(scripts/setup.sh)"; ORT_LIB="$ORT_DYLIB_PATH"; LIBDIR=/usr/lib/x86_64-linux-gnu; TARGET="" ;;
  arm64) eval "$(scripts/setup.sh --arm64)"; ORT_LIB="$ORT_DYLIB_PATH_ARM64"; TARGET=aarch64-unknown-linux-gnu ;;
  *) die "--arch $ARCH: amd64 or arm64" ;;
esac

if [ -z "$BIN" ]; then
  if [ -n "$TARGET" ]; then
    source "$ROOT/scripts/arm64-env.sh"
    log "cargo build --release --target $TARGET"
    cargo build --release --locked --quiet --target "$TARGET" --bin streetwatch
    BIN="$ROOT/target/$TARGET/release/streetwatch"
  else
    log "cargo build --release"
    cargo build --release --locked --quiet --bin streetwatch
    BIN="$ROOT/target/release/streetwatch"
  fi
fi
[ -x "$BIN" ] || die "no binary at $BIN"

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
[ -n "$VERSION" ] || die "Cargo.toml: no version"
ORT_DIR="$(dirname "$ORT_LIB")"
STAGE="$(mktemp -d "${TMPDIR:-/tmp}/streetwatch-deb.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
R="$STAGE/root"

# The files, with their modes (dpkg-deb records what is on disk; --root-owner-group makes them root's).
install -D -m 0755 "$BIN" "$R/usr/bin/streetwatch"
if [ -n "$TARGET" ]; then aarch64-linux-gnu-strip --strip-debug "$R/usr/bin/streetwatch"; else strip --strip-debug "$R/usr/bin/streetwatch"; fi
install -D -m 0644 "$ORT_LIB" "$R/usr/lib/streetwatch/$(basename "$ORT_LIB")"
install -d -m 0755 "$R/usr/share/streetwatch/models"
for name in nanodet nanodet_int8; do
  manifest="models/$name.toml"
  file="$(sed -n 's/^file[[:space:]]*=[[:space:]]*"\(.*\)"[[:space:]]*$/\1/p' "$manifest" | head -n1)"
  [ -f "$STREETWATCH_MODELS/$file" ] || die "model $STREETWATCH_MODELS/$file missing (scripts/setup.sh makes it)"
  install -m 0644 "$manifest" "$R/usr/share/streetwatch/models/$name.toml"
  install -m 0644 "$STREETWATCH_MODELS/$file" "$R/usr/share/streetwatch/models/$file"
  # A local conversion: the file sha256 setup recorded after checking the content digest.
  if [ -f "$STREETWATCH_MODELS/$file.sha256" ]; then
    install -m 0644 "$STREETWATCH_MODELS/$file.sha256" "$R/usr/share/streetwatch/models/$file.sha256"
  fi
done
install -D -m 0644 packaging/streetwatch.service "$R/lib/systemd/system/streetwatch.service"
install -D -m 0644 packaging/sysusers.conf "$R/usr/lib/sysusers.d/streetwatch.conf"
install -D -m 0640 packaging/config.toml "$R/etc/streetwatch/config.toml"
install -D -m 0640 packaging/calibration-example.toml "$R/etc/streetwatch/calibration/example.toml"
install -D -m 0644 README.md "$R/usr/share/doc/streetwatch/README.md"
install -D -m 0644 schema/alert.schema.json "$R/usr/share/doc/streetwatch/alert.schema.json"
{
  echo "streetwatch $VERSION: Apache-2.0 (the source repository's licence)."
  echo
  echo "usr/lib/streetwatch/libonnxruntime.so.*: ONNX Runtime, from the PyPI wheel onnxruntime==1.31.1."
  echo "Its licence and third-party notices follow."
  echo
  cat "$ORT_DIR/LICENSE"
  echo
  cat "$ORT_DIR/ThirdPartyNotices.txt"
} > "$STAGE/copyright"
install -m 0644 "$STAGE/copyright" "$R/usr/share/doc/streetwatch/copyright"

# Depends: the Debian package of each library the binary needs (what dpkg-shlibdeps would find).
# For amd64 the installed packages say; for arm64 the index setup made of its arm64 sysroot.
deps=()
for lib in $(readelf -d "$R/usr/bin/streetwatch" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
  if [ -n "$TARGET" ]; then
    pkg="$(awk -F'\t' -v f="/$lib" 'substr($2, length($2) - length(f) + 1) == f {print $1; exit}' "$ARM64_SYSROOT/.files")"
    [ -n "$pkg" ] || die "no arm64 package in $ARM64_SYSROOT/.files holds $lib"
  else
    path="$(ls "$LIBDIR/$lib" /lib/${LIBDIR#/usr/lib/}/"$lib" 2>/dev/null | head -n1 || true)"
    [ -n "$path" ] || die "library $lib ($ARCH) not found under $LIBDIR"
    pkg="$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n1 | cut -d: -f1 || true)"
    [ -n "$pkg" ] || pkg="$(dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1 || true)"
    [ -n "$pkg" ] || die "no Debian package holds $path"
  fi
  deps+=("$pkg")
done
DEPENDS="$(printf '%s\n' "${deps[@]}" systemd | sort -u | paste -sd, - | sed 's/,/, /g')"

install -d -m 0755 "$R/DEBIAN"
cat > "$R/DEBIAN/control" <<EOF
Package: streetwatch
Version: $VERSION
Architecture: $ARCH
Maintainer: streetwatch developers <streetwatch@localhost>
Section: video
Priority: optional
Depends: $DEPENDS
Installed-Size: $(du -sk --exclude=DEBIAN "$R" | cut -f1)
Homepage: https://localhost/streetwatch
Description: street-order violations from roadside cameras, for city management
 streetwatch watches roadside CCTV (RTSP) with an ONNX detector, tracks what it sees and
 applies per-camera rules (zones, dwell times, schedules, metres from calibration) to raise
 alerts for street vending, barbecue smoke and chaotic two-wheeler parking, sent over MQTT
 with annotated snapshots and clips through a durable outbox.
EOF
printf '/etc/streetwatch/config.toml\n/etc/streetwatch/calibration/example.toml\n' > "$R/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "packaging/$s" "$R/DEBIAN/$s"; done

mkdir -p "$OUT"
DEB="$OUT/streetwatch_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$R" "$DEB" >/dev/null
log "built $DEB ($(du -h "$DEB" | cut -f1))"
echo "$DEB"
