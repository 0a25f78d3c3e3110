#!/usr/bin/env bash
# `bench/baseline.sh REV`: `make bench` with the plain and full-chain rows also measured for git
# revision REV (default: HEAD, i.e. the last commit against the working tree), in the same run.
# REV is checked out into a temporary worktree and run from this checkout's .venv with its own
# source first on the path; the worktree is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
REV=${1:-HEAD}
SHORT=$(git rev-parse --short "$REV")
WT=$(mktemp -d /tmp/portway-baseline.XXXXXX)
cleanup() { git worktree remove --force "$WT" >/dev/null 2>&1 || rm -rf "$WT"; }
trap cleanup EXIT
git worktree add --detach -q "$WT" "$REV"
cat >"$WT/portway" <<SH
#!/bin/sh
PYTHONPATH="$WT/src" exec "$ROOT/.venv/bin/python" -m portway "\$@"
SH
chmod +x "$WT/portway"
BENCH_BASELINE_CMD="$WT/portway" BENCH_BASELINE_NAME="$SHORT" bash bench/run.sh
