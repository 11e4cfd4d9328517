# Benchmark: director's ipvsadm (one netlink socket, requests pipelined) against the real
# ipvsadm 1.31 (a socket and a family lookup per request) on the lab VM's real IPVS.
# Run it with a release build (see docs/benchmarks.md for the command):
#
#   cargo build --release -p director --example ipvs_reconcile_bench
#   tests/lab/vm-run --timeout 1800 \
#       --add "$PWD/target/release/examples/ipvs_reconcile_bench" \
#       --env RECONCILE="$PWD/target/release/examples/ipvs_reconcile_bench" \
#       tests/lab/bench/ipvs.sh
#
# Variables: SERVICES (default 1000), DESTS per service (10), REPS of each full load (3),
# SINGLE (how many separate `ipvsadm -a` processes to time, default 1000; the result is
# scaled to SERVICES*DESTS), RECONCILE (path of the ipvs_reconcile_bench example in the VM).
# Times come from `date +%s%N` when busybox has it, else /proc/uptime (10 ms).
. /lab/lib.sh

SERVICES=${SERVICES:-1000}
DESTS=${DESTS:-10}
REPS=${REPS:-3}
SINGLE=${SINGLE:-1000}
REAL=/usr/sbin/ipvsadm
OURS=/usr/local/sbin/ipvsadm
W=/tmp/bench
mkdir -p "$W"

if [ "$(date +%N 2> /dev/null | tr -d 0-9)" = "" ] && [ "$(date +%N | wc -c)" -ge 10 ]; then
    now_ms() { echo $(($(date +%s%N) / 1000000)); }
    CLOCK="date +%s%N"
else
    now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }
    CLOCK="/proc/uptime (10 ms)"
fi
log "clock: $CLOCK; $(nproc) CPUs; $(uname -r)"

# ms A B -> B - A as seconds with 3 decimals.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1000 }'; }
# ratio X Y -> X / Y with 1 decimal.
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.1f", x / y; else print "inf" }'; }

# The table: SERVICES TCP services 192.0.2.(1..250):(80..), each with DESTS NAT real servers
# 198.51.100.(1..DESTS):(8000+i) weight 1..DESTS; -S order (each -A then its -a lines).
awk -v n="$SERVICES" -v d="$DESTS" 'BEGIN {
    for (i = 0; i < n; i++) {
        vip = sprintf("192.0.2.%d:%d", i % 250 + 1, 80 + int(i / 250))
        printf "-A -t %s -s wlc\n", vip
        for (j = 1; j <= d; j++)
            printf "-a -t %s -r 198.51.100.%d:%d -m -w %d\n", vip, j, 8000 + i, j
    }
}' > "$W/rules"
grep '^-A' "$W/rules" > "$W/services"
grep '^-a' "$W/rules" > "$W/dests"
LINES=$(wc -l < "$W/rules")
NDESTS=$(wc -l < "$W/dests")
log "table: $SERVICES services x $DESTS real servers = $LINES rules lines"

# load TOOL: time `TOOL -R < rules` into an empty table; prints seconds.
load() {
    $REAL -C
    t0=$(now_ms)
    $1 -R < "$W/rules" || fail "$1 -R failed"
    t1=$(now_ms)
    secs "$t0" "$t1"
}

# The same table whichever tool loaded it.
$REAL -C
$REAL -R < "$W/rules" || fail "real -R"
$REAL -S -n > "$W/table.real"
[ "$(wc -l < "$W/table.real")" = "$LINES" ] || fail "real -R loaded $(wc -l < "$W/table.real") lines"
$REAL -C
$OURS -R < "$W/rules" || fail "director -R"
$REAL -S -n > "$W/table.ours"
cmp -s "$W/table.real" "$W/table.ours" || fail "director -R built a different table"

log "1. full load: $LINES lines with -R into an empty table"
real_best="" ours_best=""
rep=1
while [ $rep -le "$REPS" ]; do
    r=$(load $REAL)
    o=$(load $OURS)
    echo "  rep $rep: ipvsadm -R ${r}s, director ipvsadm -R ${o}s"
    real_best=$(awk -v a="$real_best" -v b="$r" 'BEGIN { print (a == "" || b < a) ? b : a }')
    ours_best=$(awk -v a="$ours_best" -v b="$o" 'BEGIN { print (a == "" || b < a) ? b : a }')
    rep=$((rep + 1))
done
echo "RESULT full-load real=${real_best}s director=${ours_best}s ratio=$(ratio "$real_best" "$ours_best")x"

# The 10,000 -a lines alone (services already there).
$REAL -C
$REAL -R < "$W/services"
t0=$(now_ms)
$REAL -R < "$W/dests"
t1=$(now_ms)
$REAL -C
$REAL -R < "$W/services"
t2=$(now_ms)
$OURS -R < "$W/dests"
t3=$(now_ms)
r=$(secs "$t0" "$t1") o=$(secs "$t2" "$t3")
echo "RESULT dests-only real=${r}s director=${o}s ratio=$(ratio "$r" "$o")x"

log "2. one real server changed in the $NDESTS-destination table"
$REAL -C
$OURS -R < "$W/rules"
# 20 edits of one server's weight per tool, one process each (as a script would).
for t in REAL OURS; do
    eval "bin=\$$t"
    t0=$(now_ms)
    i=1
    while [ $i -le 20 ]; do
        $bin -e -t 192.0.2.100:81 -r 198.51.100.5:8349 -m -w $((i + 10)) || fail "$t -e"
        i=$((i + 1))
    done
    t1=$(now_ms)
    eval "edit_$t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 20 }')"
done
# shellcheck disable=SC2154 # set by eval
echo "RESULT one-edit-process real=${edit_REAL}ms director=${edit_OURS}ms ratio=$(ratio "$edit_REAL" "$edit_OURS")x (one -e per process, mean of 20)"
# The same change as a one-line restore.
echo "-e -t 192.0.2.100:81 -r 198.51.100.5:8349 -m -w 3" > "$W/one"
for t in REAL OURS; do
    eval "bin=\$$t"
    t0=$(now_ms)
    i=1
    while [ $i -le 20 ]; do
        $bin -R < "$W/one" || fail "$t -R one"
        i=$((i + 1))
    done
    t1=$(now_ms)
    eval "one_$t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 20 }')"
done
# shellcheck disable=SC2154
echo "RESULT one-edit-restore real=${one_REAL}ms director=${one_OURS}ms ratio=$(ratio "$one_REAL" "$one_OURS")x"
if [ -n "$RECONCILE" ] && [ -x "$RECONCILE" ]; then
    log "director reconcile of one change (dump + plan + apply, in-process timing)"
    "$RECONCILE" 20 || fail "reconcile bench"
    $REAL -Ln -t 192.0.2.1:80 | head -5
else
    echo "(no RECONCILE binary: skipped the in-process reconcile timing)"
fi

log "3. listing the $LINES-line table"
for form in "-Ln" "-S -n"; do
    for t in REAL OURS; do
        eval "bin=\$$t"
        t0=$(now_ms)
        # shellcheck disable=SC2086
        $bin $form > "$W/list.$t" || fail "$t $form"
        t1=$(now_ms)
        eval "list_$t=$(secs "$t0" "$t1")"
    done
    cmp -s "$W/list.REAL" "$W/list.OURS" || fail "$form listings differ"
    # shellcheck disable=SC2154
    echo "RESULT list '$form' real=${list_REAL}s director=${list_OURS}s ratio=$(ratio "$list_REAL" "$list_OURS")x"
done

log "4. $SINGLE separate 'ipvsadm -a' processes (what ldirectord does), scaled to $NDESTS"
head -n "$SINGLE" "$W/dests" > "$W/single"
for t in REAL OURS; do
    eval "bin=\$$t"
    $REAL -C
    $REAL -R < "$W/services"
    t0=$(now_ms)
    while read -r line; do
        # shellcheck disable=SC2086
        $bin $line || fail "$t $line"
    done < "$W/single"
    t1=$(now_ms)
    eval "single_$t=$(secs "$t0" "$t1")"
done
# shellcheck disable=SC2154
echo "RESULT single-a ($SINGLE processes) real=${single_REAL}s director=${single_OURS}s ratio=$(ratio "$single_REAL" "$single_OURS")x"
scale=$(awk -v a="$NDESTS" -v b="$SINGLE" 'BEGIN { print a / b }')
echo "RESULT single-a scaled to $NDESTS: real=$(awk -v s="$single_REAL" -v k="$scale" 'BEGIN { printf "%.1f", s * k }')s director=$(awk -v s="$single_OURS" -v k="$scale" 'BEGIN { printf "%.1f", s * k }')s"
echo "RESULT separate-vs-restore: $NDESTS separate real ipvsadm -a ~$(awk -v s="$single_REAL" -v k="$scale" 'BEGIN { printf "%.0f", s * k }')s vs director ipvsadm -R of the full table ${ours_best}s: $(awk -v s="$single_REAL" -v k="$scale" -v o="$ours_best" 'BEGIN { if (o > 0) printf "%.0f", s * k / o; else print "inf" }')x"

log "5. baselines: 100 x /bin/true, 100 x ipvsadm -v"
for c in /bin/true "$REAL -v" "$OURS -v"; do
    t0=$(now_ms)
    i=0
    while [ $i -lt 100 ]; do
        $c > /dev/null
        i=$((i + 1))
    done
    t1=$(now_ms)
    echo "RESULT startup '$c' $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 100 }')ms per process"
done
$REAL -C
echo "BENCH DONE"
