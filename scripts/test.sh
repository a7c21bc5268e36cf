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
log "cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
log "cargo test"
cargo test --all-targets --quiet 2>&1 | tee "${TMPDIR:-/tmp}/streetwatch-test.log"
