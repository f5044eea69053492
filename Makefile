# pipbake's developer entry points. See README.md.

GO ?= go
# The tools the end-to-end tests use, built from the Go module proxy and
# cached under ~/.cache/pipbake-dev/tools by .ci/tools.sh.
export PIPBAKE_TOOLS ?= packer goreleaser amazon

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

# Everything the tests need (Debian packages, tools cached under
# ~/.cache/pipbake-dev), then every test.
test:
	bash .ci/deps.sh
	bash .ci/tools.sh >/dev/null
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

# Unit tests only (skips the slow whole-corpus comparisons).
test-short:
	$(GO) test -short ./...

# The inner loop, in under 2 minutes with warm caches: vet, staticcheck,
# and the core's unit tests with the race detector. -short skips every test
# that starts packer, moto_server, sshd, cosign or debootstrap
# (internal/testenv). CHECK_PKGS leaves out what is slow even then (the
# command line's and installers' in-process end-to-end tests, the corpus
# repacking and the examples' builds, the benchmarks); make test runs those.
CHECK_SLOW = /internal/cli$$|/internal/corpus$$|/examples$$|/internal/npm$$|/internal/install$$|/internal/bake$$|/internal/agent$$|/cmd/|/bench/|/provisioner/
CHECK_PKGS ?= $(shell $(GO) list ./... | grep -Ev '$(CHECK_SLOW)')
check: lint
	@echo "go test -short -race CHECK_PKGS ($(words $(CHECK_PKGS)) packages)"
	@$(GO) test -short -race $(CHECK_PKGS)

# vet, and staticcheck (built once by .ci/tools.sh from .ci/tools/staticcheck,
# the version pinned there) on the full build and the lean agent's.
lint:
	$(GO) vet ./...
	@set -e; eval "$$(PIPBAKE_TOOLS=staticcheck bash .ci/tools.sh)"; \
	  echo "staticcheck ./..."; "$$PIPBAKE_STATICCHECK" ./...; \
	  "$$PIPBAKE_STATICCHECK" -tests=false -tags pipbake_agent ./cmd/pipbake ./internal/cli

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
