# HTTP through a real IPVS virtual service, in direct-routing (gate) or NAT
# (masq) mode, with network namespaces on a bridge:
#
#   client 192.0.2.10 --+-- br-front --+-- director 192.0.2.2 (VIP 192.0.2.100)
#                       |              |
#   DR:  rs1 192.0.2.11, rs2 192.0.2.12 on br-front, VIP on their lo
#   NAT: rs1 198.51.100.11, rs2 198.51.100.12 on br-back, routed back via
#        the director's 198.51.100.1
#
# Variables: MODE=dr|nat|both (default both), IPVSADM (the tool that programs
# the table, default the real /usr/sbin/ipvsadm), REQUESTS (default 10),
# SCHEDULER (default rr).
. /lab/lib.sh

MODE=${MODE:-both}
REQUESTS=${REQUESTS:-10}
SCHEDULER=${SCHEDULER:-rr}
VIP=192.0.2.100
trap lab_cleanup EXIT

log "programming tool: $IPVSADM"

# run_mode MODE: build the topology, program the service, send traffic, check.
run_mode() {
    mode=$1
    log "mode $mode"
    lab_ns client director rs1 rs2
    lab_bridge br-front
    lab_link client eth0 br-front 192.0.2.10/24
    lab_link director eth0 br-front 192.0.2.2/24
    in_ns director "$IP" addr add "$VIP/24" dev eth0 || fail "VIP on director"
    sysctl_ns director net.ipv4.ip_forward 1

    case $mode in
        dr)
            flag=-g
            rs1=192.0.2.11 rs2=192.0.2.12
            for rs in rs1 rs2; do
                if [ "$rs" = rs1 ]; then addr=$rs1; else addr=$rs2; fi
                lab_link "$rs" eth0 br-front "$addr/24"
                # The VIP on lo, never answered for or announced on the wire.
                in_ns "$rs" "$IP" addr add "$VIP/32" dev lo || fail "VIP on $rs lo"
                sysctl_ns "$rs" net.ipv4.conf.all.arp_ignore 1
                sysctl_ns "$rs" net.ipv4.conf.all.arp_announce 2
            done
            ;;
        nat)
            flag=-m
            rs1=198.51.100.11 rs2=198.51.100.12
            lab_bridge br-back
            lab_link director eth1 br-back 198.51.100.1/24
            for rs in rs1 rs2; do
                if [ "$rs" = rs1 ]; then addr=$rs1; else addr=$rs2; fi
                lab_link "$rs" eth0 br-back "$addr/24"
                in_ns "$rs" "$IP" route add default via 198.51.100.1 || fail "default route in $rs"
            done
            ;;
        *) fail "unknown MODE $mode (dr, nat or both)" ;;
    esac

    lab_httpd rs1 rs1
    lab_httpd rs2 rs2
    # Each real server answers directly on its own address first.
    wait_http rs1 "http://$rs1/"
    wait_http rs2 "http://$rs2/"

    ipvs director -A -t "$VIP:80" -s "$SCHEDULER" || fail "$IPVSADM -A"
    ipvs director -a -t "$VIP:80" -r "$rs1:80" "$flag" -w 1 || fail "$IPVSADM -a $rs1"
    ipvs director -a -t "$VIP:80" -r "$rs2:80" "$flag" -w 1 || fail "$IPVSADM -a $rs2"
    ipvs director -Ln || fail "$IPVSADM -Ln"

    n1=0 n2=0 i=0
    while [ $i -lt "$REQUESTS" ]; do
        i=$((i + 1))
        body=$(http_get client "http://$VIP/") || fail "request $i to $VIP failed"
        echo "client: GET http://$VIP/ -> $body"
        case $body in
            "served by rs1") n1=$((n1 + 1)) ;;
            "served by rs2") n2=$((n2 + 1)) ;;
            *) fail "request $i: unexpected reply '$body'" ;;
        esac
    done
    log "$mode: $REQUESTS requests, rs1 answered $n1, rs2 answered $n2"
    [ "$n1" -gt 0 ] || fail "$mode: rs1 never answered"
    [ "$n2" -gt 0 ] || fail "$mode: rs2 never answered"

    # The kernel folds its per-CPU counters into what it reports every 2 s
    # (the rate estimator): wait for them, at most 6 s.
    i=0
    while [ "$(stats_field director "$VIP:80" 3)" != "$REQUESTS" ] && [ $i -lt 30 ]; do
        i=$((i + 1))
        sleep 0.2
    done
    ipvs director -Ln --stats || fail "$IPVSADM -Ln --stats"
    conns=$(stats_field director "$VIP:80" 3)
    inpkts=$(stats_field director "$VIP:80" 4)
    outpkts=$(stats_field director "$VIP:80" 5)
    [ "$conns" = "$REQUESTS" ] || fail "$mode: service Conns is $conns, want $REQUESTS"
    [ "$inpkts" -gt 0 ] 2> /dev/null || fail "$mode: service InPkts is $inpkts"
    for rs in "$rs1" "$rs2"; do
        c=$(stats_field director "$VIP:80" "$rs:80" 3)
        [ "$c" -gt 0 ] 2> /dev/null || fail "$mode: real server $rs Conns is $c"
    done
    if [ "$mode" = nat ]; then
        # Replies pass back through the director only in NAT mode.
        [ "$outpkts" -gt 0 ] 2> /dev/null || fail "nat: service OutPkts is $outpkts"
    else
        [ "$outpkts" = 0 ] || fail "dr: service OutPkts is $outpkts, want 0 (replies bypass the director)"
    fi

    ipvs director -C || fail "$IPVSADM -C"
    lab_cleanup
    log "mode $mode: PASS"
}

case $MODE in
    both) run_mode dr && run_mode nat ;;
    *) run_mode "$MODE" ;;
esac
echo "PASS"
