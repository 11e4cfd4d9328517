#!/usr/bin/env python3
"""Many-address HTTP server for health-check benchmarks and the ldirectord table oracle.

One asyncio process, one listening socket per address:port (loopback only), adapted from the
health-check lab's server (docs/ref/hc-lab/httpd.py).

  httpd.py --count N [--port 80] --log FILE [--slow I ...]
      addresses 127.(1+i//62500).(i%62500//250).(i%250+1) for i in 0..N-1, that is
      127.1.(i//250).(i%250+1) up to 62,500 (same formula as mkconf in
      tests/bench/healthcheck.sh and tests/src/bench.rs)
  httpd.py --listen-file FILE --log FILE [--body-file FILE]
      one `ADDRESS PORT` per line of FILE

Every request (the first line and headers read up to the blank line) is answered with
`200 OK`, body BODY (default `<html><body>Test Page</body></html>`, or the --body-file's
text), `Connection: close`; a connection that sends nothing is simply held until the client
closes it, so a TCP connect check works too. Each request is logged as
`<epoch seconds> <address>` to the log (buffered, flushed every 0.2 s and on exit).
`--slow I` (index into --count addresses) accepts and reads but never answers.
Prints `listening on N addresses` once every socket is bound. Ends on SIGTERM/SIGINT.
"""
import argparse
import asyncio
import signal
import socket
import sys
import time


def address(i):
    """The i-th real server's address (the formula of the module doc)."""
    return "127.%d.%d.%d" % (1 + i // 62500, i % 62500 // 250, i % 250 + 1)


def count_addresses(n, port):
    return [(address(i), port) for i in range(n)]


def file_addresses(path):
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                out.append((parts[0], int(parts[1])))
    return out


class Log:
    def __init__(self, path):
        self.f = open(path, "a")
        self.buf = []

    def add(self, addr):
        self.buf.append("%.6f %s\n" % (time.time(), addr))

    def flush(self):
        if self.buf:
            self.f.write("".join(self.buf))
            self.buf.clear()
            self.f.flush()


class Http(asyncio.Protocol):
    __slots__ = ("addr", "log", "resp", "slow", "data", "transport")

    def __init__(self, addr, log, resp, slow):
        self.addr, self.log, self.resp, self.slow = addr, log, resp, slow
        self.data = b""
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, chunk):
        if self.data is None:
            return
        self.data += chunk
        if b"\r\n\r\n" not in self.data and b"\n\n" not in self.data:
            if len(self.data) > 65536:
                self.transport.close()
            return
        self.data = None
        self.log.add(self.addr)
        if not self.slow:
            self.transport.write(self.resp)
            self.transport.close()

    def eof_received(self):
        return False


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int)
    ap.add_argument("--port", type=int, default=80)
    ap.add_argument("--listen-file")
    ap.add_argument("--log", required=True)
    ap.add_argument("--body-file")
    ap.add_argument("--slow", type=int, action="append", default=[])
    a = ap.parse_args()
    if a.listen_file:
        addrs = file_addresses(a.listen_file)
    elif a.count is not None:
        addrs = count_addresses(a.count, a.port)
    else:
        ap.error("--count or --listen-file")
    body = b"<html><body>Test Page</body></html>\n"
    if a.body_file:
        with open(a.body_file, "rb") as f:
            body = f.read()
    resp = (b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % len(body)) + body
    log = Log(a.log)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    slow = set(a.slow)
    servers = []
    for i, (host, port) in enumerate(addrs):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(256)
        s.setblocking(False)
        label = ("[%s]:%d" if fam == socket.AF_INET6 else "%s:%d") % (host, port)
        is_slow = i in slow
        servers.append(await loop.create_server(
            lambda label=label, is_slow=is_slow: Http(label, log, resp, is_slow), sock=s))
    print("listening on %d addresses" % len(addrs), flush=True)

    async def flusher():
        while True:
            await asyncio.sleep(0.2)
            log.flush()
    task = asyncio.create_task(flusher())
    await stop.wait()
    task.cancel()
    log.flush()
    for srv in servers:
        srv.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except OSError as e:
        print("httpd.py: %s" % e, file=sys.stderr)
        sys.exit(1)
