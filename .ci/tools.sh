#!/usr/bin/env bash
# Builds and caches the tools pipbake's end-to-end tests need, from the Go
# module proxy, and tells where they are.
#
#   .ci/tools.sh                  # build what is missing; print NAME=path lines
#   eval "$(.ci/tools.sh)"        # same, into shell variables (lines are shell-quoted)
#   source .ci/tools.sh           # same, exported into the current shell
#   PIPBAKE_TOOLS="packer amazon" .ci/tools.sh
#
# Each tool is built from a tools module of its own under .ci/tools/<tool>/
# (a go.mod with a `tool` directive and its go.sum, both committed; regenerate
# them with `go mod tidy` in that folder after changing a version), so the
# build is reproducible and never touches the main module. A binary is cached
# under ${PIPBAKE_DEV_CACHE:-$HOME/.cache/pipbake-dev}/tools/<tool>/<key>/,
# where <key> hashes the tools module's go.mod and go.sum, the Go version and
# the platform; tools/bin/<binary> links to the current one. When everything
# is cached this takes well under a second and runs no `go build`.
#
# Variables:
#   PIPBAKE_DEV_CACHE  cache root (default ~/.cache/pipbake-dev)
#   PIPBAKE_TOOLS      tools to provide, separated by spaces or commas, from:
#                      packer goreleaser amazon cosign oras staticcheck (default: packer goreleaser)
# Sets (and prints):
#   PIPBAKE_PACKER                 packer v1.16.0
#   PIPBAKE_GORELEASER             goreleaser v2.15.1
#   PIPBAKE_PACKER_PLUGIN_AMAZON   packer-plugin-amazon v1.8.0 (only with "amazon")
#   PIPBAKE_COSIGN                 cosign v2.6.5 (only with "cosign"; the attestation tests ask for it)
#   PIPBAKE_ORAS                   oras v1.3.6 (only with "oras"; the attestation tests ask for it)
#   PIPBAKE_STATICCHECK            staticcheck v0.8.2 (only with "staticcheck")
#   PIPBAKE_TOOLS_BIN              the tools/bin folder
#
# Exit status: 0 when every requested tool is there; 1 otherwise, with the
# reason and the tail of the build log on stderr.

# Sourced: run as a child and export what it prints, without changing the
# caller's shell options or exiting it.
if [ -n "${BASH_SOURCE[0]:-}" ] && [ "${BASH_SOURCE[0]}" != "$0" ]; then
  if _pipbake_tools_out=$(bash "${BASH_SOURCE[0]}"); then
    while IFS= read -r _pipbake_tools_line; do
      case $_pipbake_tools_line in
        PIPBAKE_*=*) eval "export $_pipbake_tools_line" ;;
      esac
    done <<<"$_pipbake_tools_out"
    unset _pipbake_tools_out _pipbake_tools_line
    return 0
  else
    unset _pipbake_tools_out
    return 1
  fi
fi

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${PIPBAKE_DEV_CACHE:-$HOME/.cache/pipbake-dev}/tools
bindir=$cache/bin

say() { echo "tools: $*" >&2; }
die() { echo "tools: error: $*" >&2; exit 1; }

# tool -> module folder, package to build, binary name, variable.
declare -A pkg=(
  [packer]=github.com/hashicorp/packer
  [goreleaser]=github.com/goreleaser/goreleaser/v2
  [amazon]=github.com/hashicorp/packer-plugin-amazon
  [staticcheck]=honnef.co/go/tools/cmd/staticcheck
  [cosign]=github.com/sigstore/cosign/v2/cmd/cosign
  [oras]=oras.land/oras/cmd/oras
)
# The module whose version a tool is, where it is not the package built.
declare -A module=(
  [cosign]=github.com/sigstore/cosign/v2
  [oras]=oras.land/oras
  [staticcheck]=honnef.co/go/tools
)
declare -A bin=(
  [packer]=packer
  [goreleaser]=goreleaser
  [amazon]=packer-plugin-amazon
  [cosign]=cosign
  [oras]=oras
  [staticcheck]=staticcheck
)
declare -A var=(
  [packer]=PIPBAKE_PACKER
  [goreleaser]=PIPBAKE_GORELEASER
  [amazon]=PIPBAKE_PACKER_PLUGIN_AMAZON
  [cosign]=PIPBAKE_COSIGN
  [oras]=PIPBAKE_ORAS
  [staticcheck]=PIPBAKE_STATICCHECK
)
declare -A dir=(
  [packer]=packer
  [goreleaser]=goreleaser
  [amazon]=packer-plugin-amazon
  [cosign]=cosign
  [oras]=oras
  [staticcheck]=staticcheck
)

tools=()
requested=${PIPBAKE_TOOLS:-packer goreleaser}
for t in ${requested//,/ }; do
  [ -n "${pkg[$t]:-}" ] || die "unknown tool '$t' in PIPBAKE_TOOLS (known: packer goreleaser amazon cosign oras staticcheck)"
  case " ${tools[*]} " in *" $t "*) ;; *) tools+=("$t") ;; esac
done
[ ${#tools[@]} -gt 0 ] || die "PIPBAKE_TOOLS names no tool"

command -v go >/dev/null || die "go is not on PATH (Go 1.26 is needed to build the tools)"
command -v sha256sum >/dev/null || die "sha256sum is not on PATH (coreutils)"

# The Go version and platform are part of every key; asked once.
goenv=$(go env GOVERSION GOOS GOARCH | tr '\n' ' ') || die "'go env' failed"

key_of() { # tool module folder -> cache key
  { cat "$1/go.mod" "$1/go.sum"; echo "$goenv"; } | sha256sum | cut -c1-16
}

build() { # tool module-folder key destination-folder
  local t=$1 mod=$2 key=$3 dest=$4
  local log=$cache/${dir[$t]}/build.log tmp
  mkdir -p "$cache/${dir[$t]}"
  tmp=$(mktemp -d "$cache/${dir[$t]}/.build.XXXXXX")
  say "building ${bin[$t]} ($(sed -n "s#^[[:space:]]*${module[$t]:-${pkg[$t]}} \(v[^ ]*\).*#\1#p" "$mod/go.mod" | head -1)) from .ci/tools/${dir[$t]}; this takes minutes the first time; log: $log"
  local start=$SECONDS
  # -mod=readonly: the committed go.sum must be complete (it is the key).
  # GOWORK=off: no workspace file may pull the main module in.
  # Plain CGO_ENABLED=0 static binaries, as HashiCorp and GoReleaser ship.
  if ! (cd "$mod" && env GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 \
      go build -trimpath -ldflags="-s -w" -o "$tmp/${bin[$t]}" "${pkg[$t]}") >"$log" 2>&1; then
    rm -rf "$tmp"
    echo "tools: error: building ${bin[$t]} failed; the end of $log:" >&2
    tail -n 30 "$log" | sed 's/^/  /' >&2
    if grep -q 'missing go.sum entry\|updates to go.mod needed' "$log"; then
      echo "tools: hint: run 'go mod tidy' in .ci/tools/${dir[$t]} and commit go.mod and go.sum" >&2
    elif grep -qi 'dial tcp\|proxy\|no such host\|410 Gone\|404 Not Found' "$log"; then
      echo "tools: hint: the Go module proxy could not serve a module (network, GOPROXY=$(go env GOPROXY))" >&2
    fi
    return 1
  fi
  # A concurrent run may have finished first: keep its binary.
  if ! mv -T "$tmp" "$dest" 2>/dev/null; then
    rm -rf "$tmp"
    [ -x "$dest/${bin[$t]}" ] || { say "could not move the build into $dest"; return 1; }
  fi
  say "built ${bin[$t]} in $((SECONDS - start))s: $dest/${bin[$t]}"
}

lock_fd=
failed=0
declare -A path=()
for t in "${tools[@]}"; do
  mod=$here/tools/${dir[$t]}
  [ -f "$mod/go.mod" ] && [ -f "$mod/go.sum" ] || die "tools module ${mod} lacks go.mod or go.sum"
  key=$(key_of "$mod")
  dest=$cache/${dir[$t]}/$key
  if [ ! -x "$dest/${bin[$t]}" ]; then
    # Slow path: one builder at a time per cache (flock when available).
    if [ -z "$lock_fd" ]; then
      mkdir -p "$cache"
      exec {lock_fd}>"$cache/.lock"
      if command -v flock >/dev/null; then
        flock "$lock_fd" || die "could not lock $cache/.lock"
      fi
    fi
    if [ ! -x "$dest/${bin[$t]}" ]; then
      build "$t" "$mod" "$key" "$dest" || { failed=1; continue; }
    fi
  fi
  mkdir -p "$bindir"
  if [ "$(readlink "$bindir/${bin[$t]}" 2>/dev/null)" != "$dest/${bin[$t]}" ]; then
    ln -sfn "$dest/${bin[$t]}" "$bindir/${bin[$t]}.tmp$$" && mv -Tf "$bindir/${bin[$t]}.tmp$$" "$bindir/${bin[$t]}"
  fi
  path[$t]=$dest/${bin[$t]}
done

[ "$failed" = 0 ] || die "some tools could not be built (see above)"

for t in "${tools[@]}"; do
  printf '%s=%q\n' "${var[$t]}" "${path[$t]}"
done
printf 'PIPBAKE_TOOLS_BIN=%q\n' "$bindir"
