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
# Env: CORPUS_FILES (space-separated absolute paths), KEEPALIVED (default /usr/sbin/keepalived).
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
echo PASS
