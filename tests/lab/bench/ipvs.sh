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
export SERVICES DESTS REPS SINGLE RECONCILE
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

# ms A B -> B - A as seconds with 3 decimals.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1000 }'; }
# ratio X Y -> X / Y with 1 decimal.
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.1f", x / y; else print "inf" }'; }

# The table: SERVICES TCP services 192.0.2.(1..250):(80..), each with DESTS NAT real servers
# 198.51.100.(1..DESTS):(8000+i) weight 1..DESTS; -S order (each -A then its -a lines).
if [ "$1" != --section ]; then
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
fi
LINES=$(wc -l < "$W/rules")
NDESTS=$(wc -l < "$W/dests")
# The real server the edit benchmarks change: in service SERVICES/3 (349 of 1000).
EI=$((SERVICES * 349 / 1000))
EDIT="-t 192.0.2.$((EI % 250 + 1)):$((80 + EI / 250)) -r 198.51.100.$(((DESTS + 1) / 2)):$((8000 + EI)) -m"

# Every measurement runs in a fresh network namespace (its own IPVS table): the kernel keeps
# deleted real servers in a "trash" list for a minute and scans it on every add, so a table
# rebuilt after `-C` loads several times slower than a new one.
NSN=0
fresh() {
    NSN=$((NSN + 1))
    NS=bench$NSN
    "$IP" netns add $NS || fail "netns $NS"
    "$IP" -n $NS link set lo up
    "$IP" -n $NS link add d0 type dummy
    "$IP" -n $NS link set d0 up
    "$IP" -n $NS addr add 198.51.100.254/24 dev d0
}
# section NAME ARGS: run this script's section NAME inside a fresh namespace.
section() {
    fresh
    "$IP" netns exec $NS sh /lab/scenario --section "$@"
    rc=$?
    "$IP" netns del $NS
    return $rc
}

# ---- sections (each runs in its own fresh namespace) ----

# load TOOL: `TOOL -R < rules` into the empty table; prints "seconds".
sec_load() {
    t0=$(now_ms)
    $1 -R < "$W/rules" || fail "$1 -R failed"
    t1=$(now_ms)
    [ "$($REAL -S -n | wc -l)" = "$LINES" ] || fail "$1 -R loaded a short table"
    secs "$t0" "$t1"
}

# dests TOOL: the services first (not timed), then `TOOL -R` of the -a lines alone.
sec_dests() {
    $REAL -R < "$W/services"
    t0=$(now_ms)
    $1 -R < "$W/dests" || fail "$1 -R dests"
    t1=$(now_ms)
    secs "$t0" "$t1"
}

# same: both tools' -R build the same table.
sec_same() {
    $1 -R < "$W/rules" || fail "$1 -R"
    $REAL -S -n
}

# edits: the full table, then one real server changed, per tool: 20 separate `-e`
# processes, 20 one-line `-R`, and director's in-process reconcile.
sec_edits() {
    $OURS -R < "$W/rules" || fail "load"
    for t in REAL OURS; do
        eval "bin=\$$t"
        t0=$(now_ms)
        i=1
        while [ $i -le 20 ]; do
            $bin -e $EDIT -w $((i + 10)) || fail "$t -e"
            i=$((i + 1))
        done
        t1=$(now_ms)
        eval "edit_$t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 20 }')"
    done
    # shellcheck disable=SC2154 # set by eval
    echo "RESULT one-edit-process real=${edit_REAL}ms director=${edit_OURS}ms ratio=$(ratio "$edit_REAL" "$edit_OURS")x (one -e per process, mean of 20)"
    echo "-e $EDIT -w 3" > "$W/one"
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
    echo "RESULT one-edit-restore real=${one_REAL}ms director=${one_OURS}ms ratio=$(ratio "$one_REAL" "$one_OURS")x (one-line -R per process, mean of 20)"
    if [ -n "$RECONCILE" ] && [ -x "$RECONCILE" ]; then
        log "director reconcile of one change in the $NDESTS-destination table (in-process timing)"
        "$RECONCILE" 20 || fail "reconcile bench"
    else
        echo "(no RECONCILE binary: skipped the in-process reconcile timing)"
    fi
    log "listing the $LINES-line table"
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
}

# reconcile-load: director's plan + apply of the whole table, no command line.
sec_reconcile_load() {
    "$RECONCILE" load "$SERVICES" "$DESTS" || fail "reconcile load"
}

# single TOOL: the services (not timed), then SINGLE separate `TOOL -a` processes.
sec_single() {
    $REAL -R < "$W/services"
    head -n "$SINGLE" "$W/dests" > "$W/single"
    t0=$(now_ms)
    while read -r line; do
        # shellcheck disable=SC2086
        $1 $line || fail "$1 $line"
    done < "$W/single"
    t1=$(now_ms)
    secs "$t0" "$t1"
}

if [ "$1" = --section ]; then
    shift
    name=$1
    shift
    "sec_$name" "$@"
    exit $?
fi

# ---- main ----
log "clock: $CLOCK; $(nproc) CPUs; kernel $(uname -r)"
log "table: $SERVICES services x $DESTS real servers = $LINES rules lines"

section same $REAL > "$W/table.real"
section same $OURS > "$W/table.ours"
[ "$(wc -l < "$W/table.real")" = "$LINES" ] || fail "real -R loaded $(wc -l < "$W/table.real") lines"
cmp -s "$W/table.real" "$W/table.ours" || fail "director -R built a different table"

log "1. full load: $LINES lines with -R into an empty table (fresh namespace each time)"
real_all="" ours_all=""
rep=1
while [ $rep -le "$REPS" ]; do
    r=$(section load $REAL) || fail "load real"
    o=$(section load $OURS) || fail "load ours"
    echo "  rep $rep: ipvsadm -R ${r}s, director ipvsadm -R ${o}s"
    real_all="$real_all $r" ours_all="$ours_all $o"
    rep=$((rep + 1))
done
med() { echo "$1" | tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
min() { echo "$1" | tr ' ' '\n' | grep . | sort -n | head -1; }
real_med=$(med "$real_all") ours_med=$(med "$ours_all")
ours_best=$(min "$ours_all")
echo "RESULT full-load median real=${real_med}s director=${ours_med}s ratio=$(ratio "$real_med" "$ours_med")x (best: real=$(min "$real_all")s director=${ours_best}s)"
if [ -n "$RECONCILE" ] && [ -x "$RECONCILE" ]; then
    section reconcile_load
fi

r=$(section dests $REAL) || fail "dests real"
o=$(section dests $OURS) || fail "dests ours"
echo "RESULT dests-only real=${r}s director=${o}s ratio=$(ratio "$r" "$o")x"

log "2. one real server changed in the $NDESTS-destination table; 3. listings"
section edits

log "4. $SINGLE separate 'ipvsadm -a' processes (what ldirectord does), scaled to $NDESTS"
single_REAL=$(section single $REAL) || fail "single real"
single_OURS=$(section single $OURS) || fail "single ours"
echo "RESULT single-a ($SINGLE processes) real=${single_REAL}s director=${single_OURS}s ratio=$(ratio "$single_REAL" "$single_OURS")x"
scale=$(awk -v a="$NDESTS" -v b="$SINGLE" 'BEGIN { print a / b }')
sreal=$(awk -v s="$single_REAL" -v k="$scale" 'BEGIN { printf "%.1f", s * k }')
sours=$(awk -v s="$single_OURS" -v k="$scale" 'BEGIN { printf "%.1f", s * k }')
echo "RESULT single-a scaled to $NDESTS: real=${sreal}s director=${sours}s"
echo "RESULT separate-vs-restore: $NDESTS separate ipvsadm -a ~${sreal}s vs director ipvsadm -R of the whole table ${ours_med}s: $(ratio "$sreal" "$ours_med")x"

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
echo "BENCH DONE"
