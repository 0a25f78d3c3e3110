#!/usr/bin/env bash
# `bench/instructions.sh [plain|chain]`: CPU instructions per proxied request, counted by callgrind
# over bench/micro.py, for the compiled build and the pure-Python one (PORTWAY_PURE=1).
#
# Wall-clock and CPU-time figures move with whatever else the machine runs; an instruction count
# does not (it moves by well under 1% between runs). micro.py runs twice per build, with N1 and N2
# requests; the difference, divided by N2 - N1, is the per-request count with the interpreter's
# start, the imports and the gateway's construction cancelled out. Needs valgrind (apt).
# Knobs: BENCH_N1 (1000), BENCH_N2 (6000); BENCH_BUILDS ("compiled pure").
set -euo pipefail
cd "$(dirname "$0")/.."
KIND=${1:-plain}
N1=${BENCH_N1:-1000}
N2=${BENCH_N2:-6000}
PY=${PY:-.venv/bin/python}
command -v valgrind >/dev/null || { echo "instructions.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }

count() {  # pure(0/1) requests -> instructions of the whole run
    PORTWAY_PURE=$1 PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$PY" bench/micro.py "$KIND" --requests "$2" --rounds 1 2>&1 | awk '/Collected :/ {print $4}'
}

for build in ${BENCH_BUILDS:-compiled pure}; do
    pure=0
    [ "$build" = pure ] && pure=1
    label=$(PORTWAY_PURE=$pure "$PY" -c 'import portway.build as b; print(b.describe())')
    a=$(count $pure "$N1")
    b=$(count $pure "$N2")
    printf '%s, %s: %d instructions/request (%s)\n' "$KIND" "$build" $(((b - a) / (N2 - N1))) "$label"
done
