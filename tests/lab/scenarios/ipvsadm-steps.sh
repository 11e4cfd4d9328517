# ipvsadm compatibility against the real ipvsadm 1.31 on the same kernel.
#
# The same command sequence runs twice, in two network namespaces (each has
# its own IPVS table): the real /usr/sbin/ipvsadm in "oracle", $IPVSADM in
# "subject". After every command the scenario compares, byte for byte:
#   - the command's stdout, stderr and exit status;
#   - the listing (-Ln) printed by each tool for its own namespace, and once
#     every listing form (-Sn, -L, --stats, --rate, --timeout, -c, ...);
#   - the real ipvsadm's listing of both namespaces (the kernel state).
# Tool paths in messages are normalised to "ipvsadm".
#
# Variables: IPVSADM (default /usr/local/sbin/ipvsadm: director as ipvsadm).
IPVSADM=${IPVSADM:-/usr/local/sbin/ipvsadm}
. /lab/lib.sh
trap lab_cleanup EXIT

log "subject: $IPVSADM, oracle: $ORACLE"
lab_ns oracle subject

failures=0
steps=0

# norm: replace the tools' paths by "ipvsadm" in messages.
norm() {
    sed -e "s#$ORACLE#ipvsadm#g" -e "s#${IPVSADM%% *}#ipvsadm#g"
}

# run_both ARGS...: run one ipvsadm command in both namespaces and compare.
run_both() {
    steps=$((steps + 1))
    # shellcheck disable=SC2086 # IPVSADM may hold words
    in_ns oracle "$ORACLE" "$@" > /tmp/o.out 2> /tmp/o.err
    ors=$?
    # shellcheck disable=SC2086
    in_ns subject $IPVSADM "$@" > /tmp/s.out 2> /tmp/s.err
    srs=$?
    same "ipvsadm $*" "$ors" "$srs" out err
    compare_tables "after: ipvsadm $*"
}

# same WHAT ORACLE_RC SUBJECT_RC STREAMS...: compare /tmp/o.* with /tmp/s.*.
same() {
    what=$1 ors=$2 srs=$3
    shift 3
    if [ "$ors" != "$srs" ]; then
        echo "DIFF $what: exit status $srs, ipvsadm exits $ors"
        failures=$((failures + 1))
    fi
    for stream in "$@"; do
        norm < "/tmp/o.$stream" > "/tmp/o.$stream.n"
        norm < "/tmp/s.$stream" > "/tmp/s.$stream.n"
        if ! cmp -s "/tmp/o.$stream.n" "/tmp/s.$stream.n"; then
            echo "DIFF $what: std$stream differs (- ipvsadm, + subject)"
            diff -u "/tmp/o.$stream.n" "/tmp/s.$stream.n" | sed -n '3,40p'
            failures=$((failures + 1))
        fi
    done
}

# compare_tables WHAT [LISTING...]: listings by each tool (default -Ln), and
# the kernel state of both namespaces.
compare_tables() {
    ct_what=$1
    shift
    [ $# -gt 0 ] || set -- "-Ln"
    for listing in "$@"; do
        # shellcheck disable=SC2086 # listing holds words
        in_ns oracle "$ORACLE" $listing > /tmp/o.out 2> /tmp/o.err
        ors=$?
        # shellcheck disable=SC2086
        in_ns subject $IPVSADM $listing > /tmp/s.out 2> /tmp/s.err
        srs=$?
        same "$ct_what: listing $listing" "$ors" "$srs" out err
    done
    in_ns oracle "$ORACLE" -Sn > /tmp/o.out 2>&1
    in_ns subject "$ORACLE" -Sn > /tmp/s.out 2>&1
    same "$ct_what: kernel table (real ipvsadm -Sn in both)" 0 0 out
}

run_both -A -t 192.0.2.100:80 -s rr
run_both -a -t 192.0.2.100:80 -r 192.0.2.11:80 -g -w 1
run_both -a -t 192.0.2.100:80 -r 192.0.2.12:80 -m -w 2
run_both -A -u 192.0.2.100:53 -s wlc -p 300
run_both -a -u 192.0.2.100:53 -r 198.51.100.11:53 -i
run_both -A -f 7 -s sh
run_both -a -f 7 -r 203.0.113.5 -g
run_both -A -t "[2001:db8::100]:443" -s mh -p
run_both -a -t "[2001:db8::100]:443" -r "[2001:db8::11]:443" -m
run_both -A -t 192.0.2.101:80 -s lc -p 60 -M 255.255.255.0
run_both -E -t 192.0.2.100:80 -s wlc
run_both -e -t 192.0.2.100:80 -r 192.0.2.11:80 -g -w 5
run_both --set 900 120 300
run_both -d -t 192.0.2.100:80 -r 192.0.2.12:80
compare_tables "full table" -Ln -Sn -L "-Ln --exact" "-Ln --stats --exact" \
    "-Ln --rate" "-L --timeout" "-Ln --persistent-conn" "-Ln --sort" \
    "-Ln -t 192.0.2.100:80" "-Ln -u 192.0.2.100:53" "-Ln -f 7" "-Lnc"
# Errors: an existing service, a missing one, a missing real server, bad input.
run_both -A -t 192.0.2.100:80 -s rr
run_both -D -t 192.0.2.200:80
run_both -d -t 192.0.2.100:80 -r 192.0.2.99:80
run_both -A -t 192.0.2.100 -s rr
run_both -A -t 192.0.2.102:80 -s nosuchscheduler
run_both -D -u 192.0.2.100:53
run_both -C

log "$steps commands compared, $failures differences"
[ "$failures" = 0 ] || fail "$failures differences from ipvsadm 1.31"
echo PASS
