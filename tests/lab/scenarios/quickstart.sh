# The quick start: a virtual service in direct-routing mode with two real
# servers, HTTP from a client, then the table and its counters.
#
# director programs the table when its ipvsadm command works; until then the
# real ipvsadm does, and this says so.
# IPVSADM given with --env wins.
CHOSEN=${IPVSADM:-}
. /lab/lib.sh

if [ -z "$CHOSEN" ]; then
    if [ -x /usr/local/sbin/ipvsadm ] &&
        /usr/local/sbin/ipvsadm -Ln 2> /dev/null | grep -q '^IP Virtual Server version'; then
        IPVSADM=/usr/local/sbin/ipvsadm
        log "director programs the table (as ipvsadm)"
    else
        IPVSADM=/usr/sbin/ipvsadm
        log "director's ipvsadm command does not work yet: the real ipvsadm 1.31 programs the table"
    fi
fi
MODE=${MODE:-dr}
. /lab/scenarios/http-traffic.sh
