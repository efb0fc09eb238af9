# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: file_set
short_description: Directories, small files, lines and substitutions in one module run
version_added: 0.1.0
description:
  - Makes the host hold a list of directories, whole files, lines and regular expression substitutions, as one
    M(ansible.builtin.file), M(ansible.builtin.copy), M(ansible.builtin.lineinfile) or M(ansible.builtin.replace)
    task per entry would, in one module run.
  - Everything is read and compared first; when an entry cannot be applied (an unknown owner, a missing file to
    edit, a bad regular expression, a link where a directory should be) nothing is written.
  - A new file content is written to a temporary file in the same directory, checked by its C(validate) command
    when given, and renamed over the path, so that readers see the old or the new file, never a part.
  - No path is opened, chowned or chmodded through a symbolic link. A link where a directory or an edited file
    should be fails the task; a link where a whole file should be is replaced by the file, its target left alone.
  - The host's log gets the paths the module was given, never the contents. Error messages never hold a
    file's content.
author:
  - pyops.deploy maintainers (@pyops)
options:
  directories:
    description:
      - Directories that must exist with this owner, group and mode. Missing parents are made with the same
        owner, group and mode, as M(ansible.builtin.file) makes them, whatever the umask. The files may be in them.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      mode:
        description: Octal permission bits, as a string such as V("0750").
        type: raw
        default: "0755"
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
      - Files with their whole content, owner, group and mode, handled in the order given. Their directory must
        exist or be in O(directories).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      content:
        description:
          - The whole content, as text (written as UTF-8), for example from
            C(lookup('ansible.builtin.template', 'x.j2')) or C(lookup('ansible.builtin.file', 'x', rstrip=false)).
        type: str
        required: true
      mode:
        description: Octal permission bits, as a string such as V("0644").
        type: raw
        default: "0644"
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
      - Lines in existing regular files, as M(ansible.builtin.lineinfile) with O(lines[].regexp) and
        C(state=present) sets them. The last line that matches is replaced; with no match, the same line anywhere
        leaves the file alone, else the line is added at the end. The file keeps its owner, group and mode.
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
        description: Python regular expression that finds the line to replace.
        type: str
        required: true
      line:
        description: The line, without a line break.
        type: str
        required: true
  replacements:
    description:
      - Substitutions in existing regular files, as M(ansible.builtin.replace) makes them (multiline mode),
        applied after O(lines).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of an existing regular file.
        type: path
        required: true
      regexp:
        description: Python regular expression.
        type: str
        required: true
      replace:
        description: The replacement, with back-references such as V(\\1).
        type: str
        default: ""
attributes:
  check_mode:
    support: full
    description: Reports the paths that would be created or changed, with the diff, without writing.
  diff_mode:
    support: full
    description: >-
      One diff per changed path: a file's old and new content (with a first line for its owner, group and mode
      when those change), a directory's owner, group and mode. Run tasks that carry secrets with
      C(diff: false) and C(no_log: true).
  platform:
    support: full
    platforms: posix
    description: Needs C(O_NOFOLLOW) and C(O_DIRECTORY).
  idempotent:
    support: full
    description: When run twice in a row with the same arguments, the second run changes nothing.
notes:
  - For small text files whose content the controller has; their content travels in the module's arguments.
  - Run it as root to set owners.
seealso:
  - module: ansible.builtin.copy
  - module: ansible.builtin.template
  - module: ansible.builtin.lineinfile
  - module: ansible.builtin.replace
"""

EXAMPLES = r"""
- name: Install the check plugins
  pyops.deploy.file_set:
    directories:
      - {path: /usr/local/lib/nagios/plugins, mode: "0755"}
    files:
      - path: /usr/local/lib/nagios/plugins/check_mem_available
        content: "{{ lookup('ansible.builtin.file', 'check_mem_available', rstrip=false) }}"
        mode: "0755"

- name: Write the banners, sudoers and the login.defs settings
  pyops.deploy.file_set:
    files:
      - {path: /etc/issue, content: "Authorized access only.\n"}
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
  description: The paths created or changed (in check mode, that would be), in the order of the entries.
  returned: always
  type: list
  elements: str
  sample: [/etc/issue, /etc/login.defs]
backups:
  description: For files given with O(files[].backup), the path of the copy made of the file each replaced.
  returned: always
  type: dict
  sample: {/etc/ssh/sshd_config: "/etc/ssh/sshd_config.4242.2026-12-05@12:00:00~"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._file_set import FileSetError, apply_file_set
from ansible_collections.pyops.deploy.plugins.module_utils._results import with_diff_if_asked

_ACCOUNT = {"owner": {"type": "str", "default": "root"}, "group": {"type": "str", "default": "root"}}
_EDIT = {"path": {"type": "path", "required": True}, "regexp": {"type": "str", "required": True}}


class FileSetModule(AnsibleModule):
    """Logs the paths it was given, never the contents: scripts, certificates and configuration would otherwise
    go into the host's journal (AnsibleModule logs every argument) on every run."""

    def _log_invocation(self):
        paths = []
        for option in ("directories", "files", "lines", "replacements"):
            paths += [entry["path"] for entry in self.params.get(option) or []]
        self.log("Invoked with paths " + " ".join(dict.fromkeys(paths)))


def main():
    module = FileSetModule(
        argument_spec={
            "directories": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "mode": {"type": "raw", "default": "0755"},
                    **_ACCOUNT,
                },
            },
            "files": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "path": {"type": "path", "required": True},
                    "content": {"type": "str", "required": True},
                    "mode": {"type": "raw", "default": "0644"},
                    **_ACCOUNT,
                    "validate": {"type": "str"},
                    "backup": {"type": "bool", "default": False},
                },
            },
            "lines": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {**_EDIT, "line": {"type": "str", "required": True}},
            },
            "replacements": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {**_EDIT, "replace": {"type": "str", "default": ""}},
            },
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = apply_file_set(
            params["directories"],
            params["files"],
            params["lines"],
            params["replacements"],
            check_mode=module.check_mode,
            run=module.run_command,
        )
    except FileSetError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        # The path and the reason only: never the content.
        module.fail_json(msg=f"Writing the files failed: {exc.filename or ''}: {exc.strerror}")
    module.exit_json(**with_diff_if_asked(module, result))


if __name__ == "__main__":
    main()
