# ha.cf's `watchdog /dev/watchdog` against a real kernel watchdog: the softdog module with
# soft_noboot=1 (when it fires it logs "softdog: Triggered - Reboot ignored" instead of
# resetting the VM) and its default margin of 60 s.
#
# One node, dir1, running `director run` alone (its peer never comes; initdead 1 s), with
# keepalive 100ms and deadtime 1: director sets the device's timeout to Heartbeat's
# ceil(deadtime + 10 ms) = 2 s with WDIOC_SETTIMEOUT and writes to it at every heartbeat.
#
# Proves: the timeout ioctl took (sysfs says 2, not softdog's 60); a clean stop writes the
# magic 'V' and the watchdog never fires; a node killed with SIGKILL (no magic close) is
# fired on by the kernel within a few seconds, far sooner than softdog's own 60 s.
. /lab/lib.sh
DIRECTOR=/usr/sbin/director
DPID=""
trap '[ -n "$DPID" ] && kill -9 "$DPID" 2> /dev/null; lab_cleanup' EXIT

modprobe softdog soft_noboot=1 || fail "modprobe softdog"
[ -c /dev/watchdog ] || fail "no /dev/watchdog after modprobe softdog"
SYSFS=/sys/class/watchdog/watchdog0
log "softdog loaded: timeout $(cat $SYSFS/timeout) s before director opens it"

lab_ns dir1
lab_bridge br-lan
lab_link dir1 eth0 br-lan 192.0.2.11/24

etc=/etc/dir1/ha.d
mkdir -p "$etc" /var/lib/director-dir1 /run/director-dir1
echo dir1 > "$etc/nodeinfo"
cat > "$etc/ha.cf" << EOF
keepalive 100ms
warntime 500ms
deadtime 1
initdead 1
ucast eth0 192.0.2.12
watchdog /dev/watchdog
node dir1
node dir2
EOF
printf 'auth 1\n1 sha1 TestNetOnlyWatchdogSecret\n' > "$etc/authkeys"
chmod 600 "$etc/authkeys"
echo "dir1 IPaddr::192.0.2.100/24/eth0" > "$etc/haresources"

triggers() { dmesg | grep -c "softdog: Triggered" || true; }

# start_node LOG: director run in dir1, in the background ($DPID), until the watchdog is armed.
start_node() {
    "$IP" netns exec dir1 "$DIRECTOR" run --config-dir "$etc" --run-dir /run/director-dir1 \
        --state-dir /var/lib/director-dir1 --metrics off --fence exit > "$1" 2>&1 &
    DPID=$!
    i=0
    until grep -q "watchdog /dev/watchdog armed" "$1"; do
        i=$((i + 1))
        [ $i -le 200 ] || fail "the watchdog was never armed: $(cat "$1")"
        kill -0 "$DPID" 2> /dev/null || fail "director exited: $(cat "$1")"
        sleep 0.1
    done
}

# --- 1: armed with Heartbeat's timeout, fed, disarmed by a clean stop
start_node /tmp/dir1-a.log
grep "watchdog /dev/watchdog armed" /tmp/dir1-a.log
[ "$(cat $SYSFS/timeout)" = 2 ] || fail "timeout is $(cat $SYSFS/timeout) s, not 2"
log "armed: the kernel's timeout is now 2 s (ceil(deadtime 1 s + 10 ms))"
# Three timeouts' worth of running: the heartbeats keep it fed.
sleep 6
[ "$(triggers)" = 0 ] || fail "the watchdog fired while the node ran: $(dmesg | tail -5)"
[ "$(cat $SYSFS/state)" = active ] || fail "watchdog state $(cat $SYSFS/state) while running"
log "fed for 6 s (3 timeouts) by the running node: never fired"
kill "$DPID"
wait "$DPID" 2> /dev/null
DPID=""
sleep 5
[ "$(triggers)" = 0 ] || fail "the watchdog fired after a clean stop: $(dmesg | tail -5)"
[ "$(cat $SYSFS/state)" = inactive ] || fail "watchdog state $(cat $SYSFS/state) after a clean stop"
log "clean stop: disarmed (state inactive), no trigger 5 s later"

# --- 2: a node that dies without closing it is reset by the kernel
start_node /tmp/dir1-b.log
t0=$(now_cs)
kill -9 "$DPID"
wait "$DPID" 2> /dev/null
DPID=""
i=0
until [ "$(triggers)" -ge 1 ]; do
    i=$((i + 1))
    [ $i -le 300 ] || fail "no trigger 30 s after SIGKILL"
    sleep 0.1
done
t=$(($(now_cs) - t0))
dmesg | grep "softdog: Triggered"
[ "$t" -le 1000 ] || fail "fired only after $t cs: the 2 s timeout did not take"
log "SIGKILL: the kernel watchdog fired after $((t * 10)) ms (timeout 2 s; softdog's own is 60 s)"
echo PASS
