# Helpers for lab scenarios (busybox sh). vm-run copies this file to
# /lab/lib.sh in every VM; a scenario starts with `. /lab/lib.sh`.
#
# Call the real tools by full path: busybox sh runs its own applets before
# $PATH, and busybox `ip` cannot make veths or enter namespaces.
IP=/usr/sbin/ip
# The tool that programs and lists the IPVS table: the real ipvsadm (the
# oracle) unless the caller chose another, e.g. IPVSADM=/usr/local/sbin/ipvsadm
# (director called as ipvsadm) or IPVSADM="/usr/sbin/director ipvsadm".
IPVSADM=${IPVSADM:-/usr/sbin/ipvsadm}
# The oracle used to check what the kernel holds, whatever programmed it.
ORACLE=/usr/sbin/ipvsadm

LAB_NETNS=""
LAB_BRIDGES=""
LAB_LINKS=""
LAB_PIDS=""

log() { echo "== $*"; }

fail() {
    echo "FAIL: $*"
    exit 1
}

# in_ns NS CMD...: run CMD inside network namespace NS.
in_ns() {
    ns=$1
    shift
    "$IP" netns exec "$ns" "$@"
}

# sysctl_ns NS KEY VALUE: set a sysctl (dotted key) inside NS.
sysctl_ns() {
    in_ns "$1" sh -c "echo $3 > /proc/sys/$(echo "$2" | tr . /)" || fail "sysctl $2=$3 in $1"
}

# lab_ns NAME...: make network namespaces with loopback up.
lab_ns() {
    for ns in "$@"; do
        "$IP" netns add "$ns" || fail "ip netns add $ns"
        LAB_NETNS="$LAB_NETNS $ns"
        in_ns "$ns" "$IP" link set lo up || fail "lo up in $ns"
    done
}

# lab_bridge NAME: a bridge in the root namespace, the lab's switch.
lab_bridge() {
    "$IP" link add "$1" type bridge forward_delay 0 || fail "bridge $1"
    LAB_BRIDGES="$LAB_BRIDGES $1"
    "$IP" link set "$1" up || fail "bridge $1 up"
}

# lab_link NS IFNAME BRIDGE ADDR/PREFIX: a veth from BRIDGE into NS, named
# IFNAME there and addressed ADDR/PREFIX. The bridge side is NS-IFNAME.
lab_link() {
    ns=$1 ifname=$2 br=$3 addr=$4
    outer="$ns-$ifname"
    "$IP" link add "$outer" type veth peer name "tmp$$" || fail "veth $outer"
    LAB_LINKS="$LAB_LINKS $outer"
    "$IP" link set "tmp$$" netns "$ns" || fail "move veth into $ns"
    in_ns "$ns" "$IP" link set "tmp$$" name "$ifname" || fail "rename veth in $ns"
    "$IP" link set "$outer" master "$br" up || fail "attach $outer to $br"
    in_ns "$ns" "$IP" addr add "$addr" dev "$ifname" || fail "address $addr in $ns"
    in_ns "$ns" "$IP" link set "$ifname" up || fail "$ifname up in $ns"
}

# lab_httpd NS NAME: serve "served by NAME" on port 80 of every address in NS.
lab_httpd() {
    ns=$1 name=$2
    mkdir -p "/tmp/www-$name"
    echo "served by $name" > "/tmp/www-$name/index.html"
    in_ns "$ns" busybox httpd -f -p 80 -h "/tmp/www-$name" &
    LAB_PIDS="$LAB_PIDS $!"
}

# http_get NS URL: print the body of URL fetched from NS (3 s limit).
# (busybox 1.35's `wget -T` crashes: bound it with timeout instead.)
http_get() {
    in_ns "$1" busybox timeout 3 busybox wget -q -O - "$2"
}

# wait_http NS URL: wait (at most 10 s) until URL answers from NS.
wait_http() {
    i=0
    while [ $i -lt 50 ]; do
        if http_get "$1" "$2" > /dev/null 2>&1; then
            return 0
        fi
        i=$((i + 1))
        sleep 0.2
    done
    fail "$2 does not answer from $1"
}

# lab_cleanup: stop what the helpers started; remove links, namespaces, bridges.
lab_cleanup() {
    for pid in $LAB_PIDS; do
        kill "$pid" 2> /dev/null
    done
    for pid in $LAB_PIDS; do
        wait "$pid" 2> /dev/null
    done
    # Deleting a veth removes both ends at once; a namespace's interfaces
    # would otherwise vanish only later, in the background.
    for link in $LAB_LINKS; do
        "$IP" link del "$link" 2> /dev/null
    done
    for ns in $LAB_NETNS; do
        "$IP" netns del "$ns" 2> /dev/null
    done
    for br in $LAB_BRIDGES; do
        "$IP" link del "$br" 2> /dev/null
    done
    LAB_PIDS="" LAB_NETNS="" LAB_BRIDGES="" LAB_LINKS=""
}

# ipvs NS ARGS...: run the chosen IPVS tool ($IPVSADM, may hold words) in NS.
ipvs() {
    ns=$1
    shift
    # shellcheck disable=SC2086 # IPVSADM may be "director ipvsadm"
    in_ns "$ns" $IPVSADM "$@"
}

# stats_field NS VIP:PORT [RS:PORT] COLUMN: one exact counter from the oracle's
# `ipvsadm -Ln --stats --exact` in NS; COLUMN is 3 (Conns), 4 (InPkts),
# 5 (OutPkts), 6 (InBytes) or 7 (OutBytes). Prints "missing" if no such line.
stats_field() {
    ns=$1
    if [ $# -eq 4 ]; then
        in_ns "$ns" "$ORACLE" -Ln --stats --exact |
            awk -v vs="$2" -v rs="$3" -v col="$4" '
                $1 ~ /^(TCP|UDP|SCTP|FWM)$/ { cur = $2 }
                $1 == "->" && cur == vs && $2 == rs { print $col; found = 1 }
                END { if (!found) print "missing" }'
    else
        in_ns "$ns" "$ORACLE" -Ln --stats --exact |
            awk -v vs="$2" -v col="$3" '
                $2 == vs && $1 ~ /^(TCP|UDP|SCTP|FWM)$/ { print $col; found = 1 }
                END { if (!found) print "missing" }'
    fi
}

# now_cs: centiseconds since boot (the VM's clock for measured gaps).
now_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }

# wait_until COND SECS: poll (about 10 per second) until COND (evaluated) holds; prints the
# centiseconds taken; after SECS runs the scenario's `dump` (when it has one) and fails.
wait_until() {
    t0=$(now_cs)
    limit=$((t0 + $2 * 100))
    while :; do
        if eval "$1"; then
            echo $(($(now_cs) - t0))
            return 0
        fi
        [ "$(now_cs)" -ge "$limit" ] && break
        sleep 0.1
    done
    command -v dump > /dev/null 2>&1 && dump >&2
    fail "not within $2 s: $1" >&2
}

# client_phase CTL OUT ERR NAME|end: end the current phase of director/examples/conn_traffic's
# client (its idle connections speak once) by a line in its control file CTL, wait (at most
# 90 s) for the phase's counts in its stdout OUT and put them in PHASE_LINE; fails with the
# end of its stderr ERR if they do not come.
client_phase() {
    n=$(grep -c '^phase [^ ]*: broken ' "$2" 2> /dev/null)
    if [ "$4" = end ]; then echo end >> "$1"; else echo "phase $4" >> "$1"; fi
    i=0
    while [ "$(grep -c '^phase [^ ]*: broken ' "$2" 2> /dev/null)" -le "$n" ]; do
        i=$((i + 1))
        [ $i -gt 900 ] && { tail -20 "$3"; fail "the client did not end its phase within 90 s"; }
        sleep 0.1
    done
    PHASE_LINE=$(grep '^phase [^ ]*: broken ' "$2" | tail -1)
}
