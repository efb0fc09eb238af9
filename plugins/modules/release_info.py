# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release_info
short_description: Show the releases, deploy lock and recent deploys of an application root
version_added: 0.1.0
description:
  - Reads an application root managed by M(pyops.deploy.release) and reports the current release, the
    release a rollback would go to, all releases with their status, the deploy lock and the latest audit
    log entries.
  - Never changes anything.
author:
  - pyops.deploy maintainers (@pyops)
options:
  path:
    description:
      - Absolute path of the application root.
      - A missing root is not an error. RV(exists) is then V(false) and everything else is empty.
    type: path
    required: true
  history:
    description:
      - Number of the latest audit log entries to return in RV(last_deploys). V(0) returns none and does not
        read the audit log at all.
    type: int
    default: 10
  lock_ttl:
    description:
      - Seconds after which the deploy lock counts as stale, used to compute RV(lock.stale).
      - Use the same value as for M(pyops.deploy.release).
    type: int
    default: 3600
  service:
    description:
      - A systemd service that serves the app from C(<path>/current), such as C(shop.service).
      - Adds RV(running), the release that the service's main process runs, and fills in RV(serving).
    type: str
  sbom_package:
    description:
      - A Python distribution's name (any spelling, such as C(Flask) or C(flask)). Adds to each release
        RV(releases[].sbom_package_version), its version in the release's SBOM (see M(pyops.deploy.release_sbom)).
    type: str
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
notes:
  - RV(running) compares the start time of the service's main process with the time C(current) last
    changed, so it needs no access to the process itself (C(/proc/<pid>/cwd) needs ptrace rights, which
    root lacks in some containers and under hardened kernels).
  - Releases are ordered by the creation sequence recorded in C(<path>/.releases.json), with the release id
    as tie breaker, never by file times.
seealso:
  - module: pyops.deploy.release
"""

EXAMPLES = r"""
- name: Look at the releases of the shop
  pyops.deploy.release_info:
    path: /srv/shop
    history: 5
  register: shop

- name: Find out whether the running server still runs an earlier release than current
  pyops.deploy.release_info:
    path: /srv/shop
    service: shop.service
  register: shop_running
  # shop_running.running != shop_running.current means a restart is due.

- name: Refuse to deploy while another run holds the lock
  ansible.builtin.assert:
    that:
      - shop.lock is none or shop.lock.stale
    fail_msg: >-
      Deploy lock held by {{ shop.lock.owner }} (run {{ shop.lock.run_id }}) since {{ shop.lock.time }},
      last seen {{ shop.lock.heartbeat }}

- name: Refuse a release id that exists with other code
  ansible.builtin.assert:
    that:
      - (shop.releases | selectattr('id', '==', release_id) | map(attribute='sha256') | first | default(none))
        in [none, artifact_sha256]

- name: Show what a rollback would switch to
  ansible.builtin.debug:
    msg: "current {{ shop.current }}, rollback target {{ shop.previous_good }}"
"""

RETURN = r"""
exists:
  description: Whether the application root exists.
  returned: always
  type: bool
  sample: true
current:
  description: Id of the release C(current) points at, V(null) when there is none.
  returned: always
  type: str
  sample: "20240502T090000Z"
previous_good:
  description:
    - The release a rollback without an explicit release goes to when it has something to do. That is the
      release that served right before the current one (recorded at the switch) unless it is V(failed).
    - Otherwise, and when the current release was itself reached by a rollback, it is the newest release older
      than the current one that is V(good), or V(prepared) and current before.
    - V(null) when there is none.
  returned: always
  type: str
  sample: "20240501T120000Z"
releases:
  description: All releases, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Release id.
      type: str
      sample: "20240502T090000Z"
    status:
      description: V(prepared), V(good), V(failed), or V(unknown) for a directory without a record.
      type: str
      sample: good
    created:
      description: When the release was prepared (UTC, ISO 8601), V(null) for an untracked directory.
      type: str
      sample: "2024-05-02T09:00:00Z"
    is_current:
      description: Whether C(current) points at this release.
      type: bool
      sample: true
    served:
      description: Whether the release was ever current (switched to, or finalized).
      type: bool
      sample: true
    activated:
      description: When C(current) was last switched to this release (UTC, ISO 8601), V(null) if never.
      type: str
      sample: "2024-05-02T09:01:00Z"
    served_from:
      description: The release that was current right before the last switch to this one.
      type: str
      sample: "20240501T120000Z"
    sha256:
      description:
        - The content of C(releases/<id>/.pyops-unpacked), written when the release's code was unpacked
          (the artifact's sha256). V(null) unless that is a regular file (not a symlink) holding 64 hex digits.
      type: str
      sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    sbom_sha256:
      description:
        - The sha256 of the release's SBOM C(releases/<id>/.pyops-sbom.cdx.json) (the CycloneDX document
          M(pyops.deploy.release_sbom) wrote of its virtualenv, the same digest the audit log's C(sbom) line
          records). V(null) unless that is a regular file (not a symlink).
      type: str
      sample: 3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b
    sbom_package_version:
      description: The version of O(sbom_package) in the release's SBOM, V(null) when it lists none or there is none.
      returned: when O(sbom_package) is given
      type: str
      sample: 3.1.3
  sample:
    - id: "20240501T120000Z"
      status: good
      created: "2024-05-01T12:00:00Z"
      is_current: false
      served: true
      activated: "2024-05-01T12:01:00Z"
      served_from: null
      sha256: null
    - id: "20240502T090000Z"
      status: prepared
      created: "2024-05-02T09:00:00Z"
      is_current: true
      served: true
      activated: "2024-05-02T09:01:00Z"
      served_from: "20240501T120000Z"
      sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
prepared_not_serving:
  description:
    - Releases created after the current one (all releases when there is none) that never served, oldest
      first. For example a deploy that failed before its switch, or one that is still preparing.
  returned: always
  type: list
  elements: str
  sample: ["20240503T090000Z"]
serving:
  description:
    - The release the running server started from, the same as RV(running).
    - V(null) without O(service), when the service does not run, or when C(current) changed after it started.
  returned: always
  type: str
  sample: "20240502T090000Z"
lock:
  description: The deploy lock, V(null) when nobody holds it.
  returned: always
  type: dict
  contains:
    owner:
      description: Lock owner. V(null) if the lock file is unreadable.
      type: str
      sample: alice@web1
    host:
      description: Host recorded with the lock.
      type: str
      sample: controller.example.com
    pid:
      description: Process id recorded with the lock, V(null) if none.
      type: int
      sample: 4242
    time:
      description: When the lock was taken (UTC, ISO 8601).
      type: str
      sample: "2024-05-02T08:59:00Z"
    heartbeat:
      description:
        - When the holding run was last seen (UTC, ISO 8601). Every task of that run refreshes it.
        - Missing in a lock taken by an older version of the collection.
      type: str
      sample: "2024-05-02T09:01:00Z"
    run_id:
      description: Run id of the holder. The holder is one run, RV(lock.owner) with RV(lock.run_id).
      type: str
      sample: run-42
    stale:
      description:
        - Whether the lock is stale, that is not seen (RV(lock.heartbeat), else RV(lock.time)) for more
          than O(lock_ttl), or held by a process that is gone.
      type: bool
      sample: false
    stale_reason:
      description: Why the lock is stale, V(null) when it is not.
      type: str
      sample: process 4242 on web1 is gone
  sample:
    owner: alice@web1
    host: controller.example.com
    pid: 4242
    time: "2024-05-02T08:59:00Z"
    heartbeat: "2024-05-02T09:01:00Z"
    run_id: run-42
    stale: false
    stale_reason: null
running:
  description:
    - The release the main process of O(service) runs. That is the current release when the process
      started after C(current) last changed.
    - V(null) when the service does not run, or when C(current) changed after it started, so the
      process may run an earlier release.
  returned: when O(service) is given
  type: str
  sample: "20240502T090000Z"
directories:
  description:
    - The C(releases/) and C(shared/) directories as they are, so that a caller can fix their ownership or
      permissions only when needed. Each is V(null) when it does not exist.
    - Symlinks are not followed, so a symlink is reported with C(is_dir) false.
  returned: always
  type: dict
  contains:
    releases:
      description: C(<path>/releases) with C(path), C(is_dir), C(mode) (four octal digits), C(uid) and C(gid).
      type: dict
      sample:
        path: /srv/shop/releases
        is_dir: true
        mode: "0755"
        uid: 0
        gid: 0
    shared:
      description: C(<path>/shared), as RV(directories.releases).
      type: dict
      sample:
        path: /srv/shop/shared
        is_dir: true
        mode: "0755"
        uid: 0
        gid: 0
last_deploys:
  description:
    - The latest O(history) entries of the audit log C(<path>/deploy-audit.jsonl), oldest first.
    - Lines that are not valid JSON are skipped.
  returned: always
  type: list
  elements: dict
  sample:
    - time: "2024-05-02T09:01:00Z"
      user: alice
      host: web1
      action: switched
      release: "20240502T090000Z"
      previous: "20240501T120000Z"
      current: "20240502T090000Z"
      source: "git:v1.4.2"
      run_id: run-42
      lock_owner: alice@web1
      result: ok
      details: {}
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._release.info import (
    parse_systemctl_show,
    release_info,
    running_release,
)
from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import (
    DEFAULT_HISTORY,
    DEFAULT_LOCK_TTL,
    ReleaseError,
)
from ansible_collections.pyops.deploy.plugins.module_utils._sbom import release_sbom_view


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "history": {"type": "int", "default": DEFAULT_HISTORY},
            "lock_ttl": {"type": "int", "default": DEFAULT_LOCK_TTL},
            "service": {"type": "str"},
            "sbom_package": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = release_info(params["path"], history=params["history"], lock_ttl=params["lock_ttl"])
    except ReleaseError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"reading {params['path']} failed: {exc}")
    for view in result["releases"]:
        # The release's SBOM: read without following a symlink, like the unpack marker.
        view.update(release_sbom_view(os.path.join(params["path"], "releases", view["id"]), params["sbom_package"]))
    if params["service"]:
        result["running"] = find_running_release(module, params["path"], params["service"])
        result["serving"] = result["running"]
    result["changed"] = False
    module.exit_json(**result)


def find_running_release(module, path, service):
    argv = ["systemctl", "show", "-p", "MainPID", "-p", "ExecMainStartTimestampMonotonic", "--", service]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        module.fail_json(msg=f"systemctl show {service} failed: {err.strip()}")
    pid, started = parse_systemctl_show(out)
    try:
        return running_release(path, pid, started, time.time(), time.clock_gettime(time.CLOCK_MONOTONIC))
    except (ReleaseError, OSError) as exc:
        module.fail_json(msg=f"reading {path}/current failed: {exc}")


if __name__ == "__main__":
    main()
