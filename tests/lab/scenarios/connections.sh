# Established connections across every transition of an LVS pair, on the real kernel.
#
# Two directors, two real servers and a client in namespaces; 40 long-lived TCP connections
# through the VIP (30 send a line every 100 ms, 10 stay idle and send one line only at the end
# of each phase) plus about 10 new connections a second, all from
# director/examples/conn_traffic (the real servers run its line echo, which answers with the
# server's name). Phases, each counted by the client separately:
#   crash     the active node (dir1) dies: SIGKILL, its links gone, its namespace deleted
#   failback  10 s after the idle connections last spoke, dir1 returns as after a reboot: a
#             new namespace (empty IPVS and connection tables, no VIP), the system started
#             again; auto_failback on / preemption gives it the VIP back
#   standby   a graceful hand-over from dir1: `director standby` (keepalived: SIGTERM)
#   restart   (director only) the active director (dir2) SIGKILLed and started again in
#             place: the VIP must never leave dir2 nor appear on dir1, the table must not
#             change, no real server be deleted and added back, the peer not take over
# A long-lived connection is broken if it is reset, closed, answered by another real server
# than its first answer, or waits longer than deadtime + 1 s for an answer (STALL_MS); a new
# connection fails if it is refused, reset or not answered within 10 s. Every phase runs
# even when an earlier one broke connections; the scenario fails at the end unless every
# phase of every mode had 0 broken and 0 failed.
#
#   DR (MODE=dr)                                NAT (MODE=nat)
#   client 192.0.2.10 --+                       client 192.0.2.10 --+
#   dir1 eth0 192.0.2.11 +-- br-lan             dir1 eth0 192.0.2.11 +-- br-lan
#   dir2 eth0 192.0.2.12 +                      dir2 eth0 192.0.2.12 +
#   rs1  192.0.2.21 -----+ (VIP on lo)          dir1 eth1 198.51.100.11 -+-- br-int
#   rs2  192.0.2.22 -----+                      dir2 eth1 198.51.100.12 -+
#   VIP 192.0.2.100 on the active director      rs1 198.51.100.21, rs2 .22 (gateway
#                                                198.51.100.1: a second VIP of the group)
#
# Variables: SYSTEM (director | keepalived, default director), MODE (dr | nat | both, default
# both), TRAFFIC (path of conn_traffic in the VM; --add it), KEEPALIVE_MS (200), DEADTIME_MS
# (1000), WARNTIME_MS (600), INITDEAD_MS (2000), ADVERT_INT (keepalived's VRRPv3 advert_int,
# 0.3: master down after about 1 s, as the deadtime), STALL_MS
# (DEADTIME_MS + 1000), IDLE_S (seconds the idle connections are quiet before the return, 10),
# SETTLE_S (seconds of traffic after each transition, 4), PRE_S (seconds from the start of a
# phase to its transition, 3), ACTIVE (30), IDLE (10), NEW (10 a
# second), CATCH_UP (director.conf [sync] catch_up_timeout, 2s), KEEPALIVED
# (/usr/sbin/keepalived; --add it for SYSTEM=keepalived), KEEP_GOING (yes: a failback that
# does not settle within 40 s is noted and the phases go on; the benchmark sets it),
# CRASH_NEW_LOSS (new connections allowed to fail at the crash, default 0), RESTART_COUNTS
# (no: the restart in place is reported but not counted, default yes).
# Output: per phase `== SYSTEM MODE: phase NAME: broken B (...), held H of N, new OK ok F
# failed (slowest MS ms), longest wait MS ms`, the client's table per mode, then PASS or FAIL.
. /lab/lib.sh
trap 'stop_all; lab_cleanup' EXIT

SYSTEM=${SYSTEM:-director}
MODE=${MODE:-both}
KEEPALIVE_MS=${KEEPALIVE_MS:-200}
DEADTIME_MS=${DEADTIME_MS:-1000}
WARNTIME_MS=${WARNTIME_MS:-600}
INITDEAD_MS=${INITDEAD_MS:-2000}
ADVERT_INT=${ADVERT_INT:-0.3}
STALL_MS=${STALL_MS:-$((DEADTIME_MS + 1000))}
IDLE_S=${IDLE_S:-10}
SETTLE_S=${SETTLE_S:-4}
PRE_S=${PRE_S:-3}
CATCH_UP=${CATCH_UP:-2s}
ACTIVE=${ACTIVE:-30}
IDLE=${IDLE:-10}
NEW=${NEW:-10}
KEEPALIVED=${KEEPALIVED:-/usr/sbin/keepalived}
KEEP_GOING=${KEEP_GOING:-no}
DIRECTOR=/usr/sbin/director
VIP=192.0.2.100
GW=198.51.100.1
[ -x "${TRAFFIC:-}" ] || fail "no conn_traffic binary (--add target/release/examples/conn_traffic and set TRAFFIC)"
case $SYSTEM in
    director) ;;
    keepalived) [ -x "$KEEPALIVED" ] || fail "no $KEEPALIVED in the VM (--add /usr/sbin/keepalived)" ;;
    *) fail "SYSTEM must be director or keepalived, not $SYSTEM" ;;
esac
case $MODE in
    both) MODES="dr nat" ;;
    dr | nat) MODES=$MODE ;;
    *) fail "MODE must be dr, nat or both, not $MODE" ;;
esac

D1PID="" D2PID="" CLIENT=""
RESULTS=/tmp/conns-results
: > "$RESULTS"

other() { if [ "$1" = dir1 ]; then echo dir2; else echo dir1; fi; }
node_addr() { if [ "$1" = dir1 ]; then echo 11; else echo 12; fi; }
pid_of() { if [ "$1" = dir1 ]; then echo "$D1PID"; else echo "$D2PID"; fi; }
set_pid() { if [ "$1" = dir1 ]; then D1PID=$2; else D2PID=$2; fi; }

# stop_node NODE SIGNAL: the system's processes on NODE get SIGNAL; waits for them.
stop_node() {
    p=$(pid_of "$1")
    [ -n "$p" ] || return 0
    if [ "$SYSTEM" = keepalived ]; then
        # keepalived's parent, its VRRP and its checker child (each writes its pid file)
        # (SIGKILL: a crash, so its VRRP and checker children too; any other signal goes to
        # the parent, which stops its children as keepalived does)
        if [ "$2" = KILL ]; then
            # all three in one kill(1), the parent first: it must not respawn a child
            kids=$(cat "/run/kd-$1-vrrp.pid" "/run/kd-$1-check.pid" 2> /dev/null | tr '\n' ' ')
            # shellcheck disable=SC2086 # two pids
            kill -9 "$p" $kids 2> /dev/null
        else
            kill "-$2" "$p" 2> /dev/null
        fi
    else
        kill "-$2" "$p" 2> /dev/null
    fi
    # (`kill -0` also succeeds on a zombie: look at the process state instead, or a killed
    # process would seem to run until the 10 s bound)
    i=0
    while running "$p" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$p" 2> /dev/null
    wait "$p" 2> /dev/null
    set_pid "$1" ""
}
running() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2> /dev/null; }

stop_all() {
    [ -n "$CLIENT" ] && kill "$CLIENT" 2> /dev/null && wait "$CLIENT" 2> /dev/null
    CLIENT=""
    for d in dir1 dir2; do stop_node "$d" TERM; done
}

holds() { in_ns "$1" "$IP" -4 -o addr show 2> /dev/null | grep -q " $2/"; }
holds_vip() { holds "$1" "$VIP"; }
table() { in_ns "$1" "$ORACLE" -S -n 2> /dev/null; }
reals_in() { table "$1" | grep -c -e "-a -t $VIP:80 -r "; }
status() { in_ns "$1" "$DIRECTOR" status --run-dir "/run/director-$1" 2>&1; }
settled() { # settled OWNER: OWNER holds the VIP(s) and the other node none
    o=$(other "$1")
    holds_vip "$1" && ! holds_vip "$o" || return 1
    if [ "$CUR" = nat ]; then holds "$1" "$GW" && ! holds "$o" "$GW" || return 1; fi
    [ "$SYSTEM" = keepalived ] && return 0
    status "$1" | grep -q '^role: active' && status "$o" | grep -q '^role: standby'
}
dump() {
    for d in dir1 dir2; do
        echo "--- $d: addresses"
        in_ns "$d" "$IP" -4 -o addr show 2> /dev/null
        echo "--- $d: table"
        table "$d"
        echo "--- $d: sync daemons"
        in_ns "$d" "$ORACLE" -L --daemon 2> /dev/null
        echo "--- $d: connections: $(in_ns "$d" "$ORACLE" -Lnc 2> /dev/null | grep -c ESTABLISHED) established"
        echo "--- $d: log (last 25 lines but gratuitous ARPs)"
        grep -v 'gratuitous ARP' "/tmp/$d.log" 2> /dev/null | tail -25
    done
}

# --- the network of one mode ---
node_links() { # node_links NODE: the director's links (again after a reboot-like return)
    lab_link "$1" eth0 br-lan "192.0.2.$(node_addr "$1")/24"
    [ "$CUR" = nat ] && lab_link "$1" eth1 br-int "198.51.100.$(node_addr "$1")/24"
    sysctl_ns "$1" net.ipv4.ip_forward 1
}
network() {
    lab_ns client dir1 dir2 rs1 rs2
    lab_bridge br-lan
    [ "$CUR" = nat ] && lab_bridge br-int
    lab_link client eth0 br-lan 192.0.2.10/24
    node_links dir1
    node_links dir2
    if [ "$CUR" = nat ]; then
        lab_link rs1 eth0 br-int 198.51.100.21/24
        lab_link rs2 eth0 br-int 198.51.100.22/24
        for rs in rs1 rs2; do in_ns "$rs" "$IP" route add default via "$GW" || fail "route on $rs"; done
        RS1=198.51.100.21 RS2=198.51.100.22 FWD=masq KDMETHOD=NAT
    else
        lab_link rs1 eth0 br-lan 192.0.2.21/24
        lab_link rs2 eth0 br-lan 192.0.2.22/24
        for rs in rs1 rs2; do
            in_ns "$rs" "$IP" addr add "$VIP/32" dev lo || fail "VIP on $rs lo"
            sysctl_ns "$rs" net.ipv4.conf.all.arp_ignore 1
            sysctl_ns "$rs" net.ipv4.conf.all.arp_announce 2
        done
        RS1=192.0.2.21 RS2=192.0.2.22 FWD=gate KDMETHOD=DR
    fi
    for rs in rs1 rs2; do
        "$IP" netns exec "$rs" "$TRAFFIC" server "$rs" 0.0.0.0:80 > "/tmp/$rs.log" 2>&1 &
        LAB_PIDS="$LAB_PIDS $!"
    done
}

# --- the configuration of one mode ---
configure() {
    for d in dir1 dir2; do
        etc=/etc/$d/ha.d
        rm -rf "$etc" "/etc/kd-$d"
        mkdir -p "$etc" "/var/lib/director-$d" "/etc/kd-$d"
        printf '%s\n' "$d" > "$etc/nodeinfo"
        cat > "$etc/ha.cf" << EOF
keepalive ${KEEPALIVE_MS}ms
warntime ${WARNTIME_MS}ms
deadtime ${DEADTIME_MS}ms
initdead ${INITDEAD_MS}ms
udpport 694
ucast eth0 192.0.2.11
ucast eth0 192.0.2.12
auto_failback on
node dir1
node dir2
EOF
        printf 'auth 1\n1 sha1 TestNetOnlyConnsSecret\n' > "$etc/authkeys"
        chmod 600 "$etc/authkeys"
        if [ "$CUR" = nat ]; then
            echo "dir1 ldirectord::conns.cf IPaddr::$VIP/24/eth0 IPaddr::$GW/24/eth1" > "$etc/haresources"
        else
            echo "dir1 ldirectord::conns.cf IPaddr::$VIP/24/eth0" > "$etc/haresources"
        fi
        # director's own settings (docs/director-conf.md): the connection sync, spelled out
        cat > "$etc/director.conf" << EOF
[sync]
enabled = true
interface = "eth0"
catch_up_timeout = "$CATCH_UP"
EOF
        cat > "$etc/conns.cf" << EOF
checktimeout=2
checkinterval=1
virtual=$VIP:80
        real=$RS1:80 $FWD
        real=$RS2:80 $FWD
        scheduler=rr
        protocol=tcp
        checktype=connect
EOF
        if [ "$d" = dir1 ]; then prio=150 peer=192.0.2.12; else prio=100 peer=192.0.2.11; fi
        gwline=""
        [ "$CUR" = nat ] && gwline="        $GW/24 dev eth1"
        cat > "/etc/kd-$d/keepalived.conf" << EOF
global_defs {
    router_id $d
    vrrp_version 3
    lvs_sync_daemon eth0 VI_1
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority $prio
    advert_int $ADVERT_INT
    unicast_src_ip 192.0.2.$(node_addr $d)
    unicast_peer {
        $peer
    }
    virtual_ipaddress {
        $VIP/24 dev eth0
$gwline
    }
}
virtual_server $VIP 80 {
    delay_loop 1
    lvs_sched rr
    lvs_method $KDMETHOD
    protocol TCP
    real_server $RS1 80 {
        TCP_CHECK {
            connect_timeout 2
        }
    }
    real_server $RS2 80 {
        TCP_CHECK {
            connect_timeout 2
        }
    }
}
EOF
    done
    if [ "$SYSTEM" = director ]; then
        for d in dir1 dir2; do
            $DIRECTOR check --config-dir "/etc/$d/ha.d" > "/tmp/check-$d.txt" 2>&1 ||
                fail "director check on $d: $(cat "/tmp/check-$d.txt")"
        done
    else
        for d in dir1 dir2; do
            in_ns "$d" "$KEEPALIVED" -t -f "/etc/kd-$d/keepalived.conf" > "/tmp/check-$d.txt" 2>&1 ||
                fail "keepalived -t on $d: $(cat "/tmp/check-$d.txt")"
        done
    fi
}

start_node() { # start_node NODE [LOGSUFFIX]
    log_file="/tmp/$1.log$2"
    if [ "$SYSTEM" = keepalived ]; then
        rm -f "/run/kd-$1.pid" "/run/kd-$1-vrrp.pid" "/run/kd-$1-check.pid"
        "$IP" netns exec "$1" "$KEEPALIVED" -n -l -D -f "/etc/kd-$1/keepalived.conf" \
            -p "/run/kd-$1.pid" -r "/run/kd-$1-vrrp.pid" -c "/run/kd-$1-check.pid" >> "$log_file" 2>&1 &
    else
        "$IP" netns exec "$1" "$DIRECTOR" run --config-dir "/etc/$1/ha.d" --run-dir "/run/director-$1" \
            --state-dir "/var/lib/director-$1" --metrics off --fence exit >> "$log_file" 2>&1 &
    fi
    set_pid "$1" $!
}

# --- the client ---
CTL=/tmp/conns-ctl
# next_phase NAME|end: ends the client's current phase (its idle connections speak once) and
# prints its counts.
next_phase() {
    client_phase "$CTL" /tmp/client.out /tmp/client.err "$1"
    line=$PHASE_LINE
    echo "== $SYSTEM $CUR: $line"
    echo "$SYSTEM $CUR $line" >> "$RESULTS"
    # Connections the client reopened as the phase ended reach the peer's table within the
    # kernel's sync flush time (2 s) before the next transition.
    [ "$1" = end ] || sleep "$PRE_S"
}
sync_state() { # sync_state: both nodes' sync daemons and established connections
    for d in dir1 dir2; do
        echo "$d: $(in_ns "$d" "$ORACLE" -L --daemon 2> /dev/null | sed 's/ (.*//' | tr '\n' ',') $(in_ns "$d" "$ORACLE" -Lnc 2> /dev/null | grep -c ESTABLISHED) established"
    done
}

# --- one mode ---
run_mode() {
    CUR=$1
    log "$SYSTEM, $CUR mode"
    network
    configure
    rm -rf /run/director-dir1 /run/director-dir2
    : > /tmp/dir1.log
    : > /tmp/dir2.log
    start_node dir1
    start_node dir2
    took=$(wait_until "settled dir1" 40) || exit 1
    wait_until "[ \$(reals_in dir1) -eq 2 ] && [ \$(reals_in dir2) -eq 2 ]" 20 > /dev/null
    log "$SYSTEM $CUR: dir1 active with the VIP, both tables hold both real servers ($((took * 10)) ms)"
    # the sync master runs on dir1 and a backup on dir2 (director runs both on both nodes)
    wait_until "in_ns dir1 $ORACLE -L --daemon | grep -q '^master' && in_ns dir2 $ORACLE -L --daemon | grep -q '^backup'" 20 > /dev/null
    echo "dir1: $(in_ns dir1 "$ORACLE" -L --daemon | tr '\n' ' ')"
    echo "dir2: $(in_ns dir2 "$ORACLE" -L --daemon | tr '\n' ' ')"

    : > "$CTL"
    : > /tmp/client.out
    "$IP" netns exec client "$TRAFFIC" client "$VIP:80" "$CTL" --active "$ACTIVE" --idle "$IDLE" \
        --new-per-sec "$NEW" --stall-ms "$STALL_MS" > /tmp/client.out 2> /tmp/client.err &
    CLIENT=$!
    wait_until "grep -q '^ready:' /tmp/client.out || ! running $CLIENT" 60 > /dev/null
    grep -q '^ready:' /tmp/client.out || { cat /tmp/client.err; fail "the client could not open its connections"; }
    log "$SYSTEM $CUR: client $(cat /tmp/client.out)"
    sleep 2
    wait_until "[ \$(in_ns dir2 $ORACLE -Lnc | grep -c ESTABLISHED) -ge $((ACTIVE + IDLE)) ]" 15 > /dev/null
    log "$SYSTEM $CUR: dir2 holds $(in_ns dir2 "$ORACLE" -Lnc | grep -c ESTABLISHED) established connections (dir1: $(in_ns dir1 "$ORACLE" -Lnc | grep -c ESTABLISHED))"

    # --- crash of the active node ---
    next_phase crash
    log "$SYSTEM $CUR: dir1 crashes (SIGKILL, links gone, namespace deleted)"
    t0=$(now_cs)
    stop_node dir1 KILL
    "$IP" link del dir1-eth0 2> /dev/null
    [ "$CUR" = nat ] && "$IP" link del dir1-eth1 2> /dev/null
    "$IP" netns del dir1
    wait_until "holds_vip dir2" 15 > /dev/null
    log "$SYSTEM $CUR: dir2 holds the VIP $((($(now_cs) - t0) * 10)) ms after the crash"
    [ "$CUR" = nat ] && wait_until "holds dir2 $GW" 10 > /dev/null
    sync_state
    sleep "$SETTLE_S"

    # --- the return as after a reboot ---
    next_phase failback
    log "$SYSTEM $CUR: the idle connections stay quiet for $((PRE_S + IDLE_S)) s before dir1 returns"
    sleep "$IDLE_S"
    log "$SYSTEM $CUR: dir1 returns as after a reboot (new namespace: no IPVS table, no connections, no VIP)"
    rm -rf /run/director-dir1
    lab_ns dir1
    node_links dir1
    [ -z "$(in_ns dir1 "$ORACLE" -Ln | grep -e '^TCP')" ] || fail "the new namespace has an IPVS table"
    echo "--- dir1.log: the run before the crash (last 5 lines)"
    tail -5 /tmp/dir1.log
    mv /tmp/dir1.log /tmp/dir1.log.before
    : > /tmp/dir1.log
    start_node dir1
    if took=$(wait_until "settled dir1" 40); then
        log "$SYSTEM $CUR: dir1 active with the VIP again $((took * 10)) ms after it started"
    else
        [ "$KEEP_GOING" = yes ] || exit 1
        log "$SYSTEM $CUR: the pair did not settle with dir1 active within 40 s after it started (KEEP_GOING: the phases go on)"
        echo "$SYSTEM $CUR unsettled failback" >> "$RESULTS"
    fi
    grep -h "handed \|connections" /tmp/dir2.log /tmp/dir1.log 2> /dev/null | sed "s/$(printf '\033')\[[0-9;]*m//g" | tail -4
    sync_state
    sleep "$SETTLE_S"

    # --- graceful hand-over ---
    next_phase standby
    if [ "$SYSTEM" = keepalived ]; then
        log "$SYSTEM $CUR: keepalived on dir1 stops (SIGTERM)"
        stop_node dir1 TERM
    else
        log "$SYSTEM $CUR: director standby on dir1"
        in_ns dir1 "$DIRECTOR" standby --run-dir /run/director-dir1 || fail "director standby"
    fi
    took=$(wait_until "holds_vip dir2 && ! holds_vip dir1" 15) || exit 1
    log "$SYSTEM $CUR: dir2 holds the VIP $((took * 10)) ms later"
    sync_state
    sleep "$SETTLE_S"

    # --- restart in place (director) ---
    # Observed without polling (a poll forking ip and ipvsadm every 100 ms would load the
    # emulated CPU more than the director does): address events from `ip monitor` in both
    # namespaces, and the real servers' connection counters, which start again from 0 if
    # a real server is deleted and added back.
    if [ "$SYSTEM" = director ]; then
        next_phase restart
        wait_until "settled dir2" 10 > /dev/null
        for d in dir1 dir2; do
            in_ns "$d" "$IP" -o monitor address > "/tmp/$d.addr-events" 2>&1 &
            eval "MON_$d=\$!"
        done
        in_ns dir2 "$ORACLE" -Sn > /tmp/restart-table.before
        in_ns dir2 "$ORACLE" -Ln --stats | awk '$1 == "->" && $2 ~ /^[0-9]/ { print $2, $3 }' > /tmp/restart-conns.before
        sleep 1
        before=$(wc -l < /tmp/dir1.log)
        : > /tmp/dir2.log.restart
        log "$SYSTEM $CUR: the director on dir2 (active) is SIGKILLed and started again"
        t_kill=$(now_cs)
        stop_node dir2 KILL
        start_node dir2 .restart
        t_start=$(now_cs)
        # (not fatal: a restart slower than deadtime is reported and the phases go on)
        not_adopted=0
        if took=$(wait_until "grep -q 'found running here: adopting it' /tmp/dir2.log.restart" 15 2> /dev/null); then
            log "$SYSTEM $CUR: started again $(((t_start - t_kill) * 10)) ms after the SIGKILL; adopted the group $((took * 10)) ms after its start"
        else
            not_adopted=1
            log "$SYSTEM $CUR: started again $(((t_start - t_kill) * 10)) ms after the SIGKILL; did not adopt the group within 15 s"
        fi
        sleep "$SETTLE_S"
        status dir2 | grep -q '^role: active' || { not_adopted=1; log "$SYSTEM $CUR: dir2 does not report active after the restart"; }
        kill "$MON_dir1" "$MON_dir2" 2> /dev/null
        echo "--- dir2: the restarted director's first log lines"
        head -8 /tmp/dir2.log.restart | sed "s/$(printf '\033')\[[0-9;]*m//g"
        in_ns dir2 "$ORACLE" -Sn > /tmp/restart-table.after
        in_ns dir2 "$ORACLE" -Ln --stats | awk '$1 == "->" && $2 ~ /^[0-9]/ { print $2, $3 }' > /tmp/restart-conns.after
        vip_moves=$(grep -c -e "^Deleted.* inet $VIP/" /tmp/dir2.addr-events; grep -c -e "inet $VIP/" /tmp/dir1.addr-events)
        vip_moves=$(echo "$vip_moves" | awk '{ n += $1 } END { print n + 0 }')
        grep -e " inet $VIP/" /tmp/dir1.addr-events /tmp/dir2.addr-events | head -5
        # a real server deleted and added back starts counting its connections from 0
        reset=$(awk 'NR == FNR { before[$1] = $2; next } !($1 in before) || $2 < before[$1]' \
            /tmp/restart-conns.before /tmp/restart-conns.after | wc -l)
        changed=0
        cmp -s /tmp/restart-table.before /tmp/restart-table.after || changed=1
        [ "$changed" = 0 ] || diff /tmp/restart-table.before /tmp/restart-table.after
        deleted=$(grep -c 'Deleted \|flush\|quiesc' /tmp/dir2.log.restart)
        # the peer must not have taken the group meanwhile (the restart outlasting deadtime)
        took_over=$(tail -n +$((before + 1)) /tmp/dir1.log | grep -c 'Taking over resource group')
        tail -n +$((before + 1)) /tmp/dir1.log | grep -E "dead|Taking over|acquir|releas" | tail -5
        log "$SYSTEM $CUR: restart in place: VIP moves $vip_moves, real servers counting from 0 again $reset, table changed $changed, $deleted deletions or flushes logged, dir1 took the group over $took_over times, not adopted $not_adopted"
        echo "$SYSTEM $CUR restart-table vip-moves $vip_moves real-reset $reset changed $changed deleted $deleted peer-takeovers $took_over not-adopted $not_adopted" >> "$RESULTS"
        cat /tmp/dir2.log.restart >> /tmp/dir2.log
    fi

    next_phase end
    echo "--- $SYSTEM $CUR: the client's table"
    sed -n '/^phase  /,$p' /tmp/client.out
    wait "$CLIENT" 2> /dev/null
    CLIENT=""
    echo "--- $SYSTEM $CUR: broken connections and failed new ones, as the client logged them (first 20)"
    head -20 /tmp/client.err
    stop_node dir1 TERM
    stop_node dir2 TERM
    lab_cleanup
}

for m in $MODES; do run_mode "$m"; done

echo "--- results"
cat "$RESULTS"
# CRASH_NEW_LOSS: new connections allowed to fail in the crash phase (default 0): one opened
# in the last moments before the crash may be unknown to the peer, its sync message still in
# the dead master's batch (the kernel flushes a partly filled batch after 2 s; docs/protocol.md,
# "What a client can still lose"). Long-lived connections are never allowed to break.
# RESTART_COUNTS=no: the restart in place is run and reported but does not decide the verdict.
[ "${RESTART_COUNTS:-yes}" = yes ] || log "restart in place: reported above, not counted (RESTART_COUNTS=$RESTART_COUNTS)"
bad=$(awk -v crash_new="${CRASH_NEW_LOSS:-0}" -v restart="${RESTART_COUNTS:-yes}" '
    $3 == "phase" {
        p = $4; sub(/:$/, "", p); f = -1
        for (i = 1; i < NF; i++) if (f < 0 && $(i + 1) == "failed") f = $i
        if (p == "restart" && restart != "yes") next
        allowed = (p == "crash") ? crash_new : 0
        if ($6 != 0 || f < 0 || f > allowed) print $1, $2, p
    }
    $3 == "restart-table" && restart == "yes" && ($5 != 0 || $7 != 0 || $9 != 0 || $11 != 0 || $13 != 0 || $15 != 0) { print $1, $2, "restart-table" }
    $3 == "unsettled" { print $1, $2, "unsettled-failback" }' "$RESULTS" | tr '\n' ' ')
[ -z "$bad" ] || fail "connections broken or refused in: $bad"
echo PASS
