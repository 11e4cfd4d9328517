# The catch-up on the real kernel: the active director sends its whole connection table to
# the other director's backup sync daemon in the kernel's own sync format
# (director/examples/ipvs_sync_push, director::ipvs::sync), and the connections then survive
# the VIP moving over, although not one packet of them passed the active node since the other
# came up (the kernel's daemons alone would not have synced them).
#
#   client 192.0.2.10 --+
#   dir1   192.0.2.11 --+-- br0      VIP 192.0.2.100, DR to rs1
#   dir2   192.0.2.12 --+            backup sync daemon on eth0; no master anywhere
#   rs1    192.0.2.21 --+
#
# 10 client connections open through dir1 and stay idle; the table is pushed; then 5
# control connections open (never pushed). The VIP moves to dir2; every connection then
# sends its request. The pushed ones must be answered by rs1 through dir2; the control
# ones must not be (dir2 knows nothing of them: the test could fail).
# Needs --add of the example binary and --env PUSH=<its path>.
. /lab/lib.sh
trap 'lab_cleanup' EXIT

[ -x "${PUSH:-}" ] || fail "no ipvs_sync_push binary (--add it and set PUSH)"
VIP=192.0.2.100
N=10
CONTROL=5
lab_ns client dir1 dir2 rs1
lab_bridge br0
lab_link client eth0 br0 192.0.2.10/24
lab_link dir1 eth0 br0 192.0.2.11/24
lab_link dir2 eth0 br0 192.0.2.12/24
lab_link rs1 eth0 br0 192.0.2.21/24
in_ns rs1 "$IP" addr add "$VIP/32" dev lo || fail "VIP on rs1 lo"
sysctl_ns rs1 net.ipv4.conf.all.arp_ignore 1
sysctl_ns rs1 net.ipv4.conf.all.arp_announce 2
mkdir -p /tmp/www
echo "Test Page from rs1" > /tmp/www/index.html
in_ns rs1 busybox httpd -f -p 80 -h /tmp/www &
LAB_PIDS="$LAB_PIDS $!"
for d in dir1 dir2; do
    in_ns "$d" "$ORACLE" -A -t "$VIP:80" -s rr || fail "service on $d"
    in_ns "$d" "$ORACLE" -a -t "$VIP:80" -r 192.0.2.21:80 -g || fail "real on $d"
done
in_ns dir2 "$ORACLE" --start-daemon backup --mcast-interface eth0 || fail "backup daemon on dir2"
in_ns dir1 "$IP" addr add "$VIP/24" dev eth0 || fail "VIP on dir1"
wait_http rs1 http://192.0.2.21/index.html

# open NAME: a connection through the VIP that sends its request once /tmp/go exists.
open() {
    (
        i=0
        while [ ! -e /tmp/go ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
        printf 'GET /index.html HTTP/1.0\r\n\r\n'
        sleep 3
    ) | in_ns client busybox nc -w 5 "$VIP" 80 > "/tmp/conn-$1.out" 2>&1 &
}
established() { in_ns "$1" "$ORACLE" -Lnc | grep -c ESTABLISHED; }
wait_count() { # wait_count NS N: until NS holds N established connections (10 s)
    i=0
    while [ "$(established "$1")" -lt "$2" ]; do
        i=$((i + 1))
        [ $i -gt 100 ] && { in_ns "$1" "$ORACLE" -Lnc; fail "$1 holds $(established "$1") established connections, not $2"; }
        sleep 0.1
    done
}

rm -f /tmp/go
j=0
while [ $j -lt $N ]; do j=$((j + 1)); open "p$j"; done
wait_count dir1 $N
log "$N idle connections through dir1; dir2 holds $(established dir2) (no sync master runs)"
[ "$(established dir2)" -eq 0 ] || fail "dir2 already holds connections"


in_ns dir1 "$PUSH" eth0 || fail "ipvs_sync_push"
wait_count dir2 $N

log "dir2's kernel took the $N connections (checked every 100 ms)"
echo "--- dir1: ipvsadm -Lnc"
in_ns dir1 "$ORACLE" -Lnc
echo "--- dir2: ipvsadm -Lnc"
in_ns dir2 "$ORACLE" -Lnc
# The same client ports, to the same real server, on both.
in_ns dir1 "$ORACLE" -Lnc | awk '$3 == "ESTABLISHED" { print $4, $6 }' | sort > /tmp/dir1.conns
in_ns dir2 "$ORACLE" -Lnc | awk '$3 == "ESTABLISHED" { print $4, $6 }' | sort > /tmp/dir2.conns
cmp -s /tmp/dir1.conns /tmp/dir2.conns || { diff /tmp/dir1.conns /tmp/dir2.conns; fail "the tables differ"; }
log "both tables hold the same connections (client:port -> real server)"

j=0
while [ $j -lt $CONTROL ]; do j=$((j + 1)); open "c$j"; done
wait_count dir1 $((N + CONTROL))
log "$CONTROL control connections opened after the push"

log "the VIP moves to dir2"
in_ns dir1 "$IP" addr del "$VIP/24" dev eth0 || fail "VIP off dir1"
in_ns dir2 "$IP" addr add "$VIP/24" dev eth0 || fail "VIP on dir2"
in_ns client "$IP" neigh flush dev eth0
touch /tmp/go
sleep 5
ok=0 bad=0
j=0
while [ $j -lt $N ]; do
    j=$((j + 1))
    if grep -q "Test Page from rs1" "/tmp/conn-p$j.out"; then ok=$((ok + 1)); else bad=$((bad + 1)); echo "pushed p$j: $(head -c 200 "/tmp/conn-p$j.out")"; fi
done
cok=0
j=0
while [ $j -lt $CONTROL ]; do
    j=$((j + 1))
    grep -q "Test Page from rs1" "/tmp/conn-c$j.out" && cok=$((cok + 1))
done
log "after the move: pushed connections answered $ok of $N; control connections answered $cok of $CONTROL"
[ "$ok" -eq "$N" ] || fail "$bad pushed connections were broken"
[ "$cok" -eq 0 ] || fail "control connections survived without a push: the test proves nothing"
echo PASS
