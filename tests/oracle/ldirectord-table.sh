#!/usr/bin/env bash
# Table oracle: the real ldirectord against `director check --print-ipvs`.
#
# For every ldirectord file, runs Debian's /usr/sbin/ldirectord (`ldirectord -d FILE start`)
# with the fake ipvsadm of this directory in its working directory, waits until the table it
# builds with every real server up stops changing, saves it as `ipvsadm -S -n` lines and
# compares it (as a set of lines) with what `director check --print-ipvs FILE` prints.
#
#   tests/oracle/ldirectord-table.sh [--director BIN] [--mode on|loopback|both] [--keep] [FILE...]
#
# Files: default configs/*.cf (but ha.cf) and tests/oracle/configs/*.cf.
# Modes (variants written by variant.pl):
#   on        every virtual gets checktype=on: no network, every real up (checktype=off kept).
#   loopback  real IPv4 addresses are moved to 127.2.X.Y / 127.3.K.* and answered by
#             tests/bench/httpd.py (HTTP and plain TCP), so ldirectord's own http/connect checks
#             bring them up. Only files whose checks that server can satisfy take part (see
#             LOOPBACK_FILES below); the others are reported as skipped.
# Known, justified differences are listed in tests/oracle/known-differences (`FILE MODE reason`);
# such a file is reported as KNOWN instead of DIFF. Exit status: 0 when every compared file
# matched or is a known difference, 1 otherwise, 2 on a usage or environment problem.
# Needs: root (ldirectord's pid file in /run), perl, ldirectord and libwww-perl (Debian), python3.
set -uo pipefail

HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DIRECTOR=${DIRECTOR:-$ROOT/target/debug/director}
MODE=both
KEEP=0
FILES=()
while (($#)); do
    case $1 in
        --director) DIRECTOR=$2; shift 2 ;;
        --mode) MODE=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) FILES+=("$1"); shift ;;
    esac
done
case $MODE in on|loopback|both) ;; *) echo "--mode on|loopback|both" >&2; exit 2 ;; esac
LDIRECTORD=${LDIRECTORD:-/usr/sbin/ldirectord}
[[ -x $LDIRECTORD ]] || { echo "no $LDIRECTORD (apt-get install -y ldirectord libwww-perl)" >&2; exit 2; }
[[ -x $DIRECTOR ]] || { echo "no director binary at $DIRECTOR (cargo build -p director)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "run as root (ldirectord writes /run/ldirectord.NAME.pid)" >&2; exit 2; }
if ((${#FILES[@]} == 0)); then
    for f in "$ROOT"/configs/*.cf "$HERE"/configs/*.cf; do
        [[ $(basename "$f") == ha.cf ]] && continue
        FILES+=("$f")
    done
fi

# Files whose every check the loopback server can answer (http GET with a receive string it
# serves, or a TCP connect), so the loopback mode runs ldirectord's real checks on them.
LOOPBACK_FILES=" www.cf ldirectord.cf fwmark.cf persistent.cf ranges.cf several.cf quiescent-no.cf o-weights.cf o-masq-ipip.cf o-several.cf o-fwmark-http.cf "

WORK=$(mktemp -d /tmp/ldirectord-oracle.XXXXXX)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.2
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    ((KEEP)) || rm -rf "$WORK"
}
trap cleanup EXIT

known_reason() {    # FILE MODE -> reason, or nothing
    [[ -r $HERE/known-differences ]] || return 0
    awk -v f="$1" -v m="$2" '$1 == f && ($2 == m || $2 == "any") { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' \
        "$HERE/known-differences"
}

# Runs ldirectord on $1 inside work dir $2 until the fake table is stable; leaves table.ld there.
run_ldirectord() {
    local cfg=$1 w=$2 lp i sig last="" same=0
    cp "$HERE/ipvsadm" "$w/ipvsadm"
    (cd "$w" && exec timeout -s KILL 90 "$LDIRECTORD" -d "$cfg" start >ld.stdout 2>ld.stderr) &
    lp=$!
    PIDS+=("$lp")
    # stable = same table and same number of ipvsadm calls for 3 s (checks every 1 s at most
    # `checkinterval`, so a pass that changes something shows within that window); bound 60 s.
    for ((i = 0; i < 120; i++)); do
        sleep 0.5
        sig=$( (cd "$w" && FAKE_IPVS_LOG=/dev/null ./ipvsadm -S -n 2>/dev/null; cat ipvsadm.calls 2>/dev/null | wc -l) | md5sum)
        if [[ -s $w/ipvsadm.calls && $sig == "$last" ]]; then
            ((++same >= 6)) && break
        else
            same=0
        fi
        last=$sig
        kill -0 "$lp" 2>/dev/null || break
    done
    (cd "$w" && FAKE_IPVS_LOG=/dev/null ./ipvsadm -S -n >table.ld 2>table.ld.err)
    kill -TERM "$lp" 2>/dev/null
    for ((i = 0; i < 50; i++)); do kill -0 "$lp" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$lp" 2>/dev/null
    wait "$lp" 2>/dev/null
}

# Starts the loopback server for the real servers of a loopback variant (addresses from the
# variant's real/fallback lines) answering every GET with a body holding every receive string.
start_loopback_server() {
    local cfg=$1 w=$2 i
    python3 "$HERE/listen-spec.py" "$cfg" "$w/body.txt" >"$w/listen.txt" || return 1
    python3 "$ROOT/tests/bench/httpd.py" --listen-file "$w/listen.txt" --log "$w/requests.log" \
        --body-file "$w/body.txt" >"$w/httpd.out" 2>&1 &
    HTTPD=$!
    PIDS+=("$HTTPD")
    for ((i = 0; i < 100; i++)); do grep -q listening "$w/httpd.out" 2>/dev/null && return 0; sleep 0.1; done
    echo "loopback server did not start: $(cat "$w/httpd.out")" >&2
    return 1
}

report() { printf '%-8s %-22s %-9s %s\n' "$1" "$2" "$3" "${4:-}"; }

compare() {    # FILE-IN-WORKDIR BASENAME MODE WORKDIR
    local file=$1 name=$2 mode=$3 w=$4 reason
    if ! "$DIRECTOR" check --print-ipvs "$w/$file" >"$w/table.director" 2>"$w/director.stderr"; then
        reason=$(known_reason "$name" "$mode")
        if [[ -n $reason ]]; then report KNOWN "$name" "$mode" "$reason"; return; fi
        report DIFF "$name" "$mode" "director check failed: $(head -3 "$w/director.stderr" | tr '\n' ' ')"
        return
    fi
    sort "$w/table.ld" >"$w/ld.sorted"
    sort "$w/table.director" >"$w/director.sorted"
    if cmp -s "$w/ld.sorted" "$w/director.sorted"; then
        report MATCH "$name" "$mode" "$(grep -c '^-A' "$w/ld.sorted") services, $(grep -c '^-a' "$w/ld.sorted") destinations"
        return
    fi
    reason=$(known_reason "$name" "$mode")
    if [[ -n $reason ]]; then
        report KNOWN "$name" "$mode" "$reason"
    else
        report DIFF "$name" "$mode" "(< ldirectord, > director)"
    fi
    diff "$w/ld.sorted" "$w/director.sorted" | grep '^[<>]' | sed 's/^/         /'
}

n=0
for f in "${FILES[@]}"; do
    base=$(basename "$f")
    for mode in on loopback; do
        [[ $MODE == both || $MODE == "$mode" ]] || continue
        if [[ $mode == loopback && $LOOPBACK_FILES != *" $base "* ]]; then
            report SKIP "$base" "$mode" "checks need more than HTTP/TCP on loopback" | tee -a "$WORK/report.txt"
            continue
        fi
        n=$((n + 1))
        w=$WORK/$n-$mode-${base%.cf}
        mkdir -p "$w"
        # a unique name: ldirectord's pid file is /run/ldirectord.NAME.pid
        name="oracle$$-$n-$base"
        if [[ $mode == on ]]; then
            perl "$HERE/variant.pl" on "$f" >"$w/$name"
        else
            perl "$HERE/variant.pl" loopback "$f" >"$w/$name" 2>"$w/address-map"
            start_loopback_server "$w/$name" "$w" || { report DIFF "$base" "$mode" "no loopback server" | tee -a "$WORK/report.txt"; continue; }
        fi
        run_ldirectord "$w/$name" "$w"
        if [[ $mode == loopback ]]; then
            kill -TERM "$HTTPD" 2>/dev/null; wait "$HTTPD" 2>/dev/null
        fi
        cp "$w/$name" "$w/$base.variant"
        compare "$name" "$base" "$mode" "$w" >"$w/result" 2>&1
        sed "s/$name/$base/" "$w/result" | tee -a "$WORK/report.txt"
    done
done

pass=$(grep -c '^MATCH' "$WORK/report.txt")
fail=$(grep -c '^DIFF' "$WORK/report.txt")
known=$(grep -c '^KNOWN' "$WORK/report.txt")
skipped=$(grep -c '^SKIP' "$WORK/report.txt")
echo "matched $pass, known differences $known, unexpected differences $fail, skipped $skipped"
((KEEP)) && echo "work directories kept in $WORK"
((fail == 0))
