# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The deploy's dependency gate behind ``pyops.deploy.dependency_audit``: the requirements lock read from
the packed release, pip-audit's argv and JSON report, advisory severities, the allowlist and the table."""

from __future__ import annotations

import datetime
import json
import math
import posixpath
import re
import tarfile
from urllib.parse import quote, unquote, urlsplit, urlunsplit

SEVERITIES = ("low", "medium", "high", "critical")
FAIL_ON_CHOICES = ("any",) + SEVERITIES
# GHSA's database_specific.severity says MODERATE where CVSS says medium.
_SEVERITY_ALIASES = {"moderate": "medium"}
DEFAULT_OSV_URL = "https://api.osv.dev/v1/query"
MAX_REQUIREMENTS_BYTES = 4 << 20
_MAX_LINK_HOPS = 8


class AuditError(Exception):
    """The audit could not be done: the deploy stops, saying why."""


# ---- the requirements lock inside the packed release --------------------------------------------------


def _normal(name):
    """A member name as a path from the code's root: ``./a/b``, ``a//b`` and ``a/./b`` are ``a/b``."""
    return posixpath.normpath("/" + name).lstrip("/")


def read_requirements(tarball, member):
    """The bytes of ``member`` (a path inside the code, such as ``requirements.txt``) in the packed tarball.

    A symlink is followed inside the tarball only (as the release's virtualenv build reads it there); one
    leading out of the code, a device, a directory or a missing member is an AuditError.
    """
    wanted = _normal(member)
    try:
        with tarfile.open(tarball, "r:*") as tar:
            members = {_normal(info.name): info for info in tar.getmembers()}
            for _hop in range(_MAX_LINK_HOPS):
                info = members.get(wanted)
                if info is None:
                    raise AuditError(f"the release has no {member}: there is no requirements lock to audit")
                if info.issym():
                    target = posixpath.normpath(posixpath.join(posixpath.dirname(wanted), info.linkname))
                    if info.linkname.startswith("/") or target == ".." or target.startswith("../"):
                        raise AuditError(f"{member} in the release is a link leading out of the release")
                    wanted = target
                    continue
                if not info.isfile():
                    raise AuditError(f"{member} in the release is not a regular file")
                if info.size > MAX_REQUIREMENTS_BYTES:
                    raise AuditError(f"{member} in the release is larger than {MAX_REQUIREMENTS_BYTES} bytes")
                return tar.extractfile(info).read()
    except (OSError, tarfile.TarError) as exc:
        raise AuditError(f"reading {member} from {tarball} failed: {exc}") from exc
    raise AuditError(f"{member} in the release is a chain of more than {_MAX_LINK_HOPS} links")


# Options of a requirements file that name another file: read on the controller, they would let the code
# make the gate read (and print parts of) any file there.
_FILE_OPTIONS = re.compile(r"^(-r|--requirement|-c|--constraint|-e|--editable)(\s|=|$)")


def check_lock(data, member):
    """Refuse a lock that names other files (``-r``, ``-c``, ``-e``): the gate audits one self-contained lock."""
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        if _FILE_OPTIONS.match(line.strip()):
            raise AuditError(
                f"{member} line {number} names another file ({line.strip().split()[0]}): the gate audits one "
                "self-contained lock; export the resolved pins into it (uv export, pip-compile)"
            )
    return data


# ---- pip-audit -------------------------------------------------------------------------------------


def split_credentials(url):
    """``(url, user, password)``: the URL without its ``user:password@``, and what it held (None, None without).

    pip-audit gets the bare URL on its command line (visible to every local user in ``/proc/<pid>/cmdline``)
    and the credentials in a netrc file only the controller's user can read.
    """
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit(parts._replace(netloc=netloc)), unquote(parts.username or ""), unquote(parts.password or "")


def netrc_entry(host, user, password):
    """A netrc ``machine`` line for ``host``, its values quoted so that spaces, ``#`` and quotes survive."""

    def quoted(value):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return f"machine {host} login {quoted(user)} password {quoted(password)}\n"


def pip_audit_argv(executable, requirements, output, osv_url, timeout, cache_dir=None):
    """pip-audit's argv: the pinned lock as it is (no resolution, no pip, no index), against an OSV service."""
    argv = [executable, "--requirement", requirements, "--no-deps", "--disable-pip"]
    argv += ["--format", "json", "--output", output, "--progress-spinner", "off", "--timeout", str(int(timeout))]
    argv += ["--vulnerability-service", "osv", "--osv-url", osv_url or DEFAULT_OSV_URL]
    if cache_dir:
        argv += ["--cache-dir", cache_dir]
    return argv


def parse_report(text):
    """pip-audit's JSON report as (audited count, findings). A dependency it skipped is an AuditError.

    Each finding: package, version, id, aliases, fixed (list of versions), description.
    """
    try:
        report = json.loads(text)
        dependencies = report["dependencies"]
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditError(f"pip-audit's report is not what it writes with --format json: {exc}") from exc
    findings, skipped = [], []
    for dependency in dependencies:
        if dependency.get("skip_reason"):
            skipped.append(f"{dependency.get('name')}: {dependency['skip_reason']}")
            continue
        for vuln in dependency.get("vulns", []):
            findings.append(
                {
                    "package": dependency["name"],
                    "version": dependency["version"],
                    "id": vuln["id"],
                    "aliases": list(vuln.get("aliases") or []),
                    "fixed": list(vuln.get("fix_versions") or []),
                    "description": (vuln.get("description") or "")[:200],
                }
            )
    if skipped:
        raise AuditError("pip-audit could not audit every dependency: " + "; ".join(skipped))
    return len(dependencies), findings


def pip_audit_failure(rc, stderr):
    """Words for a pip-audit run that wrote no report: its exit code and its last error line."""
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR") or "Error" in line.split(":")[0]]
    last = (errors or lines or ["no output"])[-1]
    return f"pip-audit failed (exit {rc}) and wrote no report: {last[:500]}"


# ---- severity ------------------------------------------------------------------------------------------


def osv_vuln_url(osv_url, advisory):
    """The OSV ``GET /v1/vulns/<id>`` URL beside a ``/v1/query`` URL."""
    base = osv_url or DEFAULT_OSV_URL
    base = re.sub(r"/v1/query/?$", "", base.rstrip("/"))
    return f"{base}/v1/vulns/{quote(advisory, safe='')}"


_CVSS3 = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
}


def _roundup(value):
    scaled = int(round(value * 100000))
    return scaled / 100000.0 if scaled % 10000 == 0 else (math.floor(scaled / 10000) + 1) / 10.0


def cvss3_base_score(vector):
    """The base score of a CVSS 3.0/3.1 vector (``CVSS:3.1/AV:N/AC:L/...``), None if it is not one."""
    parts = dict(part.split(":", 1) for part in vector.split("/")[1:] if ":" in part)
    if not vector.startswith("CVSS:3"):
        return None
    try:
        changed = {"U": False, "C": True}[parts["S"]]
        pr = {"N": 0.85, "L": 0.68 if changed else 0.62, "H": 0.5 if changed else 0.27}[parts["PR"]]
        av, ac, ui = _CVSS3["AV"][parts["AV"]], _CVSS3["AC"][parts["AC"]], _CVSS3["UI"][parts["UI"]]
        c, i, a = (_CVSS3["C"][parts[key]] for key in ("C", "I", "A"))
    except KeyError:
        return None
    iss = 1 - (1 - c) * (1 - i) * (1 - a)
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    if impact <= 0:
        return 0.0
    exploitability = 8.22 * av * ac * pr * ui
    total = 1.08 * (impact + exploitability) if changed else impact + exploitability
    return _roundup(min(total, 10.0))


def score_severity(score):
    if score is None:
        return None
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    return "low" if score > 0 else None


def record_severity(record):
    """An OSV record's severity (low, medium, high or critical), None when it names none.

    The record's own word (``database_specific.severity``, as GitHub's advisories give it) first, else
    the highest CVSS v3 base score among its ``severity`` entries and its affected packages' ones.
    """
    word = str((record.get("database_specific") or {}).get("severity") or "").strip().lower()
    word = _SEVERITY_ALIASES.get(word, word)
    if word in SEVERITIES:
        return word
    entries = list(record.get("severity") or [])
    for affected in record.get("affected") or []:
        entries += affected.get("severity") or []
    scores = [cvss3_base_score(str(entry.get("score", ""))) for entry in entries if entry.get("type") == "CVSS_V3"]
    scores = [score for score in scores if score is not None]
    return score_severity(max(scores)) if scores else None


def at_or_above(severity, fail_on):
    """Whether a finding of ``severity`` stops the deploy; an unknown severity (None) always does."""
    if fail_on == "any" or severity is None:
        return True
    return SEVERITIES.index(severity) >= SEVERITIES.index(fail_on)


# ---- the allowlist -------------------------------------------------------------------------------------


def parse_allowlist(entries, today):
    """(allowed {id: entry}, problems): entries checked, and expired ones named as problems."""
    allowed, problems = {}, []
    for index, entry in enumerate(entries or []):
        if not isinstance(entry, dict):
            problems.append(f"allowlist entry {index + 1} is not a dict with id, reason and expires")
            continue
        advisory, reason, expires = (str(entry.get(key) or "").strip() for key in ("id", "reason", "expires"))
        if not advisory or not reason or not expires:
            problems.append(f"allowlist entry {index + 1} ({advisory or 'no id'}) needs an id, a reason and expires")
            continue
        try:
            until = datetime.date.fromisoformat(expires[:10])
        except ValueError:
            problems.append(f"allowlist entry {advisory}: expires {expires!r} is not a date (YYYY-MM-DD)")
            continue
        if until < today:
            problems.append(
                f"allowlist entry {advisory} expired on {until.isoformat()} ({reason}): fix the dependency, "
                "or renew the entry with a new date if the reason still holds"
            )
            continue
        allowed[advisory.upper()] = dict(entry, id=advisory, reason=reason, expires=until.isoformat())
    return allowed, problems


def judge(findings, allowed, fail_on):
    """Each finding with ``allowed`` (the allowlist entry's reason or None) and ``blocking``."""
    judged = []
    for finding in findings:
        entry = next(
            (allowed[name.upper()] for name in [finding["id"]] + finding["aliases"] if name.upper() in allowed), None
        )
        blocking = entry is None and at_or_above(finding.get("severity"), fail_on)
        judged.append(dict(finding, allowed=entry["reason"] if entry else None, blocking=blocking))
    return judged


def table(findings):
    """Findings as aligned text lines: package, version, advisory id, fixed in, severity, status."""
    header = ("package", "version", "advisory", "fixed in", "severity", "status")
    rows = [
        (
            f["package"],
            f["version"],
            f["id"] + (f" ({', '.join(f['aliases'][:2])})" if f["aliases"] else ""),
            ", ".join(f["fixed"]) or "no fix",
            f.get("severity") or ("unknown" if f.get("severity_checked") else "-"),
            ("allowed: " + f["allowed"])
            if f.get("allowed")
            else ("BLOCKS" if f.get("blocking") else "below threshold"),
        )
        for f in findings
    ]
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header] + rows]
