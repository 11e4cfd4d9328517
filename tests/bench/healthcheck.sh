#!/usr/bin/env bash
# Health-check benchmark (a measuring program, not a test): director against Debian's ldirectord
# and against the floor on the same reals, N real servers answering HTTP on loopback addresses
# 127.X.Y.Z:80 (127.1.(i/250).(i%250+1) for the first 62,500; tests/src/bench.rs).
#
#   tests/bench/healthcheck.sh [--sizes "100 1000 10000"] [--director BIN]
#                              [--director-seconds S] [--ldirectord-seconds "S100 S1000 S10000"]
#                              [--only "director floor ldirectord"] [--floor-args "--linger0"]
#                              [--out DIR]
#
# Everything runs in a network namespace of its own (hcbench-PID, removed at the end).
# For each N, one after the other (never two at once, so they do not share the 2 cores):
#   * target/release/bench-httpd (tests/src/bin/bench-httpd.rs, one thread; $SERVER overrides;
#     tests/bench/httpd.py if it is not built) serves the N addresses and logs every request
#     (bench-httpd on one 0.0.0.0:80 listener, --any: N listeners do not fit in 20,000 fds);
#   * the file: checkinterval=1, one virtual 192.0.2.10:80, service=http, checktype=negotiate,
#     request="index.html", receive="Test Page", negotiatetimeout=5, scheduler=wrr, N gate reals
#     (the health-check lab's file, docs/ref/hc-lab/mkconf.sh);
#   * director: `director run --ipvs memory` (in-memory IPVS table) with --metrics on loopback;
#   * ldirectord: `/usr/sbin/ldirectord -d FILE start` in a directory holding the fake ipvsadm of
#     tests/oracle/ (its start-up runs ipvsadm ~9 times per real, so large N are bounded by time);
#   * floor: target/release/bench-floor (tests/src/bin/bench-floor.rs): one thread, epoll, the
#     same request to the same reals on the same schedule and nothing else, the least a check
#     costs; run for the director's seconds;
#   * every second: utime+stime and VmRSS of the daemon and of the HTTP server from /proc;
#     at the end VmHWM (peak RSS) and, for director, its /metrics.
# Then tests/bench/analyze.py prints the table (CPU, peak RSS, check lag p50/p99 from the request
# log: interval between two requests to the same real minus checkinterval; director's own
# director_check_lag_seconds too). Raw data stays in the output directory (default
# /tmp/hc-bench-<time>). Needs root (port 80, ldirectord's pid file, ip netns), python3, perl.
set -uo pipefail

# Into a namespace of our own: the servers' 0.0.0.0:80 and the TIME_WAIT sockets stay there.
if [[ -z ${HCBENCH_NETNS:-} ]]; then
    [[ $(id -u) == 0 ]] || { echo "run as root" >&2; exit 2; }
    ns=hcbench-$$
    ip netns add "$ns" || exit 2
    trap 'ip netns del "$ns"' EXIT
    ip netns exec "$ns" ip link set lo up
    HCBENCH_NETNS=$ns ip netns exec "$ns" "$0" "$@"
    exit $?
fi

HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SIZES="100 1000 10000"
DIRECTOR=${DIRECTOR:-$ROOT/target/release/director}
FLOOR=${FLOOR:-$ROOT/target/release/bench-floor}
FLOOR_ARGS=""
DSECS=60
LSECS="60 180 240"
ONLY="director floor ldirectord"
# the loopback server: the Rust one (cargo build --release -p tests --features bench) when built;
# tests/bench/httpd.py cannot serve 10,000 checks a second on this machine
SERVER=${SERVER:-$ROOT/target/release/bench-httpd}
[[ -x $SERVER ]] || SERVER="python3 $HERE/httpd.py"
ANY=""
[[ $SERVER == */bench-httpd ]] && ANY=--any
OUT=/tmp/hc-bench-$(date +%Y%m%d-%H%M%S)
while (($#)); do
    case $1 in
        --sizes) SIZES=$2; shift 2 ;;
        --director) DIRECTOR=$2; shift 2 ;;
        --director-seconds) DSECS=$2; shift 2 ;;
        --ldirectord-seconds) LSECS=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --floor-args) FLOOR_ARGS=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $(id -u) == 0 ]] || { echo "run as root" >&2; exit 2; }
wants() { [[ " $ONLY " == *" $1 "* ]]; }
! wants director || [[ -x $DIRECTOR ]] || { echo "no director at $DIRECTOR (cargo build --release -p director)" >&2; exit 2; }
! wants floor || [[ -x $FLOOR ]] || { echo "no $FLOOR (cargo build --release -p tests --features bench)" >&2; exit 2; }
! wants ldirectord || [[ -x /usr/sbin/ldirectord ]] || { echo "apt-get install -y ldirectord libwww-perl" >&2; exit 2; }
# one descriptor per listening address in httpd.py (bench-httpd --any: one), plus the
# connections in flight
ulimit -n "$(ulimit -Hn)"
for n in $SIZES; do
    [[ -n $ANY ]] || (($(ulimit -n) > n + 1000)) || { echo "ulimit -n $(ulimit -n) is too low for $n addresses" >&2; exit 2; }
done
mkdir -p "$OUT"

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
}
trap cleanup EXIT

mkconf() {
    local n=$1 i
    cat <<EOT
checkinterval=1
autoreload=no
virtual=192.0.2.10:80
    service=http
    checktype=negotiate
    request="index.html"
    receive="Test Page"
    negotiatetimeout=5
    scheduler=wrr
    protocol=tcp
EOT
    for ((i = 0; i < n; i++)); do
        echo "    real=127.$((1 + i / 62500)).$((i % 62500 / 250)).$((i % 250 + 1)):80 gate"
    done
}

stat_line() {    # PID -> "utime stime rss_kb" (clock ticks, kB) or nothing
    local s rss
    s=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    read -r -a F <<<"$s"
    rss=$(awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null)
    echo "${F[11]} ${F[12]} ${rss:-0}"
}

# run WHO N SECONDS: one measured run in $OUT/<who>-<n>
run() {
    local who=$1 n=$2 secs=$3 w hp dp i t d h port=$((19500 + RANDOM % 400))
    w=$OUT/$who-$n
    rm -rf "$w"; mkdir -p "$w/run" "$w/state"
    mkconf "$n" >"$w/bench.cf"
    $SERVER --count "$n" $ANY --log "$w/requests.log" >"$w/httpd.out" 2>&1 &
    hp=$!; PIDS+=("$hp")
    for ((i = 0; i < 600; i++)); do grep -q listening "$w/httpd.out" 2>/dev/null && break; sleep 0.1; done
    grep -q listening "$w/httpd.out" || { echo "httpd.py did not start: $(cat "$w/httpd.out")" >&2; return 1; }
    t=$(date +%s.%N)
    if [[ $who == director ]]; then
        "$DIRECTOR" run --ipvs memory --config-dir "$w" --ldirectord "$w/bench.cf" --run-dir "$w/run" \
            --state-dir "$w/state" --metrics "127.0.0.1:$port" >"$w/daemon.stdout" 2>"$w/daemon.stderr" &
    elif [[ $who == floor ]]; then
        # shellcheck disable=SC2086 # FLOOR_ARGS is a list of flags
        "$FLOOR" --count "$n" --seconds $((secs + 30)) $FLOOR_ARGS >"$w/daemon.stdout" 2>"$w/daemon.stderr" &
    else
        cp "$ROOT/tests/oracle/ipvsadm" "$w/ipvsadm"
        (cd "$w" && exec /usr/sbin/ldirectord -d "$w/bench.cf" start >daemon.stdout 2>daemon.stderr) &
    fi
    dp=$!; PIDS+=("$dp")
    echo "server $SERVER" >"$w/server"
    echo "start $t daemon $dp httpd $hp n $n who $who checkinterval 1 clk $(getconf CLK_TCK)" >"$w/meta"
    echo "load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$w/meta"
    echo "floor_args $FLOOR_ARGS" >>"$w/meta"
    echo "t d_utime d_stime d_rss_kb h_utime h_stime h_rss_kb" >"$w/samples.txt"
    for ((i = 0; i < secs; i++)); do
        sleep 1
        d=$(stat_line "$dp") || { echo "daemon exited" >>"$w/meta"; break; }
        h=$(stat_line "$hp") || h="0 0 0"
        echo "$(date +%s.%N) $d $h" >>"$w/samples.txt"
    done
    echo "end $(date +%s.%N)" >>"$w/meta"
    echo "load_end $(cut -d' ' -f1-3 /proc/loadavg)" >>"$w/meta"
    echo "peak $(awk '/^VmHWM/{print $2}' "/proc/$dp/status" 2>/dev/null) httpd_peak $(awk '/^VmHWM/{print $2}' "/proc/$hp/status" 2>/dev/null)" >>"$w/meta"
    if [[ $who == director ]]; then
        curl -s --max-time 5 "http://127.0.0.1:$port/metrics" >"$w/metrics.txt" 2>/dev/null
    fi
    kill -TERM "$dp" 2>/dev/null
    for ((i = 0; i < 50; i++)); do kill -0 "$dp" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$dp" 2>/dev/null && { kill -KILL "$dp"; echo "stop: SIGKILL after 10 s" >>"$w/meta"; }
    wait "$dp" 2>/dev/null
    sleep 0.5    # the request log flushes every 0.2 s
    kill -TERM "$hp" 2>/dev/null
    wait "$hp" 2>/dev/null
    echo "done $who N=$n ($w)"
}

i=0
for n in $SIZES; do
    i=$((i + 1))
    lsecs=$(echo "$LSECS" | awk -v i="$i" '{print ($i == "" ? $NF : $i)}')
    ! wants director || run director "$n" "$DSECS"
    ! wants floor || run floor "$n" "$DSECS"
    ! wants ldirectord || run ldirectord "$n" "$lsecs"
done
python3 "$HERE/analyze.py" "$OUT"/*-* | tee "$OUT/results.md"
