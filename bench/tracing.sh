#!/usr/bin/env bash
# `bench/tracing.sh`: what tracing costs the gateway. The plain proxy row (bench/portway.yaml's
# route, no policies, no access log) with tracing off, at 1% and at 100% sampling, exporting over
# OTLP/HTTP to a local sink (bench/otlp_sink.py). Same layout as bench/run.sh: the gateway alone on
# core 0; wrk, the nginx upstream and the sink on core 1. Prints a markdown table (req/s, CPU µs per
# request) and the export requests the sink received; docs/tracing.md carries the figures.
#
# Knobs: BENCH_SECONDS (10), BENCH_WARMUP (2), BENCH_PORTWAY_CMD, BENCH_KEEP_TMP=1, BENCH_PRIORITY=1.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_WARMUP=${BENCH_WARMUP:-2}
SUT_CPU=0
LOAD_CPU=1
PY=${BENCH_PYTHON:-$ROOT/.venv/bin/python}
PORTWAY=${BENCH_PORTWAY_CMD:-$ROOT/.venv/bin/portway}
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

for tool in nginx wrk curl; do
    command -v "$tool" >/dev/null || { log "$tool is needed (bench/run.sh installs it)"; exit 1; }
done

bench_tmp portway-tracing-bench
RESULTS=$TMP/results.tsv
: >"$RESULTS"

UP_PORT=$(free_port)
fill bench/nginx/upstream.conf.tmpl "$TMP/upstream.conf" TMP="$TMP" LISTEN="listen 127.0.0.1:$UP_PORT backlog=4096; "
start_bg upstream "$LOAD_CPU" nginx -e "$TMP/upstream-error.log" -c "$TMP/upstream.conf"
wait_http "http://127.0.0.1:$UP_PORT/" || { log "upstream nginx did not start"; exit 1; }

SINK_PORT=$(free_port)
start_bg sink "$LOAD_CPU" "$PY" bench/otlp_sink.py "$SINK_PORT"
SINK_PID=$BG_PID

# row NAME SAMPLE_RATIO|off
row() {
    local name=$1 ratio=$2 port config pid why
    port=$(free_port)
    config=$TMP/portway-${ratio}.yaml
    "$PY" bench/gen_config.py bench/portway.yaml "$config" --set BENCH_PORTWAY_PORT="$port" \
        --set BENCH_UPSTREAM_PORT="$UP_PORT"
    if [ "$ratio" != off ]; then
        printf 'tracing: {endpoint: "http://127.0.0.1:%s", sample_ratio: %s}\n' "$SINK_PORT" "$ratio" >>"$config"
    fi
    start_bg "row-$ratio" "$SUT_CPU" $PORTWAY run "$config"
    pid=$BG_PID
    if ! wait_http "http://127.0.0.1:$port/" 150 || ! alive "$pid"; then
        unavailable "$name" "did not start: $(why_failed "$TMP/row-$ratio.log")"
    elif ! why=$(check_body "http://127.0.0.1:$port/api/x" '"ok":true'); then
        unavailable "$name" "does not proxy: $why"
    else
        measure "$name" "$pid" "http://127.0.0.1:$port/api/x"
    fi
    stop_bg "$pid"
}

row "portway, tracing off" off
row "portway, tracing 1%" 0.01
row "portway, tracing 100%" 1.0

stop_bg "$SINK_PID"
read -r sink_requests sink_bytes < <(tail -n 1 "$TMP/sink.log") || true

echo "| row | req/s | CPU µs/req | non-2xx | socket errors | others busy % |"
echo "|---|---:|---:|---:|---:|---:|"
"$PY" bench/report.py rows "$RESULTS" | while IFS=$'\t' read -r name rps cpu non2xx errors busy; do
    echo "| $name | $rps | $cpu | $non2xx | $errors | $busy |"
done
echo
echo "OTLP sink: ${sink_requests:-0} export requests, ${sink_bytes:-0} bytes."
echo "$(date -u +%Y-%m-%dT%H:%MZ), wrk -t1 -c64 -d${BENCH_SECONDS}s after ${BENCH_WARMUP}s warm-up; portway $(git rev-parse --short HEAD)"
