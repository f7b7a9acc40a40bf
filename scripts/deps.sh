#!/usr/bin/env bash
# Installs the Debian 12 packages earshot needs to build, run and test.
# Only what is missing is installed; nothing is downloaded from elsewhere.
# Usage: scripts/deps.sh [--bench] [--eval] [--package]
#   --bench adds Hyperscan and ripgrep; --eval adds python3 (tests/eval);
#   --package adds debhelper and dpkg-dev (scripts/package.sh).
set -euo pipefail

pkgs=(build-essential cmake pkg-config libpcre2-dev libcjson-dev libsqlite3-dev
      libuv1-dev libcurl4-openssl-dev sqlite3 socat)
for arg in "$@"; do
  case $arg in
    --bench)
      pkgs+=(ripgrep)
      # Hyperscan is packaged for amd64 only.
      [[ "$(dpkg --print-architecture)" == amd64 ]] && pkgs+=(libhyperscan-dev) ;;
    --eval) pkgs+=(python3) ;;
    --package) pkgs+=(debhelper dpkg-dev fakeroot) ;;
    *) echo "usage: scripts/deps.sh [--bench] [--eval] [--package]" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
else
  SUDO=
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
