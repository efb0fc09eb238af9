# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: sysctl_settings
short_description: Apply kernel settings one by one, telling refused and absent keys apart
version_added: 0.1.0
description:
  - Sets the running kernel's settings from O(settings) by writing C(/proc/sys/<key with dots as slashes>),
    as C(sysctl -w) does, one key at a time.
  - A key without a file under C(/proc/sys) (a module not loaded, an older kernel) is reported in RV(absent)
    and left alone.
  - A key whose current value already matches is left alone. Values are compared as C(sysctl) prints them,
    with runs of whitespace as one space, so V(4096 65536 16777216) matches a file holding tabs.
  - A key the kernel does not let this process write (a read-only C(/proc/sys) in a container, a read-only
    key, a value the kernel rejects) is reported in RV(refused). Unless O(tolerate_refused=true), the task
    then fails, after applying every other key.
  - Only the running kernel is changed. Write the file applied at boot (C(/etc/sysctl.d/*.conf)) with
    M(ansible.builtin.template) or M(ansible.builtin.copy).
author:
  - pyops.deploy maintainers (@pyops)
options:
  settings:
    description:
      - Kernel settings, key (for example V(net.ipv4.conf.all.accept_redirects)) to value.
      - Keys are handled in the order given. A value of V("") (or null) leaves that key alone.
      - Keys are dot-separated names. Empty parts and slashes are rejected.
    type: dict
    required: true
  tolerate_refused:
    description:
      - Report keys the kernel refuses in RV(refused) without failing the task.
      - Set it inside a container, where most of C(/proc/sys) belongs to the container host.
    type: bool
    default: false
  proc_root:
    description:
      - Directory standing for C(/proc/sys). For tests only.
    type: path
    default: /proc/sys
attributes:
  check_mode:
    support: full
    description: >-
      Reports the keys that would be set, and those that would be refused because the kernel does not let
      this process write them, without writing. A value the kernel would reject shows only in a real run.
  diff_mode:
    support: full
    description: The diff holds the current and the new value of every key set (or that would be set).
  platform:
    support: full
    platforms: posix
    description: Needs a Linux C(/proc/sys).
  idempotent:
    support: full
    description: >-
      When run twice in a row outside check mode with the same arguments, the second invocation indicates
      no change, unless the kernel reads a value back differently from how it was written.
notes:
  - Run it as root; other users are refused every key.
seealso:
  - module: ansible.posix.sysctl
    description: Sets one key and also edits a sysctl configuration file.
"""

EXAMPLES = r"""
- name: Apply the kernel settings the host allows
  pyops.deploy.sysctl_settings:
    settings:
      net.ipv4.conf.all.accept_redirects: "0"
      kernel.kptr_restrict: "2"
      net.ipv4.tcp_rmem: "4096 131072 6291456"
    tolerate_refused: "{{ ansible_virtualization_type in ['podman', 'docker', 'lxc'] }}"
  register: applied

- name: Show what the container host must set
  ansible.builtin.debug:
    msg: "Left to the container host: {{ (applied.refused + applied.absent) | join(', ') }}"
  when: applied.refused or applied.absent
"""

RETURN = r"""
set:
  description: Keys whose value was changed (in check mode, would be changed), in the order given.
  returned: always
  type: list
  elements: str
  sample: [kernel.kptr_restrict, net.ipv4.conf.all.accept_redirects]
refused:
  description: Keys the kernel did not let this process change (in check mode, would not let).
  returned: always
  type: list
  elements: str
  sample: [kernel.sysrq]
absent:
  description: Keys this kernel does not have.
  returned: always
  type: list
  elements: str
  sample: [kernel.unprivileged_bpf_disabled]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._results import with_diff_if_asked
from ansible_collections.pyops.deploy.plugins.module_utils._sysctl_settings import (
    PROC_SYS,
    SysctlError,
    apply_settings,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "settings": {"type": "dict", "required": True},
            "tolerate_refused": {"type": "bool", "default": False},
            "proc_root": {"type": "path", "default": PROC_SYS},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = apply_settings(params["settings"], check_mode=module.check_mode, proc_root=params["proc_root"])
    except SysctlError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"Reading the kernel settings failed: {exc}")

    with_diff_if_asked(module, result)
    if result["refused"] and not params["tolerate_refused"]:
        module.fail_json(
            msg=f"The kernel refused {', '.join(result['refused'])}"
            + (" (in check mode: would refuse)" if module.check_mode else ""),
            **result,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
