# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: file_modes
short_description: Set the owner, group and mode of a list of existing paths in one call
version_added: 0.1.0
description:
  - Sets the owner, group and permission bits of every path of O(files) that exists, as one
    M(ansible.builtin.file) task per path would, in one module execution.
  - A path that does not exist is reported in RV(absent) and left alone; nothing is created.
  - A symbolic link is never followed (nor changed), only reported in RV(symlinks). The change itself goes
    through a descriptor opened without following links, so a path replaced by a link meanwhile is refused.
  - A path whose owner, group and mode already match is left alone.
author:
  - pyops.deploy maintainers (@pyops)
options:
  files:
    description:
      - The paths to set, each with its mode and, optionally, its owner and group.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of a file or directory.
        type: path
        required: true
      mode:
        description: Octal permission bits, as a string such as V("0640").
        type: raw
        required: true
      owner:
        description: User name (or numeric id) that must own the path.
        type: str
        default: root
      group:
        description: Group name (or numeric id) of the path.
        type: str
        default: root
attributes:
  check_mode:
    support: full
    description: Reports the paths that would be changed, without changing them.
  diff_mode:
    support: full
    description: The diff holds the owner, group and mode (V(uid:gid mode)) before and after for each path changed.
  platform:
    support: full
    platforms: posix
    description: Needs POSIX owners and modes (C(fchown), C(fchmod)) and C(O_NOFOLLOW).
  idempotent:
    support: full
    description: A second run with the same arguments changes nothing.
notes:
  - Run it as root to change owners.
seealso:
  - module: ansible.builtin.file
    description: One path per call, and it can create paths and follow links.
"""

EXAMPLES = r"""
- name: Restrict the sensitive files' permissions
  pyops.deploy.file_modes:
    files:
      - {path: /etc/shadow, mode: "0640", group: shadow}
      - {path: /etc/crontab, mode: "0600"}
      - {path: /boot/grub/grub.cfg, mode: "0400"}
  register: modes
"""

RETURN = r"""
changed_paths:
  description: Paths whose owner, group or mode was changed (in check mode, would be changed), in the order given.
  returned: always
  type: list
  elements: str
  sample: [/etc/crontab]
absent:
  description: Paths that do not exist, left alone.
  returned: always
  type: list
  elements: str
  sample: [/boot/grub/grub.cfg]
symlinks:
  description: Paths that are symbolic links, left alone.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._file_modes import FileModesError, apply_modes
from ansible_collections.pyops.deploy.plugins.module_utils._results import with_diff_if_asked


def main():
    module = AnsibleModule(
        argument_spec={
            "files": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "path": {"type": "path", "required": True},
                    "mode": {"type": "raw", "required": True},
                    "owner": {"type": "str", "default": "root"},
                    "group": {"type": "str", "default": "root"},
                },
            },
        },
        supports_check_mode=True,
    )
    try:
        result = apply_modes(module.params["files"], check_mode=module.check_mode)
    except FileModesError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"Setting the file modes failed: {exc}")

    module.exit_json(**with_diff_if_asked(module, result))


if __name__ == "__main__":
    main()
