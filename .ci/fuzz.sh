#!/usr/bin/env bash
# Runs every fuzz target (func FuzzX) in the module for FUZZTIME each
# (default 60s), one after the other. Their seed corpora already run in
# `go test`; this explores beyond them. A crasher is written under the
# package's testdata/fuzz/FuzzX/ by go test: commit it with the fix.
#
#   .ci/fuzz.sh                 # every target, 60 s each
#   FUZZTIME=10s .ci/fuzz.sh ./internal/lock/...
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-60s}
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
failed=()
while read -r pkg; do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "fuzz: $pkg $target ($fuzztime)" >&2
    if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
      failed+=("$pkg $target")
    fi
  done
done < <(go list "${pkgs[@]}")
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz: failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
