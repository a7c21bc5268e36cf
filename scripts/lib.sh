# shellcheck shell=bash
# Shared helpers for the setup/test scripts. Source it; do not run it.
#
# Everything fetched from a registry is verified by sha256 before use and kept in one
# per-machine cache ($STREETWATCH_CACHE, default ~/.cache/streetwatch) so that a fresh clone
# on the same machine does not fetch or convert anything again.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export STREETWATCH_CACHE="${STREETWATCH_CACHE:-$HOME/.cache/streetwatch}"
mkdir -p "$STREETWATCH_CACHE"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# verify FILE SHA256: exit with a clear message when the file does not match.
verify() {
  local file="$1" want="$2" got
  got="$(sha256_of "$file")"
  [ "$got" = "$want" ] || die "sha256 mismatch for $file: expected $want, got $got"
}

# apt_need PKG...: install the Debian packages that are not installed yet (one apt run).
apt_need() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Python used for the helper venvs (pyenv's or Debian's; needs the venv module).
host_python() {
  command -v python3.11 || command -v python3 || die "python3 not found"
}

# venv_need NAME REQUIREMENT...: a venv under the cache with exactly these pins.
# Prints the venv's python. Re-installs only when the pin list changed.
venv_need() {
  local name="$1"; shift
  local dir="$STREETWATCH_CACHE/venv-$name" stamp
  stamp="$(printf '%s\n' "$@" | sha256sum | cut -d' ' -f1)"
  if [ ! -x "$dir/bin/python" ] || [ "$(cat "$dir/.pins" 2>/dev/null)" != "$stamp" ]; then
    log "creating Python venv $name ($*)"
    rm -rf "$dir"
    "$(host_python)" -m venv "$dir"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@" >&2
    echo "$stamp" > "$dir/.pins"
  fi
  echo "$dir/bin/python"
}
