# pipbake's developer entry points. See README.md.

GO ?= go
# The tools the end-to-end tests use, built from the Go module proxy and
# cached under ~/.cache/pipbake-dev/tools by .ci/tools.sh.
export PIPBAKE_TOOLS ?= packer goreleaser amazon cosign oras

.PHONY: demo demo-native test test-short check lint build bench generate fuzz peer

# The main job on its embedded default: bake examples/hello (embedded in
# pipbake) into an OCI image under ./out/hello-oci with the pipbake-oci
# builder and the pipbake provisioner, on a Debian base made once with
# debootstrap and cached, then run the app from the image. Needs root.
demo:
	@command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
	$(GO) run ./cmd/pipbake demo --oci

# The same app installed natively into ./out/hello and run from current.
demo-native:
	$(GO) run ./cmd/pipbake demo

# make test and make check compile as release builds do (.goreleaser.yml:
# CGO_ENABLED=0, -trimpath), so that the release check's build of the
# plugin and the CLI finds every package already compiled, as do the
# plugins and agents the tests build. Either setting alone keys another
# compile of every package: a cold build of the plugin took 205
# CPU-seconds, the release's of the plugin and the CLI after it 244 more
# (README, "What CI costs"). Nothing pipbake runs needs cgo; -race does
# (check-race turns it back on). A -trimpath plugin does not know its
# checkout: the tests that build one name it at link time (internal/agent's
# checkout).
BUILD_ENV = CGO_ENABLED=0 GOFLAGS="$(strip $(filter-out -trimpath,$(GOFLAGS)) -trimpath)"
# make test also links without DWARF (-ldflags=-w, a link flag: compiles
# are shared all the same): its test binaries and the programs its tests
# build, but those that pass -ldflags of their own. Linking the plugin and
# the CLI took 7.8 CPU-seconds with DWARF, 5.5 without; panics and race
# reports name files and lines from the symbol table.
TEST_ENV = CGO_ENABLED=0 GOFLAGS="$(strip $(filter-out -trimpath -ldflags=-w,$(GOFLAGS)) -trimpath -ldflags=-w)"

# Everything the tests need (Debian packages, tools cached under
# ~/.cache/pipbake-dev), then every test.
test:
	bash .ci/deps.sh
	bash .ci/tools.sh >/dev/null
	$(BUILD_ENV) $(GO) vet ./...
	$(TEST_ENV) $(GO) test -count=1 -timeout 30m ./...

# Unit tests only (skips the slow whole-corpus comparisons).
test-short:
	$(TEST_ENV) $(GO) test -short ./...

# The inner loop, in under 2 minutes with warm caches: vet, staticcheck,
# and the core's unit tests with the race detector, lint and tests side by
# side (make -j2: the tests spend much of their time waiting on Python,
# nginx and timeouts). -short skips every test that starts packer,
# moto_server, sshd, cosign, docker-registry or debootstrap
# (internal/testenv), and the big-input tests take smaller inputs; make
# test runs them all. README ("make check is the inner loop") has the
# measurements.
#
# CHECK_PKGS: every package with tests but CHECK_SLOW's. Measured with
# `go test -short -race -count=1` of the package alone on the shared
# 2-core machine (load 4-9), warm build cache: CPU seconds of the test
# binary and its children, then wall seconds; all of CHECK_PKGS together
# take 65 to 75 s of CPU to run (and 44 s to build and link), 70 s of wall
# on a nearly quiet machine. Left out, as each would add a large part of
# the 2 minutes:
#   internal/bake              65 s CPU, 137 s  bakes through a shell, real installs
#   internal/install           57 s,      47 s  installs, chaos kills
#   internal/corpus            39 s,      34 s  repacks and compares the corpus
#   internal/npm               30 s,      28 s  npm ci comparisons
#   internal/cli               28 s,      40 s  the CLI end to end
#   cmd/packer-plugin-pipbake  28 s,      44 s  (and 33 s of CPU to link)
#   cmd/pipbake                12 s,      23 s  builds and runs the binary
#   examples                    5 s,       8 s  TestCIExamples
# and, because -short skips every one of their tests, so -race would only
# link them (CPU seconds to link): examples/aws-ami (3.8),
# internal/testenv/packertest (1.1), bench/... (1.7 to 3.3).
CHECK_SLOW = /internal/bake$$|/internal/install$$|/internal/corpus$$|/internal/npm$$|/internal/cli$$|/cmd/|/examples$$|/examples/aws-ami$$|/internal/testenv/packertest$$|/bench/
CHECK_PKGS ?= $(shell $(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./... | grep -Ev '$(CHECK_SLOW)')
# GORACE atexit_sleep_ms=0: a race-built binary sleeps 1 s before it exits
# by default (for goroutines still running to report a race): once per
# test binary and once per helper a test starts as itself (chroot,
# testenv, bytecode), 25 to 40 s of the wall time. A race found while the
# tests run still fails them. -ldflags=-w: no DWARF in the test binaries:
# building and linking the set takes 44 s of CPU instead of 49 (race
# reports and panics name files and lines from the symbol table, not
# DWARF).
CHECK_TESTFLAGS ?= -short -race -ldflags=-w
#
# CHECK_NORACE: the packages of CHECK_PKGS tested without -race. They
# start no goroutine of their own (the race detector reports races between
# goroutines), and they are the only ones that import the EC2 SDK, whose
# race build is most of the race build of the set: 15 MB of generated Go
# (of 35 MB in the set's dependencies), compiled with instrumentation
# only for them. Their -short tests still run, built as vet builds them.
CHECK_NORACE = /internal/catalog/amazon$$|/internal/inspect$$|/post-processor/release$$
CHECK_RACE_PKGS = $(shell printf '%s\n' $(CHECK_PKGS) | grep -Ev '$(CHECK_NORACE)')
CHECK_PLAIN_PKGS = $(shell printf '%s\n' $(CHECK_PKGS) | grep -E '$(CHECK_NORACE)')
check:
	@$(MAKE) --no-print-directory -j2 --output-sync=line lint check-race

.PHONY: check-race
check-race:
	@echo "go test $(CHECK_TESTFLAGS) CHECK_PKGS ($(words $(CHECK_RACE_PKGS)) packages; without -race: $(words $(CHECK_PLAIN_PKGS)))"
	@$(BUILD_ENV) CGO_ENABLED=1 GORACE="$${GORACE:+$$GORACE }atexit_sleep_ms=0" $(GO) test $(CHECK_TESTFLAGS) $(CHECK_RACE_PKGS)
	$(if $(CHECK_PLAIN_PKGS),@$(BUILD_ENV) $(GO) test $(filter-out -race,$(CHECK_TESTFLAGS)) $(CHECK_PLAIN_PKGS))

# vet, and staticcheck (built once by .ci/tools.sh from .ci/tools/staticcheck,
# the version pinned there) on the full build and the lean agent's.
lint:
	$(BUILD_ENV) $(GO) vet ./...
	@set -e; eval "$$(PIPBAKE_TOOLS=staticcheck bash .ci/tools.sh)"; \
	  echo "staticcheck ./..."; $(BUILD_ENV) "$$PIPBAKE_STATICCHECK" ./...; \
	  $(BUILD_ENV) "$$PIPBAKE_STATICCHECK" -tests=false -tags pipbake_agent ./cmd/pipbake ./internal/cli

# The plugin and the pipbake CLI into dist/. Like release builds, the
# plugin embeds lean pipbake agents for linux/amd64 and linux/arm64
# (-tags pipbake_agent: install, verify, releases, rollback; about 6 MB),
# built first into internal/agent/agents/, so a bake uploads one of them
# instead of the whole plugin. Version: the checkout's, as 0.1.0+dev
# (internal/version), which `packer plugins install --path` installs as
# v0.1.0.
build:
	@set -e; for arch in amd64 arm64; do \
	  echo "lean pipbake agent for linux/$$arch"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -tags pipbake_agent -ldflags "-s -w" \
	    -o internal/agent/agents/pipbake_linux_$$arch ./cmd/pipbake; \
	done
	$(GO) build -tags embedagents -o dist/ ./cmd/...

bench:
	bench/install/run

# Regenerate HCL2 specs and docs partials (packer-sdc). packer-sdc finds the
# project by a directory named packer-plugin-*, so run it through one.
generate:
	$(GO) mod tidy
	tmp=$$(mktemp -d) && ln -s "$(CURDIR)" "$$tmp/packer-plugin-pipbake" && \
	  cd "$$tmp/packer-plugin-pipbake" && $(GO) generate ./... ; status=$$?; rm -rf "$$tmp"; exit $$status

# Regenerate the docs partials (generate), then render .web-docs/, the
# plugin's docs for Packer's integration portal, from the templates in
# docs/ (.web-docs/scripts/render.go). Tests in cmd/packer-plugin-pipbake
# fail when docs-partials/ or .web-docs/ is stale.
.PHONY: docs
docs: generate
	$(GO) run .web-docs/scripts/render.go

# Build a snapshot release with goreleaser (.goreleaser.yml) into a
# temporary folder and check what it made: the linux targets by default,
# every platform with RELEASE_CHECK=all.
.PHONY: release-check
RELEASE_CHECK ?= linux
release-check:
	bash .ci/release-check.sh $(RELEASE_CHECK)

# Run every fuzz target for FUZZTIME each (default 60s); their seed
# corpora run in `make test` already.
FUZZTIME ?= 60s
fuzz:
	FUZZTIME=$(FUZZTIME) bash .ci/fuzz.sh

# Refresh the conformance data under testdata/peer from PEER_DATA.
PEER_DATA ?= ../shared/peer-data
peer:
	rm -rf testdata/peer.new && cp -r $(PEER_DATA) testdata/peer.new && chmod -R u+w testdata/peer.new && \
	  cp testdata/peer/README.md testdata/peer.new/ && rm -rf testdata/peer && mv testdata/peer.new testdata/peer
