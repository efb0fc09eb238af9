# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: file_set
short_description: A directory and a few small files, with owner, group and mode, in one module run
version_added: 0.1.0
description:
  - Creates the directory O(directory) if it is missing (and its missing parents, as C(mkdir -p) does) and sets
    its owner, group and mode.
  - Writes each file of O(files) whose content differs or that is missing, through a temporary file in the
    same directory renamed over it (readers see the old or the new file, never a part), created with the
    file's owner, group and mode. A file whose content matches only gets its owner, group and mode set,
    if they differ.
  - One module run for what M(ansible.builtin.copy) does in two per file (a C(stat), then the copy or a
    M(ansible.builtin.file)), for small files whose content the controller has (for example from the
    P(ansible.builtin.file#lookup) lookup with C(rstrip=false)).
  - A symbolic link, or anything but a directory or a regular file, where O(directory) or a file of O(files)
    should be fails the task; it is never followed nor replaced. Error messages never hold a file's content.
  - The module logs the paths it was given on the host (in its journal, as every module logs its call), not
    the contents.
author:
  - pyops.deploy maintainers (@pyops)
options:
  directory:
    description: The directory to create or fix first; the files may be in it.
    type: dict
    suboptions:
      path:
        description: Absolute path of the directory.
        type: path
        required: true
      owner:
        description: User name or id.
        type: str
        default: root
      group:
        description: Group name or id.
        type: str
        default: root
      mode:
        description: Octal mode as a string, for example V("0750").
        type: str
        default: "0755"
  files:
    description: The files, handled in the order given. Their parent directories must exist (or be O(directory)).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description: The file's whole content, as text (written as UTF-8).
        type: str
        required: true
      owner:
        description: User name or id.
        type: str
        default: root
      group:
        description: Group name or id.
        type: str
        default: root
      mode:
        description: Octal mode as a string, for example V("0640").
        type: str
        default: "0644"
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
  - For a few small text files; their content travels in the module's arguments.
  - Files are not validated before they replace the old ones; use M(ansible.builtin.template) with C(validate)
    for configuration that a service must be able to read.
seealso:
  - module: ansible.builtin.copy
    description: One file (or a tree) from the controller, with validation.
"""

EXAMPLES = r"""
- name: Install the plugins
  pyops.deploy.file_set:
    directory: {path: /usr/local/lib/nagios/plugins, mode: "0755"}
    files:
      - path: /usr/local/lib/nagios/plugins/check_mem_available
        content: "{{ lookup('ansible.builtin.file', 'check_mem_available', rstrip=false) }}"
        mode: "0755"
      - path: /usr/local/lib/nagios/plugins/check_systemd_unit
        content: "{{ lookup('ansible.builtin.file', 'check_systemd_unit', rstrip=false) }}"
        mode: "0755"
"""

RETURN = r"""
changed_paths:
  description: The paths created or changed (in check mode, that would be), the directory first.
  returned: always
  type: list
  elements: str
  sample: [/usr/local/lib/nagios/plugins/check_mem_available]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._file_set import FileSetError, apply_file_set
from ansible_collections.pyops.deploy.plugins.module_utils._results import with_diff_if_asked

_ATTRS = {
    "owner": {"type": "str", "default": "root"},
    "group": {"type": "str", "default": "root"},
}


class FileSetModule(AnsibleModule):
    """Logs the paths it was given, never the contents: scripts and certificates would otherwise go into
    the host's journal (AnsibleModule logs every argument) on every run."""

    def _log_invocation(self):
        directory = self.params.get("directory") or {}
        paths = [directory["path"]] if directory.get("path") else []
        paths += [entry["path"] for entry in self.params.get("files") or []]
        self.log("Invoked with paths " + " ".join(paths))


def main():
    module = FileSetModule(
        argument_spec={
            "directory": {
                "type": "dict",
                "options": {
                    "path": {"type": "path", "required": True},
                    **_ATTRS,
                    "mode": {"type": "str", "default": "0755"},
                },
            },
            "files": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "path": {"type": "path", "required": True},
                    "content": {"type": "str", "required": True},
                    **_ATTRS,
                    "mode": {"type": "str", "default": "0644"},
                },
            },
        },
        supports_check_mode=True,
    )
    try:
        result = apply_file_set(module.params["directory"], module.params["files"], check_mode=module.check_mode)
    except FileSetError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        # The path and the reason only: never the content.
        module.fail_json(msg=f"Writing the files failed: {exc.filename or ''}: {exc.strerror}")
    module.exit_json(**with_diff_if_asked(module, result))


if __name__ == "__main__":
    main()
