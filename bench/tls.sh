# HTTPS rows for bench/run.sh (sourced after scenarios.sh; uses lib.sh's helpers and run.sh's
# variables: TMP, PY, PORTWAY, UP_PORT, SUT_CPU, RESULTS, EXTRAS, portway_config). Skipped with
# BENCH_SKIP_TLS=1. Never aborts the run: a row that does not work says "not available".
#
# nginx and portway terminate TLS with the same certificate and key (ECDSA P-256, made here by
# portway.local.certs into $TMP/tls), the same protocol policy (TLS 1.2 and 1.3, ECDHE + AEAD) and
# proxy to the same upstream as the plain rows, one process each on the SUT core:
#   "... https keep-alive"        wrk's 64 connections kept open: the cost of encrypting requests
#   "... https new connections"   wrk -H 'Connection: close': every request on a new TCP and TLS
#                                 connection (wrk never resumes a session: a full handshake each),
#                                 so req/s is handshakes/s
# The ratios portway/nginx go to the report's "HTTPS" section.

# tls_cert DIR: a private CA (ca.pem) and a certificate for localhost and 127.0.0.1 signed by it
# (gateway.pem, gateway-key.pem), the same files for both servers.
tls_cert() {
    "$PY" -c 'import sys
from pathlib import Path
from portway.local.certs import ensure_local_tls
ensure_local_tls(Path(sys.argv[1]))' "$1"
}

# wait_https PORT [TRIES]: true once the server completes a verified handshake and answers.
wait_https() {
    local port=$1 tries=${2:-100} i
    for i in $(seq "$tries"); do
        curl -s -o /dev/null --max-time 1 --cacert "$TLS_DIR/ca.pem" "https://127.0.0.1:$port/" && return 0
        sleep 0.1
    done
    return 1
}

# tls_session PORT: what a default client negotiates ("TLSv1.3 TLS_AES_256_GCM_SHA384"), to show
# both servers were measured with the same protocol and suite.
tls_session() {
    openssl s_client -connect "127.0.0.1:$1" -servername localhost -brief </dev/null 2>&1 |
        awk -F': ' '/^Protocol version/ {p = $2} /^Ciphersuite/ {c = $2} END {print p " " c}'
}

# tls_pair SERVER PORT -- CMD...: start CMD on the SUT core, check it proxies over verified HTTPS
# (curl --cacert: the chain verifies), then measure both rows against it (keep-alive, then new
# connections).
tls_pair() {
    local server=$1 port=$2 url
    shift 3
    local ka="$server https keep-alive" nc="$server https new connections"
    url="https://127.0.0.1:$port/api/x"
    start_bg "tls-$server" "$SUT_CPU" "$@"
    local pid=$BG_PID log="$TMP/tls-$server.log" why
    if ! wait_https "$port" 150 || ! alive "$pid"; then
        why="did not start: $(why_failed "$log")"
    elif ! why=$(check_body "$url" '"ok":true' --cacert "$TLS_DIR/ca.pem"); then
        why="does not proxy over HTTPS: $why"
    else
        why=""
    fi
    if [ -n "$why" ]; then
        unavailable "$ka" "$why"
        unavailable "$nc" "$why"
        stop_bg "$pid"
        return 0
    fi
    echo "- $server: $(tls_session "$port") negotiated by \`openssl s_client\`" >>"$TMP/tls-sessions.md"
    MEASURE_OUT=$TMP/tls.tsv measure "$ka" "$pid" "$url"
    MEASURE_OUT=$TMP/tls.tsv measure "$nc" "$pid" "$url" -H 'Connection: close'
    stop_bg "$pid"
}

scenario_tls() {
    log "scenario: HTTPS, nginx and portway with the same certificate"
    TLS_DIR=$TMP/tls
    : >"$TMP/tls.tsv"
    : >"$TMP/tls-sessions.md"
    local why port row
    if ! why=$(tls_cert "$TLS_DIR" 2>&1); then
        for row in "nginx https keep-alive" "portway https keep-alive" "nginx https new connections" \
            "portway https new connections"; do
            unavailable "$row" "no certificate: $why"
        done
        return 0
    fi
    local cert=$TLS_DIR/gateway.pem key=$TLS_DIR/gateway-key.pem

    port=$(free_port)
    fill bench/nginx/tls.conf.tmpl "$TMP/tls-nginx.conf" TMP="$TMP" UP_PORT="$UP_PORT" PORT="$port" \
        CERT="$cert" KEY="$key"
    tls_pair nginx "$port" -- nginx -e "$TMP/tls-nginx-error.log" -c "$TMP/tls-nginx.conf"

    port=$(free_port)
    # bench/portway.yaml (the plain row's config) plus the listener's tls: block.
    portway_config bench/portway.yaml "$TMP/portway-tls.yaml" "$UP_PORT" "$port"
    printf 'tls:\n  certificates:\n    - {cert: %s, key: %s}\n' "$cert" "$key" >>"$TMP/portway-tls.yaml"
    # shellcheck disable=SC2086  # PORTWAY may be a command with arguments, as in run.sh
    tls_pair portway "$port" -- $PORTWAY run "$TMP/portway-tls.yaml"

    # The rows in the main table (in this order), and the ratios in their own section.
    for row in "nginx https keep-alive" "portway https keep-alive" "nginx https new connections" \
        "portway https new connections"; do
        awk -F'\t' -v r="$row" '$1 == r' "$TMP/tls.tsv" >>"$RESULTS"
    done
    {
        echo "### HTTPS (same ECDSA P-256 certificate and key for nginx and portway; one process each on the SUT core)"
        cat "$TMP/tls-sessions.md"
        "$PY" bench/report.py rows "$TMP/tls.tsv" | awk -F'\t' '
            { rps[$1] = $2; cpu[$1] = $3; if ($4 + $5 > 0) bad = bad sprintf(" %s: %d non-2xx, %d socket errors;", $1, $4, $5); if ($6 > busy) busy = $6 }
            function line(what, n, p) {
                if (rps[n] > 0 && rps[p] > 0)
                    printf "- %s: portway %.0f req/s vs nginx %.0f = %.2fx; CPU %.1f vs %.1f µs/req = %.2fx\n", what, rps[p], rps[n], rps[p] / rps[n], cpu[p], cpu[n], (cpu[n] > 0 ? cpu[p] / cpu[n] : 0)
                else
                    printf "- %s: not measured for both (see the table)\n", what
            }
            END {
                line("keep-alive", "nginx https keep-alive", "portway https keep-alive")
                line("new connections (a full handshake per request: req/s = handshakes/s)", "nginx https new connections", "portway https new connections")
                if (bad != "") printf "- (!) errors:%s\n", bad
                if (busy > 10) printf "- (!) the machine was %d%% busy with other work around these runs: the figures are disturbed\n", busy
            }'
    } >>"$EXTRAS"
}
