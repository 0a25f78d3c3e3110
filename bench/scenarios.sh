# Portway's scale scenarios for bench/run.sh (sourced after the rows; uses lib.sh and run.sh's
# variables). Each appends its figures as markdown to $EXTRAS and never aborts the run.

# start_portway NAME CONFIG PORT CHECK_PATH: start portway on the SUT core and check it proxies.
# Leaves the pid in $BG_PID; returns 1 (after writing why to $EXTRAS) when it does not work.
start_portway() {
    local name=$1 config=$2 port=$3 path=$4 why
    start_bg "$name" "$SUT_CPU" $PORTWAY run "$config"
    if ! wait_http "http://127.0.0.1:$port/" 300 || ! alive "$BG_PID"; then
        why="did not start: $(why_failed "$TMP/$name.log")"
    elif ! why=$(check_body "http://127.0.0.1:$port$path" '"ok":true'); then
        why="does not proxy: $why"
    else
        return 0
    fi
    echo "- $name: not available: $why" >>"$EXTRAS"
    stop_bg "$BG_PID"
    return 1
}

mb() { awk -v k="$1" 'BEGIN {printf "%.1f MB", k / 1024}'; }

# (i) 10 vs 10,000 routes. Both gateways run at once (the idle one costs nothing) and we alternate
# A B A B with half-length runs, so a drift of the machine during the run hits both alike. We
# request the last route of the table. Report req/s and CPU µs/request, both averaged.
scenario_routes() {
    log "scenario: 10 vs 10,000 routes"
    local n port pid secs=$(((BENCH_SECONDS + 1) / 2)) round out=$TMP/routes.tsv
    [ "$secs" -ge 3 ] || secs=3
    declare -A ports pids
    echo "### 10 vs 10,000 routes (request to the last route, ${secs}s × 2 rounds each, alternated)" >>"$EXTRAS"
    for n in 10 10000; do
        port=$(free_port)
        portway_config bench/portway.yaml "$TMP/portway-routes-$n.yaml" "$UP_PORT" "$port" --routes "$n"
        start_portway "portway-routes-$n" "$TMP/portway-routes-$n.yaml" "$port" "/api/s$((n - 1))/x" || return 0
        ports[$n]=$port
        pids[$n]=$BG_PID
        log "routes=$n: RSS $(mb "$(rss_kb "$BG_PID")") after start"
    done
    : >"$out"
    for round in 1 2; do
        for n in 10 10000; do
            BENCH_SECONDS=$secs MEASURE_OUT=$out measure "routes-$n" "${pids[$n]}" \
                "http://127.0.0.1:${ports[$n]}/api/s$((n - 1))/x"
        done
    done
    for n in 10 10000; do stop_bg "${pids[$n]}"; done
    "$PY" bench/report.py rows "$out" | awk -F'\t' '
        { rps[$1] += $2; cpu[$1] += $3; cnt[$1]++; if ($4 + $5 > 0) bad[$1] += $4 + $5; if ($6 > busy) busy = $6 }
        END {
            a = rps["routes-10"] / cnt["routes-10"];     b = rps["routes-10000"] / cnt["routes-10000"]
            ca = cpu["routes-10"] / cnt["routes-10"];    cb = cpu["routes-10000"] / cnt["routes-10000"]
            printf "- 10 routes: %.0f req/s, %.1f µs CPU/req\n", a, ca
            printf "- 10,000 routes: %.0f req/s, %.1f µs CPU/req\n", b, cb
            printf "- difference: %+.1f%% req/s, %+.1f%% CPU/req (target: < 5%% throughput lost)\n", (b - a) / a * 100, (cb - ca) / ca * 100
            if (busy > 10) printf "- (!) the machine was %d%% busy with other work around these runs: the figures are disturbed\n", busy
            if (bad["routes-10"] + bad["routes-10000"] > 0) printf "- non-2xx or socket errors: %d / %d\n", bad["routes-10"], bad["routes-10000"]
        }' >>"$EXTRAS"
}

# (ii) 1 GB through portway each way, against bench/sink.py (discards uploads, generates downloads).
# Idle RSS is read after one small request; the peak is VmHWM, reset before each transfer
# (echo 5 > /proc/PID/clear_refs) so the upload's peak does not hide the download's.
scenario_stream() {
    local bytes=${BENCH_STREAM_BYTES:-1073741824}
    log "scenario: $bytes bytes streamed up and down"
    echo "### Streaming $((bytes / 1048576)) MiB through portway (sink upstream; peak RSS = VmHWM)" >>"$EXTRAS"
    local sink_port port pid idle peak res
    sink_port=$(free_port)
    start_bg sink "$LOAD_CPU" "$PY" bench/sink.py "$sink_port"
    local sink_pid=$BG_PID
    wait_http "http://127.0.0.1:$sink_port/" || { echo "- sink did not start" >>"$EXTRAS"; stop_bg "$sink_pid"; return 0; }
    port=$(free_port)
    portway_config bench/portway-stream.yaml "$TMP/portway-stream.yaml" "$sink_port" "$port"
    start_portway portway-stream "$TMP/portway-stream.yaml" "$port" /api/x || { stop_bg "$sink_pid"; return 0; }
    pid=$BG_PID
    sleep 0.5
    idle=$(rss_kb "$pid")
    echo "- idle RSS after one request: $(mb "$idle")" >>"$EXTRAS"

    # A sparse file: curl sends it with a Content-Length and reading it costs no disk.
    truncate -s "$bytes" "$TMP/upload.bin"
    for pid_i in $(tree_pids "$pid"); do echo 5 >"/proc/$pid_i/clear_refs" 2>/dev/null; done
    res=$(taskset -c "$LOAD_CPU" curl -s --max-time 120 -T "$TMP/upload.bin" -o "$TMP/upload-answer.json" \
        -w '%{http_code} %{size_upload} %{time_total}' "http://127.0.0.1:$port/api/upload")
    peak=$(rss_kb "$pid" VmHWM)
    set -- $res
    echo "- upload (PUT, Content-Length): HTTP ${1:-?}, $(awk -v b="${2:-0}" -v t="${3:-0}" 'BEGIN {printf "%.2f GB in %.1f s (%.0f MB/s)", b / 1e9, t, (t > 0 ? b / t / 1e6 : 0)}'), sink answered \`$(head -c 80 "$TMP/upload-answer.json" 2>/dev/null)\`; peak RSS $(mb "$peak"), growth $(mb $((peak - idle))) (target < 50 MB)" >>"$EXTRAS"
    rm -f "$TMP/upload.bin"

    for pid_i in $(tree_pids "$pid"); do echo 5 >"/proc/$pid_i/clear_refs" 2>/dev/null; done
    res=$(taskset -c "$LOAD_CPU" curl -s --max-time 120 -o /dev/null \
        -w '%{http_code} %{size_download} %{time_total}' "http://127.0.0.1:$port/api/download/$bytes")
    peak=$(rss_kb "$pid" VmHWM)
    set -- $res
    echo "- download (GET, Content-Length): HTTP ${1:-?}, $(awk -v b="${2:-0}" -v t="${3:-0}" 'BEGIN {printf "%.2f GB in %.1f s (%.0f MB/s)", b / 1e9, t, (t > 0 ? b / t / 1e6 : 0)}'); peak RSS $(mb "$peak"), growth $(mb $((peak - idle))) (target < 50 MB)" >>"$EXTRAS"
    stop_bg "$pid"
    stop_bg "$sink_pid"
}

# (iii) 10,000 idle keep-alive connections held open (bench/idle_conns.py, on the load core).
scenario_idle() {
    local count=${BENCH_IDLE_CONNS:-10000} port
    log "scenario: $count idle keep-alive connections"
    echo "### $count idle keep-alive connections to portway" >>"$EXTRAS"
    port=$(free_port)
    portway_config bench/portway.yaml "$TMP/portway-idle.yaml" "$UP_PORT" "$port"
    start_portway portway-idle "$TMP/portway-idle.yaml" "$port" /api/x || return 0
    taskset -c "$LOAD_CPU" "$PY" bench/idle_conns.py --port "$port" --pid "$BG_PID" --count "$count" \
        --deadline 120 --markdown >>"$EXTRAS"
    stop_bg "$BG_PID"
}
