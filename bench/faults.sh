#!/usr/bin/env bash
# `bench/faults.sh [portway] [nginx] [haproxy]`: the fault table of docs/resilience.md, the same
# scenarios against each proxy in one run (bench/faults.py). nginx and HAProxy come from Debian's
# packages (`apt-get install nginx haproxy`); everything binds 127.0.0.1 only and every process
# started is killed by its pid. Takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in nginx haproxy; do
    command -v "$tool" >/dev/null || { echo "bench/faults.sh needs $tool (apt-get install $tool)" >&2; exit 1; }
done
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" exec "$PY" bench/faults.py "$@"
