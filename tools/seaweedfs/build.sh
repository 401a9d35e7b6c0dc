#!/usr/bin/env bash
# Install SeaweedFS (`weed`, Apache-2.0), the S3-compatible object store the sandbox keeps Pulumi state
# in (`python -m jcqnap.sandbox up --s3`), and print the directory holding it (last line of stdout).
#
# 1. A `weed` already on PATH is used as it is.
# 2. Otherwise it is built from the Go module proxy with the wrapper module in this folder
#    (go.mod/go.sum/tools.go pin github.com/seaweedfs/seaweedfs at $VERSION), into a cache OUTSIDE the
#    work tree (${JCQNAP_WEED_CACHE:-${XDG_CACHE_HOME:-~/.cache}/jcqnap/seaweedfs}/$VERSION), so clean
#    clones and CI reuse it. Cold: minutes (see README); warm: instant.
set -euo pipefail
VERSION=v0.0.0-20261109003541-7506e5f91cd6
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ -z "${JCQNAP_BUILD_WEED:-}" ] && found="$(command -v weed 2>/dev/null)"; then
  case "$found" in
    */jcqnap/seaweedfs/*) ;;  # our own cached build on PATH: fall through to the check below
    *) echo "seaweedfs: using the weed on PATH: $found" >&2; dirname "$found"; exit 0 ;;
  esac
fi

PREFIX="${JCQNAP_WEED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jcqnap/seaweedfs}/$VERSION"
BIN="$PREFIX/bin"
# The stamp holds the module version the binary was built from; `weed version` prints only a release number.
complete() { [ -x "$BIN/weed" ] && [ "$(cat "$PREFIX/built-from" 2>/dev/null)" = "$VERSION" ] && "$BIN/weed" version >/dev/null 2>&1; }
if complete; then echo "seaweedfs: cached $BIN ($VERSION)" >&2; echo "$BIN"; exit 0; fi

command -v go >/dev/null || { [ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"; }
command -v go >/dev/null || { echo "seaweedfs: Go 1.26 or newer is needed to build weed (or put a weed on PATH)" >&2; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cp "$HERE/go.mod" "$HERE/go.sum" "$HERE/tools.go" "$work/"
chmod -R u+w "$work"
mkdir -p "$BIN"
cd "$work"
start=$(date +%s)
echo "seaweedfs: building weed $VERSION from the Go module proxy (first time: several minutes)..." >&2
( while sleep 30; do echo "seaweedfs: still building ($(( $(date +%s) - start ))s)..." >&2; done ) & ticker=$!
trap 'kill $ticker 2>/dev/null; rm -rf "$work"' EXIT
go build -trimpath -ldflags "-s -w" -o "$BIN/weed.tmp" github.com/seaweedfs/seaweedfs/weed
mv "$BIN/weed.tmp" "$BIN/weed"
echo "$VERSION" > "$PREFIX/built-from"
complete || { echo "seaweedfs: build in $BIN is incomplete" >&2; exit 1; }
echo "seaweedfs: built in $(( $(date +%s) - start ))s into $BIN" >&2
echo "$BIN"
