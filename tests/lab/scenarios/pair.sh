# The whole LVS director pair on the real kernel: two directors running `director run`
# with Heartbeat's files, two DR real servers, a client.
#
#   client 192.0.2.10 --+
#   dir1   192.0.2.11 --+                      VIP 192.0.2.100 on the active director's eth0
#   dir2   192.0.2.12 --+-- br-lan
#   rs1    192.0.2.21 --+                      VIP on lo (arp_ignore 1, arp_announce 2)
#   rs2    192.0.2.22 --+
#
# Each director has its own configuration directory /etc/<node>/ha.d: ha.cf (ucast
# heartbeats on eth0, auto_failback on), authkeys (mode 600), nodeinfo, haresources
# `dir1 IPaddr::192.0.2.100/24/eth0 ldirectord::www.cf` and www.cf in the seed's style.
#
# Proves: both directors program the virtual service with both reals (warm standby); the
# client is answered by both reals through the VIP; `director status` on dir1 says active
# with the peer up; both directors run the IPVS master and backup sync daemons; kill -9 of dir1's director plus its link down -> dir2 takes the VIP and the client
# is answered again (the gap is measured); dir1 back -> failback after dir1's kernel caught up with the table dir2 handed over; a
# stopped real leaves both tables; with every real stopped, the fallback 127.0.0.1:80 is in
# both tables and the active director's own web server answers the client; the reals come
# back to both tables and the fallback leaves.
#
# Variables: KEEPALIVE (default 100ms), DEADTIME (500ms), WARNTIME (300ms), INITDEAD (2000ms),
# REQUESTS (10), GAP_LIMIT_CS (takeover answered within, centiseconds; default 500).
. /lab/lib.sh
trap 'stop_all; lab_cleanup' EXIT

VIP=192.0.2.100
KEEPALIVE=${KEEPALIVE:-100ms}
DEADTIME=${DEADTIME:-500ms}
WARNTIME=${WARNTIME:-300ms}
INITDEAD=${INITDEAD:-2000ms}
REQUESTS=${REQUESTS:-10}
GAP_LIMIT_CS=${GAP_LIMIT_CS:-500}
CHECKINTERVAL=1
CHECKTIMEOUT=2
DIRECTOR=/usr/sbin/director
D1PID="" D2PID="" RS1PID="" RS2PID=""

ms() { echo "$(($1 * 10)) ms"; }

stop_all() {
    for p in $D1PID $D2PID $RS1PID $RS2PID; do kill "$p" 2> /dev/null; done
    for p in $D1PID $D2PID; do wait "$p" 2> /dev/null; done
}

addr_of() { case $1 in dir1) echo 192.0.2.11 ;; dir2) echo 192.0.2.12 ;; rs1) echo 192.0.2.21 ;; rs2) echo 192.0.2.22 ;; esac; }
other() { if [ "$1" = dir1 ]; then echo dir2; else echo dir1; fi; }

# --- the network ---
lab_ns client dir1 dir2 rs1 rs2
lab_bridge br-lan
lab_link client eth0 br-lan 192.0.2.10/24
for d in dir1 dir2; do
    lab_link "$d" eth0 br-lan "$(addr_of $d)/24"
    sysctl_ns "$d" net.ipv4.ip_forward 1
done
start_rs() {
    # Not through in_ns: a backgrounded function is a subshell, and $! must be the httpd.
    "$IP" netns exec "$1" busybox httpd -f -p 80 -h "/tmp/www-$1" &
    [ "$1" = rs1 ] && RS1PID=$!
    [ "$1" = rs2 ] && RS2PID=$!
}
stop_rs() {
    if [ "$1" = rs1 ]; then kill "$RS1PID"; wait "$RS1PID" 2> /dev/null; RS1PID=""; fi
    if [ "$1" = rs2 ]; then kill "$RS2PID"; wait "$RS2PID" 2> /dev/null; RS2PID=""; fi
}
for rs in rs1 rs2; do
    lab_link "$rs" eth0 br-lan "$(addr_of $rs)/24"
    in_ns "$rs" "$IP" addr add "$VIP/32" dev lo || fail "VIP on $rs lo"
    sysctl_ns "$rs" net.ipv4.conf.all.arp_ignore 1
    sysctl_ns "$rs" net.ipv4.conf.all.arp_announce 2
    mkdir -p "/tmp/www-$rs"
    echo "Test Page from $rs" > "/tmp/www-$rs/index.html"
    start_rs "$rs"
done
# The fallback 127.0.0.1:80 on each director (only used when every real is down). IPVS
# hands a packet for a local real server to the local stack unchanged (destination VIP:80),
# so the fallback web server listens on every address of the director, as Apache does on an
# ldirectord box.
for d in dir1 dir2; do
    mkdir -p "/tmp/www-sorry-$d"
    echo "Sorry, $d's fallback" > "/tmp/www-sorry-$d/index.html"
    in_ns "$d" busybox httpd -f -p 80 -h "/tmp/www-sorry-$d" &
    LAB_PIDS="$LAB_PIDS $!"
done
wait_http rs1 http://192.0.2.21/index.html
wait_http rs2 http://192.0.2.22/index.html
log "network: client 192.0.2.10, dir1 192.0.2.11, dir2 192.0.2.12, rs1 192.0.2.21, rs2 192.0.2.22 on bridge br-lan; VIP $VIP"

# --- the configuration, one directory per node ---
for d in dir1 dir2; do
    etc=/etc/$d/ha.d
    mkdir -p "$etc" "/var/lib/director-$d" "/run/director-$d"
    printf '%s\n' "$d" > "$etc/nodeinfo"
    cat > "$etc/ha.cf" << EOF
# Heartbeat's ha.cf: unicast heartbeats to both nodes (a node ignores its own address)
keepalive $KEEPALIVE
warntime $WARNTIME
deadtime $DEADTIME
initdead $INITDEAD
udpport 694
ucast eth0 192.0.2.11
ucast eth0 192.0.2.12
auto_failback on
node dir1
node dir2
EOF
    printf 'auth 1\n1 sha1 TestNetOnlyPairSecret\n' > "$etc/authkeys"
    chmod 600 "$etc/authkeys"
    echo "dir1 IPaddr::$VIP/24/eth0 ldirectord::www.cf" > "$etc/haresources"
    cat > "$etc/www.cf" << EOF
# ldirectord configuration in the style of the 2008 Heartbeat + ldirectord how-to
checktimeout=$CHECKTIMEOUT
checkinterval=$CHECKINTERVAL
virtual=$VIP:80
        real=192.0.2.21:80 gate
        real=192.0.2.22:80 gate
        fallback=127.0.0.1:80 gate
        service=http
        request="index.html"
        receive="Test Page"
        scheduler=rr
        protocol=tcp
        checktype=negotiate
        checkport=80
EOF
done
log "configuration (the same on both nodes but nodeinfo), /etc/dir1/ha.d:"
for f in ha.cf haresources www.cf; do
    echo "--- $f"
    grep -v '^#' "/etc/dir1/ha.d/$f"
done
echo "--- authkeys: $(ls -l /etc/dir1/ha.d/authkeys | awk '{ print $1 }')"
for d in dir1 dir2; do
    $DIRECTOR check --config-dir "/etc/$d/ha.d" > "/tmp/check-$d.txt" 2>&1 ||
        fail "director check on $d: $(cat "/tmp/check-$d.txt")"
done
log "director check accepts both configuration directories"

# --- helpers about the running pair ---
start_director() {
    "$IP" netns exec "$1" "$DIRECTOR" run --config-dir "/etc/$1/ha.d" --run-dir "/run/director-$1" \
        --state-dir "/var/lib/director-$1" --metrics off --fence exit >> "/tmp/$1.log" 2>&1 &
    if [ "$1" = dir1 ]; then D1PID=$!; else D2PID=$!; fi
}
status() { in_ns "$1" "$DIRECTOR" status --run-dir "/run/director-$1" 2>&1; }
holds_vip() { in_ns "$1" "$IP" -4 -o addr show dev eth0 2> /dev/null | grep -q " $VIP/"; }
table() { in_ns "$1" "$ORACLE" -S -n; }
daemons() { in_ns "$1" "$ORACLE" -L --daemon; }
has_real() { table "$1" | grep -qx -e "-a -t $VIP:80 -r $2:80 -g -w 1"; }
dump() {
    for d in dir1 dir2; do
        echo "--- $d: status"
        status "$d"
        echo "--- $d: table"
        table "$d"
        echo "--- $d: sync daemons"
        daemons "$d"
        echo "--- $d: log (last 25 lines)"
        tail -25 "/tmp/$d.log"
    done
}
settled() { # settled OWNER: OWNER is active with the VIP, the other standby without it
    o=$(other "$1")
    holds_vip "$1" && ! holds_vip "$o" &&
        status "$1" | grep -q '^role: active' && status "$o" | grep -q '^role: standby'
}
has_fallback() { table "$1" | grep -q -e "-r 127.0.0.1:80 "; }
fallback_only() { # fallback_only DIR: DIR's table holds the fallback and no real server
    has_real "$1" 127.0.0.1 && ! table "$1" | grep -q -e "-r 192.0.2.2"
}
both_reals() { # both_reals DIR: rs1 and rs2 in DIR's table
    has_real "$1" 192.0.2.21 && has_real "$1" 192.0.2.22
}
sync_both() { # sync_both DIR...: each DIR runs the master and the backup sync daemon on eth0
    for d in "$@"; do
        daemons "$d" | grep -q '^master sync daemon (mcast=eth0' &&
            daemons "$d" | grep -q '^backup sync daemon (mcast=eth0' || return 1
    done
}
# requests N PATTERN: N requests from the client to the VIP, each must be answered and
# match PATTERN; prints each answer and a count per real server.
requests() {
    n1=0 n2=0 i=0
    while [ $i -lt "$1" ]; do
        i=$((i + 1))
        body=$(http_get client "http://$VIP/index.html") || fail "request $i to $VIP was not answered"
        # shellcheck disable=SC2254 # PATTERN is a pattern
        case $body in
            $2) ;;
            *) fail "request $i: '$body' does not match '$2'" ;;
        esac
        echo "client: GET http://$VIP/index.html -> $body"
        case $body in
            *rs1) n1=$((n1 + 1)) ;;
            *rs2) n2=$((n2 + 1)) ;;
        esac
    done
    echo "answered: $i of $1 (rs1 $n1, rs2 $n2)"
}

# --- start the pair ---
t_start=$(now_cs)
start_director dir1
start_director dir2
took=$(wait_until "settled dir1" 30) || exit 1
log "dir1 is active and holds the VIP, dir2 is standby, $(ms "$took") after start"
took=$(wait_until "both_reals dir1 && both_reals dir2" 20) || exit 1
log "warm standby: both directors' IPVS tables hold $VIP:80 with rs1 and rs2"
for d in dir1 dir2; do
    echo "--- $d: director ipvsadm -Ln"
    in_ns "$d" "$DIRECTOR" ipvsadm -Ln || fail "director ipvsadm -Ln on $d"
done
echo "--- dir1: director status"
status dir1 | tee /tmp/status1.txt
grep -q '^role: active' /tmp/status1.txt || fail "dir1 status is not active"
grep -q '^peer dir2: up' /tmp/status1.txt || fail "dir1 status does not show the peer up"
log "director status on dir1: active, peer dir2 up"
echo "--- dir2: director status"
status dir2
wait_until "sync_both dir1 dir2" 10 > /dev/null
for d in dir1 dir2; do echo "$d: $(daemons "$d" | tr '\n' ' ')"; done
log "sync daemons: master and backup on both directors"

out=$(requests "$REQUESTS" "Test Page from rs[12]") || { echo "$out"; exit 1; }
echo "$out"
case $out in *"rs1 0,"* | *"rs2 0)"*) fail "both reals must answer: $out" ;; esac
log "the client is answered through the VIP by both real servers"

# --- dir1 dies ---
# Probes from the client every 0.2 s, each bounded to 2 s, log "start end ok|fail".
probe_loop() { # probe_loop FILE COUNT
    : > "$1"
    j=0
    while [ $j -lt "$2" ]; do
        j=$((j + 1))
        (
            s=$(now_cs)
            if http_get client "http://$VIP/index.html" > /dev/null 2>&1; then r=ok; else r=fail; fi
            echo "$s $(now_cs) $r" >> "$1"
        ) &
        sleep 0.2
    done
    wait
}
log "dir1 dies: kill -9 its director, its eth0 down and its VIP gone (a machine that stopped; times below count from the link going down)"
probe_loop /tmp/probes-failover.txt 40 &
PROBES=$!
sleep 1
kill -9 "$D1PID"
wait "$D1PID" 2> /dev/null
D1PID=""
# The kernel's IPVS keeps forwarding without the daemon: the machine is dead once its link is.
in_ns dir1 "$IP" link set eth0 down
t_kill=$(now_cs)
in_ns dir1 "$IP" addr del "$VIP/24" dev eth0 2> /dev/null
wait_until "holds_vip dir2" 10 > /dev/null
took_vip=$(($(now_cs) - t_kill))
echo "dir2 holds the VIP $(ms "$took_vip") after the kill"
wait_until "status dir2 | grep -q '^role: active'" 10 > /dev/null
echo "dir2 reports role active $(ms $(($(now_cs) - t_kill))) after the kill"
wait "$PROBES"
# The gap: from the kill to the first answer to a request sent after it.
first_ok=$(awk -v k="$t_kill" '$3 == "ok" && $1 >= k { print $2 }' /tmp/probes-failover.txt | sort -n | head -1)
[ -n "$first_ok" ] || { cat /tmp/probes-failover.txt; dump; fail "the client was never answered after the kill"; }
gap=$((first_ok - t_kill))
worst=$(awk '{ d = $2 - $1; if (d > m) m = d } END { print m + 0 }' /tmp/probes-failover.txt)
echo "client probes every 200 ms (sent -> answered, relative to the kill):"
sort -n /tmp/probes-failover.txt | awk -v k="$t_kill" '$1 >= k - 40 && $1 <= k + 160 {
    printf "  sent %+5d ms -> %s %+5d ms (%d ms)\n", ($1 - k) * 10, ($3 == "ok" ? "answered" : "FAILED  "), ($2 - k) * 10, ($2 - $1) * 10 }'
echo "$(grep -c ok /tmp/probes-failover.txt) probes answered, $(grep -c fail /tmp/probes-failover.txt) unanswered; the slowest took $(ms "$worst")"
ESC=$(printf '\033')
grep -E "is dead|Taking over|ldirectord::www.cf|takeover complete" /tmp/dir2.log | sed "s/${ESC}\[[0-9;]*m//g" | tail -5
log "failover: dir2 took the VIP $(ms "$took_vip") after the kill, the client was answered again after $(ms "$gap") (deadtime $DEADTIME); requests sent meanwhile waited for a TCP retransmission (slowest $(ms "$worst"))"
[ "$gap" -le "$GAP_LIMIT_CS" ] || fail "the client waited longer than $(ms "$GAP_LIMIT_CS")"
sync_both dir2 || fail "dir2 lost a sync daemon"
echo "dir2: $(daemons dir2 | tr '\n' ' ')"
log "sync daemons: nothing to move, dir2 still runs both"
out=$(requests 4 "Test Page from rs[12]") || { echo "$out"; exit 1; }
echo "$out"
echo "--- dir2: director status"
status dir2

# Idle long-lived connections through dir2: they send their request only after the failback
# (each waits on a FIFO, without polling). dir1 never saw a packet of them; dir2 hands its
# whole table over as it gives the group back, so dir1 must forward them to the same real
# servers.
IDLE=5
idle_open() {
    mkfifo "/tmp/idle-go-$1"
    (
        read -r _ < "/tmp/idle-go-$1"
        printf 'GET /index.html HTTP/1.0\r\n\r\n'
        sleep 3
    ) | in_ns client busybox nc -w 10 "$VIP" 80 > "/tmp/idle-$1.out" 2>&1 &
}
j=0
while [ $j -lt $IDLE ]; do j=$((j + 1)); idle_open "$j"; done
wait_until "[ \$(in_ns dir2 $ORACLE -Lnc | grep -c ESTABLISHED) -ge $IDLE ]" 10 > /dev/null
log "$IDLE idle connections open through dir2 (they send nothing until after the failback)"

# --- dir1 returns ---
log "dir1 returns: eth0 up, director run again"
probe_loop /tmp/probes-failback.txt 30 &
PROBES=$!
in_ns dir1 "$IP" link set eth0 up
start_director dir1
took=$(wait_until "settled dir1" 30) || exit 1
wait "$PROBES"
worst=$(awk '{ d = $2 - $1; if (d > m) m = d } END { print m + 0 }' /tmp/probes-failback.txt)
echo "client probes during the failback: $(grep -c ok /tmp/probes-failback.txt) answered, $(grep -c fail /tmp/probes-failback.txt) unanswered; the slowest took $(ms "$worst")"
log "failback (auto_failback on): dir1 active with the VIP again $(ms "$took") after it returned"
grep -h "handed .* connections over" /tmp/dir2.log | sed "s/${ESC}\[[0-9;]*m//g" | tail -1
j=0
while [ $j -lt $IDLE ]; do j=$((j + 1)); echo go > "/tmp/idle-go-$j"; done
sleep 4
ok=0
j=0
while [ $j -lt $IDLE ]; do
    j=$((j + 1))
    if grep -q "Test Page from rs" "/tmp/idle-$j.out"; then ok=$((ok + 1)); else echo "idle connection $j: $(head -c 200 "/tmp/idle-$j.out")"; fi
done
log "idle connections opened through dir2 and used after the failback: $ok of $IDLE answered"
[ "$ok" -eq "$IDLE" ] || { dump; fail "the failback broke $((IDLE - ok)) idle connections"; }
wait_until "sync_both dir1 dir2" 10 > /dev/null
for d in dir1 dir2; do echo "$d: $(daemons "$d" | tr '\n' ' ')"; done
grep -E "handed .* connections over|caught up with|catch_up_timeout" /tmp/dir1.log /tmp/dir2.log | sed "s/${ESC}\[[0-9;]*m//g" | tail -4
grep -q "caught up with the" /tmp/dir1.log || fail "dir1 took the group back without the catch-up"
log "failback after the catch-up: dir1's kernel held every connection dir2 handed over"
wait_until "both_reals dir1 && both_reals dir2" 20 > /dev/null
out=$(requests 4 "Test Page from rs[12]") || { echo "$out"; exit 1; }
echo "$out"

# --- a real server stops ---
log "rs2's web server stops"
stop_rs rs2
took=$(wait_until "! table dir1 | grep -q 192.0.2.22 && ! table dir2 | grep -q 192.0.2.22" 15) || exit 1
log "rs2 left both directors' tables after $(ms "$took") (checkinterval ${CHECKINTERVAL}s, checktimeout ${CHECKTIMEOUT}s)"
[ "$took" -le $(((CHECKINTERVAL + CHECKTIMEOUT) * 100 + 150)) ] || fail "rs2 took too long to leave"
out=$(requests 4 "Test Page from rs1") || { echo "$out"; exit 1; }
echo "$out"

# --- every real server down: the fallback answers ---
log "rs1's web server stops too: every real server is down"
stop_rs rs1
took=$(wait_until "fallback_only dir1 && fallback_only dir2" 15) || exit 1
log "both tables hold only the fallback 127.0.0.1:80, $(ms "$took") after rs1 stopped"
echo "--- dir1: director ipvsadm -Ln"
in_ns dir1 "$DIRECTOR" ipvsadm -Ln || fail "director ipvsadm -Ln on dir1"
out=$(requests 4 "Sorry, dir1's fallback") || { echo "$out"; exit 1; }
echo "$out"
log "the client is answered by the active director's fallback web server"
grep -hE "fallback|Added real server" /tmp/dir1.log | sed "s/${ESC}\[[0-9;]*m//g" | tail -4

log "rs1 and rs2 start again"
start_rs rs1
start_rs rs2
took=$(wait_until "both_reals dir1 && both_reals dir2 && ! has_fallback dir1 && ! has_fallback dir2" 15) || exit 1
log "rs1 and rs2 back in both tables and the fallback gone after $(ms "$took")"

# --- the end state ---
out=$(requests "$REQUESTS" "Test Page from rs[12]") || { echo "$out"; exit 1; }
echo "$out"
for d in dir1 dir2; do
    echo "--- $d: director ipvsadm -Ln --stats"
    in_ns "$d" "$DIRECTOR" ipvsadm -Ln --stats || fail "director ipvsadm -Ln --stats on $d"
done
echo "--- dir1: director status"
status dir1
log "whole pair demonstrated in $(ms $(($(now_cs) - t_start)))"
echo "PASS"
