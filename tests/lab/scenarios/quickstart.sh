# The quick start (`tests/lab/quickstart --single`): a virtual service in
# direct-routing mode with two real servers, programmed by director called as
# ipvsadm, HTTP from a client, then the table and its counters.
# IPVSADM given with --env wins (the real one: --env IPVSADM=/usr/sbin/ipvsadm).
IPVSADM=${IPVSADM:-/usr/local/sbin/ipvsadm}
. /lab/lib.sh

[ -x "${IPVSADM%% *}" ] || fail "no ${IPVSADM%% *} in the VM"
log "$IPVSADM programs the table"
MODE=${MODE:-dr}
. /lab/scenarios/http-traffic.sh
