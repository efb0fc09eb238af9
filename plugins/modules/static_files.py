# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: static_files
short_description: Pack a release's collected static files on an app host, merge them into a proxy's directory
version_added: 0.1.0
description:
  - O(state=packed) packs the directory O(path) (a release's collected static files, written by the app)
    into a new tar file in O(dest_dir), returned as RV(dest). The tree is read through descriptors opened
    without following links; a symbolic link, a device, a fifo or a socket anywhere in it fails the task,
    naming its path only. Directories are packed with mode C(0755), files with C(0644), both owned by root.
  - O(state=merged) merges the tar file O(src) into the directory O(path) (created, mode C(0755), if
    missing). A file is written (through a temporary file renamed over it) only if it is new or its content
    or mode differs; nothing is ever removed, so the files of the release that still serves during a rolling
    deploy stay available. A link or a file where the archive has a directory fails the task.
  - Neither state ever returns or logs a file's contents.
author:
  - pyops.deploy maintainers (@pyops)
options:
  state:
    description: V(packed) on the app host, V(merged) on the proxy.
    type: str
    choices: [packed, merged]
    required: true
  path:
    description:
      - With O(state=packed), the directory to pack; its last component must not be a link.
      - With O(state=merged), the directory the files are merged into.
    type: path
    required: true
  subdir:
    description:
      - With O(state=packed), the directory to pack inside O(path), relative to it; each of its components is
        opened without following a link (the app may have written them).
    type: str
    default: ""
  dest_dir:
    description:
      - With O(state=packed), the directory the tar file is created in (a root-owned one). Default the system's.
    type: path
  src:
    description: With O(state=merged), the tar file made by O(state=packed).
    type: path
attributes:
  check_mode:
    support: full
    description: >-
      O(state=packed) packs in check mode too (it changes nothing but a new temporary file, and reports no
      change); O(state=merged) reports the files it would add or update, without writing.
  diff_mode:
    support: full
    description: The diff of O(state=merged) names each file added (C(+)) or updated (C(~)), at most 200.
  platform:
    support: full
    platforms: posix
    description: Needs C(O_NOFOLLOW) and C(O_DIRECTORY).
  idempotent:
    support: full
    description: Merging the same files again changes nothing; packing never reports a change.
notes:
  - Run it as root. The caller removes the tar file O(state=packed) made.
seealso:
  - module: ansible.builtin.unarchive
    description: Unpacks an archive, but follows no rule about what the app wrote.
"""

EXAMPLES = r"""
- name: Pack the release's collected static files
  pyops.deploy.static_files:
    state: packed
    path: /srv/shop/shared
    subdir: staticfiles
  register: packed

- name: Merge them into the proxy's static directory
  pyops.deploy.static_files:
    state: merged
    src: /tmp/static.tar
    path: /var/www/shop-static
"""

RETURN = r"""
dest:
  description: With O(state=packed), the tar file made.
  returned: when state is packed
  type: str
  sample: /srv/shop/releases/.pyops-static-k2j4h1.tar
files:
  description: With O(state=packed), the number of files packed.
  returned: when state is packed
  type: int
  sample: 182
bytes:
  description: With O(state=packed), their total size.
  returned: when state is packed
  type: int
  sample: 3145728
sha256:
  description: With O(state=packed), the tar file's sha256.
  returned: when state is packed
  type: str
  sample: 0f343b0931126a20f133d67c2b018a3b8c1d3c5b8d6a2e1f0e5b6f4c3d2a1b0c
added:
  description: With O(state=merged), the number of files and directories added (in check mode, that would be).
  returned: when state is merged
  type: int
  sample: 3
updated:
  description: With O(state=merged), the number of files whose content or mode was replaced.
  returned: when state is merged
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._results import with_diff_if_asked
from ansible_collections.pyops.deploy.plugins.module_utils._static_files import StaticFilesError, merge, pack


def main():
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["packed", "merged"], "required": True},
            "path": {"type": "path", "required": True},
            "subdir": {"type": "str", "default": ""},
            "dest_dir": {"type": "path"},
            "src": {"type": "path"},
        },
        required_if=[("state", "merged", ["src"])],
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params["state"] == "packed":
            result = pack(params["path"], params["dest_dir"], params["subdir"])
        else:
            result = with_diff_if_asked(module, merge(params["src"], params["path"], check_mode=module.check_mode))
    except StaticFilesError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"The static files could not be {params['state']}: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
