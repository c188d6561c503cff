#!/usr/bin/env bash
# Builds Grafana Loki's `logcli` into .tools/logcli, only where it is missing: the tests
# run the LogQL queries of docs/logs.md with it (`logcli query --stdin` evaluates a
# query's log pipeline with Loki's own engine over lines piped to it).
#
# There is no Debian package, and `go install …/cmd/logcli@v…` refuses a module with
# replace directives, so the module's source comes from the Go module proxy and is built
# in place. Its go.mod replaces the nested module pkg/push with a folder the module's
# archive leaves out: that module's own archive fills it. About 7 minutes and 2.7 GB of
# memory on 2 cores; the caches (about 4 GB) are removed afterwards.
set -euo pipefail

LOKI_VERSION=v3.7.8
PUSH_VERSION=v0.0.0-20250630054201-94c0ba7b0952
root="$(cd "$(dirname "$0")/.." && pwd)"
target="$root/.tools/logcli"

if [ -x "$target" ]; then
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "build-logcli: no Go toolchain: the LogQL tests will be skipped" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/abauto-logcli.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
export GOMODCACHE="${ABAUTO_GOMODCACHE:-$work/mod}" GOCACHE="${ABAUTO_GOCACHE:-$work/cache}"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

echo "building logcli $LOKI_VERSION into .tools/ (once; about 7 minutes)" >&2
source_dir="$(go mod download -json "github.com/grafana/loki/v3@$LOKI_VERSION" \
  | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
push_dir="$(go mod download -json "github.com/grafana/loki/pkg/push@$PUSH_VERSION" \
  | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
cp -r "$source_dir" "$work/src"
chmod -R u+w "$work/src"
mkdir -p "$work/src/pkg/push"
cp -r "$push_dir/." "$work/src/pkg/push/"
chmod -R u+w "$work/src/pkg/push"
mkdir -p "$root/.tools"
(cd "$work/src" && go build -trimpath -ldflags="-s -w" -o "$target.partial" ./cmd/logcli)
mv "$target.partial" "$target"
echo "built $target" >&2
