# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The health probe of ``pyops.deploy.service_check`` against real HTTP servers in threads.

The servers listen on a unix socket and on a loopback TCP port; systemctl and journalctl are a
stub ``run_command`` (the test machine has no systemd), the requests are real.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import socket
import socketserver
import threading

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._service_check import (
    ServiceCheckError,
    Systemd,
    ask,
    parse_url,
    probe,
    service_check,
)


class Health(http.server.BaseHTTPRequestHandler):
    """Answers every GET from the server's ``replies`` list (the last one repeats); records requests."""

    def do_GET(self):  # noqa: N802 (BaseHTTPRequestHandler's name)
        server = self.server
        server.seen.append({"path": self.path, "host": self.headers.get("Host")})
        server.__dict__.setdefault("proto", []).append(self.headers.get("X-Forwarded-Proto"))
        replies = server.replies
        status, body = replies.pop(0) if len(replies) > 1 else replies[0]
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, unused_address = super().get_request()
        return request, ("unix", 0)  # BaseHTTPRequestHandler expects (host, port)


class TCPHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def serving(server, replies):
    server.replies = list(replies)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@contextlib.contextmanager
def http_servers(tmp_path):
    """Yields start(kind, *replies) -> (server, where), where is ask()'s socket_path or url; stops them after."""
    servers = []

    def start(kind, *replies):
        if kind == "unix":
            server = UnixHTTPServer(str(tmp_path / "app.sock"), Health)
            where = {"socket_path": str(tmp_path / "app.sock")}
        else:
            server = TCPHTTPServer(("127.0.0.1", 0), Health)
            where = {"url": f"127.0.0.1:{server.server_address[1]}"}
        servers.append(serving(server, replies))
        return server, where

    try:
        yield start
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def unix_server(tmp_path):
    with http_servers(tmp_path) as start:
        yield functools.partial(start, "unix")


@pytest.fixture
def tcp_server(tmp_path):
    with http_servers(tmp_path) as start:
        yield functools.partial(start, "tcp")


@pytest.fixture(params=["unix", "tcp"])
def server(request, unix_server, tcp_server):
    return unix_server if request.param == "unix" else tcp_server


def asker(where, path="/healthz", host_header="localhost", timeout=5):
    return lambda: ask(path=path, host_header=host_header, timeout=timeout, **where)


def no_sleep(seconds):
    pass


def test_a_200_with_the_expected_text_passes_and_sends_the_host_header(server):
    srv, where = server((200, '{"release": "r1"}'))
    assert probe(asker(where, host_header="shop.example.com"), expect="r1", sleep=no_sleep) == {
        "status": 200,
        "attempts": 1,
    }
    assert srv.seen == [{"path": "/healthz", "host": "shop.example.com"}]
    # As the proxy asks it: an app that redirects plain HTTP to HTTPS (Django's SECURE_SSL_REDIRECT behind
    # SECURE_PROXY_SSL_HEADER) answers the page itself, not a 301 that would pass any check.
    assert srv.proto == ["https"]


def test_a_wrong_body_is_retried_until_it_matches(server):
    srv, where = server((200, "r0"), (503, "booting"), (200, "r1"))
    slept = []
    assert probe(asker(where), expect="r1", retries=5, delay=0.25, sleep=slept.append) == {
        "status": 200,
        "attempts": 3,
    }
    assert slept == [0.25, 0.25]
    assert [seen["host"] for seen in srv.seen] == ["localhost"] * 3


def test_an_expect_mismatch_fails_with_the_status_and_body(server):
    where = server((200, "release r0"))[1]
    with pytest.raises(ServiceCheckError) as failed:
        probe(asker(where), expect="r1", retries=3, sleep=no_sleep)
    assert str(failed.value) == "after 3 requests: status 200, body 'release r0' (expected 'r1')"
    assert (failed.value.status, failed.value.attempts) == (200, 3)


def test_an_error_status_fails_even_with_the_text(server):
    where = server((500, "r1 broke"))[1]
    with pytest.raises(ServiceCheckError, match=r"after 2 requests: status 500, body 'r1 broke' \(expected 'r1'\)"):
        probe(asker(where), expect="r1", retries=2, sleep=no_sleep)


def test_retries_exhausted_without_a_listener_name_the_connection_error(tmp_path):
    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))
    port = unused.getsockname()[1]
    unused.close()
    for where in ({"socket_path": str(tmp_path / "none.sock")}, {"url": f"http://127.0.0.1:{port}"}):
        with pytest.raises(ServiceCheckError) as failed:
            probe(asker(where), retries=2, sleep=no_sleep)
        assert str(failed.value).startswith("after 2 requests: request failed: ")
        assert "No such file" in str(failed.value) or "refused" in str(failed.value)
        assert (failed.value.status, failed.value.attempts) == (None, 2)


def test_a_listener_that_never_answers_times_out(tmp_path):
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(str(tmp_path / "silent.sock"))
    silent.listen(1)
    try:
        with pytest.raises(ServiceCheckError, match="request failed: timed out"):
            probe(asker({"socket_path": str(tmp_path / "silent.sock")}, timeout=0.2), retries=1, sleep=no_sleep)
    finally:
        silent.close()


def test_an_answer_after_a_failed_start_of_the_listener_counts(tmp_path, unix_server):
    """The first request finds no socket yet (the unit is booting), a later one finds it."""
    calls = []

    def ask_after_boot():
        calls.append(1)
        if len(calls) == 2:
            unix_server((200, "ok"))
        return asker({"socket_path": str(tmp_path / "app.sock")})()

    assert probe(ask_after_boot, expect="ok", retries=3, sleep=no_sleep) == {"status": 200, "attempts": 2}


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("http://127.0.0.1:8000/", ("127.0.0.1", 8000)),
        ("[::1]:8000", ("::1", 8000)),
        ("http://localhost:80", ("localhost", 80)),
    ],
)
def test_urls(url, address):
    assert parse_url(url) == address


@pytest.mark.parametrize("url", ["127.0.0.1", "https://127.0.0.1:8000", "127.0.0.1:0", "/run/app.sock", "h:99999"])
def test_bad_urls(url):
    with pytest.raises(ValueError, match="host:port"):
        parse_url(url)


class FakeSystemd:
    """A run_command standing in for systemctl and journalctl; records the calls."""

    def __init__(self, active="inactive", enabled="disabled", failing=()):
        self.calls = []
        self.answers = {"is-active": active, "is-enabled": enabled}
        self.failing = failing

    def __call__(self, argv, check_rc=False):
        assert check_rc is False
        self.calls.append(" ".join(argv))
        if argv[0] == "journalctl":
            return 0, "line 1\nline 2\n", ""
        if argv[1] in self.answers:
            return 0, self.answers[argv[1]] + "\n", ""
        if argv[1] in self.failing:
            return 1, "", f"Job for {argv[-1]} failed.\n"
        return 0, "", ""


def test_a_candidate_is_stopped_first_started_checked_and_stopped(unix_server):
    where = unix_server((200, "r2"))[1]
    fake = FakeSystemd()
    result = service_check(
        Systemd(fake),
        "app-candidate@r2.service",
        asker(where),
        stop_first="app-candidate@*.service",
        stop_after=True,
        expect="r2",
        sleep=no_sleep,
    )
    assert result == {"changed": True, "status": 200, "attempts": 1}
    assert fake.calls == [
        "systemctl stop app-candidate@*.service",
        "systemctl restart app-candidate@r2.service",
        "systemctl stop app-candidate@r2.service",
    ]


def test_enabled_and_started_change_only_what_is_not_so_yet(tcp_server):
    where = tcp_server((200, "ok"))[1]
    fake = FakeSystemd(active="inactive", enabled="disabled")
    result = service_check(Systemd(fake), "app.service", asker(where), state="started", enabled=True, sleep=no_sleep)
    assert result["changed"] is True
    assert fake.calls == [
        "systemctl is-enabled app.service",
        "systemctl enable --quiet app.service",
        "systemctl is-active app.service",
        "systemctl start app.service",
    ]
    fake = FakeSystemd(active="active", enabled="enabled")
    result = service_check(Systemd(fake), "app.service", asker(where), state="started", enabled=True, sleep=no_sleep)
    assert result == {"changed": False, "status": 200, "attempts": 1}
    assert fake.calls == ["systemctl is-enabled app.service", "systemctl is-active app.service"]


def test_a_failed_check_says_why_with_the_journal_and_still_stops_the_candidate(unix_server):
    where = unix_server((500, "boom"))[1]
    fake = FakeSystemd()
    with pytest.raises(ServiceCheckError) as failed:
        service_check(
            Systemd(fake), "app-candidate@r2.service", asker(where), path="/healthz", stop_after=True, retries=2,
            sleep=no_sleep,
        )  # fmt: skip
    assert str(failed.value) == (
        "app-candidate@r2.service failed its health check /healthz after 2 requests: status 500, body 'boom'\n"
        "Log of app-candidate@r2.service:\nline 1\nline 2"
    )
    assert (failed.value.changed, failed.value.status, failed.value.attempts) == (True, 500, 2)
    assert fake.calls[-2:] == [
        "systemctl stop app-candidate@r2.service",
        "journalctl --no-pager -n 20 -o cat -u app-candidate@r2.service",
    ]


def test_a_failing_restart_is_reported_with_the_journal_without_a_request(tmp_path):
    fake = FakeSystemd(failing=("restart",))
    requests = []
    with pytest.raises(ServiceCheckError) as failed:
        service_check(Systemd(fake), "app.service", lambda: requests.append(1), sleep=no_sleep)
    assert str(failed.value) == (
        "systemctl restart app.service failed (rc 1): Job for app.service failed.\nLog of app.service:\nline 1\nline 2"
    )
    assert requests == [] and failed.value.attempts == 0
    assert not os.path.exists(tmp_path / "app.sock")


def path_asker(where, host_header="localhost", timeout=5):
    return lambda path: ask(path=path, host_header=host_header, timeout=timeout, **where)


def test_smoke_paths_are_asked_once_each_after_the_health_check_and_pass_below_500(unix_server):
    server, where = unix_server((200, "r2"), (302, ""), (404, "no such report"))
    result = service_check(
        Systemd(FakeSystemd()), "app-candidate@r2.service", asker(where, host_header="shop.test"), path="/healthz",
        expect="r2", ask_path=path_asker(where, host_header="shop.test"), smoke_paths=["/admin/", "/reports/1"],
        sleep=no_sleep,
    )  # fmt: skip
    assert result == {"changed": True, "status": 200, "attempts": 1, "smoked": ["/admin/", "/reports/1"]}
    assert server.seen == [
        {"path": "/healthz", "host": "shop.test"},
        {"path": "/admin/", "host": "shop.test"},
        {"path": "/reports/1", "host": "shop.test"},
    ]


def test_a_smoke_path_answering_500_fails_with_its_body_and_the_journal_and_still_stops_the_candidate(unix_server):
    where = unix_server((200, "ok"), (500, "ImportError: No module named 'reportlib'"))[1]
    fake = FakeSystemd()
    with pytest.raises(ServiceCheckError) as failed:
        service_check(
            Systemd(fake), "app-candidate@r3.service", asker(where), path="/healthz", stop_after=True,
            ask_path=path_asker(where), smoke_paths=["/reports"], sleep=no_sleep,
        )  # fmt: skip
    assert str(failed.value) == (
        "app-candidate@r3.service passed its health check /healthz, but its smoke path /reports answered 500, "
        "body \"ImportError: No module named 'reportlib'\"\nLog of app-candidate@r3.service:\nline 1\nline 2"
    )
    assert (failed.value.status, failed.value.attempts) == (500, 1)
    assert fake.calls[-2:] == [
        "systemctl stop app-candidate@r3.service",
        "journalctl --no-pager -n 20 -o cat -u app-candidate@r3.service",
    ]


def test_a_smoke_path_without_an_answer_fails(tmp_path):
    calls = []

    def ask_path(path):
        calls.append(path)
        raise ConnectionResetError("connection reset by peer")

    with pytest.raises(ServiceCheckError, match=r"but its smoke path /x: request failed: connection reset by peer"):
        service_check(
            Systemd(FakeSystemd()), "app.service", lambda: (200, ""), ask_path=ask_path, smoke_paths=["/x", "/y"],
            sleep=no_sleep,
        )  # fmt: skip
    assert calls == ["/x"]
