"""testssl.sh (Debian's package) judges the TLS of the proxies whose certificate a CA signed."""

import json

import pytest
from conftest import PROXIES, SELF_SIGNED

CA = "/usr/local/share/ca-certificates/pyops-proxy-test-ca.crt"
# Findings that fail the test. testssl.sh rates each finding OK, INFO, LOW, MEDIUM, HIGH or CRITICAL;
# its text output says "NOT ok" for HIGH and CRITICAL ones.
FAILING = {"HIGH", "CRITICAL"}


@pytest.mark.parametrize("proxy", [p for p in PROXIES if p not in SELF_SIGNED])
def test_testssl_finds_nothing_high_or_critical(proxy, tester):
    report = f"/tmp/testssl-{proxy}.json"
    tester.run(f"rm -f {report}")
    run = tester.run(f"testssl.sh --quiet --color 0 --warnings off --add-ca {CA} --jsonfile {report} {proxy}:443")
    findings = json.loads(tester.file(report).content_string)
    assert findings, run.stdout[-2000:]
    bad = [(f["id"], f["severity"], f["finding"]) for f in findings if f["severity"] in FAILING]
    assert not bad, bad
    # The scan really reached the server: it saw TLS 1.3 offered and TLS 1.0 refused.
    by_id = {f["id"]: f for f in findings}
    assert "offered" in by_id["TLS1_3"]["finding"] and "not offered" in by_id["TLS1"]["finding"], by_id.get("TLS1_3")
