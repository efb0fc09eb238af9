"""OCSP stapling: a site given its CA chain gets the responder's answer stapled to its handshake (nginx13,
whose responder prepare.yml runs); a site without a chain staples nothing; Apache refuses a chain."""

import json
import time

from scenario_hosts import scenario_host
from test_guards import PROXIES_PLAY, flat
from test_operations import LIVE_VHOST

STAPLER = "pyops-proxy-nginx13"
APACHE = "pyops-proxy-apache12"


def handshake(host, name):
    """openssl s_client's report of one handshake with SNI `name`, asking for a stapled OCSP answer."""
    return host.run(f"openssl s_client -connect 127.0.0.1:443 -servername {name} -status </dev/null 2>&1").stdout


def test_a_site_with_its_ca_chain_staples_a_good_ocsp_answer():
    proxy = scenario_host(STAPLER)
    # nginx asks the responder on the first handshake after a reload and staples from the next one on.
    for _ in range(20):
        report = handshake(proxy, "stapled.test")
        if "OCSP Response Status: successful" in report:
            break
        time.sleep(1)
    assert "OCSP Response Status: successful" in report, report[-3000:]
    assert "Cert Status: good" in report, report[-3000:]


def test_a_site_without_a_chain_staples_nothing():
    report = handshake(scenario_host(STAPLER), "shop.test")
    assert "OCSP response: no response sent" in report, report[-3000:]


def test_apache_refuses_a_chain_before_anything_changes(ansible_playbook):
    apache = scenario_host(APACHE)
    vhost = LIVE_VHOST["apache"]
    before = apache.file(vhost).content_string
    tls = {"certificate": "/etc/ssl/certs/shop-test.crt", "key": "/etc/ssl/private/shop-test.key"}
    site_tls = {APACHE: dict(tls, chain="/etc/ssl/certs/shop-test.crt")}
    result = ansible_playbook(PROXIES_PLAY, "--limit", APACHE, "-e", json.dumps({"site_tls": site_tls}))
    assert result.returncode != 0, result.stdout[-3000:]
    assert "tls.chain (OCSP stapling) works with nginx only here." in flat(result), result.stdout[-3000:]
    assert apache.file(vhost).content_string == before
