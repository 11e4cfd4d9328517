# Scale-out on the real kernel: three active directors behind a router's ECMP, announced by
# BGP through BIRD 2, IPVS `mh` in direct routing (docs/scale-out.md).
#
#   client 198.51.100.2 -- br-cl -- 198.51.100.1 router 192.0.2.1 -- br-fab --+-- d1 192.0.2.11
#                                    BIRD: BGP from d1..d3 (BFD),              +-- d2 192.0.2.12
#                                    ECMP over their next hops                 +-- d3 192.0.2.13
#                                    (fib_multipath_hash_policy 3,             +-- rs1 192.0.2.21
#                                     L4 fields)                               +-- rs2 192.0.2.22
#   VIP 203.0.113.10 on lo of every director and real server. Each director: `director run`
#   without ha.cf, its ldirectord file (an mh service, mh-fallback + mh-port, checktype=connect
#   on port 8080), director.conf [announce] to its own BIRD, which has a BGP session (with BFD)
#   to the router.
#
# director/examples/conn_traffic runs the real servers' line echo on port 80 and the client:
# LONG long-lived connections (ACTIVE send a line every INTERVAL_MS, the rest idle) and NEW
# new connections a second. Phases, each counted by the client:
#   realfail  rs2's check fails (its port 8080 closes) and comes back: every director quiesces
#             it and no director withdraws the VIP (the router keeps three next hops)
#   kill      d3 crashes as a machine does: its link goes down, then director and its BIRD are
#             SIGKILLed. The router withdraws d3's next hop (measured from the link going
#             down); its flows move to d1 and d2, whose mh tables are the same, so they keep
#             their real server
#   standby   `director standby` on d1: it withdraws its announcement, its flows move to d2
#   tunnels   a second VIP added to d2 by `director reload`, its real server rs3 (192.0.2.23)
#             an `ipip` real: the client's requests reach it over IP-in-IP, then over GUE
#             (port 5555) once director.conf's [service.tunnel] says so and d2 reloads; rs3
#             decapsulates (tunl0, `ip fou add port 5555 gue`) and answers the client directly
# The scenario asserts: three equal tables (real servers in the file's order) on the
# directors; no withdrawal when a real server fails; at the kill no long-lived connection
# that went through d1 or d2 breaks and at least KEEP_PCT % of those through d3 keep their
# real server (no reset, no other server, no stall longer than STALL_MS); at the standby no
# long-lived connection breaks and no new connection fails; rs3 answers through each tunnel
# (`== tunnel ...` lines: d2's table as ipvsadm -Sn saves it, the answer, rs3's counters).
# Figures: `== figure ...` lines.
#
# Variables: TRAFFIC (conn_traffic in the VM; --add it), BIRD (/usr/sbin/bird; --add it),
# LONG (120), ACTIVE (60), INTERVAL_MS (500), NEW (5 a second), STALL_MS (8000), BFD_MS (200),
# BFD_MULT (4), HOLD_S (BGP hold time, 3), SETTLE_S (traffic after each transition, 6),
# KEEP_PCT (99), SLOPPY (no: a control run that turns net.ipv4.vs.sloppy_tcp off again on
# every director once they run, to show what the kill and standby phases catch without it;
# it is expected to fail).
. /lab/lib.sh
trap 'stop_all; lab_cleanup' EXIT

LONG=${LONG:-120}
ACTIVE=${ACTIVE:-60}
INTERVAL_MS=${INTERVAL_MS:-500}
NEW=${NEW:-5}
STALL_MS=${STALL_MS:-8000}
BFD_MS=${BFD_MS:-200}
BFD_MULT=${BFD_MULT:-4}
HOLD_S=${HOLD_S:-3}
SETTLE_S=${SETTLE_S:-6}
KEEP_PCT=${KEEP_PCT:-99}
SLOPPY=${SLOPPY:-yes}
BIRD=${BIRD:-/usr/sbin/bird}
DIRECTOR=/usr/sbin/director
VIP=203.0.113.10
DIRECTORS="d1 d2 d3"
[ -x "${TRAFFIC:-}" ] || fail "no conn_traffic binary (--add target/release/examples/conn_traffic and set TRAFFIC)"
[ -x "$BIRD" ] || fail "no $BIRD in the VM (--add /usr/sbin/bird)"

PIDS_DIR=/tmp/pids
mkdir -p "$PIDS_DIR"
CLIENT=""
FAILED=""
problem() {
    echo "PROBLEM: $*"
    FAILED="$FAILED|$*"
}

addr_of() { case $1 in d1) echo 192.0.2.11 ;; d2) echo 192.0.2.12 ;; d3) echo 192.0.2.13 ;; esac; }
running() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2> /dev/null; }
# stop PIDFILE SIGNAL: signal the process and wait (bounded) until it is gone.
stop() {
    [ -f "$1" ] || return 0
    p=$(cat "$1")
    rm -f "$1"
    kill "-$2" "$p" 2> /dev/null
    i=0
    while running "$p" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$p" 2> /dev/null
    wait "$p" 2> /dev/null
}
stop_all() {
    [ -n "$CLIENT" ] && kill "$CLIENT" 2> /dev/null && wait "$CLIENT" 2> /dev/null
    CLIENT=""
    for d in $DIRECTORS; do stop "$PIDS_DIR/director-$d" TERM; done
    for n in $DIRECTORS router; do stop "$PIDS_DIR/bird-$n" TERM; done
    for rs in rs1 rs2; do stop "$PIDS_DIR/check-$rs" TERM; done
}

nexthops() { in_ns router "$IP" -4 route show "$VIP/32" 2> /dev/null | grep -o 'via 192\.0\.2\.1[1-3]' | sort | tr '\n' ' '; }
hops() { nexthops | wc -w | awk '{ print $1 / 2 }'; }
has_hop() { nexthops | grep -q "via $(addr_of "$1") "; }
# table DIRECTOR: its services and real servers with their weights, real servers in the
# kernel's order (--nosort: ipvsadm sorts them by address unless told not to; the kernel's
# list is newest first), without the counters.
table() {
    in_ns "$1" "$ORACLE" -Ln --nosort 2> /dev/null |
        awk '$1 ~ /^(TCP|UDP|SCTP|FWM)$/ { print } $1 == "->" && $2 !~ /^Remote/ { print $1, $2, $3, $4 }'
}
weight_of() { # weight_of DIRECTOR REAL: the real's weight in the director's table
    in_ns "$1" "$ORACLE" -Ln 2> /dev/null | awk -v r="$2:80" '$1 == "->" && $2 == r { print $4 }'
}
status() { in_ns "$1" "$DIRECTOR" status --run-dir "/run/director-$1" 2>&1; }
# ports DIRECTOR: the client ports of the established connections through DIRECTOR.
ports() {
    in_ns "$1" "$ORACLE" -Lnc 2> /dev/null |
        awk '$3 == "ESTABLISHED" && $4 ~ /^198\.51\.100\.2:/ { split($4, a, ":"); print a[2] }' | sort -u
}
dump() {
    echo "--- router: routes"
    in_ns router "$IP" -4 route 2> /dev/null
    in_ns router /usr/sbin/birdcl -s /tmp/router/bird.ctl show protocols 2> /dev/null
    for d in $DIRECTORS; do
        echo "--- $d: table"
        table "$d"
        echo "--- $d: status"
        status "$d" | head -30
        echo "--- $d: log (last 20 lines)"
        tail -20 "/tmp/$d.log" 2> /dev/null
        echo "--- $d: bird (last 10 lines)"
        tail -10 "/tmp/$d/bird.log" 2> /dev/null
    done
    echo "--- router: bird (last 20 lines)"
    tail -20 /tmp/router/bird.log 2> /dev/null
}

# --- the network ---
lab_ns client router d1 d2 d3 rs1 rs2
lab_bridge br-cl
lab_bridge br-fab
lab_link client eth0 br-cl 198.51.100.2/24
in_ns client "$IP" route add default via 198.51.100.1 || fail "client route"
lab_link router eth1 br-cl 198.51.100.1/24
lab_link router eth0 br-fab 192.0.2.1/24
sysctl_ns router net.ipv4.ip_forward 1
# Hash on the packet's addresses and ports (policy 3, fields 0x37): policy 1 would use the
# hash the client's socket put in the packet, which TCP draws again at every retransmission
# timeout, so flows would hop between directors with nothing changed (issue 13's notes).
sysctl_ns router net.ipv4.fib_multipath_hash_policy 3
sysctl_ns router net.ipv4.fib_multipath_hash_fields 55
for d in $DIRECTORS; do
    lab_link "$d" eth0 br-fab "$(addr_of "$d")/24"
    in_ns "$d" "$IP" addr add "$VIP/32" dev lo || fail "VIP on $d lo"
    in_ns "$d" "$IP" route add default via 192.0.2.1 || fail "route on $d"
    sysctl_ns "$d" net.ipv4.ip_forward 1
done
n=1
for rs in rs1 rs2; do
    lab_link "$rs" eth0 br-fab "192.0.2.2$n/24"
    in_ns "$rs" "$IP" addr add "$VIP/32" dev lo || fail "VIP on $rs lo"
    in_ns "$rs" "$IP" route add default via 192.0.2.1 || fail "route on $rs"
    sysctl_ns "$rs" net.ipv4.conf.all.arp_ignore 1
    sysctl_ns "$rs" net.ipv4.conf.all.arp_announce 2
    "$IP" netns exec "$rs" "$TRAFFIC" server "$rs" 0.0.0.0:80 > "/tmp/$rs.log" 2>&1 &
    LAB_PIDS="$LAB_PIDS $!"
    n=$((n + 1))
done
# The health check's port, apart from the traffic's: closing it fails the check and leaves
# the real server's connections alone.
check_port() { # check_port RS on|off
    if [ "$2" = on ]; then
        mkdir -p "/tmp/www-$1"
        echo ok > "/tmp/www-$1/index.html"
        "$IP" netns exec "$1" busybox httpd -f -p 8080 -h "/tmp/www-$1" &
        echo $! > "$PIDS_DIR/check-$1"
    else
        stop "$PIDS_DIR/check-$1" TERM
    fi
}
check_port rs1 on
check_port rs2 on

# --- BIRD: the router and one per director ---
bfd_block="protocol bfd {
    interface \"eth0\" { interval $BFD_MS ms; multiplier $BFD_MULT; };
}"
# Both ends of a session: BFD, the hold time, and retries quick enough for a lab.
bgp_timers="bfd on;
    hold time $HOLD_S;
    keepalive time 1;
    connect delay time 1;
    connect retry time 1;
    error wait time 1, 2;"
mkdir -p /tmp/router
cat > /tmp/router/bird.conf << EOF
router id 192.0.2.1;
log "/tmp/router/bird.log" all;
protocol device {}
protocol kernel {
    ipv4 { import none; export all; };
    merge paths on;
}
$bfd_block
template bgp director {
    local 192.0.2.1 as 65000;
    $bgp_timers
    ipv4 { import all; export none; };
}
protocol bgp d1 from director { neighbor 192.0.2.11 as 65001; }
protocol bgp d2 from director { neighbor 192.0.2.12 as 65001; }
protocol bgp d3 from director { neighbor 192.0.2.13 as 65001; }
EOF
start_bird() { # start_bird NODE
    "$IP" netns exec "$1" "$BIRD" -f -c "/tmp/$1/bird.conf" -s "/tmp/$1/bird.ctl" \
        -P "/tmp/$1/bird.pid" > "/tmp/$1/bird.out" 2>&1 &
    echo $! > "$PIDS_DIR/bird-$1"
}
start_bird router

for d in $DIRECTORS; do
    a=$(addr_of "$d")
    mkdir -p "/tmp/$d" "/etc/$d/ha.d" "/var/lib/director-$d"
    # The file director writes, empty until it announces (BIRD includes it from the start).
    printf 'protocol static director_vips4 {\n    ipv4;\n}\nprotocol static director_vips6 {\n    ipv6;\n}\n' \
        > "/tmp/$d/director-vips.conf"
    cat > "/tmp/$d/bird.conf" << EOF
router id $a;
log "/tmp/$d/bird.log" all;
protocol device {}
include "/tmp/$d/director-vips.conf";
$bfd_block
protocol bgp router1 {
    local $a as 65001;
    neighbor 192.0.2.1 as 65000;
    $bgp_timers
    ipv4 {
        import none;
        export where proto = "director_vips4";
        next hop self;
    };
}
EOF
    cat > "/etc/$d/ha.d/director.conf" << EOF
[announce]
enabled = true
file = "/tmp/$d/director-vips.conf"
socket = "/tmp/$d/bird.ctl"
EOF
    cat > "/etc/$d/ha.d/ldirectord.cf" << EOF
checktimeout=2
checkinterval=1
quiescent=no
virtual=$VIP:80
        real=192.0.2.21:80 gate
        real=192.0.2.22:80 gate
        scheduler=mh
        schedflags=mh-fallback,mh-port
        protocol=tcp
        checktype=connect
        checkport=8080
EOF
    $DIRECTOR check --config-dir "/etc/$d/ha.d" > "/tmp/check-$d.txt" 2>&1 ||
        fail "director check on $d: $(cat "/tmp/check-$d.txt")"
    start_bird "$d"
done
for d in $DIRECTORS; do
    "$IP" netns exec "$d" "$DIRECTOR" run --config-dir "/etc/$d/ha.d" --run-dir "/run/director-$d" \
        --state-dir "/var/lib/director-$d" --metrics off > "/tmp/$d.log" 2>&1 &
    echo $! > "$PIDS_DIR/director-$d"
done

log "waiting for the router's three next hops"
took=$(wait_until '[ "$(hops)" = 3 ]' 90) || exit 1
log "router: ECMP over $(nexthops)after $((took * 10)) ms"
for d in $DIRECTORS; do
    grep -q 'sloppy_tcp = 1' "/tmp/$d.log" || problem "$d did not turn net.ipv4.vs.sloppy_tcp on"
    [ "$(in_ns "$d" cat /proc/sys/net/ipv4/vs/sloppy_tcp)" = 1 ] || problem "$d: sloppy_tcp is not 1"
    if [ "$SLOPPY" = no ]; then
        log "control run: sloppy_tcp off again on $d"
        sysctl_ns "$d" net.ipv4.vs.sloppy_tcp 0
    fi
done

# Every director's table the same, real servers in the file's order (the kernel's list is
# newest first: ipvsadm -Ln --nosort prints the file's last real first).
tables_equal() {
    t1=$(table d1)
    for d in d2 d3; do
        [ "$(table "$d")" = "$t1" ] || return 1
    done
    return 0
}
wait_until 'tables_equal && [ "$(weight_of d1 192.0.2.21)" = 1 ] && [ "$(weight_of d1 192.0.2.22)" = 1 ]' 30 > /dev/null || exit 1
log "d1's table (d2's and d3's are the same):"
table d1
order=$(table d1 | awk '$1 == "->" { print $2 }' | tr '\n' ' ')
[ "$order" = "192.0.2.22:80 192.0.2.21:80 " ] || problem "the kernel's list is not the file's order: $order"

# --- the client ---
CTL=/tmp/scale-ctl
: > "$CTL"
"$IP" netns exec client "$TRAFFIC" client "$VIP:80" "$CTL" --active "$ACTIVE" --idle $((LONG - ACTIVE)) \
    --interval-ms "$INTERVAL_MS" --new-per-sec "$NEW" --stall-ms "$STALL_MS" \
    > /tmp/client.out 2> /tmp/client.err &
CLIENT=$!
i=0
until grep -q '^ready: ' /tmp/client.out; do
    i=$((i + 1))
    [ $i -gt 600 ] && { cat /tmp/client.err; dump; fail "the client was not ready within 60 s"; }
    running "$CLIENT" || { cat /tmp/client.err; dump; fail "the client stopped"; }
    sleep 0.1
done
log "client: $(grep '^ready: ' /tmp/client.out)"
for d in $DIRECTORS; do
    log "$d carries $(ports "$d" | wc -l) established connections"
done

next_phase() { # next_phase NAME|end: end the client's phase; PHASE_LINE is its counts
    client_phase "$CTL" /tmp/client.out /tmp/client.err "$1"
    echo "== $PHASE_LINE"
}
broken_of() { echo "$PHASE_LINE" | sed -n 's/.*: broken \([0-9]*\) .*/\1/p'; }
failed_of() { echo "$PHASE_LINE" | sed -n 's/.* ok \([0-9]*\) failed.*/\1/p'; }
sleep "$SETTLE_S"
next_phase realfail
[ "$(broken_of)" = 0 ] || problem "steady: $PHASE_LINE"

# --- a real server fails: quiesced everywhere, nothing withdrawn ---
log "rs2's check fails"
check_port rs2 off
quiesced() {
    for d in $DIRECTORS; do [ "$(weight_of "$d" 192.0.2.22)" = 0 ] || return 1; done
}
took=$(wait_until quiesced 30) || exit 1
log "rs2 quiesced on every director after $((took * 10)) ms"
tables_equal || problem "the tables differ with rs2 quiesced"
i=0
while [ $i -lt 20 ]; do
    [ "$(hops)" = 3 ] || problem "a real server failing withdrew a route: $(nexthops)"
    i=$((i + 1))
    sleep 0.2
done
check_port rs2 on
took=$(wait_until '[ "$(weight_of d1 192.0.2.22)" = 1 ] && tables_equal' 30) || exit 1
log "rs2 back on every director after $((took * 10)) ms"
[ "$(hops)" = 3 ] || problem "routes after the real server came back: $(nexthops)"
sleep 2
next_phase kill
[ "$(broken_of)" = 0 ] || problem "realfail: $PHASE_LINE"

# --- d3 crashes: link down, then director and BIRD killed ---
for d in $DIRECTORS; do ports "$d" > "/tmp/ports-$d"; done
through_d3=$(wc -l < /tmp/ports-d3)
t0=$(now_cs)
in_ns d3 "$IP" link set eth0 down
kill -9 "$(cat "$PIDS_DIR/director-d3")" "$(cat "$PIDS_DIR/bird-d3")" 2> /dev/null
rm -f "$PIDS_DIR/director-d3" "$PIDS_DIR/bird-d3"
wait_until '! has_hop d3' 30 > /dev/null || exit 1
withdrawal_ms=$((($(now_cs) - t0) * 10))
log "router: d3 withdrawn $withdrawal_ms ms after its link went down (BFD ${BFD_MS} ms x $BFD_MULT, hold time ${HOLD_S} s); next hops now $(nexthops)"
sleep "$SETTLE_S"
next_phase standby
kill_line=$PHASE_LINE
# The long-lived connections that broke in the kill phase, by the director they went through.
grep ' broken in phase kill: ' /tmp/client.err | sed -n 's/.* port \([0-9]*\) broken .*/\1/p' | sort -u > /tmp/broken-kill
others_broken=$(cat /tmp/ports-d1 /tmp/ports-d2 | grep -cxF -f /tmp/broken-kill)
d3_broken=$(grep -cxF -f /tmp/broken-kill /tmp/ports-d3)
[ -s /tmp/broken-kill ] || { others_broken=0; d3_broken=0; }
kept=$((through_d3 - d3_broken))
[ "$through_d3" -gt 0 ] || problem "no connection went through d3 (ECMP did not spread the flows)"
echo "== figure kill-withdrawal-ms $withdrawal_ms"
echo "== figure kill-d3-kept $kept of $through_d3"
echo "== figure kill-others-broken $others_broken of $(cat /tmp/ports-d1 /tmp/ports-d2 | wc -l)"
[ "$others_broken" = 0 ] || problem "kill: $others_broken connections through d1/d2 broke"
[ $((kept * 100)) -ge $((through_d3 * KEEP_PCT)) ] || problem "kill: only $kept of $through_d3 connections through d3 kept their real server"
[ "$(broken_of)" -le "$d3_broken" ] || problem "kill: broken connections the directors' tables do not explain: $kill_line"

# --- the operator's standby on d1: its announcement withdrawn, its flows move to d2 ---
through_d1=$(ports d1 | wc -l)
t0=$(now_cs)
in_ns d1 "$DIRECTOR" standby --run-dir /run/director-d1 > /tmp/standby.txt 2>&1 ||
    problem "director standby on d1: $(cat /tmp/standby.txt)"
wait_until '! has_hop d1' 30 > /dev/null || exit 1
standby_ms=$((($(now_cs) - t0) * 10))
log "router: d1 withdrawn $standby_ms ms after director standby; next hops now $(nexthops)"
echo "== figure standby-withdrawal-ms $standby_ms"
status d1 | grep -i announce
sleep "$SETTLE_S"
next_phase end
[ "$(broken_of)" = 0 ] || problem "standby: $PHASE_LINE"
[ "$(failed_of)" = 0 ] || problem "standby: new connections failed: $PHASE_LINE"
echo "== figure standby-d1-moved $through_d1 broken $(broken_of)"
i=0
while running "$CLIENT" && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
CLIENT=""
cat /tmp/client.out
grep ' broken \| failed' /tmp/client.err | head -20

# --- tunnels: a new VIP on d2 (added by reload), its real server rs3 reached over ipip, then
# over GUE once director.conf's [service.tunnel] says so (reload again) ---
VIP2=203.0.113.20
GUE_PORT=5555
tunnels_t0=$(now_cs)
lab_ns rs3
lab_link rs3 eth0 br-fab 192.0.2.23/24
in_ns rs3 "$IP" route add default via 192.0.2.1 || fail "route on rs3"
in_ns rs3 "$IP" addr add "$VIP2/32" dev lo || fail "VIP2 on rs3 lo"
sysctl_ns rs3 net.ipv4.conf.all.arp_ignore 1
sysctl_ns rs3 net.ipv4.conf.all.arp_announce 2
sysctl_ns rs3 net.ipv4.conf.all.rp_filter 0
# The decapsulation: the ipip fallback device (each namespace has one once ipip is loaded)
# takes IP-in-IP, and fou's GUE port hands GUE's inner IP-in-IP to it.
in_ns rs3 "$IP" link set tunl0 up || fail "tunl0 up on rs3"
sysctl_ns rs3 net.ipv4.conf.tunl0.rp_filter 0
modprobe fou || fail "modprobe fou"
in_ns rs3 "$IP" fou add port "$GUE_PORT" gue || fail "ip fou add on rs3"
lab_httpd rs3 rs3
in_ns d2 "$IP" addr add "$VIP2/32" dev lo || fail "VIP2 on d2 lo"
cat >> /etc/d2/ha.d/ldirectord.cf << EOF
virtual=$VIP2:80
        real=192.0.2.23:80 ipip
        scheduler=rr
        protocol=tcp
        checktype=connect
EOF
reload_d2() {
    in_ns d2 "$DIRECTOR" reload --run-dir /run/director-d2 > /tmp/reload.txt 2>&1 ||
        problem "director reload on d2: $(cat /tmp/reload.txt)"
}
# rs3's line of d2's table as the oracle saves it (with its tunnel options).
rs3_line() { in_ns d2 "$ORACLE" -Sn 2> /dev/null | grep -- '-r 192\.0\.2\.23:80 '; }
tunl0_rx() { in_ns rs3 cat /sys/class/net/tunl0/statistics/rx_packets; }
udp_in() { in_ns rs3 awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ { print $2 }' /proc/net/snmp; }
# through_tunnel NAME: fetch VIP2 from the client; print what came back and the packets rs3
# took on tunl0 and as UDP meanwhile.
through_tunnel() {
    rx0=$(tunl0_rx) udp0=$(udp_in)
    body=$(http_get client "http://$VIP2/" 2>&1)
    rx=$(($(tunl0_rx) - rx0)) udp=$(($(udp_in) - udp0))
    echo "== tunnel $1: $(rs3_line) | $body | rs3 tunl0 rx +$rx, udp in +$udp"
    [ "$body" = "served by rs3" ] || problem "tunnel $1: the client got \"$body\""
    [ "$rx" -gt 0 ] || problem "tunnel $1: nothing came to rs3 through tunl0"
}
reload_d2
wait_until 'rs3_line | grep -q -- " -i -w 1 --tun-type ipip$"' 30 > /dev/null || exit 1
wait_until 'in_ns router "$IP" -4 route show "$VIP2/32" | grep -q "via 192\.0\.2\.12"' 30 > /dev/null || exit 1
through_tunnel ipip
[ "$udp" = 0 ] || problem "tunnel ipip: rs3 took $udp UDP datagrams (GUE?)"
cat >> /etc/d2/ha.d/director.conf << EOF

[[service]]
file = "ldirectord.cf"
virtual = "$VIP2:80"

[service.tunnel]
type = "gue"
port = $GUE_PORT
EOF
$DIRECTOR check --print-ipvs --config-dir /etc/d2/ha.d > /tmp/check-d2.txt 2>&1 ||
    problem "director check on d2 with the tunnel: $(cat /tmp/check-d2.txt)"
grep -- '-r 192\.0\.2\.23:80 ' /tmp/check-d2.txt | sed 's/^/== check --print-ipvs: /'
reload_d2
wait_until 'rs3_line | grep -q -- " --tun-type gue --tun-port $GUE_PORT --tun-nocsum$"' 30 > /dev/null || exit 1
through_tunnel gue
[ "$udp" -gt 0 ] || problem "tunnel gue: rs3 took no UDP datagram"
# A reload that changes nothing keeps the tunnel.
reload_d2
rs3_line | grep -q -- "--tun-type gue --tun-port $GUE_PORT " || problem "a reload lost the tunnel: $(rs3_line)"
through_tunnel gue-after-reload
echo "== figure tunnels-phase-ms $((($(now_cs) - tunnels_t0) * 10))"

if [ -n "$FAILED" ]; then
    dump
    echo "FAIL$FAILED"
    exit 1
fi
echo PASS
