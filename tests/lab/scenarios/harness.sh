# The lab VM itself: IPVS and every scheduler loaded, the real tools work,
# namespaces and veths work, the director binary is in place and runs.
. /lab/lib.sh

[ -r /proc/net/ip_vs ] || fail "/proc/net/ip_vs is missing: ip_vs not loaded"
for s in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh; do
    grep -q "^ip_vs_$s " /proc/modules || fail "scheduler ip_vs_$s not loaded"
done
for m in veth bridge ipip dummy nf_conntrack; do
    grep -q "^$m " /proc/modules || fail "module $m not loaded"
done
log "modules loaded"

$ORACLE -A -t 192.0.2.100:80 -s wlc || fail "ipvsadm -A"
$ORACLE -a -t 192.0.2.100:80 -r 192.0.2.11:80 -g -w 3 || fail "ipvsadm -a"
$ORACLE -A -u 192.0.2.100:53 -s mh -p 60 || fail "ipvsadm -A udp mh"
$ORACLE -Ln > /tmp/list || fail "ipvsadm -Ln"
cat /tmp/list
grep -q '^TCP  192.0.2.100:80 wlc' /tmp/list || fail "TCP service not listed"
grep -q '192.0.2.11:80 *Route *3' /tmp/list || fail "real server not listed"
grep -q '^UDP  192.0.2.100:53 mh persistent 60' /tmp/list || fail "UDP service not listed"
$ORACLE -C || fail "ipvsadm -C"
log "real ipvsadm programs the kernel"

lab_ns one
in_ns one "$ORACLE" -A -t 192.0.2.1:80 || fail "ipvsadm in a namespace"
[ "$($ORACLE -Sn | wc -l)" = 0 ] || fail "a namespace's table leaked into the root namespace"
lab_cleanup
log "IPVS is per namespace"

if [ "$EXPECT_DIRECTOR" = yes ]; then
    [ -x /usr/sbin/director ] || fail "/usr/sbin/director missing"
    [ "$(readlink /usr/local/sbin/ipvsadm)" = /usr/sbin/director ] || fail "ipvsadm symlink"
    [ "$(readlink /usr/local/sbin/ldirectord)" = /usr/sbin/director ] || fail "ldirectord symlink"
    # 126/127: not executable or a library is missing; anything else ran.
    /usr/sbin/director --help > /tmp/director.out 2>&1
    rc=$?
    [ $rc -ne 126 ] && [ $rc -ne 127 ] || fail "director does not run: $(cat /tmp/director.out)"
    log "director binary runs (exit $rc)"
fi
echo PASS
