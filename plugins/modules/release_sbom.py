# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release_sbom
short_description: Write a CycloneDX SBOM of a release's virtualenv into the release
version_added: 0.1.0
description:
  - Lists every distribution installed in O(venv) (its C(lib/python*/site-packages/*.dist-info) and
    C(*.egg-info) metadata, read with the standard library, never following a symlink) and writes them as
    a CycloneDX 1.5 JSON document to C(<release_dir>/.pyops-sbom.cdx.json), mode C(0644), owned by the
    user running the module (root in a deploy), so the app's user cannot change it.
  - The document holds no time stamp, so the same virtualenv gives the same bytes and a second run
    changes nothing. It is written to a new file renamed over the old one.
  - With O(audit_root), a new or changed document adds a line to that app root's audit log
    C(deploy-audit.jsonl) (action C(sbom), the release, run and the document's sha256 in C(details)).
author:
  - pyops.deploy maintainers (@pyops)
options:
  release_dir:
    description: The release directory the document is written to.
    type: path
    required: true
  venv:
    description: The release's virtualenv.
    type: path
    required: true
  app:
    description: The app's name, recorded as the document's main component.
    type: str
    required: true
  release:
    description: The release id, recorded as the main component's version.
    type: str
    required: true
  audit_root:
    description: The app root whose audit log records a new or changed document. Omitted, no line is written.
    type: path
  run_id:
    description: The deploy run's id, for the audit line.
    type: str
    default: ""
  lock_owner:
    description: The deploy lock's owner, for the audit line.
    type: str
    default: ""
  source:
    description: Where the release's code came from, for the audit line (credentials in a URL are masked).
    type: str
    default: ""
attributes:
  check_mode:
    support: full
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    support: full
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    support: full
    description: >-
      When run twice in a row outside check mode with the same arguments, the second invocation indicates
      no change. This assumes that the system controlled or queried by the module has not changed in a
      relevant way.
seealso:
  - module: pyops.deploy.release_info
"""

EXAMPLES = r"""
- name: Record what the release's virtualenv holds
  pyops.deploy.release_sbom:
    release_dir: /srv/shop/releases/v1.4.2
    venv: /srv/shop/releases/v1.4.2/venv
    app: shop
    release: v1.4.2
    audit_root: /srv/shop
"""

RETURN = r"""
path:
  description: The document's path.
  returned: always
  type: str
  sample: /srv/shop/releases/v1.4.2/.pyops-sbom.cdx.json
sha256:
  description: The sha256 of the document's bytes.
  returned: always
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
components:
  description: The number of distributions listed.
  returned: always
  type: int
  sample: 9
packages:
  description: The distributions listed, as C(name==version), sorted by normalized name.
  returned: always
  type: list
  elements: str
  sample: ["blinker==1.9.0", "click==8.5.1", "flask==3.1.3"]
"""

import os
import socket
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._release.audit import (
    append_audit_entry,
    default_audit_user,
)
from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import AppLayout, format_time
from ansible_collections.pyops.deploy.plugins.module_utils._sbom import (
    SBOM_FILE,
    SbomError,
    build_document,
    installed_distributions,
    packages_of,
    read_document,
    sha256_hex,
    write_document,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "release_dir": {"type": "path", "required": True},
            "venv": {"type": "path", "required": True},
            "app": {"type": "str", "required": True},
            "release": {"type": "str", "required": True},
            "audit_root": {"type": "path"},
            "run_id": {"type": "str", "default": ""},
            "lock_owner": {"type": "str", "default": ""},
            "source": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    p = module.params
    path = os.path.join(p["release_dir"], SBOM_FILE)
    try:
        distributions = installed_distributions(p["venv"])
        data = build_document(distributions, p["app"], p["release"])
        before = read_document(path)
    except (SbomError, OSError) as exc:
        module.fail_json(msg=f"listing the distributions of {p['venv']} failed: {exc}")
    packages = [f"{name}=={version}" for name, version in distributions]
    result = {"changed": before != data, "path": path, "sha256": sha256_hex(data), "components": len(packages)}
    result["packages"] = packages
    if module._diff and result["changed"]:
        old = sorted(f"{name}=={version}" for name, version in packages_of(before or b"{}").items())
        result["diff"] = {
            "before": "\n".join(old) + "\n",
            "after": "\n".join(sorted(p.lower() for p in packages)) + "\n",
        }
    if result["changed"] and not module.check_mode:
        try:
            write_document(path, data, uid=os.geteuid(), gid=os.getegid())
            if p["audit_root"]:
                record_in_audit_log(p, result)
        except (SbomError, OSError) as exc:
            module.fail_json(msg=f"writing {path} failed: {exc}")
    module.exit_json(**result)


def record_in_audit_log(p, result):
    # The release module's audit log, one line in its format.
    entry = {
        "time": format_time(time.time()),
        "user": default_audit_user(),
        "host": socket.gethostname(),
        "action": "sbom",
        "release": p["release"],
        "source": p["source"] or None,
        "run_id": p["run_id"] or None,
        "lock_owner": p["lock_owner"] or None,
        "result": "ok",
        "details": {"sbom": SBOM_FILE, "sbom_sha256": result["sha256"], "components": result["components"]},
    }
    append_audit_entry(AppLayout(p["audit_root"]), entry)


if __name__ == "__main__":
    main()
