# pipbake's developer entry points. See README.md.

GO ?= go
# The tools the end-to-end tests use, built from the Go module proxy and
# cached under ~/.cache/pipbake-dev/tools by .ci/tools.sh.
export PIPBAKE_TOOLS ?= packer goreleaser amazon

.PHONY: demo test test-short build bench generate

# The main job on its embedded default: build examples/hello, install it
# into ./out/hello with its pinned lock, and run it.
demo:
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

build:
	$(GO) build -o dist/ ./cmd/...

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
