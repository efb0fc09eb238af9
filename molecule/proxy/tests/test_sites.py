"""The samples served through nginx (Debian 12 and 13) and Apache, as a browser would reach them."""

import json
import re

import pytest
from conftest import LOCAL_APPS, NGINX, PROXIES

APP_HOSTS = {"pyops-proxy-app1", "pyops-proxy-app2"}
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "SAMEORIGIN",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
}
STATIC_CSS = "https://shop.test/static/only-on-proxy.css"


def assert_security_headers(reply):
    assert reply.header("strict-transport-security") == "max-age=63072000", reply.headers
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers.get(name) == [value], (name, reply.headers)


@pytest.mark.parametrize("proxy", PROXIES)
def test_wsgi_sample_answers_over_https_from_both_app_hosts(proxy, fetch):
    hosts = set()
    for _ in range(8):
        reply = fetch(proxy, "https://shop.test/healthz")
        assert reply.status == 200, reply
        body = json.loads(reply.body)
        assert body["status"] == "ok" and body["release"] == "r1"
        hosts.add(body["host"])
    assert hosts == APP_HOSTS


@pytest.mark.parametrize("proxy", PROXIES)
def test_asgi_sample_answers(proxy, fetch):
    reply = fetch(proxy, "https://api.test/")
    assert reply.status == 200
    assert "pyops sample (FastAPI)" in reply.body
    assert "pyops-proxy-app2" in reply.body


@pytest.mark.parametrize("proxy", LOCAL_APPS)
def test_local_unix_socket_upstream(proxy, fetch):
    reply = fetch(proxy, "https://local.test/healthz")
    assert reply.status == 200, reply
    assert json.loads(reply.body)["host"] == proxy
    static = fetch(proxy, "https://local.test/static/style.css")
    assert static.status == 200 and "text/css" in static.header("content-type")


@pytest.mark.parametrize("proxy", PROXIES)
def test_http_redirects_to_https(proxy, fetch):
    reply = fetch(proxy, "http://shop.test/some/path?q=1")
    assert reply.status == 301
    assert reply.header("location") == "https://shop.test/some/path?q=1"


@pytest.mark.parametrize("proxy", PROXIES)
def test_http2_is_negotiated(proxy, fetch):
    assert fetch(proxy, "https://shop.test/healthz", "--http2").http_version == "HTTP/2"


@pytest.mark.parametrize("proxy", PROXIES)
def test_security_headers_on_proxied_static_and_error_responses(proxy, fetch):
    for url in ("https://shop.test/healthz", STATIC_CSS, "https://shop.test/no-such-page"):
        reply = fetch(proxy, url)
        assert reply.status in (200, 404)
        assert_security_headers(reply)


@pytest.mark.parametrize("proxy", PROXIES)
def test_no_version_is_disclosed(proxy, fetch):
    # Apache passes the app's Server header through (gunicorn sends no version either).
    for url in ("https://shop.test/no-such-page", STATIC_CSS):
        server = fetch(proxy, url).header("server") or ""
        assert server and not re.search(r"[0-9]", server), server


@pytest.mark.parametrize("proxy", PROXIES)
def test_static_file_is_served_by_the_proxy_with_cache_headers_and_gzip(proxy, fetch):
    # The file exists on the proxies only: a 200 cannot have come from the app.
    reply = fetch(proxy, STATIC_CSS, "-H", "Accept-Encoding: gzip", "--compressed")
    assert reply.status == 200
    assert "color: #123456" in reply.body
    assert reply.header("cache-control") == "public, max-age=86400, immutable"
    assert reply.header("content-encoding") == "gzip"


@pytest.mark.parametrize("proxy", PROXIES)
def test_media_is_served_with_a_sandboxing_policy(proxy, fetch, tester):
    reply = fetch(proxy, "https://shop.test/media/upload.html")
    assert reply.status == 200
    assert reply.header("content-security-policy") == "default-src 'none'; sandbox"


@pytest.mark.parametrize("proxy", PROXIES)
def test_dynamic_responses_are_not_compressed(proxy, fetch):
    reply = fetch(proxy, "https://shop.test/healthz", "-H", "Accept-Encoding: gzip")
    assert reply.status == 200
    assert reply.header("content-encoding") is None


@pytest.mark.parametrize("proxy", PROXIES)
def test_request_body_limit(proxy, fetch, tester):
    tester.run_expect([0], "head -c 2000000 /dev/zero > /tmp/two-megabytes")
    reply = fetch(proxy, "https://shop.test/healthz", "--data-binary", "@/tmp/two-megabytes")
    assert reply.status == 413


@pytest.mark.parametrize("proxy", NGINX)
def test_rate_limited_path(proxy, fetch):
    statuses = [fetch(proxy, "https://shop.test/login").status for _ in range(8)]
    assert 429 in statuses, statuses
    # The burst of 2 lets the first requests through to the app (which has no /login: 404).
    assert statuses[0] == 404, statuses


@pytest.mark.parametrize("proxy", PROXIES)
def test_tls_protocols_are_those_of_the_intermediate_profile(proxy, tester):
    def handshake(flag):
        cmd = f"echo | openssl s_client -connect {proxy}:443 -servername shop.test {flag}"
        return tester.run(cmd + " 2>&1").stdout

    assert "Protocol  : TLSv1.3" in handshake("-tls1_3") or "TLSv1.3" in handshake("-tls1_3")
    assert "TLSv1.2" in handshake("-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256")
    for old in ("-tls1_1", "-tls1"):
        out = handshake(old)
        assert "Cipher is (NONE)" in out or "no protocols available" in out or "alert" in out, out[-400:]
    # A CBC suite is not offered over TLS 1.2.
    out = handshake("-tls1_2 -cipher ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA")
    assert "Cipher is (NONE)" in out or "alert" in out or "no cipher" in out.lower(), out[-400:]
