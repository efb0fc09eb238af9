# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The dependency gate's logic (``_dependency_audit``): the lock read from the packed release, pip-audit's
argv and report, severities, the allowlist, the table."""

from __future__ import annotations

import datetime
import io
import json
import tarfile

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._dependency_audit import (
    AuditError,
    at_or_above,
    check_lock,
    cvss3_base_score,
    judge,
    netrc_entry,
    osv_vuln_url,
    parse_allowlist,
    parse_report,
    pip_audit_argv,
    pip_audit_failure,
    read_requirements,
    record_severity,
    split_credentials,
    table,
)

TODAY = datetime.date(2026, 12, 4)
REPORT = {
    "dependencies": [
        {"name": "flask", "version": "3.1.3", "vulns": []},
        {
            "name": "werkzeug",
            "version": "3.1.9",
            "vulns": [
                {"id": "PYSEC-2099-1", "fix_versions": ["3.1.10"], "aliases": ["CVE-2099-1"], "description": "x"},
                {"id": "GHSA-aaaa-bbbb-cccc", "fix_versions": [], "aliases": [], "description": "y"},
            ],
        },
    ],
    "fixes": [],
}


def packed(tmp_path, members):
    path = tmp_path / "code.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(value)
                tar.addfile(info, io.BytesIO(value))
            elif kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, value
                tar.addfile(info)
            else:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
    return str(path)


def test_the_lock_is_read_from_the_packed_release(tmp_path):
    artifact = packed(
        tmp_path,
        [
            (".", "dir", None),
            ("./requirements.txt", "file", b"flask==3.1.3\n"),
            ("./requirements", "dir", None),
            ("./requirements/prod.txt", "file", b"werkzeug==3.1.9\n"),
            ("./req-link.txt", "link", "requirements/prod.txt"),
            ("./escape.txt", "link", "../../etc/passwd"),
            ("./absolute.txt", "link", "/etc/passwd"),
        ],
    )
    assert read_requirements(artifact, "requirements.txt") == b"flask==3.1.3\n"
    assert read_requirements(artifact, "./requirements/prod.txt") == b"werkzeug==3.1.9\n"
    assert read_requirements(artifact, "req-link.txt") == b"werkzeug==3.1.9\n"
    with pytest.raises(AuditError, match="link leading out"):
        read_requirements(artifact, "escape.txt")
    with pytest.raises(AuditError, match="link leading out"):
        read_requirements(artifact, "absolute.txt")
    with pytest.raises(AuditError, match="not a regular file"):
        read_requirements(artifact, "requirements")
    with pytest.raises(AuditError, match="has no missing.txt"):
        read_requirements(artifact, "missing.txt")
    with pytest.raises(AuditError, match="reading"):
        read_requirements(str(tmp_path / "absent.tar.gz"), "requirements.txt")


def test_pip_audit_argv_audits_the_pins_as_they_are_against_osv():
    argv = pip_audit_argv("/usr/bin/pip-audit", "/tmp/r.txt", "/tmp/o.json", "http://osv:8080/v1/query", 7, "/c")
    assert argv[0] == "/usr/bin/pip-audit"
    assert argv[argv.index("--requirement") + 1] == "/tmp/r.txt"
    assert "--no-deps" in argv and "--disable-pip" in argv
    assert argv[argv.index("--vulnerability-service") + 1] == "osv"
    assert argv[argv.index("--osv-url") + 1] == "http://osv:8080/v1/query"
    assert argv[argv.index("--format") + 1] == "json"
    assert argv[argv.index("--timeout") + 1] == "7"
    assert argv[argv.index("--cache-dir") + 1] == "/c"
    assert "--cache-dir" not in pip_audit_argv("p", "r", "o", "", 15)


def test_report_parsed_into_findings():
    audited, findings = parse_report(json.dumps(REPORT))
    assert audited == 2
    assert [(f["package"], f["version"], f["id"], f["fixed"], f["aliases"]) for f in findings] == [
        ("werkzeug", "3.1.9", "PYSEC-2099-1", ["3.1.10"], ["CVE-2099-1"]),
        ("werkzeug", "3.1.9", "GHSA-aaaa-bbbb-cccc", [], []),
    ]
    skipped = {"dependencies": [{"name": "x", "skip_reason": "could not be audited"}]}
    with pytest.raises(AuditError, match="x: could not be audited"):
        parse_report(json.dumps(skipped))
    with pytest.raises(AuditError, match="report"):
        parse_report("Found 1 known vulnerability")


def test_failure_words_name_the_error_line():
    stderr = "WARNING:pip_audit._cli:--no-deps\nERROR:pip_audit._cli:requirement flask is not pinned\n"
    assert (
        pip_audit_failure(1, stderr)
        == "pip-audit failed (exit 1) and wrote no report: ERROR:pip_audit._cli:requirement flask is not pinned"
    )
    tb = "Traceback:\n  File x\nrequests.exceptions.ConnectionError: refused\n"
    assert pip_audit_failure(1, tb).endswith("requests.exceptions.ConnectionError: refused")
    assert pip_audit_failure(2, "").endswith("no output")


def test_vuln_url_beside_the_query_url():
    assert osv_vuln_url("http://127.0.0.1:9/v1/query", "A-1") == "http://127.0.0.1:9/v1/vulns/A-1"
    assert osv_vuln_url("https://osv.example.com/osv/v1/query/", "A") == "https://osv.example.com/osv/v1/vulns/A"
    assert osv_vuln_url("", "A") == "https://api.osv.dev/v1/vulns/A"
    assert osv_vuln_url("", "../x?y") == "https://api.osv.dev/v1/vulns/..%2Fx%3Fy"


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5),
        ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:L", 3.7),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:2.0/AV:N", None),
        ("CVSS:3.1/AV:X/AC:L", None),
    ],
)
def test_cvss3_base_scores(vector, score):
    assert cvss3_base_score(vector) == score


def test_severity_from_the_record():
    assert record_severity({"database_specific": {"severity": "MODERATE"}}) == "medium"
    assert record_severity({"database_specific": {"severity": "CRITICAL"}}) == "critical"
    cvss = {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    assert record_severity({"severity": [cvss]}) == "critical"
    assert (
        record_severity({"affected": [{"severity": [dict(cvss, score=cvss["score"].replace("C:H/I:H", "C:N/I:N"))]}]})
        == "high"
    )
    assert record_severity({"severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N"}]}) is None
    assert record_severity({}) is None


def test_threshold():
    assert at_or_above("low", "any")
    assert at_or_above("high", "high") and at_or_above("critical", "high")
    assert not at_or_above("medium", "high")
    assert at_or_above(None, "critical")  # unknown counts as critical


def test_allowlist_entries_and_expiry():
    allowed, problems = parse_allowlist(
        [
            {"id": "cve-2099-1", "reason": "not reachable", "expires": "2026-12-04"},
            {"id": "GHSA-old", "reason": "was fine", "expires": "2026-12-03"},
            {"id": "X", "reason": "", "expires": "2027-01-01"},
            {"id": "Y", "reason": "r", "expires": "soon"},
            "Z",
        ],
        TODAY,
    )
    assert list(allowed) == ["CVE-2099-1"]  # valid through its expiry day
    assert len(problems) == 4
    assert problems[0].startswith("allowlist entry GHSA-old expired on 2026-12-03 (was fine)")
    assert "needs an id, a reason and expires" in problems[1]
    assert "'soon' is not a date" in problems[2]
    assert "entry 5 is not a dict" in problems[3]


def test_judge_and_table():
    _audited, findings = parse_report(json.dumps(REPORT))
    allowed, _problems = parse_allowlist([{"id": "CVE-2099-1", "reason": "debug only", "expires": "2027-01-01"}], TODAY)
    judged = judge(findings, allowed, "any")
    assert [(f["id"], f["allowed"], f["blocking"]) for f in judged] == [
        ("PYSEC-2099-1", "debug only", False),
        ("GHSA-aaaa-bbbb-cccc", None, True),
    ]
    lines = table(judged)
    assert lines[0].split() == ["package", "version", "advisory", "fixed", "in", "severity", "status"]
    assert lines[1].split()[:5] == ["werkzeug", "3.1.9", "PYSEC-2099-1", "(CVE-2099-1)", "3.1.10"]
    assert lines[1].endswith("allowed: debug only")
    assert "no fix" in lines[2] and lines[2].endswith("BLOCKS")
    below = judge([dict(findings[1], severity="low", severity_checked=True)], {}, "high")
    assert below[0]["blocking"] is False
    assert table(below)[1].split()[-3:] == ["low", "below", "threshold"]


def test_a_lock_that_names_other_files_is_refused():
    lock = b"flask==3.1.3 \\\n    --hash=sha256:00\n# -r in a comment\nwerkzeug==3.1.9\n"
    assert check_lock(lock, "requirements.txt") == lock
    for line in ("-r /etc/passwd", "--requirement=base.txt", "  -c constraints.txt", "-e .", "--editable git+x"):
        with pytest.raises(AuditError, match="line 2 names another file"):
            check_lock(b"flask==3.1.3\n" + line.encode() + b"\n", "requirements.txt")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.osv.dev/v1/query", ("https://api.osv.dev/v1/query", None, None)),
        ("https://bot:tok@osv.example.com/v1/query", ("https://osv.example.com/v1/query", "bot", "tok")),
        ("http://bot:a%40b%3Ac@127.0.0.1:8080/v1/query?x=1", ("http://127.0.0.1:8080/v1/query?x=1", "bot", "a@b:c")),
        ("https://token@[::1]:9/v1/query", ("https://[::1]:9/v1/query", "token", "")),
    ],
)
def test_split_credentials_takes_user_and_password_out_of_the_url(url, expected):
    assert split_credentials(url) == expected


def test_a_netrc_entry_reads_back_with_the_stdlib_parser(tmp_path):
    import netrc

    path = tmp_path / "netrc"
    path.write_text(netrc_entry("osv.example.com", "b ot", 'p"a#s\\s w'))
    assert netrc.netrc(str(path)).authenticators("osv.example.com") == ("b ot", "", 'p"a#s\\s w')
