"""Copied to a test host and run there: GET a path over a unix socket or TCP, in a loop if asked.

usage: http_probe.py ADDRESS PATH [SECONDS]
ADDRESS is /path/to.sock or host:port. Prints one JSON line: the last body, and how many requests
were sent and failed (any error or a status other than 200).
"""

import http.client
import json
import socket
import sys
import time


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


def get(address, path):
    if address.startswith("/"):
        conn = UnixConnection(address)
    else:
        host, port = address.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def main():
    address, path = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 0
    deadline = time.monotonic() + seconds
    sent = failed = 0
    body = ""
    errors = []
    while True:
        sent += 1
        try:
            status, body = get(address, path)
            if status != 200:
                failed += 1
                errors.append(f"status {status}")
        except OSError as exc:
            failed += 1
            errors.append(repr(exc))
        if time.monotonic() >= deadline:
            break
    print(json.dumps({"sent": sent, "failed": failed, "errors": errors[:5], "body": body}))


if __name__ == "__main__":
    main()
