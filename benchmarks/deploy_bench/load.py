"""Copied to the proxy with molecule/http_probe.py and run there: steady load until told to stop.

usage: load.py TARGET PATH STOPFILE MAX_SECONDS CLIENTS
CLIENTS threads send GET PATH back to back (http_probe's `get`: a new connection per request, TLS
unverified) until STOPFILE exists or MAX_SECONDS pass, then one JSON line is printed with the same
keys as http_probe's report. The step's length is not known in advance, hence the stop file.
"""

import json
import os
import sys
import threading
import time

from http_probe import get


def client(target, path, stop, deadline, latencies, errors):
    while not os.path.exists(stop) and time.monotonic() < deadline:
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
    deadline = time.monotonic() + float(sys.argv[4])
    latencies, errors = [], []
    threads = [
        threading.Thread(target=client, args=(target, path, stop, deadline, latencies, errors))
        for _ in range(int(sys.argv[5]))
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
    print(json.dumps(report))


if __name__ == "__main__":
    main()
