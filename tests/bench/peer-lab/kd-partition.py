#!/usr/bin/env python3
"""Network partition (split brain) with real keepalived 2.2.7, then heal, over CYCLES cycles.

Usage: kd-partition.py LABEL ADVERT_INT VRRP_VERSION PREEMPT(yes|no) CUT_SECONDS CYCLES [--cut nft|port]

Same nodes as kd-experiment.py (ha01 priority 150, ha02 priority 100, unicast VRRP,
VIP 192.0.2.100/24), both kept running for the whole run.  Each cycle:
  1. wait until exactly one node holds the VIP;
  2. cut ha01 off from ha02 (default --cut nft: nftables in hbA drops IP protocol 112 =
     VRRP on input and output, links stay up, as director's heal phase drops heartbeats;
     see heal.py), wait for ha02 to take the VIP too (split brain);
  3. heal at max(CUT_SECONDS after the cut, 0.5 s after ha02 took the VIP) plus a random
     0..ADVERT_INT phase (CUT_SECONDS 0 = director's bench: heal 0.5 s after the backup
     took the VIP);
  4. watch both nodes' VIP events for max(8, 10 x ADVERT_INT) s and report
     heal -> single owner, gap (VIP on neither) and overlap (VIP on both) after the heal.
One JSON line per cycle, then the whole result and a last line {"summary": ...}
(n / min / median / max).  Results in /tmp/kdexp/results/LABEL/result.json.
"""
import importlib.util, json, os, random, sys, time

LAB = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, LAB)
sys.dont_write_bytecode = True
import heal as H  # noqa: E402

spec = importlib.util.spec_from_file_location("kdx", f"{LAB}/kd-experiment.py")
kdx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kdx)
sh, AddrMonitor, has_vip, KNode, ROOT = kdx.sh, kdx.AddrMonitor, kdx.has_vip, kdx.KNode, kdx.ROOT
VRRP = "meta l4proto 112"


def wait_single_owner(timeout):
    end = time.time() + timeout
    while time.time() < end:
        if has_vip("hbA") != has_vip("hbB"):
            return True
        time.sleep(0.05)
    return False


def main():
    argv = list(sys.argv)
    method = H.parse_cut(argv, "nft")
    if len(argv) != 7:
        raise SystemExit(__doc__)
    label, adv, ver, pre, cut_s, cycles = argv[1], argv[2], argv[3], argv[4], float(argv[5]), int(argv[6])
    a = float(adv)
    H.sigterm_to_exit()
    H.ensure_lab_free()
    res = {"label": label, "kind": "partition", "advert_int": adv, "vrrp_version": ver, "preempt": pre,
           "cut_s": cut_s, "cut_method": method, "cycles": []}
    outdir = f"{ROOT}/results/{label}"
    os.makedirs(outdir, exist_ok=True)
    mons, A, B = {}, KNode("A"), KNode("B")
    window = max(8.0, 10 * a)
    try:
        sh(f"{LAB}/net.sh down", check=False)
        sh(f"{LAB}/net.sh up")
        sh(f"{LAB}/kd-mkconf.sh {adv} {ver} {pre}")
        mons = {x: AddrMonitor("hb" + x) for x in ("A", "B")}
        time.sleep(0.5)
        t_start = time.time()
        A.start(); B.start()
        t = mons["A"].wait("add", t_start, 60)
        res["initial_vip_on_A_after_start_s"] = None if t is None else round(t - t_start, 3)
        if t is None:
            raise RuntimeError("ha01 never took the VIP")
        time.sleep(max(3, 6 * a))
        for c in range(cycles):
            cyc = {"cycle": c + 1}
            if not wait_single_owner(max(10, 20 * a)):
                cyc["error"] = "no single owner before the cut"
            cyc["before"] = {"vipA": has_vip("hbA"), "vipB": has_vip("hbB")}
            t_cut = time.time()
            H.cut(method, VRRP)
            tb = mons["B"].wait("add", t_cut, max(15, 10 * a + 5))
            cyc["cut_to_vip_on_B_s"] = None if tb is None else round(tb - t_cut, 4)
            target = max(t_cut + cut_s, (tb or time.time()) + 0.5) + random.uniform(0, a)
            time.sleep(max(0, target - time.time()))
            cyc["during"] = {"vipA": has_vip("hbA"), "vipB": has_vip("hbB")}
            snap = H.snapshot(has_vip)
            t_heal = time.time()
            H.heal(method)
            cyc["cut_duration_s"] = round(t_heal - t_cut, 3)
            time.sleep(window)
            cyc.update(H.analyse(mons, snap, t_cut, t_heal, time.time()))
            cyc["after"] = {"vipA": has_vip("hbA"), "vipB": has_vip("hbB")}
            res["cycles"].append(cyc)
            print(json.dumps(cyc), flush=True)
    finally:
        A.kill_all(); B.kill_all()
        for m in mons.values():
            m.stop()
        res["addr_events"] = {x: [(round(t, 4), k) for t, k, _ in m.events] for x, m in mons.items()}
        sh(f"{LAB}/net.sh down", check=False)
        for n in ("ha01", "ha02"):
            for f in ("keepalived.log", "notify.log", "events.log", "keepalived.conf"):
                p = f"{ROOT}/{n}/{f}"
                if os.path.exists(p):
                    sh(f"cp {p} {outdir}/{n}.{f}")
        res["summary"] = H.summary(res["cycles"])
        json.dump(res, open(f"{outdir}/result.json", "w"), indent=1)
        print(json.dumps({k: v for k, v in res.items() if k not in ("addr_events", "cycles", "summary")}))
        print(json.dumps({"summary": res["summary"]}), flush=True)


if __name__ == "__main__":
    main()
