"""Shared by hb-partition.py and kd-partition.py: cutting and healing the link between
ha01 and ha02, and measuring "partition healed -> one VIP owner" the way director's
bench does (tests/examples/failover_bench.rs, phase "heal").

Cut methods (both cut ha01 off from ha02 in both directions):
  nft  : an nftables table `inet hbcut` in ha01's namespace (hbA) drops the heartbeat
         traffic on input and output (Heartbeat: udp dport 694, exactly director's rule;
         keepalived: IP protocol 112 = VRRP).  Links stay up, ARP still passes.  This is
         what director's heal phase does.
  port : the bridge port of ha01 (pA in netns hbsw) is set down (the original
         hb-partition.py method).  ha01's eth0 then has no carrier: keepalived treats that
         as a fault and drops the VIP, so this is not comparable for keepalived.
"""
import os, signal, statistics, subprocess, time

CUT_METHODS = ("nft", "port")


def sh(cmd, check=True):
    return subprocess.run(cmd, shell=True, check=check, capture_output=True, text=True, timeout=30)


def sigterm_to_exit():
    """SIGTERM / SIGHUP run the scripts' finally blocks (nodes killed, net.sh down)."""
    def _exit(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGHUP, _exit)


def ensure_lab_free():
    """Refuses to start (and so to run net.sh down) while another peer-lab script runs or
    any process lives in hbA / hbB / hbsw.  Leftover empty namespaces are recycled."""
    me = os.getpid()
    out = sh("pgrep -f '^[^ ]*python[0-9.]* .*(hb|kd)-(experiment|partition)\\.py'", check=False).stdout.split()
    others = [int(p) for p in out if int(p) != me]
    busy = {ns: sh(f"ip netns pids {ns}", check=False).stdout.split() for ns in ("hbA", "hbB", "hbsw")}
    busy = {ns: p for ns, p in busy.items() if p}
    if others or busy:
        raise SystemExit(f"peer lab in use (scripts {others}, namespace processes {busy}); "
                         "not touching hbA/hbB/hbsw")


def parse_cut(argv, default):
    method = default
    if "--cut" in argv:
        i = argv.index("--cut")
        method = argv[i + 1]
        del argv[i:i + 2]
    if method not in CUT_METHODS:
        raise SystemExit(f"--cut must be one of {CUT_METHODS}")
    return method


def cut(method, match):
    """match: nftables match of the heartbeat traffic, e.g. 'udp dport 694'."""
    if method == "port":
        sh("ip -n hbsw link set pA down")
    else:
        rules = ("table inet hbcut {\n chain in {\n type filter hook input priority 0;\n"
                 f" {match} drop\n }}\n chain out {{\n type filter hook output priority 0;\n"
                 f" {match} drop\n }}\n}}\n")
        subprocess.run(["ip", "netns", "exec", "hbA", "nft", "-f", "-"], input=rules, text=True,
                       check=True, capture_output=True, timeout=30)


def heal(method):
    if method == "port":
        sh("ip -n hbsw link set pA up")
    else:
        sh("ip netns exec hbA nft delete table inet hbcut")


def snapshot(has_vip):
    """(time, {'A': bool, 'B': bool}); address events after `time` are applied on top."""
    t = time.time()
    return t, {"A": has_vip("hbA"), "B": has_vip("hbB")}


def analyse(mons, snap, t_cut, t_heal, t_end):
    """Heal metrics from the 'ip monitor address' events of both nodes.

    heal_to_single_owner_ms: heal -> start of the final state in which exactly one node
      holds the VIP (0 if one node held it at the heal and nothing changed); None if the
      window ended with no owner or two owners.
    heal_gap_ms: total time within [heal, end of window] with the VIP on neither node.
    heal_overlap_ms: total time within [heal, end of window] with the VIP on both nodes
      (includes the split brain carried over from the cut until the loser drops it).
    winner_dropped_vip: the final owner had a VIP delete at any time since the cut
      (director's bench fails a run if its winner ever dropped the VIP).
    """
    t_snap, state = snap
    evs = sorted((t, x, k == "add") for x, m in mons.items() for t, k, _ in list(m.events) if t >= t_snap)
    st = dict(state)
    i = 0
    while i < len(evs) and evs[i][0] < t_heal:
        st[evs[i][1]] = evs[i][2]
        i += 1
    at_heal = dict(st)
    segs = []  # (start, end, A, B)
    cur = t_heal
    for t, x, add in evs[i:]:
        if t > t_end:
            break
        if st[x] != add:
            segs.append((cur, t, st["A"], st["B"]))
            cur = t
            st[x] = add
    segs.append((cur, t_end, st["A"], st["B"]))
    gap = sum(e - s for s, e, a, b in segs if not a and not b)
    overlap = sum(e - s for s, e, a, b in segs if a and b)
    last = segs[-1]
    single = last[2] != last[3]
    start = last[0]  # segments split only on a change, so the final state starts here
    winner = ("A" if last[2] else "B") if single else None
    dropped = None
    if winner:
        dropped = any(t >= t_cut and k == "del" for t, k, _ in list(mons[winner].events))
    return {
        "vip_at_heal": at_heal,
        "heal_to_single_owner_ms": round((start - t_heal) * 1000, 1) if single else None,
        "heal_gap_ms": round(gap * 1000, 1),
        "heal_overlap_ms": round(overlap * 1000, 1),
        "winner": {"A": "ha01", "B": "ha02"}.get(winner),
        "winner_dropped_vip": dropped,
        "owner_changes_after_heal": len(segs) - 1,
        "window_s": round(t_end - t_heal, 1),
        "segments_rel_to_heal_ms(start,end,vipA,vipB)": [
            (round((s - t_heal) * 1000, 1), round((e - t_heal) * 1000, 1), a, b) for s, e, a, b in segs],
    }


def summary(cycles):
    out = {}
    for k in ("heal_to_single_owner_ms", "heal_gap_ms", "heal_overlap_ms"):
        v = [c[k] for c in cycles if c.get(k) is not None]
        out[k] = ({"n": len(v), "min": min(v), "median": round(statistics.median(v), 1), "max": max(v)}
                  if v else {"n": 0})
    out["cycles"] = len(cycles)
    out["no_single_owner"] = sum(1 for c in cycles if c.get("heal_to_single_owner_ms") is None)
    out["winner_dropped_vip"] = sum(1 for c in cycles if c.get("winner_dropped_vip"))
    out["winners"] = sorted({c.get("winner") or "none" for c in cycles})
    return out
