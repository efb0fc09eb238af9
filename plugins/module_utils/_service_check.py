# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""(Re)start a systemd unit and request its health path until it answers: ``pyops.deploy.service_check``.

Plain Python (no AnsibleModule): systemctl and journalctl run through a ``run_command`` callable
with AnsibleModule.run_command's signature, so tests can stand in for systemd while the HTTP
requests stay real. Runs on the managed host, hence Python 3.8 compatible and stdlib only.
"""

from __future__ import annotations

import http.client
import re
import socket
import time

JOURNAL_LINES = 20
# How much of an unexpected body a failure quotes.
BODY_QUOTED = 200


class ServiceCheckError(Exception):
    """The unit could not be (re)started or did not pass its health check; says why."""

    def __init__(self, message, status=None, attempts=0, changed=False):
        super().__init__(message)
        self.status = status
        self.attempts = attempts
        self.changed = changed


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix stream socket; the Host header is set by the request."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.unix_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


_URL = re.compile(r"^(?:http://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^/:\[\]]+):(?P<port>[0-9]{1,5})/*$")


def parse_url(url):
    """(host, port) of ``host:port`` or ``http://host:port`` (IPv6 in brackets); raises ValueError."""
    found = _URL.match(url.strip())
    if not found or not 0 < int(found.group("port")) < 65536:
        raise ValueError(f"url must be host:port or http://host:port, not {url!r}")
    return found.group("host").strip("[]"), int(found.group("port"))


def connection(socket_path=None, url=None, timeout=30):
    if socket_path:
        return UnixHTTPConnection(socket_path, timeout)
    host, port = parse_url(url)
    return http.client.HTTPConnection(host, port, timeout=timeout)


def ask(socket_path=None, url=None, path="/", host_header="localhost", timeout=30):
    """One GET of ``path``: (status, body text); raises OSError or http.client.HTTPException."""
    conn = connection(socket_path, url, timeout)
    try:
        # As the reverse proxy forwards a request: an app that redirects plain HTTP to HTTPS behind a proxy
        # answers the page, not a redirect that any check would pass.
        conn.request("GET", path, headers={"Host": host_header, "X-Forwarded-Proto": "https"})
        reply = conn.getresponse()
        return reply.status, reply.read().decode("utf-8", "replace")
    finally:
        conn.close()


def probe(ask_once, expect="", retries=10, delay=1.0, sleep=time.sleep):
    """Call ``ask_once`` until it answers 200 with ``expect`` in the body.

    Returns {"status": 200, "attempts": n}; raises ServiceCheckError with the last reason after
    ``retries`` requests (at least one).
    """
    problem, status, attempt = "no request was made", None, 0
    for attempt in range(1, max(1, retries) + 1):
        if attempt > 1:
            sleep(delay)
        try:
            status, body = ask_once()
        except (OSError, http.client.HTTPException) as exc:
            status, problem = None, f"request failed: {exc or type(exc).__name__}"
            continue
        if status == 200 and expect in body:
            return {"status": status, "attempts": attempt}
        problem = f"status {status}, body {body[:BODY_QUOTED]!r}" + (f" (expected {expect!r})" if expect else "")
    raise ServiceCheckError(f"after {attempt} requests: {problem}", status=status, attempts=attempt)


def smoke(ask_path, paths):
    """One request of each of ``paths`` once the health check passed: each must answer below 500.

    A page behind a login (302, 401, 403) or one that needs parameters (400, 404) is not a crash; a 5xx
    (a view that imports a broken module only when asked) or no answer is. Raises ServiceCheckError
    naming the path, its status and the start of its body.
    """
    for path in paths:
        try:
            status, body = ask_path(path)
        except (OSError, http.client.HTTPException) as exc:
            reason = f"smoke path {path}: request failed: {exc or type(exc).__name__}"
            raise ServiceCheckError(reason, attempts=1) from None
        if status >= 500:
            raise ServiceCheckError(
                f"smoke path {path} answered {status}, body {body[:BODY_QUOTED]!r}", status=status, attempts=1
            )
    return list(paths)


class Systemd:
    """systemctl and journalctl through ``run_command(argv, check_rc=False)`` -> (rc, stdout, stderr)."""

    def __init__(self, run_command, systemctl="systemctl", journalctl="journalctl"):
        self.run_command = run_command
        self.systemctl = systemctl
        self.journalctl = journalctl

    def query(self, *argv):
        """stdout of a systemctl query whose exit code is an answer (is-active, is-enabled)."""
        rc, out, err = self.run_command([self.systemctl, *argv], check_rc=False)
        return (out or "").strip()

    def run(self, *argv):
        rc, out, err = self.run_command([self.systemctl, *argv], check_rc=False)
        if rc != 0:
            said = " ".join(((err or "") + " " + (out or "")).split())
            raise ServiceCheckError(f"systemctl {' '.join(argv)} failed (rc {rc}): {said}")

    def journal(self, unit, lines=JOURNAL_LINES):
        rc, out, err = self.run_command(
            [self.journalctl, "--no-pager", "-n", str(lines), "-o", "cat", "-u", unit], check_rc=False
        )
        return (out or "").strip() if rc == 0 else f"(journalctl failed, rc {rc}: {' '.join((err or '').split())})"


def service_check(
    systemd,
    name,
    ask_once,
    path="/",
    state="restarted",
    enabled=False,
    stop_first=None,
    stop_after=False,
    ask_path=None,
    smoke_paths=(),
    **probing,
):
    """Stop leftovers, enable, (re)start ``name``, probe it, ask its ``smoke_paths`` once through
    ``ask_path(path)``, optionally stop it.

    Returns {"changed", "status", "attempts"}; raises ServiceCheckError with the reason and the
    unit's last journal lines.
    """
    changed = False
    checked = {}
    try:
        try:
            if stop_first:
                systemd.run("stop", stop_first)
            if enabled and systemd.query("is-enabled", name) != "enabled":
                systemd.run("enable", "--quiet", name)
                changed = True
            if state == "restarted":
                systemd.run("restart", name)
                changed = True
            elif systemd.query("is-active", name) != "active":
                systemd.run("start", name)
                changed = True
            checked = probe(ask_once, **probing)
            if smoke_paths:
                checked["smoked"] = smoke(ask_path, smoke_paths)
        finally:
            if stop_after:
                systemd.run("stop", name)
    except ServiceCheckError as exc:
        if str(exc).startswith("smoke path"):
            reason = f"{name} passed its health check {path}, but its {exc}"
        else:
            reason = f"{name} failed its health check {path} {exc}" if exc.attempts else str(exc)
        raise ServiceCheckError(
            f"{reason}\nLog of {name}:\n{systemd.journal(name)}",
            status=exc.status,
            attempts=exc.attempts,
            changed=changed,
        ) from None
    return {"changed": changed, **checked}
