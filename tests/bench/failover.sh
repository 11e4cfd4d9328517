#!/bin/sh
# Failover benchmark (root): director vs Heartbeat 3.0.6 vs keepalived 2.2.7 in the same
# namespace topology (two nodes on a bridge, VIP 192.0.2.100/24, TEST-NET-1 only).
#
#   tests/bench/failover.sh [RUNS]        (default 20; results in $OUT, default /tmp/fobench)
#
# director: tests/examples/failover_bench.rs (crash, failback, graceful, both-start,
#   partition heal, CPU load), at keepalive 20 ms / deadtime 80 ms and at 1 s / 3 s, running
#   the real `director run` on each node (--program director; PROGRAM=node runs the failover
#   crate's node example instead).
# Heartbeat / keepalived: the reference lab's scripts in tests/bench/peer-lab (copied from
#   docs/ref/peer-lab; apt-get install heartbeat keepalived nftables first). They use the
#   fixed namespaces hbA / hbB / hbsw and /tmp/hbexp, /tmp/kdexp.
#   hb-partition.py / kd-partition.py repeat director's heal phase against them.
# Not a test: numbers depend on the machine. Every namespace is removed at the end.
set -eu
RUNS=${1:-20}
OUT=${OUT:-/tmp/fobench}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LAB=$ROOT/tests/bench/peer-lab
mkdir -p "$OUT"
cd "$ROOT"
PROGRAM=${PROGRAM:-director}
case $PROGRAM in
    director) cargo build -q -p director ;;
    node) cargo build -q -p failover --example node ;;
    *) echo "PROGRAM must be director or node" >&2; exit 2 ;;
esac
cargo build -q -p tests --features netns --example failover_bench
BENCH=$ROOT/target/debug/examples/failover_bench
echo "== director ($PROGRAM), keepalive 20ms / deadtime 80ms"
"$BENCH" --program "$PROGRAM" --runs "$RUNS" --load-secs 30 | tee "$OUT/director-fast.txt" | tail -11
echo "== director ($PROGRAM), keepalive 1 / deadtime 3"
"$BENCH" --program "$PROGRAM" --runs "$RUNS" --timing heartbeat --load-secs 10 | tee "$OUT/director-hb.txt" | tail -11
if [ -x /usr/libexec/heartbeat/heartbeat ]; then
  echo "== Heartbeat 3.0.6"
  python3 "$LAB/hb-experiment.py" hb-ka1-dt3-on 1 3 on "$RUNS" > "$OUT/hb-ka1-dt3.txt" 2>&1 || true
  python3 "$LAB/hb-experiment.py" hb-ka0.02-dt0.08-on 0.02 0.08 on "$RUNS" > "$OUT/hb-ka0.02-dt0.08.txt" 2>&1 || true
else
  echo "heartbeat not installed: apt-get install heartbeat" >&2
fi
if [ -x /usr/sbin/keepalived ]; then
  echo "== keepalived 2.2.7"
  python3 "$LAB/kd-experiment.py" kd-adv0.1-v3 0.1 3 yes "$RUNS" > "$OUT/kd-adv0.1-v3.txt" 2>&1 || true
  python3 "$LAB/kd-experiment.py" kd-adv0.02-v3 0.02 3 yes "$RUNS" > "$OUT/kd-adv0.02-v3.txt" 2>&1 || true
  python3 "$LAB/kd-experiment.py" kd-adv1-v2 1 2 yes "$RUNS" > "$OUT/kd-adv1-v2.txt" 2>&1 || true
else
  echo "keepalived not installed: apt-get install keepalived" >&2
fi
# Partition heal, measured like director's heal phase (nftables in ha01's namespace drops the
# heartbeats / VRRP both ways, links stay up; heal 0.5 s after the backup took the VIP, CUT 0;
# at most 10 cycles like director): heal -> single VIP owner, gap and overlap after the heal.
HEAL=$(( RUNS < 10 ? RUNS : 10 ))
if [ -x /usr/libexec/heartbeat/heartbeat ]; then
  echo "== Heartbeat 3.0.6, partition heal ($HEAL cycles, about 70 s each)"
  python3 "$LAB/hb-partition.py" hb-heal-ka1-dt3-on 1 3 on 0 "$HEAL" --cut nft > "$OUT/hb-heal-ka1-dt3.txt" 2>&1 || true
  tail -1 "$OUT/hb-heal-ka1-dt3.txt"
fi
if [ -x /usr/sbin/keepalived ]; then
  echo "== keepalived 2.2.7, partition heal ($HEAL cycles)"
  python3 "$LAB/kd-partition.py" kd-heal-adv1-v2 1 2 yes 0 "$HEAL" --cut nft > "$OUT/kd-heal-adv1-v2.txt" 2>&1 || true
  tail -1 "$OUT/kd-heal-adv1-v2.txt"
  python3 "$LAB/kd-partition.py" kd-heal-adv0.02-v3 0.02 3 yes 0 "$HEAL" --cut nft > "$OUT/kd-heal-adv0.02-v3.txt" 2>&1 || true
  tail -1 "$OUT/kd-heal-adv0.02-v3.txt"
fi
# Both nodes start together, then the holder stops gracefully (CYCLES=0): five runs per
# setting, one row each in summarize.py (labels LABEL-rN).
echo "== peers: both start, graceful stop (5 runs per setting)"
for i in 1 2 3 4 5; do
  if [ -x /usr/libexec/heartbeat/heartbeat ]; then
    python3 "$LAB/hb-experiment.py" "hb-ss-ka0.02-dt0.08-on-r$i" 0.02 0.08 on 0 > /dev/null 2>&1 || true
    python3 "$LAB/hb-experiment.py" "hb-ss-ka1-dt3-on-r$i" 1 3 on 0 > /dev/null 2>&1 || true
  fi
  if [ -x /usr/sbin/keepalived ]; then
    python3 "$LAB/kd-experiment.py" "kd-ss-adv0.02-v3-r$i" 0.02 3 yes 0 > /dev/null 2>&1 || true
    python3 "$LAB/kd-experiment.py" "kd-ss-adv0.1-v3-r$i" 0.1 3 yes 0 > /dev/null 2>&1 || true
  fi
done
"$LAB/net.sh" down >/dev/null 2>&1 || true
python3 "$LAB/summarize.py" | tee "$OUT/peers-summary.md"
