#!/usr/bin/env python3
"""Configuration at scale (a measuring program, not a test): reading, loading and reloading a
file of many real servers, director beside keepalived.

    tests/bench/config-scale.py [--virtuals 400] [--reals 100] [--runs 5]
                                [--director BIN] [--out DIR] [--no-daemon]

The same services in both formats: V virtual services 203.0.113.X:PORT (NAT, wrr), R real
servers 127.1.(i/250).(i%250+1):80 each (bench-httpd's addresses; past 62,500 on in 127.2,
127.3, ...), every real checked over HTTP (ldirectord's
`checktype=negotiate`, `request="index.html"`, `receive="Test Page"`; keepalived's `HTTP_GET`
with `url { path /index.html status_code 200 }`), checkinterval / delay_loop 1.

1. Reading: `director check FILE` (parse, resolve, build every check and the table: what
   `director run` does before it programs anything) and `director check --print-ipvs FILE`
   (the same, then the table printed as `ipvsadm -S -n` does) against `keepalived -t -f
   FILE` (parse and check, its config-test mode), taking turns, `--runs` times each: elapsed
   seconds, CPU seconds (user + system) and peak RSS (/usr/bin/time), medians, and the
   ratios.
2. The daemon (unless --no-daemon): `director run --ipvs memory` on the same services with
   `checktype=on` (every real up without a check: the load and the reload alone; the checks
   at scale are tests/bench/healthcheck.sh's), in a network namespace of its own with only
   loopback up; the time from launch to the control socket listing every service, the RSS then, and `--runs` reloads after one real's weight changed
   (the time `director reload` takes to answer; the reply comes once the file is read, the
   change planned and applied to the table), with the daemon's CPU seconds over each.

keepalived cannot run its daemon here (this kernel has no IPVS), so its reload is not
measured; keepalived's issue #2318 reports 100-130 s for a reload of 37,000 reals.
Needs root (namespaces) and Debian's keepalived.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The i-th real server's address, as bench-httpd and httpd.py serve them.
from httpd import address as real_addr  # noqa: E402


def generate(d, virtuals, reals):
    ld = ["checkinterval=1", "checktimeout=3", "quiescent=no"]
    ka = ["global_defs {\n  router_id bench\n}\n"]
    for v in range(virtuals):
        vip = f"203.0.113.{v % 250 + 1}"
        port = 1000 + v
        ld += [
            f"virtual={vip}:{port}",
            "\tservice=http",
            "\tchecktype=negotiate",
            '\trequest="index.html"',
            '\treceive="Test Page"',
            "\tscheduler=wrr",
            "\tprotocol=tcp",
        ]
        ka.append(
            f"virtual_server {vip} {port} {{\n  delay_loop 1\n  lb_algo wrr\n  lb_kind NAT\n"
            "  protocol TCP\n"
        )
        for r in range(reals):
            a = real_addr(v * reals + r)
            ld.append(f"\treal={a}:80 masq 1")
            ka.append(
                f"  real_server {a} 80 {{\n    weight 1\n    HTTP_GET {{\n      url {{\n"
                "        path /index.html\n        status_code 200\n      }\n"
                "      connect_timeout 3\n    }\n  }\n"
            )
        ka.append("}\n")
    with open(os.path.join(d, "ldirectord.cf"), "w") as f:
        f.write("\n".join(ld) + "\n")
    with open(os.path.join(d, "ldirectord-on.cf"), "w") as f:
        f.write("\n".join(ld).replace("\tchecktype=negotiate", "\tchecktype=on") + "\n")
    with open(os.path.join(d, "keepalived.conf"), "w") as f:
        f.write("".join(ka))


def timed(cmd):
    """(elapsed s, peak RSS MiB, CPU s (user + system), exit status) of a command, its output
    discarded."""
    out = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M %U %S"] + cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    last = out.stderr.strip().splitlines()[-1].split()
    return float(last[0]), int(last[1]) / 1024, float(last[2]) + float(last[3]), out.returncode


def med(v):
    return statistics.median(v) if v else float("nan")


READERS = [
    ("director check", lambda director, d: [director, "check", os.path.join(d, "ldirectord.cf")]),
    ("director check --print-ipvs",
     lambda director, d: [director, "check", "--print-ipvs", os.path.join(d, "ldirectord.cf")]),
    ("keepalived -t", lambda director, d: ["keepalived", "-t", "-f", os.path.join(d, "keepalived.conf")]),
]


def reading(d, director, runs):
    """{reader: [(elapsed s, peak RSS MiB, CPU s)]}, the readers taking turns."""
    got = {name: [] for name, _ in READERS}
    for _ in range(runs):
        for name, cmd in READERS:
            t, rss, cpu, rc = timed(cmd(director, d))
            if rc != 0:
                sys.exit(f"{name} failed ({rc})")
            got[name].append((t, rss, cpu))
    return got


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid):
    """utime + stime of a process so far, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ctl(director, run_dir, *args):
    return subprocess.run(
        [director, *args, "--run-dir", run_dir],
        capture_output=True,
        text=True,
        check=False,
    )


def services_listed(director, run_dir):
    out = ctl(director, run_dir, "status", "--json")
    if out.returncode != 0:
        return 0, 0
    try:
        s = json.loads(out.stdout)
    except json.JSONDecodeError:
        return 0, 0
    virtuals = s.get("virtuals", [])
    reals = sum(len(v.get("reals", [])) for v in virtuals)
    return len(virtuals), reals


def daemon(d, director, virtuals, reals, runs):
    ns = f"cfgbench{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    proc = None
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        run_dir = os.path.join(d, "run")
        os.makedirs(run_dir, exist_ok=True)
        log = open(os.path.join(d, "director.log"), "w")
        t0 = time.monotonic()
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, director, "run", "--ipvs", "memory", "--metrics", "off",
             "--config-dir", d, "--ldirectord", "ldirectord-on.cf", "--run-dir", run_dir,
             "--state-dir", os.path.join(d, "state")],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        loaded = None
        while time.monotonic() - t0 < 120:
            if proc.poll() is not None:
                sys.exit("director run ended; see director.log")
            v, r = services_listed(director, run_dir)
            if v == virtuals and r == virtuals * reals:
                loaded = time.monotonic() - t0
                break
            time.sleep(0.05)
        if loaded is None:
            sys.exit("the daemon did not list every service within 120 s")
        time.sleep(3)
        rss = rss_mib(proc.pid)
        path = os.path.join(d, "ldirectord-on.cf")
        with open(path) as f:
            text = f.read()
        first = f"\treal={real_addr(0)}:80 masq 1\n"
        reloads = []
        for i in range(runs):
            weight = 2 if i % 2 == 0 else 1
            old = 1 if weight == 2 else 2
            text = text.replace(
                f"\treal={real_addr(0)}:80 masq {old}\n",
                f"\treal={real_addr(0)}:80 masq {weight}\n",
                1,
            )
            with open(path, "w") as f:
                f.write(text)
            t, c = time.monotonic(), cpu_s(proc.pid)
            out = ctl(director, run_dir, "reload")
            took, cpu = time.monotonic() - t, cpu_s(proc.pid) - c
            if out.returncode != 0:
                sys.exit(f"reload failed: {out.stdout}{out.stderr}")
            reloads.append((took, cpu))
            time.sleep(1)
        with open(path, "w") as f:
            f.write(text.replace(f"\treal={real_addr(0)}:80 masq 2\n", first, 1))
        rss_after = rss_mib(proc.pid)
        return loaded, rss, reloads, rss_after
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(["ip", "netns", "del", ns], check=False)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--virtuals", type=int, default=400)
    p.add_argument("--reals", type=int, default=100)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--director", default=os.path.join(ROOT, "target", "release", "director"))
    p.add_argument("--out")
    p.add_argument("--no-daemon", action="store_true")
    a = p.parse_args()
    if os.geteuid() != 0 and not a.no_daemon:
        sys.exit("run as root (network namespace), or --no-daemon")
    if a.virtuals * a.reals > 250 * 62500:
        sys.exit("at most 15,625,000 reals (127.X.Y.Z addresses)")
    if not shutil.which("keepalived"):
        sys.exit("apt-get install -y keepalived")
    d = a.out or tempfile.mkdtemp(prefix="cfg-scale-")
    os.makedirs(d, exist_ok=True)
    generate(d, a.virtuals, a.reals)
    n = a.virtuals * a.reals
    print(f"{a.virtuals} virtual services x {a.reals} reals = {n} real servers; files in {d}")
    with open("/proc/loadavg") as f:
        print(f"load average at start: {' '.join(f.read().split()[:3])}")
    got = reading(d, a.director, a.runs)
    print()
    print("| reading the file | median s | runs s | median CPU s | peak RSS MiB (median) |")
    print("|---|---|---|---|---|")
    for name, runs in got.items():
        print(f"| `{name}` | {med([t for t, _, _ in runs]):.2f} | "
              f"{' '.join(f'{t:.2f}' for t, _, _ in runs)} | {med([c for _, _, c in runs]):.2f} | "
              f"{med([r for _, r, _ in runs]):.1f} |")
    kt = med([t for t, _, _ in got["keepalived -t"]])
    kc = med([c for _, _, c in got["keepalived -t"]])
    kr = med([r for _, r, _ in got["keepalived -t"]])
    print()
    for name in ("director check", "director check --print-ipvs"):
        dt = med([t for t, _, _ in got[name]])
        dc = med([c for _, _, c in got[name]])
        dr = med([r for _, r, _ in got[name]])
        ratio = f"{kt / dt:.1f}x" if dt > 0 else "n/a (too fast to time)"
        cpu = f"{kc / dc:.1f}x" if dc > 0 else "n/a"
        print(f"keepalived -t / {name}: time {ratio}, CPU {cpu}; "
              f"memory {name} / keepalived -t {dr / kr:.2f}x")
    if not a.no_daemon:
        loaded, rss, reloads, rss_after = daemon(d, a.director, a.virtuals, a.reals, a.runs)
        print()
        print("| director run --ipvs memory | value |")
        print("|---|---|")
        print(f"| launch to every service listed | {loaded:.2f} s |")
        print(f"| RSS 3 s later | {rss:.1f} MiB |")
        print(f"| reload after one real's weight changed, median (runs) | "
              f"{med([t for t, _ in reloads]):.3f} s "
              f"({' '.join(f'{t:.3f}' for t, _ in reloads)}) |")
        print(f"| the daemon's CPU during each reload, median (runs) | "
              f"{med([c for _, c in reloads]):.2f} s "
              f"({' '.join(f'{c:.2f}' for _, c in reloads)}) |")
        print(f"| RSS after the reloads | {rss_after:.1f} MiB |")
    with open("/proc/loadavg") as f:
        print(f"\nload average at the end: {' '.join(f.read().split()[:3])}")


if __name__ == "__main__":
    main()
