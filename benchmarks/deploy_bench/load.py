"""Copied to the proxy with molecule/http_probe.py and run there: steady load until told to stop.

usage: load.py TARGET PATH STOPFILE MAX_SECONDS CLIENTS RATE
CLIENTS threads send GET PATH (http_probe's `get`: a new connection per request, TLS unverified)
at RATE requests per second between them, or back to back when RATE is 0, until STOPFILE exists or
MAX_SECONDS pass; then one JSON line is printed with the same keys as http_probe's report, plus the
rate reached. The step's length is not known in advance, hence the stop file. A client that falls
behind its schedule does not burst to catch up: a steady rate, not a backlog.
"""

import json
import os
import sys
import threading
import time

from http_probe import get


def client(target, path, stop, deadline, interval, latencies, errors):
    due = time.monotonic()
    while not os.path.exists(stop) and time.monotonic() < deadline:
        if interval:
            time.sleep(max(0.0, due - time.monotonic()))
            due = max(due + interval, time.monotonic())
        start = time.monotonic()
        try:
            status, _ = get(target, path)
            error = None if status == 200 else f"status {status}"
        except OSError as exc:
            error = repr(exc)
        latencies.append(time.monotonic() - start)
        if error:
            errors.append(error)


def main():
    target, path, stop = sys.argv[1:4]
    started = time.monotonic()
    deadline = started + float(sys.argv[4])
    clients, rate = int(sys.argv[5]), float(sys.argv[6])
    interval = clients / rate if rate else 0
    latencies, errors = [], []
    threads = [
        threading.Thread(target=client, args=(target, path, stop, deadline, interval, latencies, errors))
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()

    def pct(p):
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000, 1) if latencies else None

    report = {"sent": len(latencies), "failed": len(errors), "errors": errors[:5], "p50_ms": pct(0.5)}
    report["p99_ms"] = pct(0.99)
    report["rate"] = round(len(latencies) / (time.monotonic() - started), 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
