#!/usr/bin/env bash
# Install the Pulumi engine jcqnap runs on, and print the directory to put first on PATH.
#
#   tools/engine/build.sh            -> prints a bin dir holding `pulumi` (last line of stdout)
#
# 1. An official `pulumi` already on PATH (the usual install, https://www.pulumi.com/docs/install/)
#    is used as it is.
# 2. Otherwise the CLI is built from the Go module proxy with the wrapper module in this folder
#    (go.mod/go.sum/tools.go pin github.com/pulumi/pulumi/pkg/v3 v3.274.1), into a cache OUTSIDE
#    the work tree (${JCQNAP_ENGINE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/jcqnap/engine}/v3.274.1),
#    so clean clones and CI reuse it. Cold: minutes; warm: instant.
# 3. With that build only, the Python language host stand-in (the launcher pulumi-language-python and
#    langhost.py as pulumi-language-python-standin.py) goes next to the built `pulumi`, where the CLI
#    looks for bundled plugins. It is refreshed on every run, so a changed stand-in reaches the cache.
#    An official CLI brings the official host; then nothing of jcqnap is installed anywhere.
set -euo pipefail
VERSION=v3.274.1
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
want=(pulumi pulumi-language-python-exec pulumi-resource-pulumi-python)

if [ -z "${JCQNAP_BUILD_ENGINE:-}" ] && official="$(command -v pulumi 2>/dev/null)"; then
  case "$official" in
    */jcqnap/engine/*) ;;  # our own cached build already on PATH: fall through to the check below
    *) echo "engine: using the pulumi on PATH: $official ($(pulumi version))" >&2; dirname "$official"; exit 0 ;;
  esac
fi

PREFIX="${JCQNAP_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jcqnap/engine}/$VERSION"
BIN="$PREFIX/bin"
complete() { for f in "${want[@]}"; do [ -x "$BIN/$f" ] || return 1; done; "$BIN/pulumi" version 2>/dev/null | grep -qx "$VERSION"; }
# Install a file into $BIN when it differs, atomically (other work trees may be running this CLI).
put() {
  cmp -s "$1" "$BIN/$2" && return 0
  install -m 0755 "$1" "$BIN/.$2.$$" && mv -f "$BIN/.$2.$$" "$BIN/$2"
}
standin() { put "$HERE/pulumi-language-python" pulumi-language-python && put "$HERE/langhost.py" pulumi-language-python-standin.py; }
if complete; then standin; echo "engine: cached $BIN ($VERSION)" >&2; echo "$BIN"; exit 0; fi

# Go may be installed without being on PATH (the official tarball lives in /usr/local/go).
command -v go >/dev/null || { [ -x /usr/local/go/bin/go ] && export PATH="$PATH:/usr/local/go/bin"; }
command -v go >/dev/null || { echo "engine: Go 1.26 or newer is needed to build the Pulumi CLI (or install the official pulumi)" >&2; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cp "$HERE/go.mod" "$HERE/go.sum" "$HERE/tools.go" "$work/"
chmod -R u+w "$work"
mkdir -p "$BIN"
cd "$work"
flags=(-trimpath -tags osusergo,grpcnotrace -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION")
start=$(date +%s)
echo "engine: building pulumi $VERSION from the Go module proxy (first time: about 4 minutes)..." >&2
( while sleep 30; do echo "engine: still building ($(( $(date +%s) - start ))s)..." >&2; done ) & ticker=$!
trap 'kill $ticker 2>/dev/null; rm -rf "$work"' EXIT
go build "${flags[@]}" -o "$BIN/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
mv "$BIN/pulumi.tmp" "$BIN/pulumi"
sdk="$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$BIN/"
install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$BIN/"
complete || { echo "engine: build in $BIN is incomplete" >&2; exit 1; }
standin
echo "engine: built in $(( $(date +%s) - start ))s into $BIN" >&2
echo "$BIN"
