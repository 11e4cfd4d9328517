# director as ldirectord, on the seed's www.cf, against the real kernel:
#
#   client 192.0.2.10 --+-- br-front --+-- director 192.0.2.2 (VIP 192.0.2.132)
#                                      +-- rs1 192.0.2.250, rs2 192.0.2.251 (DR: VIP on lo)
#
# www.cf is configs/www.cf (its addresses are already the lab's) with a second real server
# and short check timings. The real servers run busybox httpd answering "Test Page";
# the fallback 127.0.0.1:80 is an httpd on the director answering "Sorry".
#
# Proves: `director check --print-ipvs` equals what the daemon programs once every real is
# up; a stopped real leaves within checkinterval + checktimeout; all stopped -> the fallback
# serves the client; one back -> the fallback leaves; reload with a changed file moves only
# the changed real and no client request fails; reload with a broken file keeps the table;
# SIGTERM purges (cleanstop); the `ldirectord` command line starts, reports, reloads and
# stops the same daemon with its pid file; the traffic a client sends through the VIP shows
# in the daemon's /metrics (the counters grow by at least what was sent, and equal the
# kernel's own figures in `ipvsadm -Ln --stats --exact`); `director real drain` (issue 14,
# item 1): the drained real server keeps its established connection (answered after the
# drain), gets no new one, and leaves the table once its connections have ended; a reload
# keeps it out, `director real enable` brings it back at its weight.
. /lab/lib.sh
trap 'stop_all; lab_cleanup' EXIT

VIP=192.0.2.132
CHECKINTERVAL=2
CHECKTIMEOUT=2
DIRECTOR=/usr/sbin/director
DPID=""
RS1PID="" RS2PID=""


stop_all() {
    [ -n "$DPID" ] && kill "$DPID" 2> /dev/null
    for p in $RS1PID $RS2PID; do kill "$p" 2> /dev/null; done
    in_ns director /usr/local/sbin/ldirectord www.cf stop > /dev/null 2>&1
    sleep 1
}

lab_ns client director rs1 rs2
lab_bridge br-front
lab_link client eth0 br-front 192.0.2.10/24
lab_link director eth0 br-front 192.0.2.2/24
in_ns director "$IP" addr add "$VIP/24" dev eth0 || fail "VIP on director"
sysctl_ns director net.ipv4.ip_forward 1
lab_link rs1 eth0 br-front 192.0.2.250/24
lab_link rs2 eth0 br-front 192.0.2.251/24
for rs in rs1 rs2; do
    in_ns "$rs" "$IP" addr add "$VIP/32" dev lo || fail "VIP on $rs lo"
    sysctl_ns "$rs" net.ipv4.conf.all.arp_ignore 1
    sysctl_ns "$rs" net.ipv4.conf.all.arp_announce 2
    mkdir -p "/tmp/www-$rs"
    echo "Test Page $rs" > "/tmp/www-$rs/index.php"
done
mkdir -p /tmp/www-sorry
echo "Sorry" > /tmp/www-sorry/index.php
in_ns director busybox httpd -f -p 80 -h /tmp/www-sorry &
LAB_PIDS="$LAB_PIDS $!"

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
start_rs rs1
start_rs rs2
wait_http rs1 http://192.0.2.250/index.php
wait_http rs2 http://192.0.2.251/index.php

mkdir -p /etc/ha.d /var/log /var/run /run
write_cf() { # write_cf RS2_WEIGHT [EXTRA_LINE]
    cat > /etc/ha.d/www.cf << EOF
# ldirectord configuration from the 2008 Heartbeat + ldirectord how-to ("Ldirectord.cf saved
# as www.cf"), with TEST-NET addresses: VIP 192.0.2.132, real server 192.0.2.250.
checkinterval=$CHECKINTERVAL
checktimeout=$CHECKTIMEOUT
virtual=192.0.2.132:80 #vip
        real=192.0.2.250:80 gate #R机
        real=192.0.2.251:80 gate $1
        fallback=127.0.0.1:80 gate
        service=http
        request="index.php"
        receive="Test Page"
        #virtualhost=some.domain.com.au
        scheduler=rr
        #persistent=600
        #netmask=255.255.255.255
        protocol=tcp
        checktype=negotiate
        checkport=80
$2
EOF
}
write_cf 1

log "director check"
$DIRECTOR check --config-dir /etc/ha.d www.cf || fail "check www.cf"
$DIRECTOR check --config-dir /etc/ha.d --print-ipvs www.cf > /tmp/expected.txt || fail "check --print-ipvs"
cat /tmp/expected.txt

# table_has SPEC: the oracle's `-S -n` contains the line (grep -x).
table() { in_ns director "$ORACLE" -S -n; }
# has TEXT / has_line LINE: about the table last read by wait_table.
has() { grep -q -e "$1" /tmp/t.txt; }
has_line() { grep -qx -e "$1" /tmp/t.txt; }
# wait_table COND SECS: poll (5 per second) until COND (evaluated, using has/has_line on the
# table just read) holds; print the time taken in centiseconds.
wait_table() {
    t0=$(now_cs)
    i=0
    while [ $i -lt $(($2 * 5)) ]; do
        table > /tmp/t.txt
        if eval "$1"; then
            echo $(($(now_cs) - t0))
            return 0
        fi
        i=$((i + 1))
        sleep 0.2
    done
    table >&2
    echo "--- director log" >&2
    tail -30 /tmp/director.log >&2
    fail "table never matched: $1" >&2
}
# requests N WANT_PATTERN: N client requests, every one must answer and match.
requests() {
    seen=""
    i=0
    while [ $i -lt "$1" ]; do
        i=$((i + 1))
        body=$(http_get client "http://$VIP/index.php") || fail "request $i to $VIP failed"
        case $body in
            $2) ;;
            *) fail "request $i: '$body' does not match '$2'" ;;
        esac
        seen="$seen|$body"
    done
    echo "$seen"
}

# A closed connection of a DR service (the director sees the client's packets only) stays in
# FIN_WAIT for ipvsadm's tcpfin timeout: 5 s instead of 120, so that a drained real server's
# inactive connections end within the drain phase.
in_ns director "$ORACLE" --set 0 5 0 || fail "ipvsadm --set"

log "director run"
"$IP" netns exec director "$DIRECTOR" run --config-dir /etc/ha.d --ldirectord www.cf --run-dir /run/director \
    --metrics 127.0.0.1:9494 > /tmp/director.log 2>&1 &
DPID=$!
wait_table "has_line '-a -t 192.0.2.132:80 -r 192.0.2.250:80 -g -w 1' && has_line '-a -t 192.0.2.132:80 -r 192.0.2.251:80 -g -w 1'" 20 > /dev/null
table > /tmp/programmed.txt
cat /tmp/programmed.txt
cmp /tmp/expected.txt /tmp/programmed.txt || fail "check --print-ipvs differs from the programmed table"
log "print-ipvs equals the programmed table"
seen=$(requests 6 "Test Page rs[12]") || fail "requests: $seen"
case $seen in *rs1*) ;; *) fail "rs1 never answered: $seen" ;; esac
case $seen in *rs2*) ;; *) fail "rs2 never answered: $seen" ;; esac
log "both real servers answer"

# scrape: the daemon's /metrics into /tmp/m.txt. sample SERIES: one value of it ("missing").
scrape() {
    in_ns director busybox timeout 5 busybox wget -q -O /tmp/m.txt http://127.0.0.1:9494/metrics ||
        fail "scrape of /metrics"
}
sample() { awk -v want="$1" '$1 == want { print $2; found = 1 } END { if (!found) print "missing" }' /tmp/m.txt; }
VS='virtual_service="tcp:192.0.2.132:80"'
R1="$VS,real=\"192.0.2.250:80\""
R2="$VS,real=\"192.0.2.251:80\""
# The kernel folds its per-CPU counters into what it reports every 2 s: let the requests
# above be counted before the first reading.
sleep 3
scrape
conns0=$(sample "director_virtual_connections_total{$VS}")
pkts0=$(sample "director_virtual_incoming_packets_total{$VS}")
bytes0=$(sample "director_virtual_incoming_bytes_total{$VS}")
r1c0=$(sample "director_real_connections_total{$R1}")
r2c0=$(sample "director_real_connections_total{$R2}")
echo "before: connections $conns0, packets in $pkts0, bytes in $bytes0 (rs1 $r1c0, rs2 $r2c0)"
case "$conns0$pkts0$bytes0$r1c0$r2c0" in *missing*) cat /tmp/m.txt; fail "no traffic in /metrics" ;; esac
SENT=10
requests $SENT "Test Page rs[12]" > /dev/null || fail "requests for the metrics"
# what wait_until shows when the counters do not grow
dump() {
    grep -E "^director_(virtual|real)_connections_total" /tmp/m.txt
    in_ns director "$ORACLE" -Ln --stats --exact
    tail -20 /tmp/director.log
}
took=$(wait_until 'scrape; [ "$(sample "director_virtual_connections_total{$VS}")" -ge $((conns0 + SENT)) ]' 15) ||
    fail "the connections in /metrics did not grow by $SENT: $took"
unset -f dump
echo "counted in /metrics after ${took}0 ms"
# Nothing flows now: the kernel's figures are read right after the scrape and must be the same.
in_ns director "$ORACLE" -Ln --stats --exact
conns=$(($(sample "director_virtual_connections_total{$VS}") - conns0))
pkts=$(($(sample "director_virtual_incoming_packets_total{$VS}") - pkts0))
bytes=$(($(sample "director_virtual_incoming_bytes_total{$VS}") - bytes0))
r1c=$(($(sample "director_real_connections_total{$R1}") - r1c0))
r2c=$(($(sample "director_real_connections_total{$R2}") - r2c0))
echo "metrics: $SENT requests sent; connections +$conns (rs1 +$r1c, rs2 +$r2c), packets in +$pkts, bytes in +$bytes"
[ "$conns" -ge "$SENT" ] || fail "connections grew by $conns, the client made $SENT"
[ $((r1c + r2c)) -ge "$SENT" ] && [ "$r1c" -gt 0 ] && [ "$r2c" -gt 0 ] ||
    fail "real servers' connections grew by $r1c and $r2c for $SENT requests (rr)"
# each connection: at least a SYN, the request and a FIN from the client, each at least an IPv4
# and a TCP header (40 bytes), the request at least "GET /index.php HTTP/1.1\r\n" (25 bytes)
[ "$pkts" -ge $((3 * SENT)) ] || fail "packets in grew by $pkts for $SENT connections"
[ "$bytes" -ge $((40 * pkts + 25 * SENT)) ] || fail "bytes in grew by $bytes for $pkts packets"
for col in 3:connections 4:incoming_packets 5:outgoing_packets 6:incoming_bytes 7:outgoing_bytes; do
    n=${col%%:*} name=${col#*:}
    got=$(sample "director_virtual_${name}_total{$VS}")
    want=$(stats_field director 192.0.2.132:80 "$n")
    [ "$got" = "$want" ] || fail "director_virtual_${name}_total is $got, ipvsadm says $want"
    for rs in 192.0.2.250 192.0.2.251; do
        got=$(sample "director_real_${name}_total{$VS,real=\"$rs:80\"}")
        want=$(stats_field director 192.0.2.132:80 "$rs:80" "$n")
        [ "$got" = "$want" ] || fail "director_real_${name}_total of $rs is $got, ipvsadm says $want"
    done
done
for series in "director_real_up{$R1} 1" "director_real_up{$R2} 1" "director_real_weight{$R1} 1"; do
    grep -qxF "$series" /tmp/m.txt || fail "no '$series' in /metrics"
done
grep -E "^director_real_connections_(active|inactive)\{$VS" /tmp/m.txt || fail "no connection gauges"
log "the client's traffic is in /metrics and equals the kernel's counters"

# director top --once (two readings 4 s apart) while a client sends requests: the rates move.
(requests 40 "Test Page rs[12]" > /dev/null 2>&1) &
LOAD=$!
sleep 1
in_ns director "$DIRECTOR" top --once --run-dir /run/director > /tmp/top.txt || fail "director top --once"
wait "$LOAD"
echo "--- director top"
cat /tmp/top.txt
echo "--- end of director top"
# "> tcp:192.0.2.132:80  2/2 up  -  ACTIVE INACT CONNS CONN/S ...": the selected service row
rate=$(awk '$1 == ">" && $2 == "tcp:192.0.2.132:80" { print $9 }' /tmp/top.txt)
case $rate in "" | "-" | 0) fail "director top shows no connection rate under traffic ($rate)" ;; esac
grep -q "192.0.2.251:80 *up" /tmp/top.txt || fail "director top does not show rs2 up"
log "director top shows the traffic ($rate connections/s)"

log "stop rs2"
stop_rs rs2
took=$(wait_table "! has 192.0.2.251" 15)
log "rs2 left the table after ${took}0 ms (limit $(((CHECKINTERVAL + CHECKTIMEOUT) * 1000)) ms)"
[ "$took" -le $(((CHECKINTERVAL + CHECKTIMEOUT) * 100 + 50)) ] || fail "rs2 took too long to leave"
requests 4 "Test Page rs1" > /dev/null || fail "rs1 alone"
log "rs1 serves alone"

log "stop rs1"
stop_rs rs1
took=$(wait_table "has_line '-a -t 192.0.2.132:80 -r 127.0.0.1:80 -g -w 1' && ! has 192.0.2.250" 15)
log "fallback in after ${took}0 ms"
requests 3 "Sorry" > /dev/null || fail "fallback"
log "the fallback serves the client"

log "start rs1"
start_rs rs1
took=$(wait_table "has 192.0.2.250 && ! has 127.0.0.1" 15)
log "rs1 back and fallback out after ${took}0 ms"
requests 3 "Test Page rs1" > /dev/null || fail "rs1 back"
start_rs rs2
wait_table "has 192.0.2.251" 15 > /dev/null
log "rs2 back"

log "reload with a changed file (rs2 weight 3) under traffic"
table > /tmp/before.txt
lines_before=$(wc -l < /tmp/director.log)
(requests 30 "Test Page rs[12]" > /tmp/traffic.txt 2>&1; echo "rc=$?" >> /tmp/traffic.txt) &
TRAFFIC=$!
sleep 0.5
write_cf 3
in_ns director "$DIRECTOR" reload --run-dir /run/director || fail "director reload"
wait "$TRAFFIC"
cat /tmp/traffic.txt | tail -1
grep -q "rc=0" /tmp/traffic.txt || fail "a client request failed during the reload: $(cat /tmp/traffic.txt)"
table > /tmp/after.txt
diff /tmp/before.txt /tmp/after.txt
grep -qx -e '-a -t 192.0.2.132:80 -r 192.0.2.251:80 -g -w 3' /tmp/after.txt || fail "rs2 weight not 3"
grep -qx -e '-a -t 192.0.2.132:80 -r 192.0.2.250:80 -g -w 1' /tmp/after.txt || fail "rs1 changed"
tail -n +$((lines_before + 1)) /tmp/director.log
tail -n +$((lines_before + 1)) /tmp/director.log | grep -E "Deleted|Added|Purged" && fail "reload touched more than rs2"
log "reload moved only rs2, every request answered"

log "reload with a broken file"
write_cf 3 "        bogus=1"
in_ns director "$DIRECTOR" reload --run-dir /run/director && fail "a broken file was accepted"
sleep 1
table > /tmp/broken.txt
cmp /tmp/after.txt /tmp/broken.txt || fail "the table changed after a refused reload"
in_ns director "$DIRECTOR" status --run-dir /run/director
log "broken file refused, table kept"

log "drain rs2 while a client holds a connection to it"
write_cf 3
in_ns director "$DIRECTOR" reload --run-dir /run/director || fail "reload of the good file"
# hold_open N: a connection through the VIP that sends its request only on "go"
hold_open() {
    mkfifo "/tmp/hold-go-$1"
    (
        read -r _ < "/tmp/hold-go-$1"
        printf 'GET /index.php HTTP/1.0\r\n\r\n'
        sleep 2
    ) | in_ns client busybox nc -w 10 "$VIP" 80 > "/tmp/hold-$1.out" 2>&1 &
}
established_to() { in_ns director "$ORACLE" -Lnc | grep ESTABLISHED | grep -c "$1"; }
# rr: two connections in a row, one on each real server
hold_open 1
hold_open 2
wait_until "[ \$(established_to 192.0.2.251:80) -ge 1 ] && [ \$(established_to 192.0.2.250:80) -ge 1 ]" 10 > /dev/null
in_ns director "$DIRECTOR" real drain -t "$VIP:80" 192.0.2.251 --timeout 60 --run-dir /run/director ||
    fail "director real drain"
took=$(wait_table "has_line '-a -t 192.0.2.132:80 -r 192.0.2.251:80 -g -w 0'" 10)
log "rs2 at weight 0 after ${took}0 ms"
in_ns director "$ORACLE" -Ln
in_ns director "$DIRECTOR" status --run-dir /run/director | tee /tmp/status.txt
grep -q "192.0.2.251:80 .*operator: draining" /tmp/status.txt || fail "status does not say rs2 is draining"
requests 8 "Test Page rs1" > /dev/null || fail "a new connection went to the draining rs2"
# two checkintervals later it is still there for its connection
sleep $((2 * CHECKINTERVAL))
table > /tmp/t.txt
has_line '-a -t 192.0.2.132:80 -r 192.0.2.251:80 -g -w 0' || fail "rs2 left with a connection established"
[ "$(established_to 192.0.2.251:80)" -ge 1 ] || fail "the connection to rs2 is gone"
echo go > /tmp/hold-go-1
echo go > /tmp/hold-go-2
sleep 3
cat /tmp/hold-1.out /tmp/hold-2.out | grep "Test Page"
cat /tmp/hold-1.out /tmp/hold-2.out | grep -q "Test Page rs2" ||
    fail "the connection established on rs2 before the drain was not answered by rs2"
log "the drained rs2 kept its established connection and got no new one"
took=$(wait_table "! has 192.0.2.251" 30)
grep "Drained real server: 192.0.2.251:80 (192.0.2.132:80): no connection left" /tmp/director.log ||
    fail "rs2 did not leave for want of connections: $(grep Drained /tmp/director.log)"
in_ns director "$DIRECTOR" status --run-dir /run/director --json | grep -q '"operator": "drained"' ||
    fail "status --json does not say drained"
in_ns director "$DIRECTOR" reload --run-dir /run/director || fail "reload with rs2 drained"
sleep $CHECKINTERVAL
table | grep -q 192.0.2.251 && fail "a reload brought the drained rs2 back"
in_ns director "$DIRECTOR" real enable -t "$VIP:80" 192.0.2.251:80 --run-dir /run/director ||
    fail "director real enable"
wait_table "has_line '-a -t 192.0.2.132:80 -r 192.0.2.251:80 -g -w 3'" 10 > /dev/null
log "drained rs2 left the table when its connections ended (${took}0 ms), stayed out across a reload, enable brought it back"

log "SIGTERM: cleanstop"
write_cf 3
kill "$DPID"
wait "$DPID"
DPID=""
table | grep -q . && fail "table not purged at stop: $(table)"
grep -E "Purged|terminated" /tmp/director.log
log "stop purged the virtual service"

log "ldirectord command line"
in_ns director /usr/local/sbin/ldirectord www.cf status
[ $? -eq 3 ] || fail "status of a stopped ldirectord is not 3"
in_ns director /usr/local/sbin/ldirectord www.cf start || fail "ldirectord start"
[ -f /var/run/ldirectord.www.cf.pid ] || fail "no pid file"
wait_table "has 192.0.2.251" 20 > /dev/null
in_ns director /usr/local/sbin/ldirectord www.cf status || fail "status of a running ldirectord"
in_ns director /usr/local/sbin/ldirectord www.cf start || fail "second start"
in_ns director /usr/local/sbin/ldirectord www.cf reload || fail "ldirectord reload"
in_ns director /usr/local/sbin/ldirectord www.cf stop || fail "ldirectord stop"
i=0
while [ -f /var/run/ldirectord.www.cf.pid ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
[ -f /var/run/ldirectord.www.cf.pid ] && fail "pid file still there after stop"
table | grep -q . && fail "table not purged by ldirectord stop"
in_ns director /usr/local/sbin/ldirectord www.cf status
[ $? -eq 3 ] || fail "status after stop is not 3"
grep -E "Added real server|Purged" /var/log/ldirectord.log | tail -4
log "ldirectord start/status/reload/stop work"

log "execute=: a child ldirectord follows its parent"
cat > /etc/ha.d/child.cf << EOF
virtual=192.0.2.133:80
        real=192.0.2.250:80 gate
        checktype=on
        scheduler=rr
EOF
cp /etc/ha.d/www.cf /tmp/www.cf.plain
{ echo "execute=child.cf"; cat /tmp/www.cf.plain; } > /etc/ha.d/www.cf
in_ns director /usr/local/sbin/ldirectord www.cf start || fail "ldirectord start with execute="
wait_table "has 192.0.2.133" 20 > /dev/null || fail "the child did not program its virtual"
[ -f /var/run/ldirectord.child.cf.pid ] || fail "no pid file of the child"
in_ns director /usr/local/sbin/ldirectord child.cf status || fail "the child is not running"
# reload: the child is reloaded (it keeps running); then dropped from the file: stopped
in_ns director /usr/local/sbin/ldirectord www.cf reload || fail "reload with execute="
sleep 2
in_ns director /usr/local/sbin/ldirectord child.cf status || fail "the child stopped at a reload"
cp /tmp/www.cf.plain /etc/ha.d/www.cf
in_ns director /usr/local/sbin/ldirectord www.cf reload || fail "reload without execute="
i=0
while [ -f /var/run/ldirectord.child.cf.pid ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
[ -f /var/run/ldirectord.child.cf.pid ] && fail "the child dropped from the file still runs"
table | grep -q 192.0.2.133 && fail "the stopped child left its virtual"
# back in the file at a reload: started; the parent's stop stops it
{ echo "execute=child.cf"; cat /tmp/www.cf.plain; } > /etc/ha.d/www.cf
in_ns director /usr/local/sbin/ldirectord www.cf reload || fail "reload with execute= again"
wait_table "has 192.0.2.133" 20 > /dev/null || fail "the child was not started at a reload"
in_ns director /usr/local/sbin/ldirectord www.cf stop || fail "ldirectord stop with execute="
i=0
while { [ -f /var/run/ldirectord.child.cf.pid ] || [ -f /var/run/ldirectord.www.cf.pid ]; } \
    && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
[ -f /var/run/ldirectord.child.cf.pid ] && fail "the child still runs after the parent stopped"
table | grep -q . && fail "table not purged: $(table)"
cp /tmp/www.cf.plain /etc/ha.d/www.cf
log "execute= children start, reload, stop with the parent"

log "cleanstop=no leaves the table"
write_cf 3 "        cleanstop=no"
"$IP" netns exec director "$DIRECTOR" run --config-dir /etc/ha.d --ldirectord www.cf --run-dir /run/director \
    --metrics off > /tmp/director2.log 2>&1 &
DPID=$!
wait_table "has 192.0.2.251" 20 > /dev/null
table > /tmp/kept.txt
kill "$DPID"
wait "$DPID"
DPID=""
table | cmp - /tmp/kept.txt || fail "cleanstop=no changed the table at stop"
in_ns director "$ORACLE" -C
log "cleanstop=no kept the table"
echo "PASS"
