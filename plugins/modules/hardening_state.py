# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: hardening_state
short_description: Read the host state the hardening role decides by, in one module run
version_added: 0.1.0
description:
  - Reads, as root, what the hardening role's tasks act on, so that each of them runs only when the host
    is not as it makes it. Each option asks for one part; the parts not asked for are returned empty.
  - The installed packages come from dpkg's status file (every state but C(not-installed) and
    C(config-files)), without python3-apt; the units' states from one C(systemctl show); the accounts
    from the user and group databases; the accounts with an empty password field from the shadow file
    (only their names are returned); the RSA host key's size from its public key file; the setuid and
    setgid programs as C(find -xdev -type f -perm /6000) finds them; the loaded nftables tables from
    C(nft list table).
  - It changes nothing.
author:
  - pyops.deploy maintainers (@pyops)
options:
  packages:
    description: Whether to list the installed packages (RV(packages)), from dpkg's status file.
    type: bool
    default: false
  dpkg_status:
    description: dpkg's status file, read for O(packages).
    type: path
    default: /var/lib/dpkg/status
  units:
    description: Units whose active and enabled states RV(units_active) and RV(units_enabled) give.
    type: list
    elements: str
    default: []
  group:
    description: A group; RV(group_exists) tells whether it exists, RV(users_outside_group) which O(users) it lacks.
    type: str
    default: ""
  users:
    description: User names to look up (RV(users_missing), RV(users_outside_group)).
    type: list
    elements: str
    default: []
  empty_passwords:
    description: Whether to list the accounts whose password field in the shadow file is empty.
    type: bool
    default: false
  rsa_public_key:
    description: An OpenSSH RSA public key file whose modulus size RV(rsa_public_key_bits) gives.
    type: path
  paths:
    description: Paths whose existence RV(paths_present) tells (a link counts when its target exists).
    type: list
    elements: path
    default: []
  moduli:
    description:
      - An OpenSSH moduli file in which RV(small_moduli) counts the moduli under O(moduli_min_size); none when
        it is missing.
    type: path
  moduli_min_size:
    description: The smallest size field (the modulus' bits minus one) a modulus keeps in O(moduli).
    type: int
    default: 3071
  setid_directories:
    description:
      - Directories searched, without following links or entering other file systems, for the setuid and
        setgid programs RV(setid_programs) lists.
    type: list
    elements: path
    default: []
  nft_tables:
    description: nftables tables, as C(family name), whose presence in the running rule set RV(nft_tables_loaded) gives.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - pyops.deploy.attributes.read_only
attributes:
  platform:
    support: full
    platforms: posix
    description: >-
      Needs dpkg for O(packages), systemd for O(units) and the nft program for O(nft_tables) (without it,
      no table is loaded).
  idempotent:
    support: full
    description: It changes nothing.
notes:
  - Run it as root, to read the shadow file.
"""

EXAMPLES = r"""
- name: Read the host state the role decides by
  pyops.deploy.hardening_state:
    packages: true
    units: [ssh.service, ssh.socket, fail2ban.service]
    group: sudo
    users: [deploy]
    empty_passwords: true
    rsa_public_key: /etc/ssh/ssh_host_rsa_key.pub
    paths: [/etc/ssh/ssh_host_ed25519_key]
    moduli: /etc/ssh/moduli
    setid_directories: [/usr/bin, /usr/sbin]
    nft_tables: [inet pyops_filter]
  register: host_state
"""

RETURN = r"""
packages:
  description: With O(packages), the installed packages' versions by name.
  returned: success
  type: dict
  sample: {openssh-server: "1:9.2p1-2+deb12u3", nftables: "1.0.6-2+deb12u2"}
units_active:
  description: The units of O(units) whose ActiveState is C(active).
  returned: success
  type: list
  elements: str
  sample: [ssh.service]
units_enabled:
  description: The units of O(units) whose UnitFileState is C(enabled).
  returned: success
  type: list
  elements: str
  sample: [ssh.service, fail2ban.service]
group_exists:
  description: Whether O(group) exists.
  returned: success
  type: bool
  sample: true
users_missing:
  description: The users of O(users) that have no account.
  returned: success
  type: list
  elements: str
  sample: []
users_outside_group:
  description: The existing users of O(users) that the group database does not list as members of O(group).
  returned: success
  type: list
  elements: str
  sample: [deploy]
empty_password_accounts:
  description: With O(empty_passwords), the accounts whose password field is empty.
  returned: success
  type: list
  elements: str
  sample: [guest]
rsa_public_key_bits:
  description: The modulus size of O(rsa_public_key); 0 when it is missing or not an RSA key.
  returned: success
  type: int
  sample: 3072
paths_present:
  description: The paths of O(paths) that exist.
  returned: success
  type: list
  elements: str
  sample: [/etc/ssh/ssh_host_ed25519_key]
small_moduli:
  description: How many moduli of O(moduli) are under O(moduli_min_size) (0 without O(moduli)).
  returned: success
  type: int
  sample: 0
setid_programs:
  description: The setuid and setgid regular files under O(setid_directories), sorted.
  returned: success
  type: list
  elements: str
  sample: [/usr/bin/passwd, /usr/bin/sudo]
nft_tables_loaded:
  description: The tables of O(nft_tables) that are loaded.
  returned: success
  type: list
  elements: str
  sample: [inet pyops_filter]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._hardening_state import read_state


def main():
    module = AnsibleModule(
        argument_spec={
            "packages": {"type": "bool", "default": False},
            "dpkg_status": {"type": "path", "default": "/var/lib/dpkg/status"},
            "units": {"type": "list", "elements": "str", "default": []},
            "group": {"type": "str", "default": ""},
            "users": {"type": "list", "elements": "str", "default": []},
            "empty_passwords": {"type": "bool", "default": False},
            "rsa_public_key": {"type": "path"},
            "paths": {"type": "list", "elements": "path", "default": []},
            "moduli": {"type": "path"},
            "moduli_min_size": {"type": "int", "default": 3071},
            "setid_directories": {"type": "list", "elements": "path", "default": []},
            "nft_tables": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )

    def run(argv):
        return module.run_command(argv)

    try:
        result = read_state(
            module.params,
            run,
            systemctl=module.get_bin_path("systemctl", required=bool(module.params["units"])) or "systemctl",
            nft=module.get_bin_path("nft"),
        )
    except (KeyError, OSError) as exc:
        module.fail_json(msg=f"Reading the host state failed: {exc}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
