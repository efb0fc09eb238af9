# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Drive ``pyops.deploy.dependency_audit`` through AnsibleModule with a stand-in pip-audit.

The stand-in records its argv and the lock it was given, and writes the report the test chose; the
real pip-audit against an OSV service runs in molecule/deploy."""

from __future__ import annotations

import io
import json
import sys
import tarfile

import pytest

from ansible_collections.pyops.deploy.plugins.modules import dependency_audit
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module

VULN = {"id": "PYSEC-2099-1", "fix_versions": ["3.1.10"], "aliases": ["CVE-2099-1"], "description": "x"}
FAKE = """#!{python}
import json, os, sys
argv = sys.argv[1:]
netrc = os.environ.get("NETRC")
seen = {{"argv": argv, "lock": open(argv[argv.index("--requirement") + 1]).read(), "netrc": None}}
if netrc:
    seen.update(netrc=open(netrc).read(), netrc_mode=oct(os.stat(netrc).st_mode & 0o777))
json.dump(seen, open({seen!r}, "w"))
report = json.load(open({report!r}))
if report is None:
    sys.stderr.write("ERROR:pip_audit._cli:requirement flask is not pinned to an exact version\\n")
    sys.exit(1)
json.dump(report, open(argv[argv.index("--output") + 1], "w"))
sys.exit(1 if any(d.get("vulns") for d in report["dependencies"]) else 0)
"""


@pytest.fixture
def gate(tmp_path):
    artifact = tmp_path / "code.tar.gz"
    with tarfile.open(artifact, "w:gz") as tar:
        data = b"flask==3.1.3\nwerkzeug==3.1.9\n"
        info = tarfile.TarInfo("./requirements.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    fake = tmp_path / "pip-audit"
    report, seen = tmp_path / "report.json", tmp_path / "seen.json"
    fake.write_text(FAKE.format(python=sys.executable, seen=str(seen), report=str(report)))
    fake.chmod(0o755)

    def run(vulns, capsys, check=False, **extra):
        deps = [
            {"name": "flask", "version": "3.1.3", "vulns": []},
            {"name": "werkzeug", "version": "3.1.9", "vulns": vulns},
        ]
        report.write_text(json.dumps(None if vulns is None else {"dependencies": deps, "fixes": []}))
        args = dict(
            {"artifact": str(artifact), "pip_audit": str(fake), "osv_url": "http://127.0.0.1:9/v1/query"}, **extra
        )
        result = run_module(dependency_audit, capsys, args, check=check)
        result["seen"] = json.loads(seen.read_text()) if seen.exists() else None
        return result

    return run


def test_no_finding_passes_and_audits_the_lock_of_the_packed_release(gate, capsys):
    result = gate([], capsys)
    assert not result.get("failed") and result["changed"] is False
    assert result["audited"] == 2 and result["findings"] == [] and result["table"] == []
    assert result["seen"]["lock"] == "flask==3.1.3\nwerkzeug==3.1.9\n"
    argv = result["seen"]["argv"]
    assert argv[argv.index("--osv-url") + 1] == "http://127.0.0.1:9/v1/query"
    assert "--no-deps" in argv
    # Check mode audits too: it changes nothing.
    assert gate([], capsys, check=True)["audited"] == 2


def test_credentials_in_the_osv_url_reach_pip_audit_only_through_a_private_netrc(gate, capsys):
    secret = "s3cr#t pass"
    url = "http://audit-bot:s3cr%23t%20pass@127.0.0.1:9/v1/query"
    result = gate([VULN], capsys, osv_url=url)
    seen = result.pop("seen")
    assert result["failed"] and "PYSEC-2099-1" in result["msg"]
    # Not on the command line (any local user reads /proc/<pid>/cmdline), not in the result.
    assert seen["argv"][seen["argv"].index("--osv-url") + 1] == "http://127.0.0.1:9/v1/query"
    assert "s3cr" not in json.dumps(seen["argv"]) and "s3cr" not in json.dumps(result)
    assert seen["netrc_mode"] == "0o600"
    assert seen["netrc"] == 'machine 127.0.0.1 login "audit-bot" password "s3cr#t pass"\n'
    assert secret not in json.dumps(result)


def test_a_finding_stops_the_deploy_with_a_table(gate, capsys):
    result = gate([VULN], capsys)
    assert result["failed"]
    assert "1 known vulnerability;" in result["msg"] and "before any host is locked or changed" in result["msg"]
    assert "docs/runbooks/audit_gate.md" in result["msg"]
    row = [line for line in result["msg"].splitlines() if line.startswith("werkzeug")][0]
    assert row.split()[:5] == ["werkzeug", "3.1.9", "PYSEC-2099-1", "(CVE-2099-1)", "3.1.10"]
    assert row.endswith("BLOCKS")


def test_an_allowlisted_finding_passes_and_is_shown(gate, capsys):
    allow = [{"id": "CVE-2099-1", "reason": "debug console off", "expires": "2999-01-01"}]
    result = gate([VULN], capsys, allow=allow)
    assert not result.get("failed")
    assert result["findings"][0]["allowed"] == "debug console off"
    assert result["table"][1].endswith("allowed: debug console off")


def test_an_expired_allowlist_entry_fails_and_says_so(gate, capsys):
    allow = [{"id": "PYSEC-2099-1", "reason": "debug console off", "expires": "2020-01-31"}]
    result = gate([VULN], capsys, allow=allow)
    assert result["failed"]
    assert "allowlist entry PYSEC-2099-1 expired on 2020-01-31" in result["msg"]
    assert result["seen"] is None  # refused before pip-audit ran


def test_severity_threshold_reads_each_finding_from_the_service(gate, capsys, monkeypatch):
    asked = []

    def fake_open_url(url, **_kwargs):
        asked.append(url)
        severity = {"PYSEC-2099-1": "MODERATE", "GHSA-x": "CRITICAL"}.get(url.rsplit("/", 1)[-1])
        if severity is None:
            raise OSError("connection refused")
        return io.BytesIO(json.dumps({"database_specific": {"severity": severity}}).encode())

    monkeypatch.setattr(dependency_audit, "open_url", fake_open_url)
    passed = gate([VULN], capsys, fail_on="high")
    assert not passed.get("failed") and passed["findings"][0]["severity"] == "medium"
    assert asked == ["http://127.0.0.1:9/v1/vulns/PYSEC-2099-1"]
    stopped = gate([VULN, dict(VULN, id="GHSA-x", aliases=[])], capsys, fail_on="high")
    assert stopped["failed"] and "1 known vulnerability at or above high" in stopped["msg"]
    unknown = gate([dict(VULN, id="GHSA-unknown", aliases=[])], capsys, fail_on="critical")
    assert unknown["failed"] and "unknown" in unknown["msg"]


def test_pip_audit_errors_and_absence_stop_the_deploy(gate, capsys, tmp_path):
    result = gate(None, capsys)
    assert result["failed"] and "could not be audited" in result["msg"]
    assert "requirement flask is not pinned" in result["msg"]
    missing = gate([], capsys, pip_audit="no-such-pip-audit-here")
    assert missing["failed"] and "deploy_audit=false" in missing["msg"]
    no_lock = gate([], capsys, requirements="requirements/prod.txt")
    assert no_lock["failed"] and "no requirements/prod.txt" in no_lock["msg"]
