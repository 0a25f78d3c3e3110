# Helpers for bench/run.sh: process lifecycle, readiness, CPU and memory accounting, wrk runs.
# Sourced, not executed. Everything here binds or connects to 127.0.0.1 only, and every wait loop
# has a fixed number of iterations so a stuck server can never hang `make bench`.

BENCH_PIDS=()           # process-group leaders we started; the EXIT trap kills exactly these
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[bench] %s\n' "$*" >&2; }

# A free TCP port on 127.0.0.1: the kernel picks it, we release it and hand the number on. The race
# with another process grabbing it is theoretical on this machine and costs a "not available" row.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_bg NAME CPU CMD...: run CMD pinned to CPU in its own session (setsid) so that stopping it
# also stops anything it forked (portway --workers, nginx workers). Output goes to $TMP/NAME.log.
# The pid is left in $BG_PID (not printed: $(...) would run the job in a subshell we cannot wait on).
start_bg() {
    local name=$1 cpu=$2
    shift 2
    setsid "${PRIO[@]}" taskset -c "$cpu" "$@" >"$TMP/$name.log" 2>&1 </dev/null &
    BG_PID=$!
    BENCH_PIDS+=("$BG_PID")
}

# With BENCH_PRIORITY=1, everything we start (servers and wrk) runs with its scheduler autogroup
# at nice -10. Each setsid session is its own autogroup and the kernel shares a core fairly between
# autogroups, so on a machine where others run test suites our SUT would get half of core 0; at
# -10 it gets ~90% (and others' work slows down for the length of the run, hence opt-in).
PRIO=()
if [ -n "${BENCH_PRIORITY:-}" ]; then
    PRIO=(sh -c 'echo -10 >/proc/self/autogroup 2>/dev/null; exec "$@"' prio)
fi

# load ARGS...: run wrk on the load core (in its own session when BENCH_PRIORITY is set).
load() {
    if [ ${#PRIO[@]} -gt 0 ]; then
        setsid -w "${PRIO[@]}" taskset -c "$LOAD_CPU" wrk "$@"
    else
        taskset -c "$LOAD_CPU" wrk "$@"
    fi
}

# stop_bg PID: TERM the whole process group, give it 5 s, then KILL. Bounded.
stop_bg() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

stop_all() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do stop_bg "$pid"; done
    BENCH_PIDS=()
}

# wait_http URL [TRIES]: true once anything answers HTTP on URL (any status), false after TRIES*0.1 s.
wait_http() {
    local url=$1 tries=${2:-100} i
    for i in $(seq "$tries"); do
        curl -s -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.1
    done
    return 1
}

# why_failed LOG: the line of a server's log that says why it did not start (the last one naming an
# error, else the last line), rather than the tail of a traceback.
why_failed() {
    local line
    line=$(grep -E 'Error|error' "$1" 2>/dev/null | tail -n 1)
    [ -n "$line" ] || line=$(tail -n 1 "$1" 2>/dev/null)
    echo "$line"
}

# alive PID: the process we started is still running (a server that exited at startup is "not available").
alive() { kill -0 "$1" 2>/dev/null; }

# tree_pids PID: PID and all its descendants (via /proc/*/task/*/children, no pstree needed).
tree_pids() {
    local queue=("$1") pid child
    while [ ${#queue[@]} -gt 0 ]; do
        pid=${queue[0]}
        queue=("${queue[@]:1}")
        [ -d "/proc/$pid" ] || continue
        echo "$pid"
        for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do queue+=("$child"); done
    done
}

# cpu_ticks PID: utime+stime (fields 14 and 15 of /proc/PID/stat, in clock ticks) summed over the
# process tree. Field 2 (comm) may hold spaces, so we cut everything up to the last ')' first.
cpu_ticks() {
    local total=0 pid rest
    for pid in $(tree_pids "$1"); do
        rest=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null) || continue
        # after "comm) " the fields restart at 3 (state), so utime/stime are the 12th and 13th
        set -- $rest
        total=$((total + ${12:-0} + ${13:-0}))
    done
    echo "$total"
}

# rss_kb PID [FIELD]: VmRSS (or VmHWM etc.) of one process, in kB, summed over its tree for VmRSS.
rss_kb() {
    local field=${2:-VmRSS} total=0 pid v
    for pid in $(tree_pids "$1"); do
        v=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$pid/status" 2>/dev/null)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# check_body URL EXPECTED [CURL ARGS...]: one request must return 2xx with EXPECTED in the body.
# Guards against measuring a fast 404: a gateway that answers errors quickly is not proxying.
# Three tries: a server that just started may drop its very first connection.
check_body() {
    local url=$1 expected=$2 out rc try code body
    shift 2
    for try in 1 2 3; do
        out=$(curl -s --max-time 5 -w '\n%{http_code}' "$@" "$url" 2>&1)
        rc=$?
        code=${out##*$'\n'} body=${out%$'\n'*}
        [[ $rc -eq 0 && $code == 2* && $body == *"$expected"* ]] && return 0
        sleep 0.5
    done
    if [ "$rc" -ne 0 ]; then echo "no answer (curl exit $rc)"; else echo "HTTP $code: ${body:0:80}"; fi
    return 1
}

# check_refused URL STATUS [CURL ARGS...]: one request must get STATUS (a chain row's gateway must
# refuse a request without a token, or it is not doing the work the row claims).
check_refused() {
    local url=$1 want=$2 code
    shift 2
    code=$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$@" "$url")
    [ "$code" = "$want" ] || { echo "answered HTTP $code without a token (want $want)"; return 1; }
}

# others_busy: % of the machine's CPU (both cores) busy over half a second while our servers sit
# idle. Others share this machine (a test suite running while we measure halves a row's req/s), so
# every row records this just before its warm-up and just after its run; the report flags rows
# where it was high instead of presenting a disturbed figure as a clean one.
others_busy() {
    local a b
    a=($(head -1 /proc/stat))
    sleep 0.5
    b=($(head -1 /proc/stat))
    # fields: cpu user nice system idle iowait irq softirq steal ...
    local total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    local idle=$((b[4] - a[4] + b[5] - a[5]))
    [ "$total" -gt 0 ] && echo $(((total - idle) * 100 / total)) || echo 0
}

# wait_quiet: before a row, wait for the machine to be under 10% busy with others' work, at most
# BENCH_QUIET_WAIT seconds (default 15) per row and BENCH_QUIET_BUDGET seconds (default 60) over the
# whole run, so `make bench` stays within a few minutes on a busy machine: a row measured anyway is
# flagged in the report rather than skipped. Leaves the last sample in $QUIET_BUSY.
QUIET_SPENT=0
wait_quiet() {
    local start=$SECONDS
    local deadline=$((start + ${BENCH_QUIET_WAIT:-15}))
    local budget_end=$((start + ${BENCH_QUIET_BUDGET:-60} - QUIET_SPENT))
    [ "$budget_end" -lt "$deadline" ] && deadline=$budget_end
    QUIET_BUSY=$(others_busy)
    if [ "$QUIET_BUSY" -gt 10 ] && [ "$SECONDS" -lt "$deadline" ]; then
        log "machine ${QUIET_BUSY}% busy with other work: waiting up to $((deadline - SECONDS))s for quiet"
        while [ "$QUIET_BUSY" -gt 10 ] && [ "$SECONDS" -lt "$deadline" ]; do QUIET_BUSY=$(others_busy); done
    fi
    QUIET_SPENT=$((QUIET_SPENT + SECONDS - start))
}

# measure ROW SUT_PID URL [WRK ARGS...]: warm up, then the measured wrk run pinned to the load core,
# with the SUT's CPU ticks read just before and just after. Appends one TSV line to $MEASURE_OUT
# (default $RESULTS):
#   row  wrk-output-file  cpu-ticks  note  others-busy-%
measure() {
    local row=$1 pid=$2 url=$3
    shift 3
    local out
    out=$(mktemp "$TMP/wrk-${row//[^A-Za-z0-9]/_}.XXXX")
    local busy_before busy_after t0 t1
    wait_quiet
    busy_before=$QUIET_BUSY
    load -t1 -c64 -d"${BENCH_WARMUP}s" "$@" "$url" >/dev/null 2>&1
    t0=$(cpu_ticks "$pid")
    load -t1 -c64 -d"${BENCH_SECONDS}s" --latency "$@" "$url" >"$out" 2>&1
    t1=$(cpu_ticks "$pid")
    busy_after=$(others_busy)
    local busy=$((busy_before > busy_after ? busy_before : busy_after))
    printf '%s\t%s\t%s\t%s\t%s\n' "$row" "$out" "$((t1 - t0))" "" "$busy" >>"${MEASURE_OUT:-$RESULTS}"
    log "$row: $(awk '/Requests\/sec/ {print $2 " req/s"}' "$out"), $((t1 - t0)) CPU ticks, others busy ${busy}%"
}

# unavailable ROW WHY: a row that could not be measured; the table says so and the run goes on.
unavailable() {
    local why=${2//$'\t'/ }
    why=${why//$'\n'/ }
    why=${why//$TMP\//}     # the temp dir's path says nothing and hides the error behind it
    printf '%s\t\t\tnot available: %s\n' "$1" "${why:0:160}" >>"$RESULTS"
    log "$1: not available: ${why:0:160}"
}

# fill TEMPLATE OUT KEY=VALUE...: replace @KEY@ in TEMPLATE (nginx confs and YAML alike).
fill() {
    local tmpl=$1 out=$2 kv expr=()
    shift 2
    for kv in "$@"; do expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
    sed "${expr[@]}" "$tmpl" >"$out"
}

# bench_tmp PREFIX: make $TMP (/tmp/PREFIX.XXXXXX); on exit stop what we started and remove it
# (kept with BENCH_KEEP_TMP=1); INT and TERM exit through that same cleanup.
bench_tmp() {
    TMP=$(mktemp -d "/tmp/$1.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
bench_cleanup() {
    stop_all
    if [ -n "${BENCH_KEEP_TMP:-}" ]; then log "configs and logs kept in $TMP"; else rm -rf "$TMP"; fi
}
