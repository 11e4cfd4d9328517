#!/usr/bin/env python3
"""usage: analyze.py RUNDIR... -> markdown table of tests/bench/healthcheck.sh runs.

Per run (directory <who>-<N> with meta, samples.txt, requests.log[, metrics.txt, ipvsadm.calls]):
* reals reached: distinct reals that received at least one request during the run;
* all checked after: launch -> the moment every real had received its first request;
* steady from: launch -> the moment every real had received two requests (ldirectord checks
  twice back to back at start); the steady window runs from there to the end of the run;
* lag p50/p99/max: over every real, the interval between two consecutive requests to it, from
  its third request on, minus checkinterval (the same method as docs/ref/hc-lab/analyze.py, for
  both daemons);
* CPU %: delta(utime+stime) of the daemon / wall time over the steady window (one core = 100 %);
  when the window was never reached, over the whole run, marked '(whole run)'; the HTTP
  server's own CPU in the same window is given so a saturated server would show;
* peak RSS: VmHWM of the daemon at the end of the run;
* director lag metric: director_check_lag_seconds quantiles from its /metrics at the end; for
  the floor its own due-to-connect lag (the last line of its output);
* CPU us/check: the CPU % over the steady window / checks/s;
* load: the 1-minute load average at the start and the end of the run.
A second table puts director beside the floor (bench-floor) of the same N: CPU and peak RSS
ratios."""
import collections
import os
import sys


def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * (len(xs) - 1) + 0.5))] if xs else float("nan")


def read_meta(d):
    meta = {}
    for line in open(os.path.join(d, "meta")):
        w = line.split()
        if not w:
            continue
        if w[0] == "start":
            it = iter(w)
            meta.update(dict(zip(it, it)))
        elif w[0] == "end":
            meta["end"] = w[1]
        elif w[0] == "peak":
            meta["peak"] = w[1] if len(w) > 1 and w[1] != "httpd_peak" else ""
        elif w[0] == "daemon" and len(w) > 1 and w[1] == "exited":
            meta["exited"] = "yes"
        elif w[0] == "stop:":
            meta["killed"] = "yes"
        elif w[0] in ("load", "load_end") and len(w) > 1:
            meta[w[0]] = w[1]
        elif w[0] == "floor_args":
            meta["floor_args"] = " ".join(w[1:])
    return meta


def analyze(d):
    m = read_meta(d)
    t0, n, who = float(m["start"]), int(m["n"]), m["who"]
    ci = float(m.get("checkinterval", 1))
    clk = int(m.get("clk", 100))
    samples = []
    for line in list(open(os.path.join(d, "samples.txt")))[1:]:
        w = line.split()
        if len(w) == 7:
            samples.append([float(x) for x in w])
    end = float(m.get("end", samples[-1][0] if samples else t0))
    by = collections.defaultdict(list)
    try:
        for line in open(os.path.join(d, "requests.log")):
            w = line.split()
            if len(w) >= 2:
                by[w[1]].append(float(w[0]))
    except FileNotFoundError:
        pass
    for ts in by.values():
        ts.sort()
    reached = len(by)
    first_all = max(ts[0] for ts in by.values()) - t0 if reached == n else None
    steady = max(ts[1] for ts in by.values()) if reached == n and all(len(ts) > 1 for ts in by.values()) else None
    lags = []
    for ts in by.values():
        lags += [ts[i + 1] - ts[i] - ci for i in range(2, len(ts) - 1)]
    win_start = steady if steady is not None else t0
    win = [s for s in samples if s[0] >= win_start]
    if steady is None:
        win = [[t0, 0, 0, 0, 0, 0, 0]] + samples
    if len(win) >= 2:
        dt = win[-1][0] - win[0][0]
        cpu = ((win[-1][1] + win[-1][2]) - (win[0][1] + win[0][2])) / clk / dt * 100
        hcpu = ((win[-1][4] + win[-1][5]) - (win[0][4] + win[0][5])) / clk / dt * 100
    else:
        cpu = hcpu = float("nan")
    reqs_in_win = sum(1 for ts in by.values() for t in ts if win_start <= t <= end)
    rate = reqs_in_win / (end - win_start) if end > win_start else float("nan")
    peak = m.get("peak") or ""
    peak_mib = "%.1f" % (int(peak) / 1024) if peak.isdigit() else "?"
    metric = ""
    mp = os.path.join(d, "metrics.txt")
    if os.path.exists(mp):
        qs = {}
        for line in open(mp):
            if line.startswith("director_check_lag_seconds{"):
                k = line.split('quantile="')[1].split('"')[0]
                qs[k] = float(line.split()[-1]) * 1000
        metric = " / ".join("%s: %.1f" % (k, qs[k]) for k in sorted(qs))
    if who == "floor":
        last = ""
        for line in open(os.path.join(d, "daemon.stdout")):
            if line.startswith("t="):
                last = line
        kv = dict(x.split("=", 1) for x in last.split() if "=" in x)
        if "lag_p99_us" in kv:
            metric = "0.5: %.1f / 0.99: %.1f / max: %.1f (own)" % (
                int(kv["lag_p50_us"]) / 1000, int(kv["lag_p99_us"]) / 1000, int(kv["lag_max_us"]) / 1000)
            if int(kv.get("failed", 0)) or int(kv.get("skipped", 0)):
                metric += "; checks failed %s (connect refused %s, timed out %s), skipped %s" % (
                    kv["failed"], kv.get("failed_connect", "?"), kv.get("timed_out", "?"), kv["skipped"])
    calls = ""
    cp = os.path.join(d, "ipvsadm.calls")
    if os.path.exists(cp):
        calls = str(sum(1 for _ in open(cp)))
    run_s = end - t0
    if who == "floor" and m.get("floor_args"):
        who = "floor " + m["floor_args"]
    return {
        "who": who, "n": n, "run": run_s, "reached": reached,
        "cpu_v": cpu, "rate_v": rate, "rss_v": int(peak) / 1024 if peak.isdigit() else float("nan"),
        "us": "%.1f" % (cpu / 100 * 1e6 / rate) if rate > 0 else "-",
        "load": "%s / %s" % (m.get("load", "?"), m.get("load_end", "?")),
        "first_all": "%.1f" % first_all if first_all is not None else "not reached",
        "steady": "%.1f" % (steady - t0) if steady is not None else "not reached",
        "cpu": ("%.1f" % cpu) + ("" if steady is not None else " (whole run)"),
        "hcpu": "%.1f" % hcpu, "rss": peak_mib, "rate": "%.0f" % rate,
        "lags": len(lags),
        "p50": "%.1f" % (q(lags, 0.5) * 1000) if lags else "-",
        "p99": "%.1f" % (q(lags, 0.99) * 1000) if lags else "-",
        "max": "%.1f" % (max(lags) * 1000) if lags else "-",
        "metric": metric or "-", "calls": calls or "-",
        "killed": "yes" if m.get("killed") else "no",
    }


rows = [analyze(d) for d in sys.argv[1:] if os.path.exists(os.path.join(d, "meta"))]
rows.sort(key=lambda r: (r["n"], {"director": 0, "ldirectord": 2}.get(r["who"], 1), r["who"]))
print("| N reals | daemon | run s | load avg start / end | reals checked | every real checked after s | "
      "steady from s | CPU % of a core (steady) | CPU us/check | HTTP server CPU % | peak RSS MiB | checks/s | "
      "lag samples | lag p50 ms | lag p99 ms | lag max ms | own lag metric ms | ipvsadm runs | SIGKILL at stop |")
print("|" + "---|" * 19)
for r in rows:
    print("| {n} | {who} | {run:.0f} | {load} | {reached} | {first_all} | {steady} | {cpu} | {us} | {hcpu} | {rss} | "
          "{rate} | {lags} | {p50} | {p99} | {max} | {metric} | {calls} | {killed} |".format(**r))

pairs = [(d, f) for d in rows if d["who"] == "director"
         for f in rows if f["n"] == d["n"] and f["who"].startswith("floor")]
if pairs:
    print()
    print("| N reals | floor | checks/s director / floor | CPU % director / floor | CPU ratio | "
          "CPU us/check director / floor | peak RSS MiB director / floor | RSS ratio |")
    print("|" + "---|" * 8)
    for d, f in pairs:
        print("| {} | {} | {} / {} | {:.1f} / {:.1f} | {:.2f} | {} / {} | {} / {} | {:.1f} |".format(
            d["n"], f["who"], d["rate"], f["rate"], d["cpu_v"], f["cpu_v"], d["cpu_v"] / f["cpu_v"],
            d["us"], f["us"], d["rss"], f["rss"], d["rss_v"] / f["rss_v"]))
