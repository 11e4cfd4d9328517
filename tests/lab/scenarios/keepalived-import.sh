# keepalived 2.2.7 against the real kernel, and `director import keepalived` of the same file:
# the IPVS table keepalived programs equals `director check --print-ipvs` of the import.
#
# For each file of $CORPUS_FILES (paths of tests/corpus/keepalived, added to the VM at the
# same path by the Rust test): keepalived runs its checker process only (`-C`, no VRRP) in
# a namespace of its own on a copy of the file whose checker blocks (`HTTP_GET`, `SSL_GET`,
# `*_CHECK`) are taken out (and `alpha`), so every real server stays up (keepalived adds
# real servers without a checker and never removes them) whatever the network; includes
# are copied too, so the copy reads them the same way. The table is read with the real ipvsadm (`-S -n`) once it has not
# changed for 2 s. Then the original file is imported (`--node ha1 --peer ha2`) and
# `director check --print-ipvs` prints the table the import programs with every real up.
# The two are compared as sorted lines.
#
# Then, for each file of $VRRP_FILES: keepalived runs its VRRP process only (`-P`) in a
# namespace with dummy interfaces (eth0..eth3 and those the file names; the unicast_src_ip
# on eth0) and no peer, so every instance becomes MASTER and adds its
# VIPs (`track_*` blocks taken out, so none is held in FAULT, and `static_*` ones, which are
# no VIPs, and `use_vmac`, which puts the VIP on a macvlan: both reported as not carried
# over by the import); the addresses it added
# (`ip -o addr`, `ADDR/PREFIX DEV`) must equal the IPaddr2 / IPv6addr resources of the
# imported haresources.
#
# Env: CORPUS_FILES, VRRP_FILES (space-separated absolute paths), KEEPALIVED (default
# /usr/sbin/keepalived).
. /lab/lib.sh
trap 'lab_cleanup' EXIT

KEEPALIVED=${KEEPALIVED:-/usr/sbin/keepalived}
DIRECTOR=/usr/sbin/director
[ -x "$KEEPALIVED" ] || fail "no keepalived at $KEEPALIVED (vm-run --add /usr/sbin/keepalived)"
[ -n "$CORPUS_FILES" ] || fail "CORPUS_FILES is empty"

# Drops every checker block (`NAME_CHECK`, `HTTP_GET`, `SSL_GET`; braces counted) and
# `alpha` (with alpha a real server without a checker would never come up; alpha only
# changes the start, not the table once every check passes), keeps everything else.
strip_checkers() {
    awk '
        skip > 0 { o = gsub(/[{]/, "{"); c = gsub(/[}]/, "}"); skip += o - c; next }
        $1 ~ /_CHECK$/ || $1 == "HTTP_GET" || $1 == "SSL_GET" {
            o = gsub(/[{]/, "{"); c = gsub(/[}]/, "}"); skip = o - c; next
        }
        $1 == "alpha" { next }
        { print }
    ' "$1"
}

n=0
matched=0
for file in $CORPUS_FILES; do
    n=$((n + 1))
    name=$(echo "$file" | sed 's|.*/keepalived/||')
    work=/tmp/k$n
    mkdir -p "$work"
    # The file and whatever sits beside it (includes), checkers stripped.
    src_dir=$(dirname "$file")
    (cd "$src_dir" && find . -type f) | while read -r f; do
        mkdir -p "$work/$(dirname "$f")"
        strip_checkers "$src_dir/$f" > "$work/$f"
    done
    copy="$work/$(basename "$file")"
    ns=k$n
    lab_ns "$ns"
    # keepalived wants its interfaces: an eth0 that exists (VRRP is not run with -C anyway).
    in_ns "$ns" "$IP" link add eth0 type dummy
    in_ns "$ns" "$IP" link set eth0 up
    in_ns "$ns" "$IP" link set lo up
    "$IP" netns exec "$ns" "$KEEPALIVED" --dont-fork --log-console --check \
        --use-file "$copy" --pid "$work/k.pid" --checkers_pid "$work/c.pid" \
        > "$work/keepalived.log" 2>&1 &
    kpid=$!
    prev=""
    stable=0
    for _ in $(seq 1 40); do
        sleep 0.5
        cur=$("$IP" netns exec "$ns" /usr/sbin/ipvsadm -S -n 2>&1)
        if [ -n "$cur" ] && [ "$cur" = "$prev" ]; then
            stable=$((stable + 1))
            [ $stable -ge 4 ] && break
        else
            stable=0
        fi
        prev=$cur
    done
    echo "$cur" | sort > "$work/keepalived.ipvs"
    kill "$kpid" 2> /dev/null
    wait "$kpid" 2> /dev/null
    [ -n "$cur" ] || {
        cat "$work/keepalived.log"
        fail "$name: keepalived programmed nothing"
    }
    out="$work/out"
    (cd "$src_dir" && "$DIRECTOR" import keepalived "$(basename "$file")" --out "$out" \
        --node ha1 --peer ha2 > /dev/null 2> "$work/import.log")
    code=$?
    [ $code = 0 ] || [ $code = 3 ] || {
        cat "$work/import.log"
        fail "$name: import exited $code"
    }
    [ -f "$out/ha.cf" ] && echo ha1 > "$out/nodeinfo"
    "$DIRECTOR" check --print-ipvs --config-dir "$out" 2> "$work/check.log" | sort > "$work/director.ipvs" \
        || { cat "$work/check.log"; fail "$name: director check failed"; }
    if cmp -s "$work/keepalived.ipvs" "$work/director.ipvs"; then
        matched=$((matched + 1))
        log "$name: match ($(wc -l < "$work/keepalived.ipvs") lines)"
    else
        cat "$work/keepalived.log"
        echo "--- keepalived"
        cat "$work/keepalived.ipvs"
        echo "--- director"
        cat "$work/director.ipvs"
        fail "$name: tables differ"
    fi
done
log "keepalived and director agree on $matched of $n files"

# Addresses on the namespace's interfaces, one `ADDR/PREFIX DEV` per line, sorted.
addresses() {
    "$IP" netns exec "$1" "$IP" -o addr show | awk '$3 == "inet" || $3 == "inet6" { print $4, $2 }' \
        | grep -v ' lo$' | grep -v '^fe80:' | sort
}

vmatched=0
vn=0
for file in $VRRP_FILES; do
    n=$((n + 1))
    vn=$((vn + 1))
    name=$(echo "$file" | sed 's|.*/keepalived/||')
    work=/tmp/k$n
    mkdir -p "$work"
    awk '
        skip > 0 { o = gsub(/[{]/, "{"); c = gsub(/[}]/, "}"); skip += o - c; next }
        $1 ~ /^track_/ || $1 ~ /^static_/ {
            o = gsub(/[{]/, "{"); c = gsub(/[}]/, "}"); skip = o - c; next
        }
        $1 == "use_vmac" { next }
        { print }
    ' "$file" > "$work/vrrp.conf"
    ns=k$n
    lab_ns "$ns"
    # eth0..eth3 and every other interface the file names (`interface X`, `dev X`).
    ifaces=$( (echo eth0 eth1 eth2 eth3 | tr ' ' '\n'
        awk '{ for (i = 1; i < NF; i++) if ($i == "interface" || $i == "dev") print $(i + 1) }' \
            "$work/vrrp.conf") | sort -u)
    i=0
    for dev in $ifaces; do
        i=$((i + 1))
        in_ns "$ns" "$IP" link add "$dev" type dummy || fail "dummy $dev"
        in_ns "$ns" "$IP" addr add "203.0.113.$i/32" dev "$dev"
        in_ns "$ns" "$IP" link set "$dev" multicast on up
    done
    # A unicast instance sends from its unicast_src_ip: the address must be there.
    for a in $(awk '$1 == "unicast_src_ip" { print $2 }' "$file"); do
        in_ns "$ns" "$IP" addr add "$a/32" dev eth0
    done
    addresses "$ns" > "$work/before"
    "$IP" netns exec "$ns" "$KEEPALIVED" --dont-fork --log-console --vrrp \
        --use-file "$work/vrrp.conf" --pid "$work/k.pid" --vrrp_pid "$work/v.pid" \
        > "$work/keepalived.log" 2>&1 &
    kpid=$!
    prev=""
    stable=0
    # keepalived becomes MASTER after 3 adverts and its skew (up to one more advert): wait
    # that long for the largest advert_int of the file (the corpus has 12 s), at least 30 s.
    adv=$(awk '$1 == "advert_int" && $2 + 0 > m { m = $2 + 0 } END { print int(m + 0.999) }' "$work/vrrp.conf")
    limit=$(( (4 * ${adv:-1} + 10) > 30 ? 4 * ${adv:-1} + 10 : 30 ))
    until_cs=$(($(now_cs) + limit * 100))
    while [ "$(now_cs)" -lt "$until_cs" ]; do
        sleep 0.5
        cur=$(addresses "$ns")
        if [ "$cur" = "$prev" ] && [ "$cur" != "$(cat "$work/before")" ]; then
            stable=$((stable + 1))
            [ $stable -ge 8 ] && break
        else
            stable=0
        fi
        prev=$cur
    done
    addresses "$ns" | grep -vxF -f "$work/before" > "$work/keepalived.vips"
    kill "$kpid" 2> /dev/null
    wait "$kpid" 2> /dev/null
    out="$work/out"
    (cd "$(dirname "$file")" && "$DIRECTOR" import keepalived "$(basename "$file")" \
        --out "$out" --node ha1 --peer ha2 > /dev/null 2> "$work/import.log")
    tr ' ' '\n' < "$out/haresources" | grep -E '^(IPaddr2|IPv6addr)::' \
        | sed -E 's/^[A-Za-z0-9]+::([^/]+)\/([0-9]+)\/([^/]+).*/\1\/\2 \3/' | sort -u \
        > "$work/director.vips"
    if [ -s "$work/director.vips" ] && cmp -s "$work/keepalived.vips" "$work/director.vips"; then
        vmatched=$((vmatched + 1))
        log "$name: VIPs match ($(wc -l < "$work/director.vips") addresses)"
    else
        cat "$work/keepalived.log"
        echo "--- keepalived"
        cat "$work/keepalived.vips"
        echo "--- haresources"
        cat "$work/director.vips"
        fail "$name: VIPs differ"
    fi
done
log "keepalived and haresources agree on the VIPs of $vmatched of $vn files"
echo PASS
