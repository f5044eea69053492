#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use, when missing.
# Idempotent and quiet when everything is present.
set -euo pipefail
pkgs=(gcc unzip bc curl python3 python3-venv python3-dev nginx openssh-server openssh-client docker-registry debootstrap bsdutils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  sudo_=""
  [ "$(id -u)" = 0 ] || sudo_=sudo
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
