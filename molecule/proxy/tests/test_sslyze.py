"""sslyze judges the nginx proxies (Debian 12 and 13) against Mozilla's "intermediate" TLS configuration,
from the controller (build/venv-sslyze, `make venv-sslyze`): nginx13's site is compliant; nginx12's
self-signed certificate deviates in exactly the two ways roles/reverse_proxy/README.md explains (no
client trusts it, and its default validity is longer than Mozilla's maximum), and in nothing else.
"""

import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import NGINX, SELF_SIGNED
from scenario_hosts import scenario_host

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
SSLYZE = PROJECT / "build" / "venv-sslyze" / "bin" / "sslyze"
TEST_CA = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "tls" / "ca.crt"
# What sslyze finds on the role's self-signed certificate (reverse_proxy_tls_selfsigned: sandbox and
# staging only): path validation fails (it is trusted by nothing, not even the test CA), and its
# validity (reverse_proxy_tls_selfsigned_days, 825 days) is above Mozilla's 366.
SELF_SIGNED_DEVIATIONS = {"certificate_path_validation", "maximum_certificate_lifespan"}


@pytest.fixture(scope="module")
def verdicts():
    """One sslyze run for both nginx proxies (scanned concurrently): {proxy: set of the criteria it
    fails, empty when compliant}. Each proxy is asked by its own name (SNI), which site shop serves."""
    assert SSLYZE.exists(), f"{SSLYZE} is missing: run `make venv-sslyze`"
    targets = []
    for proxy in NGINX:
        address = scenario_host(proxy).check_output("hostname -I").split()[0]
        targets.append(f"{proxy}:443{{{address}}}")
    run = subprocess.run(
        [str(SSLYZE), "--mozilla_config=intermediate", f"--certinfo_ca_file={TEST_CA}", *targets],
        capture_output=True,
        text=True,
        timeout=600,
    )
    found = compliance(run.stdout)
    assert set(found) == set(NGINX), run.stdout[-4000:] + run.stderr[-2000:]
    return found, run.stdout


def compliance(output):
    """sslyze's last section ("COMPLIANCE AGAINST TLS CONFIGURATION"): "<name>:443: OK - Compliant." or
    "<name>:443: FAILED - Not compliant." followed by one "* <criterion>: <why>" line per deviation.
    Returns {name: set of criteria}."""
    section = re.split(r"(?i)compliance against tls configuration", output)[-1] if output else ""
    found, current = {}, None
    for line in section.splitlines():
        verdict = re.match(r"\s+(\S+):443: (OK - Compliant|FAILED - Not compliant)\.", line)
        if verdict:
            current = verdict.group(1)
            found[current] = set()
        elif current and (issue := re.match(r"\s+\* (\w+): ", line)):
            found[current].add(issue.group(1))
    return found


@pytest.mark.parametrize("proxy", NGINX)
def test_sslyze_finds_the_mozilla_intermediate_configuration_or_only_the_explained_deviations(proxy, verdicts):
    found, output = verdicts
    expected = SELF_SIGNED_DEVIATIONS if proxy in SELF_SIGNED else set()
    assert found[proxy] == expected, output[-4000:]
