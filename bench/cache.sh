#!/usr/bin/env bash
# `bench/cache.sh`: the cache-hit row. portway answering from its response cache against portway
# proxying plainly and against nginx's proxy_cache hit, in one run on this machine. Same layout as
# bench/run.sh: the system under test alone on core 0; wrk and the upstream (an nginx whose response
# may be cached for an hour) on core 1. Every row is checked first: the plain rows must proxy, the
# cache rows must answer a hit (Cache-Status) before they are measured. Prints a markdown table;
# docs/cache.md carries the figures.
#
# Knobs: BENCH_SECONDS (10), BENCH_WARMUP (2), BENCH_PYTHON, BENCH_KEEP_TMP=1, BENCH_PRIORITY=1.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_WARMUP=${BENCH_WARMUP:-2}
SUT_CPU=0
LOAD_CPU=1
PY=${BENCH_PYTHON:-$ROOT/.venv/bin/python}
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

for tool in nginx wrk curl; do
    command -v "$tool" >/dev/null || { log "$tool is needed (bench/run.sh installs it)"; exit 1; }
done

bench_tmp portway-cache-bench
RESULTS=$TMP/results.tsv
: >"$RESULTS"

UP_PORT=$(free_port)
fill bench/nginx/cache-upstream.conf.tmpl "$TMP/upstream.conf" TMP="$TMP" LISTEN="listen 127.0.0.1:$UP_PORT backlog=4096; "
start_bg upstream "$LOAD_CPU" nginx -e "$TMP/upstream-error.log" -c "$TMP/upstream.conf"
wait_http "http://127.0.0.1:$UP_PORT/" || { log "upstream nginx did not start"; exit 1; }

# hit_check URL: the second request must be answered from the cache.
hit_check() {
    local status
    curl -s -o /dev/null --max-time 5 "$1"
    status=$(curl -s -o /dev/null --max-time 5 -w '%header{cache-status}' "$1")
    [[ $status == *hit* || $status == *HIT* ]] || { echo "no hit (Cache-Status: ${status:-none})"; return 1; }
}

# nginx_row NAME TEMPLATE CACHED
nginx_row() {
    local name=$1 tmpl=$2 cached=$3 port pid why
    port=$(free_port)
    fill "$tmpl" "$TMP/$cached.conf" TMP="$TMP" PORT="$port" UP_PORT="$UP_PORT"
    start_bg "nginx-$cached" "$SUT_CPU" nginx -e "$TMP/nginx-$cached-error.log" -c "$TMP/$cached.conf"
    pid=$BG_PID
    if ! wait_http "http://127.0.0.1:$port/api/x" 50; then
        unavailable "$name" "did not start: $(why_failed "$TMP/nginx-$cached-error.log")"
    elif [ "$cached" = cache ] && ! why=$(hit_check "http://127.0.0.1:$port/api/x"); then
        unavailable "$name" "$why"
    else
        measure "$name" "$pid" "http://127.0.0.1:$port/api/x"
    fi
    stop_bg "$pid"
}

# portway_row NAME TEMPLATE CACHED
portway_row() {
    local name=$1 tmpl=$2 cached=$3 port pid why config=$TMP/portway-$3.yaml
    port=$(free_port)
    "$PY" bench/gen_config.py "$tmpl" "$config" --set BENCH_PORTWAY_PORT="$port" --set BENCH_UPSTREAM_PORT="$UP_PORT"
    PYTHONPATH=$ROOT/src start_bg "portway-$cached" "$SUT_CPU" "$PY" -m portway run "$config"
    pid=$BG_PID
    if ! wait_http "http://127.0.0.1:$port/" 150 || ! alive "$pid"; then
        unavailable "$name" "did not start: $(why_failed "$TMP/portway-$cached.log")"
    elif ! why=$(check_body "http://127.0.0.1:$port/api/x" '"ok":true'); then
        unavailable "$name" "does not proxy: $why"
    elif [ "$cached" = cache ] && ! why=$(hit_check "http://127.0.0.1:$port/api/x"); then
        unavailable "$name" "$why"
    else
        measure "$name" "$pid" "http://127.0.0.1:$port/api/x"
    fi
    stop_bg "$pid"
}

nginx_row "nginx reverse proxy" bench/nginx/proxy.conf.tmpl plain
nginx_row "nginx proxy_cache hit" bench/nginx/proxy-cache.conf.tmpl cache
portway_row "portway, plain proxy" bench/portway.yaml plain
portway_row "portway, cache hit (memory)" bench/portway-cache.yaml cache

echo "| row | req/s | CPU µs/req | non-2xx | socket errors | others busy % |"
echo "|---|---:|---:|---:|---:|---:|"
"$PY" bench/report.py rows "$RESULTS" | while IFS=$'\t' read -r name rps cpu non2xx errors busy; do
    echo "| $name | $rps | $cpu | $non2xx | $errors | $busy |"
done
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), wrk -t1 -c64 -d${BENCH_SECONDS}s after ${BENCH_WARMUP}s warm-up; portway $(git rev-parse --short HEAD)"
