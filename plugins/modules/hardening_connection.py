# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: hardening_connection
short_description: Read who Ansible is connected as and the address its SSH session comes from
version_added: 0.1.0
description:
  - Run with C(become=false), it returns the connected account's name and groups, whether it has
    authorized keys, and the address of the SSH client (C(SSH_CLIENT)), with whether that address is
    outside O(ssh_sources).
  - The hardening role reads it once, for its SSH lockout guard and its firewall's SSH rule.
  - It changes nothing.
author:
  - pyops.deploy maintainers (@pyops)
options:
  ssh_sources:
    description:
      - Addresses or CIDR ranges; RV(ssh_source_outside) tells whether the SSH client is in none of them.
        Malformed entries are skipped.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - pyops.deploy.attributes.read_only
attributes:
  platform:
    support: full
    platforms: posix
    description: Needs POSIX accounts and groups; the SSH client's address comes from the session's C(SSH_CLIENT).
"""

EXAMPLES = r"""
- name: Read the connected account and the address its SSH session comes from
  pyops.deploy.hardening_connection:
    ssh_sources: [203.0.113.0/24, "2001:db8::/48"]
  become: false
  register: connection
"""

RETURN = r"""
user:
  description: The connected account.
  returned: success
  type: str
  sample: deploy
groups:
  description: Its groups, the primary one first.
  returned: success
  type: list
  elements: str
  sample: [deploy, sudo]
authorized_keys:
  description: Whether C(~/.ssh/authorized_keys) or C(authorized_keys2) is a non-empty file.
  returned: success
  type: bool
  sample: true
ssh_source:
  description: The SSH client's address (IPv4 for an IPv4-mapped one); empty without SSH or over a pipe.
  returned: success
  type: str
  sample: 203.0.113.7
ssh_source_outside:
  description: Whether RV(ssh_source) is set and in none of O(ssh_sources).
  returned: success
  type: bool
  sample: false
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._hardening_connection import read_connection


def main():
    module = AnsibleModule(
        argument_spec={"ssh_sources": {"type": "list", "elements": "str", "default": []}},
        supports_check_mode=True,
    )
    try:
        result = read_connection(module.params["ssh_sources"])
    except (KeyError, OSError) as exc:
        module.fail_json(msg=f"Reading the connected account failed: {exc}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
