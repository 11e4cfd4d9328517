# Benchmark: established connections broken per transition, keepalived 2.2.7 (VRRP +
# virtual_server + lvs_sync_daemon) beside director, in one VM run on the real kernel. Both
# run scenarios/connections.sh (the same topology, traffic and phases; see its header) with
# SYSTEM=keepalived, then SYSTEM=director; the figures are printed side by side.
# Run it with a release build (see docs/benchmarks.md for the command):
#
#   apt-get install keepalived        # Debian 12: 1:2.2.7
#   cargo build --release -p director --bins --examples
#   tests/lab/vm-run --timeout 1800 --add /usr/sbin/keepalived \
#       --add "$PWD/target/release/examples/conn_traffic" \
#       --env TRAFFIC="$PWD/target/release/examples/conn_traffic" \
#       tests/lab/bench/connections.sh
#
# keepalived: priority 150 on dir1 and 100 on dir2, preemption on, VRRPv3 advert_int
# ADVERT_INT (default 0.3 s: master down after about 1 s), unicast over eth0; TCP_CHECK
# every second; `lvs_sync_daemon eth0 VI_1`. Its phases: crash (SIGKILL of its three
# processes, links and namespace gone), the return as after a reboot (preempts), graceful
# stop (SIGTERM). director: the same with ha.cf keepalive 200 ms / deadtime 1 s, the
# graceful phase being `director standby`, plus the restart in place.
# Variables: as scenarios/connections.sh (MODE, ADVERT_INT, DEADTIME_MS, IDLE_S, ...);
# SYSTEMS (default "keepalived director").
. /lab/lib.sh

SYSTEMS=${SYSTEMS:-keepalived director}
ALL=/tmp/bench-conns
: > "$ALL"
for s in $SYSTEMS; do
    log "bench: $s"
    SYSTEM=$s KEEP_GOING=yes sh /lab/scenarios/connections.sh
    echo "== bench: connections.sh for $s exited $?"
    cat /tmp/conns-results >> "$ALL"
done

echo
echo "Connections broken / new connections failed per phase (long-lived: $((${ACTIVE:-30} + ${IDLE:-10})),"
echo "${ACTIVE:-30} busy every 100 ms, ${IDLE:-10} idle; about ${NEW:-10} new a second; 'wait' = longest wait for an answer)"
awk -v systems="$SYSTEMS" '
    $3 == "phase" {
        who = $1; mode = $2; phase = $4; sub(/:$/, "", phase)
        broken = $6
        for (i = 1; i <= NF; i++) {
            if ($i == "ok") { ok = $(i - 1); failed = $(i + 1) }
            if ($i == "wait") wait = $(i + 1)
            if ($i == "held") held = $(i + 1) "/" $(i + 3)
        }
        key = mode SUBSEP phase
        seen[key] = 1
        cell[key, who] = sprintf("%s / %s of %s (wait %s ms)", broken, failed, ok + failed, wait)
    }
    END {
        ns = split(systems, sys, " ")
        printf "| mode | phase |"
        for (j = 1; j <= ns; j++) printf " %s: broken / failed of new |", sys[j]
        printf "\n|---|---|"
        for (j = 1; j <= ns; j++) printf "---|"
        printf "\n"
        nm = split("dr nat", modes, " ")
        np = split("steady crash failback standby restart", phases, " ")
        for (m = 1; m <= nm; m++)
            for (p = 1; p <= np; p++) {
                key = modes[m] SUBSEP phases[p]
                if (!(key in seen)) continue
                printf "| %s | %s |", modes[m], phases[p]
                for (j = 1; j <= ns; j++) {
                    c = cell[key, sys[j]]
                    printf " %s |", (c == "" ? "-" : c)
                }
                printf "\n"
            }
    }' "$ALL"
grep -e restart-table -e unsettled "$ALL"
