#!/usr/bin/env python3
"""For a loopback variant (variant.pl loopback): what tests/bench/httpd.py must serve.

usage: listen-spec.py FILE BODYFILE > LISTENFILE
Prints one `ADDRESS PORT` per loopback real/fallback of FILE (ranges expanded) and port it may be
checked on: the real's own port (else the virtual's), and the block's checkport. Writes to
BODYFILE a body holding every receive string of the file, so every http check's regex finds its
text."""
import re
import sys

cfg, body_path = sys.argv[1], sys.argv[2]
blocks = []          # [virtual port, checkport, [(addr, port or None)]]
receives = []
cur = None
for raw in open(cfg):
    line = raw.replace("\t", "    ")
    if re.match(r"virtual6?\s*=", line):
        m = re.search(r":(\d+)\s*$", line.split("#")[0].strip())
        cur = [int(m.group(1)) if m else None, None, []]
        blocks.append(cur)
        continue
    if cur is not None and re.match(r" {4,}\S", line):
        text = line.split("#")[0].strip()
        m = re.match(r"real\s*=\s*(127\.\d+\.\d+\.\d+)(?:->(127\.\d+\.\d+\.\d+))?(?::(\d+))?", text)
        if m:
            first, last, port = m.group(1), m.group(2), m.group(3)
            port = int(port) if port else None
            if last:
                a, b = first.split("."), last.split(".")
                for x in range(int(a[3]), int(b[3]) + 1):
                    cur[2].append((".".join(a[:3] + [str(x)]), port))
            else:
                cur[2].append((first, port))
        m = re.match(r"checkport\s*=\s*(\d+)", text)
        if m:
            cur[1] = int(m.group(1))
        receives += re.findall(r'"([^"]*)"', text) if text.startswith("receive") or text.startswith("real") else []
        continue
    if not line.strip().startswith("#"):
        cur = None
seen = set()
for vport, checkport, reals in blocks:
    for addr, port in reals:
        for p in {port or vport, checkport} - {None}:
            if (addr, p) not in seen:
                seen.add((addr, p))
                print(addr, p)
with open(body_path, "w") as f:
    f.write("<html><body>Test Page " + " ".join(receives) + "</body></html>\n")
