#!/usr/bin/env bash
# The whole test suite, with all its setup, on a fresh Debian 12 machine with the Rust toolchain:
#   scripts/test.sh
# Runs setup (with the test extras), format and lint checks, and every unit and integration
# test; `--all-targets` also runs each bench once in quick mode, proving the benches work. Set STREETWATCH_MODEL_MIRROR to a folder of model files
# (CI uses ../shared/models) to take models from it and require every model family's tests.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

eval "$(scripts/setup.sh --test)"
if [ -n "${STREETWATCH_MODEL_MIRROR:-}" ]; then
  export STREETWATCH_REQUIRE_ALL_MODELS=1
fi

log "cargo fmt --check"
cargo fmt --all -- --check
# Every crate of the lock file, for every target (cargo-deny reads them all; a build fetches only
# this target's).
log "cargo fetch"
cargo fetch --locked --quiet
log "cargo deny check licenses bans sources"
"$CARGO_DENY" deny --offline check licenses bans sources
# Advisories need the RustSec database (a git repository on GitHub); where it cannot be fetched
# (these build machines reach crates.io but not GitHub) this says so and does not count as a pass.
if "$CARGO_DENY" deny fetch db >/dev/null 2>&1; then
  log "cargo deny check advisories"
  "$CARGO_DENY" deny check advisories
else
  log "cargo deny check advisories: NOT RUN (the RustSec advisory database cannot be fetched from here)"
fi
log "cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
log "cargo test"
cargo test --all-targets --quiet 2>&1 | tee "${TMPDIR:-/tmp}/streetwatch-test.log"
# The arm64 build: cross-compiled here, unit tests, a detection and a short replay under qemu-user,
# and its .deb built and inspected (scripts/arm64-test.sh says what this does not cover).
log "arm64 under qemu"
scripts/arm64-test.sh
