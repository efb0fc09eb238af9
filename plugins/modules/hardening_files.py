# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: hardening_files
short_description: Write several small configuration files, lines and substitutions in one call
version_added: 0.1.0
description:
  - Makes the host hold a list of directories, whole files, lines and regular expression substitutions,
    as one M(ansible.builtin.file), M(ansible.builtin.copy), M(ansible.builtin.lineinfile) or
    M(ansible.builtin.replace) task per entry would, in one module execution.
  - Everything is read and compared first; when an entry cannot be applied (a missing file to edit, an
    unknown owner, a bad regular expression) nothing is written.
  - A new file content is written to a temporary file in the same directory, checked by its C(validate)
    command when given, and renamed over the path. A symbolic link at the path is replaced, never followed.
  - Lines and substitutions edit existing regular files, which keep their owner, group and mode.
author:
  - pyops.deploy maintainers (@pyops)
options:
  directories:
    description:
      - Directories that must exist with this owner, group and mode (missing parents are created).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      mode:
        description: Octal permission bits, as a string such as V("0755").
        type: raw
        required: true
      owner:
        description: User name or numeric id.
        type: str
        default: root
      group:
        description: Group name or numeric id.
        type: str
        default: root
  files:
    description:
      - Files with their whole content, owner, group and mode. Their directory must exist or be in O(directories).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      content:
        description: The content, such as C(lookup('ansible.builtin.template', 'x.j2')).
        type: str
        required: true
      mode:
        description: Octal permission bits, as a string such as V("0644").
        type: raw
        required: true
      owner:
        description: User name or numeric id.
        type: str
        default: root
      group:
        description: Group name or numeric id.
        type: str
        default: root
      validate:
        description:
          - Command that checks the new content before it replaces the file, with V(%s) standing for the
            temporary file, as M(ansible.builtin.template)'s C(validate). Run without a shell.
        type: str
      backup:
        description:
          - When the file changes (its content, or only its owner, group or mode), copy it beside it first (after
            the validation), named as M(ansible.builtin.template)'s C(backup) names it; RV(backups) gives the copy's
            path.
        type: bool
        default: false
  lines:
    description:
      - Lines in existing files, as M(ansible.builtin.lineinfile) with O(lines[].regexp) and C(state=present)
        sets them. The last line that matches is replaced; with no match, the same line anywhere leaves the file
        alone, else the line is added at the end.
      - Several entries may name the same file; it is written once.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of an existing regular file.
        type: path
        required: true
      regexp:
        description: Python regular expression searched in each line.
        type: str
        required: true
      line:
        description: The line, without its newline.
        type: str
        required: true
  replacements:
    description:
      - Substitutions in existing files, as M(ansible.builtin.replace) (multiline mode), applied after O(lines).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of an existing regular file.
        type: path
        required: true
      regexp:
        description: Python regular expression (C(^) and C($) match at each line).
        type: str
        required: true
      replace:
        description: The replacement, with back-references such as V(\\1).
        type: str
        default: ""
attributes:
  check_mode:
    support: full
    description: Reports the paths that would change, without writing (validate commands do not run).
  diff_mode:
    support: full
    description: One diff per path changed; the content for files, V(uid:gid mode) for owner, group and mode alone.
  platform:
    support: full
    platforms: posix
    description: Needs POSIX owners and modes and C(O_NOFOLLOW).
  idempotent:
    support: full
    description: A second run with the same arguments changes nothing.
notes:
  - Run it as root to set owners. The contents are shown in the diff; do not give it secrets.
seealso:
  - module: ansible.builtin.template
    description: One file per call.
  - module: ansible.builtin.lineinfile
    description: One line per call.
"""

EXAMPLES = r"""
- name: Write the login banners, the limits and the login.defs settings
  pyops.deploy.hardening_files:
    directories:
      - {path: /etc/modprobe.d, mode: "0755"}
    files:
      - {path: /etc/issue, content: "Authorized access only.\n", mode: "0644"}
      - path: /etc/sudoers.d/admins
        content: "%admins ALL=(ALL:ALL) ALL\n"
        mode: "0440"
        validate: /usr/sbin/visudo -cf %s
    lines:
      - {path: /etc/login.defs, regexp: '^#?\s*PASS_MAX_DAYS\s', line: "PASS_MAX_DAYS\t365"}
    replacements:
      - {path: /etc/pam.d/common-auth, regexp: '^(auth\s.*pam_unix\.so.*?)\s+nullok\b', replace: '\1'}
  register: written
"""

RETURN = r"""
changed_paths:
  description: Paths changed (in check mode, that would be changed), directories first, then files, then edited files.
  returned: always
  type: list
  elements: str
  sample: [/etc/issue, /etc/login.defs]
backups:
  description: For each file given with O(files[].backup) that changed, the path of its copy.
  returned: always
  type: dict
  sample: {/etc/ssh/sshd_config: "/etc/ssh/sshd_config.4242.2026-12-05@12:00:00~"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._hardening_files import HardeningFilesError, apply_files
from ansible_collections.pyops.deploy.plugins.module_utils._results import with_diff_if_asked

ATTRIBUTES = {
    "mode": {"type": "raw", "required": True},
    "owner": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
}


def main():
    module = AnsibleModule(
        argument_spec={
            "directories": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {"path": {"type": "path", "required": True}, **ATTRIBUTES},
            },
            "files": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "content": {"type": "str", "required": True},
                    "validate": {"type": "str"},
                    "backup": {"type": "bool", "default": False},
                    **ATTRIBUTES,
                },
            },
            "lines": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "regexp": {"type": "str", "required": True},
                    "line": {"type": "str", "required": True},
                },
            },
            "replacements": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "regexp": {"type": "str", "required": True},
                    "replace": {"type": "str", "default": ""},
                },
            },
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = apply_files(
            params["directories"],
            params["files"],
            params["lines"],
            params["replacements"],
            check_mode=module.check_mode,
            run=module.run_command,
        )
    except HardeningFilesError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"Writing the files failed: {exc}")

    module.exit_json(**with_diff_if_asked(module, result))


if __name__ == "__main__":
    main()
