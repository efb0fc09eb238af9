"""testssl.sh (Debian's package) judges the TLS of the proxies whose certificate a CA signed."""

import json

import pytest
from conftest import PROXIES, SELF_SIGNED

CA = "/usr/local/share/ca-certificates/pyops-proxy-test-ca.crt"
# Findings that fail the test. testssl.sh rates each finding OK, INFO, LOW, MEDIUM, HIGH or CRITICAL;
# its text output says "NOT ok" for HIGH and CRITICAL ones.
FAILING = {"HIGH", "CRITICAL"}
# testssl.sh's default run (-p -s -f -P -S -h -U -c, and the rating they allow) without -c, the
# client simulation: the slowest part (a handshake per simulated browser, in bash), and its findings
# are all INFO (testssl.sh 3.2, run_client_simulation), so it can fail nothing here. The rating
# (overall_grade, which can be HIGH or CRITICAL) still runs: it needs -p -s -f -S -h -U, not -c.
CHECKS = "-p -s -f -P -S -h -U"


@pytest.mark.parametrize("proxy", [p for p in PROXIES if p not in SELF_SIGNED])
def test_testssl_finds_nothing_high_or_critical(proxy, tester):
    report = f"/tmp/testssl-{proxy}.json"
    tester.run(f"rm -f {report}")
    run = tester.run(f"testssl {CHECKS} --quiet --color 0 --warnings off --add-ca {CA} --jsonfile {report} {proxy}:443")
    findings = json.loads(tester.file(report).content_string)
    assert findings, run.stdout[-2000:]
    bad = [(f["id"], f["severity"], f["finding"]) for f in findings if f["severity"] in FAILING]
    assert not bad, bad
    # The scan really reached the server: it saw TLS 1.3 offered and TLS 1.0 refused.
    by_id = {f["id"]: f for f in findings}
    assert "offered" in by_id["TLS1_3"]["finding"] and "not offered" in by_id["TLS1"]["finding"], by_id.get("TLS1_3")
    # ... and rated it (the rating is only done when every check it needs ran).
    assert "overall_grade" in by_id, sorted(by_id)
