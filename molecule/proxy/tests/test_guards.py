"""What stops an operator's mistake from reaching users or logs: a static url without its trailing
slash (nginx alias traversal), a change that passes the configuration test but breaks a site (an
upstream port typo), and a TLS key given as content printed by a verbose run.

Each test leaves the proxies serving as converge left them.
"""

import datetime
import json
import os
from pathlib import Path

import pytest
from conftest import PROXIES
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from scenario_hosts import scenario_host
from test_operations import LIVE_VHOST, served_hosts, server_of

PROXIES_PLAY = "molecule/proxy/proxies.yml"
TLS_DIR = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "tls"
CONTENT_TLS_PROXY = "pyops-proxy-nginx13"  # the proxy whose certificate and key are given as content
OUTSIDE = "/srv/shop/outside-alias.txt"
# A proxy's live tree (each file's digest) and the upstream recorded for site shop.
SNAPSHOT = "cd {0} && find . -type f -exec sha256sum {{}} + | sort; cat /var/lib/pyops-proxy/sites/shop.json"


def live_dir(proxy):
    return str(Path(LIVE_VHOST[server_of(proxy)]).parent)


def flat(result):
    """stdout and stderr on one line, as the YAML callback's doubled quotes and wrapping aside."""
    return " ".join((result.stdout + result.stderr).split()).replace("''", "'")


def failed_recaps(result):
    return [line for line in result.stdout.splitlines() if "failed=1" in line and "ok=" in line]


def test_a_static_url_without_its_trailing_slash_is_refused_and_nothing_outside_the_alias_is_served(
    ansible_playbook, fetch
):
    """`location ^~ /static { alias /srv/shop/static/; }` maps /static../x to /srv/shop/static/../x.
    Apache's Alias matches whole path segments only, so there the request reaches the app either way."""
    marker = "pyops-outside-the-alias-directory"
    hosts = {p: scenario_host(p) for p in PROXIES}
    for host in hosts.values():
        host.run_expect([0], f"echo {marker} > {OUTSIDE} && chmod 0644 {OUTSIDE}")
    before = {p: h.file(LIVE_VHOST[server_of(p)]).content_string for p, h in hosts.items()}
    result = None
    try:
        result = ansible_playbook(PROXIES_PLAY, "-e", "shop_static_url=/static")

        assert result.returncode != 0, result.stdout[-3000:]
        assert len(failed_recaps(result)) == len(PROXIES), result.stdout[-3000:]
        message = "Site 'shop': static[0].url must start and end with /, such as /static/ (got '/static')."
        assert message in flat(result), result.stdout[-3000:]
        for proxy, host in hosts.items():
            assert host.file(LIVE_VHOST[server_of(proxy)]).content_string == before[proxy]
            reply = fetch(proxy, "https://shop.test/static../outside-alias.txt", "--path-as-is")
            assert reply.status == 404 and marker not in reply.body, (proxy, reply)
    finally:
        for host in hosts.values():
            host.run(f"rm -f {OUTSIDE}")
        if result is not None and result.returncode == 0:
            ansible_playbook(PROXIES_PLAY)


def planted_key_and_certificate():
    """A new key, and a certificate for the proxies' names that the test CA signs (testssl trusts it)."""
    ca_key = serialization.load_pem_private_key((TLS_DIR / "ca.key").read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate((TLS_DIR / "ca.crt").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    names = ["pyops-proxy-nginx13", "shop.test", "api.test", "legacy.test", "local.test"]
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def typo_run(ansible_playbook, fetch, tmp_path_factory):
    """One run of the proxies' play at -vvv --diff: site shop's upstream port mistyped (nothing listens
    on 8009) on every proxy, and a new TLS key given as content to nginx13. Returns (result, key PEM,
    each proxy's live tree and recorded upstream before the run)."""
    hosts = {p: scenario_host(p) for p in PROXIES}
    before = {p: h.check_output(SNAPSHOT.format(live_dir(p))) for p, h in hosts.items()}
    key_pem, cert_pem = planted_key_and_certificate()
    extra = tmp_path_factory.mktemp("typo") / "extra.json"
    extra.write_text(
        json.dumps(
            {
                "shop_port": 8009,
                "site_tls": {
                    CONTENT_TLS_PROXY: {"certificate_content": cert_pem, "key_content": key_pem},
                    "pyops-proxy-apache12": {
                        "certificate": "/etc/ssl/certs/shop-test.crt",
                        "key": "/etc/ssl/private/shop-test.key",
                    },
                    "pyops-proxy-nginx12": {},
                },
            }
        )
    )
    extra.chmod(0o600)
    result = ansible_playbook(PROXIES_PLAY, "-vvv", "--diff", "-e", f"@{extra}")
    yield result, (key_pem, cert_pem), before, hosts
    if result.returncode == 0:  # the change went live: put the converged one back
        ansible_playbook(PROXIES_PLAY)


def test_a_change_that_breaks_a_site_is_put_back_and_the_run_fails_naming_it(typo_run, fetch):
    result, _key, before, hosts = typo_run
    assert result.returncode != 0, result.stdout[-3000:]
    assert len(failed_recaps(result)) == len(PROXIES), result.stdout[-3000:]
    text = flat(result)
    for proxy in PROXIES:
        # nginx answers 502 at once (connection refused), Apache's balancer 503; the first server name
        # of site shop is the proxy's own.
        status = "503 Service Unavailable" if server_of(proxy) == "apache" else "502 Bad Gateway"
        reason = (
            f"Site 'shop' stopped answering with this change: GET https://{proxy}/healthz through 127.0.0.1:443"
            f" answered 200 OK before the change and {status} after it. The previous configuration is back in"
            f" {live_dir(proxy)} and {server_of(proxy).replace('apache', 'apache2')} was reloaded with it"
        )
        assert reason in text, (proxy, text[-3000:])
    for proxy, host in hosts.items():
        assert host.check_output(SNAPSHOT.format(live_dir(proxy))) == before[proxy], proxy
        assert not host.file(live_dir(proxy) + ".old").exists and not host.file(live_dir(proxy) + ".new").exists
        # The old upstream serves: both app hosts answer through the proxy.
        assert served_hosts(fetch, proxy) == {"pyops-proxy-app1", "pyops-proxy-app2"}, proxy


def test_a_tls_key_given_as_content_is_printed_nowhere_at_vvv_with_diff(typo_run):
    result, (key_pem, cert_pem), _before, hosts = typo_run
    output = result.stdout + result.stderr
    # The run went as far as the apply, verbosely, and the key reached the host.
    assert "<pyops-proxy-nginx13> ESTABLISH SSH CONNECTION" in output and "Test the staged configuration" in output
    staged_key = "/etc/nginx/pyops-staging/pyops/tls/shop.key"
    assert hosts[CONTENT_TLS_PROXY].file(staged_key).content_string.strip() == key_pem.strip()
    body = [line for line in key_pem.strip().splitlines() if not line.startswith("-----")]
    # The key's last line is its public point, which can fall on the same base64 alignment in the
    # certificate (public, shown by --diff): the lines that hold the private scalar are judged.
    secret = [line for line in body if line not in cert_pem]
    assert len(secret) >= 2 and all(len(line) >= 16 for line in secret), body
    leaked = [line for line in secret if line in output]
    assert not leaked, f"{len(leaked)} of the key's {len(secret)} private lines are in the run's output"
    assert "".join(body) not in "".join(output.split()), "the key's body is in the run's output"
    assert "PRIVATE KEY-----" not in output
