#!/usr/bin/env bash
# Checks the release: `goreleaser check`, then a snapshot release of
# .goreleaser.yml into a temporary dist folder, and what Packer and users
# get from it (names, checksums, describe, packer-sdc plugin-check,
# `packer plugins install`, the embedded agents). The assertions are
# TestRelease in cmd/packer-plugin-pipbake; this script provides its tools.
#
#   .ci/release-check.sh          # linux/amd64 only, both agents embedded (what CI runs)
#   .ci/release-check.sh linux    # linux/amd64 and linux/arm64
#   .ci/release-check.sh all      # every platform .goreleaser.yml lists
#
# Offline once the Go module cache holds the modules and .ci/tools.sh's
# cache holds packer and goreleaser. The first run compiles everything for
# each new GOOS/GOARCH with -trimpath (a few minutes a platform on 2 cores);
# with a warm Go build cache the linux check takes under a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-ci}
case $mode in
  ci | linux | all) ;;
  *) echo "usage: $0 [ci|linux|all]" >&2; exit 2 ;;
esac
tools=$(PIPBAKE_TOOLS="packer goreleaser" bash .ci/tools.sh)
eval "$tools"
export PIPBAKE_PACKER PIPBAKE_GORELEASER
export PIPBAKE_RELEASE_CHECK=$mode PIPBAKE_E2E_REQUIRED=1
# The test binary compiled as make test compiles it (Makefile, BUILD_ENV),
# which is how goreleaser compiles the plugin: one compile of each package.
export CGO_ENABLED=0
case " ${GOFLAGS:-} " in *" -trimpath "*) ;; *) export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath" ;; esac
start=$SECONDS
go test -count=1 -timeout 60m -run '^TestRelease$' ./cmd/packer-plugin-pipbake
echo "release-check ($mode): ok in $((SECONDS - start))s" >&2
