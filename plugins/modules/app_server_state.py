# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: app_server_state
short_description: Read in one go whether a host already is what the app_server role makes it
version_added: 0.1.0
description:
  - Reads the app's user and group, the owner, group and mode of directories, the content (by sha1),
    owner, group and mode of files, and with one C(systemctl show) whether units are loaded, enabled,
    running and up to date with their unit files. Returns what differs from the query, in words.
  - The app_server role runs it first and skips its tasks that change the host when nothing differs.
    Those tasks stay the source of truth; the comparison follows how they read the host (the
    M(ansible.builtin.user) and M(ansible.builtin.group) modules, M(ansible.builtin.file) with
    C(follow), M(ansible.builtin.template), which replaces a link with a file, and
    M(ansible.builtin.systemd_service)'s enabled and running states).
  - Anything that cannot be read or compared (a missing path, an unknown owner, a symbolic mode, a
    failing C(systemctl)) is reported as a difference, not an error.
  - Given O(remove), it also lists what the role takes away (RV(leftovers)). It changes nothing.
author:
  - pyops.deploy maintainers (@pyops)
options:
  current:
    description:
      - The release link; RV(current) says whether it exists (a dangling link exists).
    type: path
    required: true
  group:
    description:
      - A group that must exist. Empty checks none.
    type: str
    default: ""
  user:
    description:
      - A user that must exist with this primary group, home and shell. Omit it to check none.
    type: dict
    suboptions:
      name:
        description: User name.
        type: str
        required: true
      group:
        description: Primary group (a name or a number).
        type: str
        required: true
      home:
        description: Home directory.
        type: str
        required: true
      shell:
        description: Login shell.
        type: str
        required: true
  dirs:
    description:
      - Directories with the owner, group and mode they must have.
    type: list
    elements: dict
    default: []
    suboptions:
      paths:
        description: The directories.
        type: list
        elements: path
        required: true
      owner:
        description: Owner, a user name or a number.
        type: str
        required: true
      group:
        description: Group, a name or a number.
        type: str
        required: true
      mode:
        description: Octal mode such as V(0750); a symbolic mode cannot be compared and is reported as a difference.
        type: raw
        required: true
      follow:
        description:
          - Read a symbolic link as the directory it points to, as M(ansible.builtin.file) does.
          - Set V(false) for directories the app may write to; a link there is then a difference.
        type: bool
        default: true
  files:
    description:
      - Regular files with their content's sha1 and the owner, group and mode they must have.
      - A file is never followed if it is a symbolic link; the link is a difference.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The file.
        type: path
        required: true
      sha1:
        description:
          - The sha1 of the content the file must have, such as C(lookup('template', ...) | hash('sha1')).
          - Never logged nor returned; a file holding secrets could otherwise be guessed against it.
        type: str
        required: true
      owner:
        description: Owner, a user name or a number.
        type: str
        required: true
      group:
        description: Group, a name or a number.
        type: str
        required: true
      mode:
        description: Octal mode such as V(0640).
        type: raw
        required: true
  units:
    description:
      - Units that must be loaded, enabled and active (or activating).
    type: list
    elements: str
    default: []
  release_units:
    description:
      - Units that must be loaded, enabled and active only when O(current) exists.
    type: list
    elements: str
    default: []
  stopped_units:
    description:
      - Units that must be neither enabled nor active, such as a job that runs on another host.
    type: list
    elements: str
    default: []
  reload_units:
    description:
      - Units whose unit files systemd must have read since they last changed (C(NeedDaemonReload)).
        A unit listed here must also be loaded.
    type: list
    elements: str
    default: []
  remove:
    description:
      - What the app_server role takes away, read in the same go; RV(leftovers) lists what of it is on the host.
      - Unit files under O(remove.unit_dir) whose name starts with O(remove.prefix), end in C(.service) or
        C(.timer), that carry the line O(remove.marker) and are not in O(remove.keep), the units of the jobs
        dropped from C(app_server_jobs). A unit file without the marker (an operator's) is never listed.
      - The files named in O(remove.units), the running instances matching O(remove.instances), and the
        existing ones of O(remove.paths) (an app that is removed).
    type: dict
    suboptions:
      unit_dir:
        description: The directory of the unit files.
        type: path
        default: /etc/systemd/system
      prefix:
        description: The start of the names of the unit files looked at for the marker, such as C(shop-).
        type: str
        required: true
      marker:
        description: The line (whole, within the first 4 KiB) that marks a unit file the role wrote for a job.
        type: str
        required: true
      keep:
        description: Names of marked unit files to keep (the units of the jobs the app still has).
        type: list
        elements: str
        default: []
      units:
        description: Names of unit files in O(remove.unit_dir) to remove, marked or not.
        type: list
        elements: str
        default: []
      instances:
        description:
          - Patterns (C(systemctl list-units) globs) of unit instances to stop, such as C(shop-candidate@*.service).
        type: list
        elements: str
        default: []
      paths:
        description: Files or directories to remove.
        type: list
        elements: path
        default: []
  server:
    description:
      - What the release behind O(current) must hold to run the app server; RV(server_missing) says
        what it lacks. Not checked when O(current) does not exist. A release directory may also be given as
        O(current) (such as C(/srv/shop/releases/r42)) to check a release before it runs.
    type: dict
    suboptions:
      venv:
        description: The venv's directory in the release.
        type: str
        default: venv
      executable:
        description: The server's executable in the venv's C(bin/), such as C(gunicorn) or C(uwsgi).
        type: str
        required: true
      modules:
        description:
          - Top-level modules the server loads, looked for in the venv's C(site-packages), such as C(uvicorn_worker).
        type: list
        elements: str
        default: []
extends_documentation_fragment:
  - pyops.deploy.attributes.read_only
attributes:
  platform:
    support: full
    platforms: posix
    description: Hosts run by systemd (units are read with C(systemctl show)).
notes:
  - The result never holds a file's content or digest.
"""

EXAMPLES = r"""
- name: Read the app's user, directories, files and units in one go
  pyops.deploy.app_server_state:
    current: /srv/shop/current
    group: shop
    user: {name: shop, group: shop, home: /srv/shop, shell: /usr/sbin/nologin}
    dirs:
      - {paths: [/srv/shop], owner: root, group: shop, mode: "0750"}
      - {paths: [/srv/shop/shared/log], owner: shop, group: shop, mode: "0750", follow: false}
    files:
      - path: /etc/shop/env
        owner: root
        group: shop
        mode: "0640"
        sha1: "{{ lookup('ansible.builtin.template', 'env.j2') | hash('sha1') }}"
    units: [shop.socket]
    release_units: [shop.service]
    reload_units: [shop.socket, shop.service]
    server: {venv: venv, executable: gunicorn, modules: [uvicorn_worker]}
    # The units of jobs no longer in app_server_jobs (the role's own, marked).
    remove:
      prefix: shop-
      marker: "# pyops.deploy.app_server: a unit of a job of the app shop"
      keep: [shop-worker.service]
  register: shop_state

- name: Check a release's venv holds the server before it runs
  pyops.deploy.app_server_state:
    current: /srv/shop/releases/r42
    server: {venv: venv, executable: gunicorn}
  register: r42
  failed_when: r42.server_missing | length > 0
"""

RETURN = r"""
current:
  description: Whether O(current) exists (a link, even dangling).
  returned: success
  type: bool
  sample: true
differs:
  description: What differs, in words naming the path or unit; empty when the host is as queried.
  returned: success
  type: list
  elements: str
  sample: ["/etc/systemd/system/shop.socket mode 0600, not 0644", "shop-heartbeat.timer not enabled (disabled)"]
daemon_reload:
  description: Whether systemd holds an older version of one of the O(reload_units) unit files.
  returned: success
  type: bool
  sample: false
leftovers:
  description:
    - What of O(remove) is on the host. C(units) are the units of those files that run or are enabled (to
      stop and disable), timers and sockets first; C(instances) the running instances (to stop); C(files) the unit
      files and C(paths) the other paths (to remove). Each list is empty when there is nothing to take away.
  returned: when O(remove) is given
  type: dict
  sample:
    units: [shop-clearsessions.timer, shop-clearsessions.service]
    instances: []
    files: [/etc/systemd/system/shop-clearsessions.timer, /etc/systemd/system/shop-clearsessions.service]
    paths: []
server_missing:
  description: What the release's venv lacks of O(server), in words; empty when it has all or O(current) does not exist.
  returned: when O(server) is given
  type: list
  elements: str
  sample: ["venv/bin/gunicorn (missing)"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._app_server_state import read_state


def argument_spec():
    attributes = {
        "owner": {"type": "str", "required": True},
        "group": {"type": "str", "required": True},
        "mode": {"type": "raw", "required": True},
    }
    return {
        "current": {"type": "path", "required": True},
        "group": {"type": "str", "default": ""},
        "user": {
            "type": "dict",
            "options": {
                "name": {"type": "str", "required": True},
                "group": {"type": "str", "required": True},
                "home": {"type": "str", "required": True},
                "shell": {"type": "str", "required": True},
            },
        },
        "dirs": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "paths": {"type": "list", "elements": "path", "required": True},
                "follow": {"type": "bool", "default": True},
                **attributes,
            },
        },
        "files": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "path": {"type": "path", "required": True},
                "sha1": {"type": "str", "required": True, "no_log": True},
                **attributes,
            },
        },
        "units": {"type": "list", "elements": "str", "default": []},
        "release_units": {"type": "list", "elements": "str", "default": []},
        "stopped_units": {"type": "list", "elements": "str", "default": []},
        "reload_units": {"type": "list", "elements": "str", "default": []},
        "remove": {
            "type": "dict",
            "options": {
                "unit_dir": {"type": "path", "default": "/etc/systemd/system"},
                "prefix": {"type": "str", "required": True},
                "marker": {"type": "str", "required": True},
                "keep": {"type": "list", "elements": "str", "default": []},
                "units": {"type": "list", "elements": "str", "default": []},
                "instances": {"type": "list", "elements": "str", "default": []},
                "paths": {"type": "list", "elements": "path", "default": []},
            },
        },
        "server": {
            "type": "dict",
            "options": {
                "venv": {"type": "str", "default": "venv"},
                "executable": {"type": "str", "required": True},
                "modules": {"type": "list", "elements": "str", "default": []},
            },
        },
    }


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    query = dict(module.params, user=module.params["user"] or {})

    def run_command(argv):
        return module.run_command(argv, check_rc=False, errors="surrogate_then_replace")

    try:
        result = read_state(query, run_command, module.get_bin_path("systemctl"))
    except Exception as exc:  # pylint: disable=broad-except
        # The exception's type and words only: never the query, which holds the env file's digest.
        module.fail_json(msg=f"app_server_state: {type(exc).__name__}: {exc}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
