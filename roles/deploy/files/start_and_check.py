"""(Re)starts a systemd unit of the app and requests its health path until it answers, in one go.

usage: start_and_check.py UNIT (--socket PATH | --url URL) --path PATH [--expect TEXT]
       [--retries N] [--delay SECONDS] [--enable] [--stop-first PATTERN] [--stop-after]

The deploy role runs this where it used to run three or four tasks (stop leftovers, start, ask,
stop): each task is a round trip, and on a busy host a round trip costs more than the check.
Prints one JSON line (status, body, attempts) and exits 0 when the app answered 200 with TEXT in
the body; otherwise prints why and the unit's last journal lines to stderr and exits 1.
"""

import argparse
import http.client
import json
import socket
import subprocess
import sys
import time

REQUEST_TIMEOUT = 30  # seconds, as ansible.builtin.uri waits: the first request may wait for the boot


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=REQUEST_TIMEOUT)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def connection(args):
    if args.socket:
        return UnixHTTPConnection(args.socket)
    url = args.url.split("://", 1)[-1].rstrip("/")
    return http.client.HTTPConnection(url, timeout=REQUEST_TIMEOUT)


def ask(args):
    """One health request: (status, body), or raises OSError / HTTPException."""
    conn = connection(args)
    try:
        conn.request("GET", args.path, headers={"Host": "localhost"})
        reply = conn.getresponse()
        return reply.status, reply.read().decode("utf-8", "replace")
    finally:
        conn.close()


def systemctl(*argv):
    subprocess.run(["systemctl", *argv], check=True, capture_output=True, text=True)


def journal(unit):
    shown = subprocess.run(
        ["journalctl", "--no-pager", "-n", "20", "-o", "cat", "-u", unit], capture_output=True, text=True, check=False
    )
    return shown.stdout.strip()


def check(args):
    problem = "no request was made"
    for attempt in range(1, max(1, args.retries) + 1):
        if attempt > 1:
            time.sleep(args.delay)
        try:
            status, body = ask(args)
        except (OSError, http.client.HTTPException) as exc:
            problem = f"request failed: {exc}"
            continue
        if status == 200 and args.expect in body:
            return {"status": status, "body": body, "attempts": attempt}
        problem = f"status {status}, body {body[:200]!r}" + (f" (expected {args.expect!r})" if args.expect else "")
    raise RuntimeError(f"{args.unit} failed its health check {args.path} after {attempt} requests: {problem}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("unit")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--socket")
    where.add_argument("--url")
    parser.add_argument("--path", required=True)
    parser.add_argument("--expect", default="")
    parser.add_argument("--retries", type=int, default=10)
    parser.add_argument("--delay", type=float, default=1)
    parser.add_argument("--enable", action="store_true")
    parser.add_argument("--stop-first")
    parser.add_argument("--stop-after", action="store_true")
    args = parser.parse_args()
    try:
        if args.stop_first:
            systemctl("stop", args.stop_first)
        if args.enable:
            systemctl("enable", "--quiet", args.unit)
        try:
            systemctl("restart", args.unit)
            print(json.dumps(check(args)))
        finally:
            if args.stop_after:
                systemctl("stop", args.unit)
    except subprocess.CalledProcessError as exc:
        sys.exit(f"{' '.join(exc.cmd)} failed: {exc.stderr.strip()}\nLog of {args.unit}:\n{journal(args.unit)}")
    except RuntimeError as exc:
        sys.exit(f"{exc}\nLog of {args.unit}:\n{journal(args.unit)}")


if __name__ == "__main__":
    main()
