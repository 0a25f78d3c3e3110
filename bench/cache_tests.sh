#!/usr/bin/env bash
# `bench/cache_tests.sh`: the public HTTP caching test suite (npm http-cache-tests 0.4.5, pinned in
# bench/cache-tests/package-lock.json) run through portway: the suite's origin server behind the
# gateway (one route, `cache: {}`), its command-line client against the gateway (`--base`). Writes
# the client's results JSON and prints the per-kind table next to the nginx, Varnish, Squid and
# Traffic Server results the package ships (counted by bench/cache_tests_report.py the way
# cache-tests.fyi counts them), then the required tests nginx passes and portway does not.
#
# Knobs: BENCH_PYTHON (the venv's python), CACHE_TESTS_OUT (results file; default
# bench/cache-tests/results-portway.json), CACHE_TESTS_ID (run one test, with its request dump),
# BENCH_KEEP_TMP=1 (keep the gateway's log and config). Binds 127.0.0.1 only.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
PY=${BENCH_PYTHON:-$ROOT/.venv/bin/python}
SUITE=$ROOT/bench/cache-tests
PKG=$SUITE/node_modules/http-cache-tests
OUT=${CACHE_TESTS_OUT:-$SUITE/results-portway.json}
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

for tool in node npm curl; do
    command -v "$tool" >/dev/null || { log "$tool is needed"; exit 1; }
done
if [ ! -d "$PKG" ]; then
    log "installing http-cache-tests (package-lock.json) into bench/cache-tests/node_modules"
    (cd "$SUITE" && npm ci --no-audit --no-fund --ignore-scripts >/dev/null) || { log "npm ci failed"; exit 1; }
fi

bench_tmp portway-cache-tests
ORIGIN_PORT=$(free_port)
GW_PORT=$(free_port)

# The suite's origin. Its server reads npm's config variables; set them as `npm run server` would.
(cd "$PKG" && npm_config_protocol=http npm_config_port=$ORIGIN_PORT npm_config_pidfile=$TMP/origin.pid \
    setsid node server/server.mjs >"$TMP/origin.log" 2>&1 </dev/null) &
BENCH_PIDS+=("$!")
wait_http "http://127.0.0.1:$ORIGIN_PORT/" || { log "origin did not start: $(why_failed "$TMP/origin.log")"; exit 1; }

cat >"$TMP/portway.yaml" <<YAML
listen: 127.0.0.1:$GW_PORT
access_log: {enabled: false}
upstreams:
  origin: {targets: ["http://127.0.0.1:$ORIGIN_PORT"]}
routes:
  - {path: /, upstream: origin, cache: {}}
YAML
PYTHONPATH=$ROOT/src setsid "$PY" -m portway run "$TMP/portway.yaml" >"$TMP/portway.log" 2>&1 </dev/null &
BENCH_PIDS+=("$!")
wait_http "http://127.0.0.1:$GW_PORT/" || { log "gateway did not start: $(why_failed "$TMP/portway.log")"; exit 1; }

log "running the suite through portway on 127.0.0.1:$GW_PORT (origin on $ORIGIN_PORT)"
export npm_config_base="http://127.0.0.1:$GW_PORT" npm_package_config_id="${CACHE_TESTS_ID:-}"
if [ -n "${CACHE_TESTS_ID:-}" ]; then
    (cd "$PKG" && timeout 120 node --no-warnings cli.mjs)
    exit $?
fi
(cd "$PKG" && timeout 600 node --no-warnings cli.mjs) >"$OUT.tmp" || { log "the client failed"; exit 1; }
mv "$OUT.tmp" "$OUT"
node "$SUITE/list-tests.mjs" >"$TMP/tests.json" || { log "cannot list the suite's tests"; exit 1; }
log "results in ${OUT#"$ROOT"/}"
"$PY" "$ROOT/bench/cache_tests_report.py" "$TMP/tests.json" "$PKG/results" "$OUT" ${CACHE_TESTS_FAILURES:+--failures}
