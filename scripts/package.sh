#!/usr/bin/env bash
# Builds the Debian package (packaging/debian) from the committed tree and
# puts earshot_VERSION_ARCH.deb in dist/. The build runs every test
# (dh_auto_test), as the plain build of scripts/test.sh does.
# Usage: scripts/package.sh [--worktree]
#   --worktree packages the files as they are in the working tree
#   (tracked files only) instead of HEAD.
set -euo pipefail
cd "$(dirname "$0")/.."

from=HEAD
case ${1:-} in
  "") ;;
  --worktree) from= ;;
  *) echo "usage: scripts/package.sh [--worktree]" >&2; exit 2 ;;
esac

scripts/deps.sh --package
top=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/earshot"
if [[ -n $from ]]; then
  git archive "$from" | tar -x -C "$work/earshot"
else
  git ls-files -z | xargs -0 cp --parents -t "$work/earshot"
fi
ln -s packaging/debian "$work/earshot/debian"
(cd "$work/earshot" && dpkg-buildpackage -b -us -uc) >"$work/build.log" 2>&1 || {
  tail -40 "$work/build.log" >&2
  echo "package: dpkg-buildpackage failed (last 40 lines above)" >&2
  exit 1
}
mkdir -p dist
cp "$work"/*.deb dist/
ls -1 dist/*.deb | sed "s|^|$top/|"
