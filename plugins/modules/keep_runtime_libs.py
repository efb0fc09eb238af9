# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: keep_runtime_libs
short_description: Mark the Debian packages an interpreter's shared libraries come from as manually installed
version_added: 0.1.0
description:
  - For an interpreter built from source and installed under O(prefix), finds the shared libraries it links
    against and marks the packages owning them as manually installed. Removing the C(-dev) packages it was built
    with, and any later C(apt autoremove), then keeps them.
  - The interpreter's files are the regular files named C(python3.*) or C(*.so) under C(<prefix>/bin) and
    C(<prefix>/lib). Their libraries are the C(name => /path) lines of C(ldd).
  - The owner of a library is looked up with C(dpkg -S), under its path, its C(/usr) and non-C(/usr) variants
    (usrmerge) and its real path, taking the first name dpkg knows. A library no package owns is skipped.
  - Only packages C(apt-mark showauto) lists are marked, with C(apt-mark manual). Packages already manual are
    left alone.
author:
  - pyops.deploy maintainers (@pyops)
options:
  prefix:
    description:
      - Installation prefix of the interpreter, as given to C(configure --prefix).
      - A prefix without C(bin) or C(lib) gives no files and marks nothing.
    type: path
    required: true
attributes:
  check_mode:
    support: full
    description: Reports in RV(marked) the packages it would mark, without marking them.
  diff_mode:
    support: none
    description: Returns no diff; RV(marked) lists the packages whose mark changes.
  platform:
    support: full
    platforms: posix
    description: Debian and derivatives, with C(ldd), C(dpkg) and C(apt-mark).
  idempotent:
    support: full
    description: >-
      When run twice in a row outside check mode with the same arguments, the second invocation indicates
      no change.
notes:
  - C(ldd) may run the files it inspects. Point O(prefix) only at an interpreter you trust, for example one
    you built.
"""

EXAMPLES = r"""
- name: Keep the shared libraries the interpreter links against
  pyops.deploy.keep_runtime_libs:
    prefix: /opt/python/3.13
  register: kept

- name: Remove the build dependencies
  ansible.builtin.apt:
    name: [build-essential, libssl-dev, libffi-dev]
    state: absent
    autoremove: true
"""

RETURN = r"""
marked:
  description: Packages marked manually installed (in check mode, that would be), sorted.
  returned: always
  type: list
  elements: str
  sample: [libffi8, libsqlite3-0, libssl3]
packages:
  description: Every package owning a library the interpreter links against, sorted, manual ones included.
  returned: always
  type: list
  elements: str
  sample: [libc6, libffi8, libsqlite3-0, libssl3, zlib1g]
libraries:
  description: The shared libraries the interpreter's files link against, as C(ldd) resolved them.
  returned: always
  type: list
  elements: str
  sample: [/lib/x86_64-linux-gnu/libm.so.6, /lib/x86_64-linux-gnu/libssl.so.3]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._keep_runtime_libs import (
    RuntimeLibs,
    RuntimeLibsError,
)


def main():
    module = AnsibleModule(
        argument_spec={"prefix": {"type": "path", "required": True}},
        supports_check_mode=True,
    )

    def run(argv):
        return module.run_command(argv, environ_update={"LC_ALL": "C"})

    try:
        result = RuntimeLibs(run).keep(module.params["prefix"], check_mode=module.check_mode)
    except RuntimeLibsError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
