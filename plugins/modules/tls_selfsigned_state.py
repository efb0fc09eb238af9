# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: tls_selfsigned_state
short_description: Tell which self-signed certificates are already as the reverse_proxy role makes them
version_added: 0.1.0
description:
  - For each entry of O(certificates), tells whether C(<directory>/<name>.key) is an EC P-256 private key,
    C(<name>.csr) a signing request and C(<name>.crt) a certificate of that key, both for the entry's common
    name and subject alternative names alone, and whether the directory and the three files are regular
    (no link), owned and moded as given.
  - The reverse_proxy role runs its community.crypto tasks only for the stale entries, and skips them all
    when every entry is current.
  - The files are read by the C(openssl) program; without it, every entry is stale. A private key is only
    read by C(openssl pkey -pubout), its public part compared; no file content is returned.
  - It changes nothing.
author:
  - pyops.deploy maintainers (@pyops)
options:
  directory:
    description: The directory of the keys, requests and certificates.
    type: path
    required: true
  directory_mode:
    description: The directory's octal permission bits, as a string such as V("0700").
    type: raw
    default: "0700"
  key_mode:
    description: The private keys' octal permission bits.
    type: raw
    default: "0600"
  public_mode:
    description: The requests' and certificates' octal permission bits.
    type: raw
    default: "0644"
  owner:
    description: The owner of the directory and the files, a user name or numeric id.
    type: str
    default: root
  group:
    description: Their group, a group name or numeric id.
    type: str
    default: root
  certificates:
    description: The certificates, by the name their files are named after.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The files' name, without its C(.key), C(.csr) or C(.crt) suffix.
        type: str
        required: true
      common_name:
        description: The subject's common name, the subject's only part.
        type: str
        required: true
      subject_alt_names:
        description: The subject alternative names, in order, such as V(DNS:shop.example.com).
        type: list
        elements: str
        required: true
extends_documentation_fragment:
  - pyops.deploy.attributes.read_only
attributes:
  platform:
    support: full
    platforms: posix
    description: Needs the C(openssl) program (OpenSSL 1.1.1 or later) to find any entry current.
  idempotent:
    support: full
    description: It changes nothing.
"""

EXAMPLES = r"""
- name: Tell which self-signed certificates are current
  pyops.deploy.tls_selfsigned_state:
    directory: /etc/ssl/pyops-proxy
    certificates:
      - name: shop
        common_name: shop.example.com
        subject_alt_names: [DNS:shop.example.com, DNS:www.example.com]
  register: selfsigned
"""

RETURN = r"""
current:
  description: The names of the entries whose files are as described.
  returned: success
  type: list
  elements: str
  sample: [shop]
stale:
  description: The names of the other entries.
  returned: success
  type: list
  elements: str
  sample: [api]
reasons:
  description: For each stale entry, what differs (paths and properties, never file content).
  returned: success
  type: dict
  sample: {api: /etc/ssl/pyops-proxy/api.crt is missing}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._file_modes import FileModesError
from ansible_collections.pyops.deploy.plugins.module_utils._tls_selfsigned_state import read_state


def main():
    module = AnsibleModule(
        argument_spec={
            "directory": {"type": "path", "required": True},
            "directory_mode": {"type": "raw", "default": "0700"},
            "key_mode": {"type": "raw", "default": "0600", "no_log": False},
            "public_mode": {"type": "raw", "default": "0644"},
            "owner": {"type": "str", "default": "root"},
            "group": {"type": "str", "default": "root"},
            "certificates": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "name": {"type": "str", "required": True},
                    "common_name": {"type": "str", "required": True},
                    "subject_alt_names": {"type": "list", "elements": "str", "required": True},
                },
            },
        },
        supports_check_mode=True,
    )

    def run(argv, data=None):
        return module.run_command(argv, data=data)

    try:
        result = read_state(module.params, run, module.get_bin_path("openssl"))
    except (FileModesError, KeyError, ValueError, OSError) as exc:
        module.fail_json(msg=f"Reading the self-signed certificates failed: {exc}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
