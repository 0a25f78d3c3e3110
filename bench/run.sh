#!/usr/bin/env bash
# `make bench`: portway against nginx, the seeds' Express gateway and aiohttp, in one run on this
# machine, plus portway's scale scenarios. See docs/benchmarks.md for what each row means.
#
# Layout of the 2 cores: the system under test (SUT) alone on core 0; wrk and the nginx upstream
# share core 1. A row's CPU cost per request (the SUT's utime+stime over the measured window,
# divided by the requests wrk completed) is the honest comparison when core 1 saturates first.
#
# Knobs (environment): BENCH_SECONDS (10) per measured run, BENCH_WARMUP (2) before each,
# BENCH_SKIP_ROUTES / BENCH_SKIP_STREAM / BENCH_SKIP_IDLE=1 to skip a scenario,
# BENCH_STREAM_BYTES (1 GiB), BENCH_IDLE_CONNS (10000), BENCH_PORTWAY_CMD (another build to run as
# "portway": called as `CMD run CONFIG`), BENCH_BASELINE_CMD (a second build measured beside it on
# the plain and full-chain rows, named BENCH_BASELINE_NAME; `bench/baseline.sh REV` sets both up for
# a git revision; by default, with a compiled build, the pure-Python one), BENCH_KEEP_TMP=1 to keep
# configs and logs.
#
# No `set -e`: one row that fails says "not available" in the table and the run goes on.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_WARMUP=${BENCH_WARMUP:-2}
SUT_CPU=0
LOAD_CPU=1
PY=$ROOT/.venv/bin/python
PORTWAY=${BENCH_PORTWAY_CMD:-$ROOT/.venv/bin/portway}
JWT_SECRET=bench-only-hs256-secret-of-at-least-32-bytes  # >= 32 bytes: RFC 7518 §3.2
STARTED=$(date +%s)
# The compiled build (docs/benchmarks.md "Compiled build") is measured beside the pure-Python one:
# unless another baseline is asked for, the plain and chain rows run again with PORTWAY_PURE=1.
if [ -z "${BENCH_BASELINE_CMD:-}" ] && [ -z "${BENCH_PORTWAY_CMD:-}" ] \
    && "$PY" -c 'import sys, portway.build as b; sys.exit(not b.CURRENT.compiled)' 2>/dev/null; then
    BENCH_BASELINE_CMD="env PORTWAY_PURE=1 $PORTWAY" BENCH_BASELINE_NAME="pure-Python build"
fi
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# ---------------------------------------------------------------------------------------------
# 1. What we need, installed only when missing (a second run spends ~1 s here).
install_deps() {
    local missing=()
    command -v nginx >/dev/null || missing+=(nginx)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
    command -v curl >/dev/null || missing+=(curl)
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]} (apt)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
            || { log "apt-get install ${missing[*]} failed"; exit 1; }
    fi
    # npm ci rewrites node_modules/.package-lock.json: newer than the lock file means up to date.
    local ex=$ROOT/bench/express
    if [ ! "$ex/node_modules/.package-lock.json" -nt "$ex/package-lock.json" ]; then
        log "npm ci (bench/express)"
        (cd "$ex" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || { log "npm ci failed"; exit 1; }
    fi
    if ! "$PY" -c 'import aiohttp' 2>/dev/null; then
        log "pip install aiohttp (into .venv, for the aiohttp row)"
        "$PY" -m pip install -q aiohttp || { log "pip install aiohttp failed"; exit 1; }
    fi
}
install_deps

# 10,000 idle connections need 10,000 descriptors in the gateway and in the client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bench_tmp portway-bench
RESULTS=$TMP/results.tsv
EXTRAS=$TMP/extras.md
FACTS=$TMP/facts.tsv
: >"$RESULTS"

# ---------------------------------------------------------------------------------------------
# Machine facts, for the report header.
{
    printf 'cores (nproc)\t%s\n' "$(nproc)"
    printf 'CPU\t%s\n' "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    printf 'kernel\t%s\n' "$(uname -r)"
    printf 'nginx\t%s\n' "$(nginx -v 2>&1 | sed 's/.*version: //')"
    printf 'wrk\t%s\n' "$(wrk -v 2>&1 | awk 'NR == 1 {print $2}')"
    printf 'node\t%s\n' "$(node --version)"
    printf 'python\t%s\n' "$("$PY" -c 'import sys; print(sys.version.split()[0])')"
    printf 'aiohttp / uvloop\t%s\n' "$("$PY" -c 'import aiohttp, uvloop; print(aiohttp.__version__, "/", uvloop.__version__)')"
    printf 'express stack\t%s\n' "$(cd bench/express && node -p "['express','http-proxy-middleware','express-rate-limit','jsonwebtoken','morgan','uuid'].map(p => p + ' ' + JSON.parse(require('fs').readFileSync('node_modules/' + p + '/package.json')).version).join(', ')")"
    printf 'portway\t%s\n' "$(git rev-parse --short HEAD 2>/dev/null)$([ -z "$(git status --porcelain -- src/portway 2>/dev/null)" ] || echo " + uncommitted src/portway changes")"
    printf 'portway build\t%s\n' "$("$PY" -c 'import portway.build as b; print(b.describe())')"
    printf 'settings\t%s\n' "wrk -t1 -c64 -d${BENCH_SECONDS}s after ${BENCH_WARMUP}s warm-up; SUT on core $SUT_CPU, wrk + upstream on core $LOAD_CPU${BENCH_PRIORITY:+; BENCH_PRIORITY (autogroup nice -10)}; $(date -u +%Y-%m-%dT%H:%MZ)"
} >"$FACTS"

# ---------------------------------------------------------------------------------------------
# 2. The upstream: nginx serving a fixed 29-byte JSON body, sharing core 1 with wrk.
# Three ports on one server: UP_PORT for every keep-alive row, one each for the two Express rows
# (see the template: their TIME_WAIT sockets must not slow the next row's connects).
UP_PORT=$(free_port)
UP_PORT_BARE=$(free_port)
UP_PORT_CHAIN=$(free_port)
LISTEN=""
for p in "$UP_PORT" "$UP_PORT_BARE" "$UP_PORT_CHAIN"; do LISTEN+="listen 127.0.0.1:$p backlog=4096; "; done
fill bench/nginx/upstream.conf.tmpl "$TMP/upstream.conf" TMP="$TMP" LISTEN="$LISTEN"
start_bg upstream "$LOAD_CPU" nginx -e "$TMP/upstream-error.log" -c "$TMP/upstream.conf"
UP_PID=$BG_PID
wait_http "http://127.0.0.1:$UP_PORT/" || { log "upstream nginx did not start: $(tail -c 400 "$TMP/upstream.log")"; exit 1; }

TOKEN=$(cd bench/express && JWT_SECRET=$JWT_SECRET node token.js)
AUTH=(-H "Authorization: Bearer $TOKEN")

# run_row ROW PORT PATH HEADERS_VAR -- CMD...: start CMD on the SUT core, check one request through
# it returns the upstream's body, measure, stop. HEADERS_VAR names an array of extra wrk/curl args;
# AUTH (the bearer token) marks a chain row, which must also refuse a request without the token.
run_row() {
    local row=$1 port=$2 path=$3 hdrs_name=$4
    shift 5
    local -n hdrs=$hdrs_name
    start_bg "row-${row//[^A-Za-z0-9]/_}" "$SUT_CPU" "$@"
    local pid=$BG_PID log="$TMP/row-${row//[^A-Za-z0-9]/_}.log" why
    if ! wait_http "http://127.0.0.1:$port/" 150 || ! alive "$pid"; then
        unavailable "$row" "did not start: $(why_failed "$log")"
    elif ! why=$(check_body "http://127.0.0.1:$port$path" '"ok":true' "${hdrs[@]}"); then
        unavailable "$row" "does not proxy: $why"
    elif [ "$hdrs_name" = AUTH ] && ! why=$(check_refused "http://127.0.0.1:$port$path" 401); then
        unavailable "$row" "does not check the token: $why"
    else
        measure "$row" "$pid" "http://127.0.0.1:$port$path" "${hdrs[@]}"
    fi
    stop_bg "$pid"
}

# portway_config TEMPLATE OUT UPSTREAM_PORT PORT [gen_config args...]
portway_config() {
    local tmpl=$1 out=$2 upport=$3 port=$4
    shift 4
    "$PY" bench/gen_config.py "$tmpl" "$out" --set BENCH_PORTWAY_PORT="$port" \
        --set BENCH_UPSTREAM_PORT="$upport" --set BENCH_JWT_SECRET="$JWT_SECRET" \
        --set BENCH_ACCESS_LOG="$TMP/portway-access.log" "$@"
}

# portway_available: the command exists and has a `run` subcommand (the gateway is being built).
portway_available() {
    [ -x "${PORTWAY%% *}" ] || command -v "${PORTWAY%% *}" >/dev/null || { echo "no $PORTWAY"; return 1; }
    $PORTWAY run --help >/dev/null 2>&1 || { echo "\`portway run\` does not exist yet"; return 1; }
}

NOHDRS=()
# ---------------------------------------------------------------------------------------------
# 3. The rows.
# a. the ceiling: wrk straight at the upstream (its CPU is the upstream nginx's, on core 1).
measure "upstream direct (ceiling)" "$UP_PID" "http://127.0.0.1:$UP_PORT/x"

# b. the reference: nginx as a reverse proxy with a keep-alive upstream pool.
PORT=$(free_port)
fill bench/nginx/proxy.conf.tmpl "$TMP/proxy.conf" TMP="$TMP" UP_PORT="$UP_PORT" PORT="$PORT"
run_row "nginx reverse proxy" "$PORT" /api/x NOHDRS -- nginx -e "$TMP/proxy-error.log" -c "$TMP/proxy.conf"

# e. portway, plain proxying (one worker, access log off); with BENCH_BASELINE_CMD, the same row
# for that other build right after, so a change is measured against what it replaces in one run.
for build in current baseline; do
    cmd=$PORTWAY row="portway"
    if [ "$build" = baseline ]; then
        [ -n "${BENCH_BASELINE_CMD:-}" ] || continue
        cmd=$BENCH_BASELINE_CMD row="portway (baseline: ${BENCH_BASELINE_NAME:-baseline})"
    fi
    PORT=$(free_port)
    if why=$(PORTWAY=$cmd portway_available); then
        portway_config bench/portway.yaml "$TMP/portway-$build.yaml" "$UP_PORT" "$PORT"
        run_row "$row" "$PORT" /api/x NOHDRS -- $cmd run "$TMP/portway-$build.yaml"
    else
        unavailable "$row" "$why"
    fi
done

# d. aiohttp server + ClientSession.
PORT=$(free_port)
run_row "aiohttp gateway" "$PORT" /api/x NOHDRS -- "$PY" bench/aiohttp_gateway.py "$PORT" "http://127.0.0.1:$UP_PORT"

# c. the seeds' Express gateway, bare and with its chain (morgan + console.log to a file).
PORT=$(free_port)
run_row "Express bare proxy" "$PORT" /api/x NOHDRS -- \
    env NODE_ENV=production PORT="$PORT" UPSTREAM="http://127.0.0.1:$UP_PORT_BARE" node bench/express/bare.js
PORT=$(free_port)
run_row "Express full chain (seed 003)" "$PORT" /api/x AUTH -- \
    env NODE_ENV=production PORT="$PORT" UPSTREAM="http://127.0.0.1:$UP_PORT_CHAIN" JWT_SECRET="$JWT_SECRET" \
    node bench/express/gateway.js

# portway with the same chain (request id, access log, rate limit, JWT), then the same with its
# verified-token cache off (wrk repeats one token: with the cache, only the first is verified).
for run in current:100000 current:0 baseline:100000; do
    build=${run%%:*} cache=${run##*:} cmd=$PORTWAY
    row="portway full chain"
    [ "$cache" = 0 ] && row="portway full chain, no token cache"
    if [ "$build" = baseline ]; then
        [ -n "${BENCH_BASELINE_CMD:-}" ] || continue
        cmd=$BENCH_BASELINE_CMD row="portway full chain (baseline: ${BENCH_BASELINE_NAME:-baseline})"
    fi
    PORT=$(free_port)
    if why=$(PORTWAY=$cmd portway_available); then
        portway_config bench/portway-chain.yaml "$TMP/portway-chain-$build-$cache.yaml" "$UP_PORT" "$PORT" \
            --set BENCH_JWT_CACHE="$cache"
        run_row "$row" "$PORT" /api/x AUTH -- $cmd run "$TMP/portway-chain-$build-$cache.yaml"
    else
        unavailable "$row" "$why"
    fi
done

# Proof that the chains logged (a row whose access log is silently off would be flattered).
{
    echo "### Chain rows"
    echo "- access log lines written: Express $(cat "$TMP"/row-Express_full_chain*.log 2>/dev/null | grep -c '^GET'), portway $(cat "$TMP/portway-access.log" 2>/dev/null | wc -l) (both to a file in the temp dir)"
    echo "- both refused a request without the token (401) before being measured, or their row says why not"
} >>"$EXTRAS"

# ---------------------------------------------------------------------------------------------
# 4. Portway's scale scenarios, each skippable and bounded.
source "$ROOT/bench/scenarios.sh"
if why=$(portway_available); then
    [ -n "${BENCH_SKIP_ROUTES:-}" ] || scenario_routes
    [ -n "${BENCH_SKIP_STREAM:-}" ] || scenario_stream
    [ -n "${BENCH_SKIP_IDLE:-}" ] || scenario_idle
else
    echo "Scale scenarios (routes, 1 GB streaming, idle connections): not available: $why" >>"$EXTRAS"
fi
# HTTPS: nginx and portway with the same certificate, keep-alive and new connections (BENCH_SKIP_TLS=1 skips).
# shellcheck source=bench/tls.sh
source "$ROOT/bench/tls.sh"
[ -n "${BENCH_SKIP_TLS:-}" ] || scenario_tls

# ---------------------------------------------------------------------------------------------
# 5. The report, to stdout and bench/results/latest.md (gitignored).
stop_all
printf 'whole run\t%s s\n' "$(($(date +%s) - STARTED))" >>"$FACTS"
mkdir -p bench/results
"$PY" bench/report.py table "$RESULTS" "$FACTS" "$EXTRAS" | tee bench/results/latest.md
