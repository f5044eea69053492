#!/usr/bin/env bash
# Builds and caches the tools pipbake's end-to-end tests need, from the Go
# module proxy, and tells where they are.
#
#   .ci/tools.sh                  # build what is missing; print NAME=path lines
#   eval "$(.ci/tools.sh)"        # same, into shell variables (lines are shell-quoted)
#   source .ci/tools.sh           # same, exported into the current shell
#   PIPBAKE_TOOLS="packer amazon" .ci/tools.sh
#
# The tools are built from tools modules under .ci/tools/ (a go.mod with
# `tool` directives and its go.sum, both committed; regenerate them with
# `go mod tidy` in that folder after changing a version), so the build is
# reproducible and never touches the main module:
#   .ci/tools/e2e          packer, packer-plugin-amazon, goreleaser, cosign,
#                          oras: one module, so the packages they share are
#                          built once, at one version (a cold build of the
#                          five compiles 3,100 packages instead of 5,000; see
#                          the module's go.mod)
#   .ci/tools/staticcheck  staticcheck alone: make check needs only it, and
#                          it shares no package at one version with the
#                          others (its golang.org/x versions are newer)
# The missing tools of one module are built by one `go build`, only the
# ones asked for, under a lock of that module's own (flock), so a build of
# staticcheck never waits for the e2e tools, and two runs asking for the same
# module build it once (.ci/run starts the e2e build in the background at
# its very start, and make test's tools.sh waits for it). A binary is cached under
# ${PIPBAKE_DEV_CACHE:-$HOME/.cache/pipbake-dev}/tools/<tool>/<key>/, where
# <key> hashes its tools module's go.mod and go.sum, the Go version and the
# platform; tools/bin/<binary> links to the current one. When everything is
# cached this takes well under a second and runs no `go build`.
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

# tool -> package to build, tools module folder, binary name, variable,
# cache folder.
declare -A pkg=(
  [packer]=github.com/hashicorp/packer
  [goreleaser]=github.com/goreleaser/goreleaser/v2
  [amazon]=github.com/hashicorp/packer-plugin-amazon
  [staticcheck]=honnef.co/go/tools/cmd/staticcheck
  [cosign]=github.com/sigstore/cosign/v2/cmd/cosign
  [oras]=oras.land/oras/cmd/oras
)
declare -A moddir=(
  [packer]=e2e
  [goreleaser]=e2e
  [amazon]=e2e
  [cosign]=e2e
  [oras]=e2e
  [staticcheck]=staticcheck
)
# The module whose version a tool is, where it is not the package built.
declare -A module=(
  [cosign]=github.com/sigstore/cosign/v2
  [oras]=oras.land/oras
  [staticcheck]=honnef.co/go/tools
)
# go build -o DIR/ names each binary after its package: these names.
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

# Compiler flags per tools module, part of its key. The e2e tools are
# built without optimisation (-N -l) except the standard library: measured
# on 2026-12-06, the cold build of the five took 1,069 s of CPU instead of
# about 1,400 (-24%, 2 to 3 minutes of a 2-core machine), and the tests
# hardly notice (cosign signs a blob with its scrypt-encrypted key in 1.1 s
# instead of 0.6 s). The standard library keeps its default flags, so its
# ~300 packages are compiled once for these tools and the release check's
# -trimpath CGO_ENABLED=0 builds, and hashing, compression and crypto stay
# fast. -dwarf=false: the binaries are linked with -s -w, which drops the
# debug information the compiler would otherwise write for every package
# (on the standard library, -N -l alone: 62 CPU-seconds, with
# -dwarf=false: 52). staticcheck runs on every make check: optimised.
declare -A gcflags=(
  [e2e]="-gcflags=all=-N -l -dwarf=false|-gcflags=std="
  [staticcheck]=""
)

key_of() { # tools module folder -> cache key
  { cat "$1/go.mod" "$1/go.sum"; echo "$goenv"; echo "${gcflags[$(basename "$1")]:-}"; } | sha256sum | cut -c1-16
}

version_of() { # tool -> its version in its tools module's go.mod
  sed -n "s#^[[:space:]]*${module[$1]:-${pkg[$1]}} \(v[^ ]*\).*#\1#p" "$here/tools/${moddir[$1]}/go.mod" | head -1
}

declare -A dest=()

build() { # tools-module-folder-name tool... : one go build of those tools
  local m=$1
  shift
  local mod=$here/tools/$m log=$cache/build-$m.log tmp t one start=$SECONDS
  local pkgs=() names=()
  for t in "$@"; do
    pkgs+=("${pkg[$t]}")
    names+=("${bin[$t]} $(version_of "$t")")
  done
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.build-$m.XXXXXX")
  local list
  list=$(printf ', %s' "${names[@]}")
  say "building ${list#, } from .ci/tools/$m; this takes minutes the first time; log: $log"
  # -mod=readonly: the committed go.sum must be complete (it is the key).
  # GOWORK=off: no workspace file may pull the main module in.
  # Plain CGO_ENABLED=0 static binaries, as HashiCorp and GoReleaser ship.
  local flags=()
  [ -z "${gcflags[$m]:-}" ] || IFS='|' read -r -a flags <<<"${gcflags[$m]}"
  if ! (cd "$mod" && env GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 \
      go build -trimpath "${flags[@]}" -ldflags="-s -w" -o "$tmp/" "${pkgs[@]}") >"$log" 2>&1; then
    rm -rf "$tmp"
    echo "tools: error: building ${list#, } from .ci/tools/$m failed; the end of $log:" >&2
    tail -n 30 "$log" | sed 's/^/  /' >&2
    if grep -q 'missing go.sum entry\|updates to go.mod needed' "$log"; then
      echo "tools: hint: run 'go mod tidy' in .ci/tools/$m and commit go.mod and go.sum" >&2
    elif grep -qi 'dial tcp\|proxy\|no such host\|410 Gone\|404 Not Found' "$log"; then
      echo "tools: hint: the Go module proxy could not serve a module (network, GOPROXY=$(go env GOPROXY))" >&2
    fi
    return 1
  fi
  for t in "$@"; do
    [ -x "$tmp/${bin[$t]}" ] || { rm -rf "$tmp"; say "go build made no ${bin[$t]} in $tmp"; return 1; }
    mkdir -p "$cache/${dir[$t]}"
    one=$(mktemp -d "$cache/${dir[$t]}/.build.XXXXXX")
    mv "$tmp/${bin[$t]}" "$one/"
    # A concurrent run may have finished first: keep its binary.
    if ! mv -T "$one" "${dest[$t]}" 2>/dev/null; then
      rm -rf "$one"
      [ -x "${dest[$t]}/${bin[$t]}" ] || { rm -rf "$tmp"; say "could not move the build into ${dest[$t]}"; return 1; }
    fi
  done
  rm -rf "$tmp"
  for t in "$@"; do names+=("${bin[$t]}"); done
  say "built ${names[*]:$#} in $((SECONDS - start))s"
}

missing() { # tool... -> those whose binary is not cached
  local t
  for t in "$@"; do
    [ -x "${dest[$t]}/${bin[$t]}" ] || echo "$t"
  done
}

for t in "${tools[@]}"; do
  mod=$here/tools/${moddir[$t]}
  [ -f "$mod/go.mod" ] && [ -f "$mod/go.sum" ] || die "tools module ${mod} lacks go.mod or go.sum"
  dest[$t]=$cache/${dir[$t]}/$(key_of "$mod")
done

failed=0
todo=$(missing "${tools[@]}")
for m in $(for t in $todo; do echo "${moddir[$t]}"; done | sort -u); do
  # Slow path: one builder at a time per tools module (flock when
  # available); another run may have built some meanwhile.
  mkdir -p "$cache"
  exec {lock_fd}>"$cache/.lock-$m"
  if command -v flock >/dev/null; then
    if ! flock -n "$lock_fd"; then
      say "waiting for another build of .ci/tools/$m (log: $cache/build-$m.log)"
      flock "$lock_fd" || die "could not lock $cache/.lock-$m"
    fi
  fi
  group=()
  for t in $(missing "${tools[@]}"); do
    [ "${moddir[$t]}" = "$m" ] && group+=("$t")
  done
  if [ ${#group[@]} -gt 0 ]; then
    build "$m" "${group[@]}" || failed=1
  fi
  exec {lock_fd}>&-
done

for t in "${tools[@]}"; do
  [ -x "${dest[$t]}/${bin[$t]}" ] || { failed=1; continue; }
  mkdir -p "$bindir"
  if [ "$(readlink "$bindir/${bin[$t]}" 2>/dev/null)" != "${dest[$t]}/${bin[$t]}" ]; then
    ln -sfn "${dest[$t]}/${bin[$t]}" "$bindir/${bin[$t]}.tmp$$" && mv -Tf "$bindir/${bin[$t]}.tmp$$" "$bindir/${bin[$t]}"
  fi
done

[ "$failed" = 0 ] || die "some tools could not be built (see above)"

for t in "${tools[@]}"; do
  printf '%s=%q\n' "${var[$t]}" "${dest[$t]}/${bin[$t]}"
done
printf 'PIPBAKE_TOOLS_BIN=%q\n' "$bindir"
