# director's IPVS client on the real kernel, without the CLI in between:
# director/examples/ipvs_smoke (plan + apply, dump back and compare, edits in
# place, kernel errors named, a bulk load, the sync daemon), in a namespace of
# its own; then the real ipvsadm lists what it left behind.
# Needs --add of the example binary and --env SMOKE=<its path>.
. /lab/lib.sh

[ -x "${SMOKE:-}" ] || fail "no ipvs_smoke binary (--add it and set SMOKE)"
lab_ns smoke
log "ipvs_smoke ${BULK:-200}"
in_ns smoke "$SMOKE" "${BULK:-200}" || fail "ipvs_smoke exited $?"
log "the table it left, listed by the real ipvsadm"
in_ns smoke /usr/sbin/ipvsadm -Ln
lab_cleanup
echo PASS
