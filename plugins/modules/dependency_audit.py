# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dependency_audit
short_description: Audit a packed release's requirements lock with pip-audit before it is deployed
version_added: 0.1.0
description:
  - Runs on the controller (the deploy role delegates it to C(localhost), once per run). Reads the
    requirements lock O(requirements) from the packed release O(artifact) (the tarball
    M(pyops.deploy.artifact) writes), following a symlink only inside the tarball, and audits it with
    pip-audit (the PyPA tool), exactly as pinned (C(--no-deps --disable-pip)), against an OSV-compatible
    service at O(osv_url).
  - Each known vulnerability is a finding with its package, version, advisory id (and aliases) and
    the versions that fix it. A finding whose id or alias is on the O(allow) list passes. Any other
    finding at or above O(fail_on) fails the task with a table of them.
  - With O(fail_on) a severity, each finding's severity is read from the service's C(GET /v1/vulns/<id>)
    (the advisory's own C(database_specific.severity), else its CVSS v3 base score). A finding whose
    severity cannot be told counts as critical.
  - An expired O(allow) entry, or one without id, reason or date, fails the task and says so.
  - pip-audit must be installed on the controller (in an execution environment, the collection's
    C(requirements/ee.txt)). It changes nothing, so it runs in check mode too.
author:
  - pyops.deploy maintainers (@pyops)
options:
  artifact:
    description: The packed release, a C(.tar.gz) on the controller.
    type: path
    required: true
  requirements:
    description: The requirements lock inside the release, relative to its root.
    type: str
    default: requirements.txt
  fail_on:
    description: The lowest severity that fails the task; V(any) fails on every finding.
    type: str
    choices: [any, low, medium, high, critical]
    default: any
  allow:
    description:
      - Advisories that pass, each with C(id) (an advisory id or one of its aliases, such as a CVE),
        C(reason) and C(expires) (a date, C(YYYY-MM-DD); from the day after, the entry fails the task).
    type: list
    elements: dict
    default: []
  osv_url:
    description:
      - The OSV query endpoint pip-audit posts to (an internal mirror for hosts without internet access).
      - A C(user:password@) in it is sent as HTTP basic authentication, to pip-audit through a netrc file
        only the controller's user can read, never on its command line; the value is not logged.
    type: str
    default: https://api.osv.dev/v1/query
  pip_audit:
    description: The pip-audit program, a name looked up on C(PATH) or a path.
    type: str
    default: pip-audit
  timeout:
    description: Seconds pip-audit and the severity lookups wait for the service.
    type: int
    default: 15
  cache_dir:
    description: pip-audit's HTTP cache directory. Omitted, pip-audit's own default.
    type: path
attributes:
  check_mode:
    support: full
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    support: none
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    support: full
    description: >-
      When run twice in a row outside check mode with the same arguments, the second invocation indicates
      no change. This assumes that the system controlled or queried by the module has not changed in a
      relevant way.
requirements:
  - pip-audit (on the controller)
seealso:
  - module: pyops.deploy.artifact
"""

EXAMPLES = r"""
- name: Audit the release's locked dependencies once, on the controller
  pyops.deploy.dependency_audit:
    artifact: "{{ packed.path }}"
    requirements: requirements.txt
    fail_on: high
    osv_url: https://osv.internal.example.com/v1/query
    allow:
      - id: GHSA-xxxx-yyyy-zzzz
        reason: the vulnerable code path (debug console) is not enabled in production
        expires: "2026-12-31"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
audited:
  description: The number of pinned dependencies audited.
  returned: success
  type: int
  sample: 9
findings:
  description: Every known vulnerability found, allowed ones too.
  returned: always
  type: list
  elements: dict
  sample:
    - package: werkzeug
      version: 3.1.9
      id: PYSEC-2099-1
      aliases: [CVE-2099-0001]
      fixed: [3.1.10]
      severity: high
      allowed: null
      blocking: true
table:
  description: The findings as text lines (package, version, advisory, fixed in, severity, status).
  returned: always
  type: list
  elements: str
  sample:
    - "package   version  advisory      fixed in  severity  status"
    - "werkzeug  3.1.9    PYSEC-2099-1  3.1.10    high      BLOCKS"
"""

import datetime
import json
import os
import shutil
import tempfile
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.pyops.deploy.plugins.module_utils._dependency_audit import (
    DEFAULT_OSV_URL,
    FAIL_ON_CHOICES,
    AuditError,
    check_lock,
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

RUNBOOK = "docs/runbooks/audit_gate.md"


def main():
    module = AnsibleModule(
        argument_spec={
            "artifact": {"type": "path", "required": True},
            "requirements": {"type": "str", "default": "requirements.txt"},
            "fail_on": {"type": "str", "default": "any", "choices": list(FAIL_ON_CHOICES)},
            "allow": {"type": "list", "elements": "dict", "default": []},
            "osv_url": {"type": "str", "default": DEFAULT_OSV_URL, "no_log": True},
            "pip_audit": {"type": "str", "default": "pip-audit"},
            "timeout": {"type": "int", "default": 15},
            "cache_dir": {"type": "path"},
        },
        supports_check_mode=True,
    )
    p = module.params
    result = {"changed": False, "findings": [], "table": []}
    try:
        osv = split_credentials(p["osv_url"])
    except ValueError:
        module.fail_json(msg="deploy_audit_osv_url is not a valid URL (its port is not a number)", **result)
    if osv[2]:
        module.no_log_values.add(osv[2])
    allowed, problems = parse_allowlist(p["allow"], datetime.datetime.now(datetime.timezone.utc).date())
    if problems:
        module.fail_json(
            msg="The deploy's advisory allowlist (deploy_audit_allow) is not valid: " + "; ".join(problems), **result
        )
    executable = p["pip_audit"] if os.path.isabs(p["pip_audit"]) else module.get_bin_path(p["pip_audit"])
    if not executable or not os.access(executable, os.X_OK):
        module.fail_json(
            msg=f"{p['pip_audit']} is not installed on the controller: install pip-audit (requirements/ee.txt), "
            "or turn the dependency gate off with deploy_audit=false",
            **result,
        )
    work = tempfile.mkdtemp(prefix="pyops-audit-")
    try:
        audited, findings = run_pip_audit(module, executable, work, osv)
    except AuditError as exc:
        module.fail_json(msg=f"The release's dependencies could not be audited: {exc}", **result)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if p["fail_on"] != "any":
        for finding in findings:
            if not any(name.upper() in allowed for name in [finding["id"]] + finding["aliases"]):
                finding["severity"] = lookup_severity(module, finding["id"], osv)
                finding["severity_checked"] = True
    judged = judge(findings, allowed, p["fail_on"])
    result.update(audited=audited, findings=judged, table=table(judged) if judged else [])
    blocking = [f for f in judged if f["blocking"]]
    if blocking:
        threshold = "" if p["fail_on"] == "any" else f" at or above {p['fail_on']}"
        module.fail_json(
            msg=f"The release's locked dependencies have {len(blocking)} known "
            f"vulnerabilit{'y' if len(blocking) == 1 else 'ies'}{threshold}; the deploy stops before any host "
            f"is locked or changed (what to do: {RUNBOOK}).\n" + "\n".join(result["table"]),
            **result,
        )
    module.exit_json(**result)


def run_pip_audit(module, executable, work, osv):
    """pip-audit on the packed lock. Credentials of the OSV URL go to a netrc file in ``work`` (mode 0600,
    removed with it), never on pip-audit's command line."""
    p = module.params
    url, user, password = osv
    requirements = os.path.join(work, "requirements.txt")
    with open(requirements, "wb") as handle:
        handle.write(check_lock(read_requirements(p["artifact"], p["requirements"]), p["requirements"]))
    output = os.path.join(work, "report.json")
    argv = pip_audit_argv(executable, requirements, output, url, p["timeout"], p["cache_dir"])
    environ = {}
    if user is not None:
        netrc = os.path.join(work, "netrc")
        fd = os.open(netrc, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(netrc_entry(urlsplit(url).hostname, user, password))
        environ["NETRC"] = netrc
    rc, _out, err = module.run_command(argv, cwd=work, environ_update=environ)
    if not os.path.exists(output):
        raise AuditError(pip_audit_failure(rc, err))
    with open(output, encoding="utf-8") as handle:
        return parse_report(handle.read())


def lookup_severity(module, advisory, osv):
    """The advisory's severity from the OSV service, None when it cannot be told."""
    base, user, password = osv
    url = osv_vuln_url(base, advisory)
    try:
        response = open_url(
            url,
            method="GET",
            timeout=module.params["timeout"],
            http_agent="pyops.deploy",
            url_username=user,
            url_password=password,
            force_basic_auth=user is not None,
        )
        return record_severity(json.loads(response.read()))
    except Exception as exc:  # noqa: BLE001 - any failure means an unknown severity, which blocks
        module.warn(f"the severity of {advisory} could not be read from {url}: {exc}; it counts as critical")
        return None


if __name__ == "__main__":
    main()
