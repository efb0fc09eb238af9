"""Copied to a test host by the `http_probe` fixture and run there with the host's python3.

usage: http_probe.py TARGET PATH [SECONDS]
TARGET is a unix socket path (/run/app.sock), host:port, or a base URL (https://localhost).
Sends GET PATH once, or back to back for SECONDS (or until SIGTERM), and prints one JSON line: requests sent, failed
(an error or a status other than 200), the first errors, latency percentiles, and the last body.
TLS certificates are not verified: the hosts under test use self-signed ones.
PROBE_HOST in the environment sets the Host header (a site chosen by its name on a shared address).
"""

import http.client
import json
import os
import signal
import socket
import ssl
import sys
import time
from urllib.parse import urlsplit


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.socket_path)


def connection(target):
    if target.startswith("/"):
        return UnixConnection(target)
    if "://" not in target:
        target = "http://" + target
    url = urlsplit(target)
    if url.scheme == "https":
        unverified = ssl._create_unverified_context()
        return http.client.HTTPSConnection(url.hostname, url.port or 443, timeout=30, context=unverified)
    return http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)


def get(target, path):
    conn = connection(target)
    try:
        headers = {"Host": os.environ["PROBE_HOST"]} if os.environ.get("PROBE_HOST") else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def main():
    target, path = sys.argv[1], sys.argv[2]
    deadline = time.monotonic() + (float(sys.argv[3]) if len(sys.argv) > 3 else 0)
    latencies, errors = [], []
    failed, body = 0, ""
    stopped = []
    signal.signal(signal.SIGTERM, lambda *_: stopped.append(True))
    while True:
        start = time.monotonic()
        try:
            status, body = get(target, path)
            if status != 200:
                failed += 1
                errors.append(f"status {status}")
        except OSError as exc:
            failed += 1
            errors.append(repr(exc))
        latencies.append(time.monotonic() - start)
        if stopped or time.monotonic() >= deadline:
            break
    latencies.sort()

    def pct(p):
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000, 1)

    report = {"sent": len(latencies), "failed": failed, "errors": errors[:5], "p50_ms": pct(0.5), "p99_ms": pct(0.99)}
    report["body"] = body
    print(json.dumps(report))


if __name__ == "__main__":
    main()
