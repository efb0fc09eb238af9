# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: proxy_config
short_description: Test a staged reverse proxy configuration tree, swap it in and reload the server
version_added: 0.1.0
description:
  - Applies a reverse proxy's staged configuration tree O(stage) to its live tree O(live), the way the
    C(pyops.deploy.reverse_proxy) role keeps them.
  - Each of O(directories) is created first (root's, with the given mode) when it is missing or has
    another owner or mode.
  - With O(from_live=true) the staged tree is then replaced by a copy of the live tree.
  - Each of O(files) and O(private_files) is then written atomically (a temporary file renamed over it),
    owned by root with the given mode. A file that already has that content, owner and mode is left alone.
  - With O(prune_stage=true) the files in the staged tree that are not among O(files) and
    O(private_files) are then removed (those of a site that is gone).
  - When the staged tree differs from the live tree (a path added, removed, or with other content,
    type or mode), O(test_command) tests it. If the test passes, the staged tree is copied to
    C(<live>.new), O(live) is renamed to C(<live>.old), C(<live>.new) to O(live), and C(<live>.old) is
    kept until the change holds (then removed). Then O(service) is reloaded (C(systemctl reload-or-restart)).
  - If the test fails, the task fails with the server's own output and the live tree is not touched.
  - Before the swap, each site of O(checks) that the change touches and that the live tree already
    serves is asked for its health path through the server (HTTPS to O(check_address):O(check_port),
    its name as SNI and Host). For O(check_settle) seconds after the reload, the sites that answered
    (a 2xx or 3xx status) are asked again. If one no longer answers, or the reload fails, the previous
    live tree is put back, the service reloaded with it, and the task fails naming the site, what it
    answered before and after, and the paths of the change. The change stays in the staged tree.
  - Then each of O(site_records) is written (root's, mode C(0644)) when its text differs, in one
    canonical form whatever types the controller's templating gave the values.
  - With O(reload=true) the service is reloaded even when the trees match.
  - Writing O(files) alone is not a change; a swap, a reload, a written site record, a made directory or a
    written file with O(files[].reports_change=true) is.
author:
  - pyops.deploy maintainers (@pyops)
options:
  stage:
    description:
      - Absolute path of the staged tree. It must exist unless O(from_live=true).
    type: path
    required: true
  live:
    description:
      - Absolute path of the live tree the server reads. C(<live>.new) and C(<live>.old) are used during a swap.
    type: path
    required: true
  service:
    description:
      - The systemd unit to reload after a swap or when O(reload=true).
    type: str
    required: true
  test_command:
    description:
      - The server's configuration test, as an argument list run without a shell, for example
        V([nginx, -t, -q, -c, /etc/nginx/pyops-staging/nginx.conf]).
      - It must test the staged tree and exit non-zero when the server would refuse it.
    type: list
    elements: str
    required: true
  from_live:
    description:
      - Start the staged tree afresh from a copy of the live tree before writing O(files), so that
        nothing staged earlier rides in with this change.
    type: bool
    default: false
  directories:
    description:
      - Directories to create before anything else (missing parents too, like C(mkdir -p)), root's,
        with the given mode, for example the state directories and the staging tree.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the directory.
        type: path
        required: true
      mode:
        description: Octal mode, such as V('0755').
        type: str
        required: true
  files:
    description:
      - Files to write before the trees are compared, inside the staged tree or elsewhere (for example
        a state file recorded with the change).
      - Their content is shown by C(--diff) and in the task's arguments. Do not pass secrets such as
        private keys; give those as O(private_files) instead.
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the file. Its directory must exist or be one of O(directories).
        type: path
        required: true
      mode:
        description: Octal mode, such as V('0644').
        type: str
        required: true
      content:
        description:
          - The file's text, written as UTF-8 exactly as given.
          - Exactly one of O(files[].content) and O(files[].src) is required.
        type: str
      src:
        description:
          - Absolute path of a file on the host whose current content is written, for example the
            server's main configuration copied next to the staged tree.
        type: path
      reports_change:
        description:
          - Whether writing the file is a change of its own, shown by C(--diff), such as a page the server
            serves from outside the trees. Otherwise only the swap or reload it leads to is.
        type: bool
        default: false
  private_files:
    description:
      - Files written like O(files), whose content is never logged, returned or shown by C(--diff), such
        as a TLS private key given as content.
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the file. Its directory must exist or be one of O(directories).
        type: path
        required: true
      mode:
        description: Octal mode, such as V('0600').
        type: str
        required: true
      content:
        description: The file's text, written as UTF-8 exactly as given.
        type: str
        required: true
  prune_stage:
    description:
      - Remove from the staged tree, before the trees are compared, every file or link that is not one of
        O(files) or O(private_files), so that the files of a site that is gone leave the live tree with the swap.
    type: bool
    default: false
  reload:
    description:
      - Reload O(service) even when the trees match.
    type: bool
    default: false
  lock_file:
    description:
      - A file to hold an exclusive C(flock) on for the whole apply, so that concurrent applies and
        drains on one proxy run one after the other. It is created (mode C(0600)) when missing.
      - In check mode a missing lock file is not created and nothing is locked.
    type: path
  lock_timeout:
    description:
      - Seconds to wait for O(lock_file) before failing.
    type: int
    default: 60
  checks:
    description:
      - Sites to ask for their health path through the server around a swap.
      - A site is touched by a change when one of its O(checks[].paths) differs, or when a differing
        path belongs to no site of O(checks) (a shared file), which touches every site.
    type: list
    elements: dict
    default: []
    suboptions:
      site:
        description: The site's name, for the message.
        type: str
        required: true
      server_name:
        description: The name sent as SNI and C(Host).
        type: str
        required: true
      path:
        description: The path to ask for, such as V(/healthz).
        type: str
        required: true
      paths:
        description:
          - The site's paths relative to the trees. A site none of whose paths is in the live tree is
            new and not checked. An empty list means every change touches the site.
        type: list
        elements: str
        default: []
  check_address:
    description: The address the checks connect to.
    type: str
    default: 127.0.0.1
  check_port:
    description: The HTTPS port the checks connect to.
    type: int
    default: 443
  check_timeout:
    description: Seconds a check waits for an answer; a site that takes longer does not answer.
    type: int
    default: 5
  check_settle:
    description:
      - Seconds during which the sites are asked again after the reload (a reload is graceful, so the
        old workers may answer the first requests). Every answer must be a 2xx or 3xx.
    type: int
    default: 2
  site_records:
    description:
      - What the C(reverse_proxy) role records of each site (its upstream), for its C(drain) entry point.
      - Written once the apply succeeded, as JSON with sorted keys and four-space indents; the integer
        fields are integers even when given as strings, so that controllers that template C("5") and
        V(5) record the same text.
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the record. Its directory must exist.
        type: path
        required: true
      state:
        description: The site's upstream.
        type: dict
        required: true
        suboptions:
          server:
            description: The web server.
            type: str
            required: true
            choices: [nginx, apache]
          protocol:
            description: How the server talks to the app.
            type: str
            required: true
            choices: [http, uwsgi]
          members:
            description: One item a host, C({host, address}).
            type: list
            elements: dict
            required: true
            suboptions:
              host:
                description: The name a drain uses.
                type: str
                required: true
              address:
                description: C(host:port) or C(unix:<path>).
                type: str
                required: true
          keepalive:
            description: Idle upstream connections kept per worker.
            type: int
            required: true
          max_fails:
            description: Failures before a host is left alone.
            type: int
            required: true
          fail_timeout:
            description: Seconds a failed host is left alone.
            type: int
            required: true
          connect_timeout:
            description: Seconds to connect.
            type: int
            required: true
          read_timeout:
            description: Seconds between two reads.
            type: int
            required: true
          send_timeout:
            description: Seconds between two writes.
            type: int
            required: true
          tries:
            description: Hosts tried for one request.
            type: int
            required: true
attributes:
  check_mode:
    support: full
    description: >-
      Computes the staged tree a real run would produce (the live tree with O(from_live=true), plus
      O(files) and O(private_files), less what O(prune_stage=true) removes) and reports whether it
      would be swapped in and the service reloaded, which site records would be written and which
      directories made. Nothing is written, the configuration test and the checks are not run, and no
      service is reloaded.
  diff_mode:
    support: full
    description: >-
      Shows, for every path that differs, the live and the staged text, each made directory, each
      written file with O(files[].reports_change=true), and each site record to write. O(private_files),
      key material (below a C(tls) directory, C(.key) or C(.pem) files, anything holding C(PRIVATE KEY)),
      binary and large files are shown by their SHA-256 digest instead.
  idempotent:
    support: full
    description: >-
      Once a staged tree is swapped in, the trees match, and a second run changes nothing unless
      O(reload=true).
  platform:
    support: full
    platforms: posix
    description: Needs root (files are written root's) and systemd for the reload.
notes:
  - The server reads the live tree only when it is reloaded, so the two renames of a swap are never
    seen half done by a running server.
  - The checks find a change that the configuration test accepts but that breaks a site (an upstream
    port typo). Files written by O(files) outside the trees are not put back.
seealso:
  - module: ansible.builtin.template
"""

EXAMPLES = r"""
- name: Test the staged nginx configuration, swap it in and reload
  pyops.deploy.proxy_config:
    stage: /etc/nginx/pyops-staging/pyops
    live: /etc/nginx/pyops
    service: nginx
    test_command: [nginx, -t, -q, -c, /etc/nginx/pyops-staging/nginx.conf]
    lock_file: /var/lib/pyops-proxy/apply.lock

- name: Write one upstream into a fresh copy of the live Apache tree, test, swap and reload
  pyops.deploy.proxy_config:
    stage: /etc/apache2/pyops-staging/pyops
    live: /etc/apache2/pyops
    service: apache2
    from_live: true
    files:
      - dest: /etc/apache2/pyops-staging/pyops/upstream-shop.conf
        mode: "0600"
        content: "{{ lookup('ansible.builtin.template', 'upstream.conf.j2') }}"
    test_command:
      - sh
      - -c
      - . /etc/apache2/envvars && exec apache2 -t -C "Define PYOPS_PROXY_ROOT $1"
      - sh
      - /etc/apache2/pyops-staging/pyops
    lock_file: /var/lib/pyops-proxy/apply.lock

- name: Apply, check site shop through nginx (putting the old tree back if it broke) and record its upstream
  pyops.deploy.proxy_config:
    stage: /etc/nginx/pyops-staging/pyops
    live: /etc/nginx/pyops
    service: nginx
    test_command: [nginx, -t, -q, -c, /etc/nginx/pyops-staging/nginx.conf]
    checks:
      - site: shop
        server_name: shop.example.org
        path: /healthz
        paths: [upstream-shop.conf, vhost-shop.conf, snippets/headers-shop.conf, snippets/proxy-shop.conf]
    site_records:
      - dest: /var/lib/pyops-proxy/sites/shop.json
        state:
          server: nginx
          protocol: http
          members: [{host: app1, address: "10.0.0.11:8000"}]
          keepalive: 16
          max_fails: 3
          fail_timeout: 10
          connect_timeout: 5
          read_timeout: 60
          send_timeout: 60
          tries: 2
"""

RETURN = r"""
swapped:
  description: Whether the staged tree was (in check mode, would be) swapped in.
  returned: success
  type: bool
  sample: true
reloaded:
  description: Whether the service was (in check mode, would be) reloaded.
  returned: success
  type: bool
  sample: true
differences:
  description: Paths, relative to the trees, that differ between the live and the staged tree.
  returned: success
  type: list
  elements: str
  sample: [upstream-shop.conf, snippets/headers-shop.conf]
written:
  description: The O(files) and O(private_files) whose content, owner or mode was (in check mode, would be) written.
  returned: success
  type: list
  elements: str
  sample: [/var/lib/pyops-proxy/drain/shop.json]
pruned:
  description: The staged files that O(prune_stage=true) removed (in check mode, would remove).
  returned: success
  type: list
  elements: str
  sample: [/etc/nginx/pyops-staging/pyops/vhost-blog.conf]
made_directories:
  description: The O(directories) that were (in check mode, would be) created or given their owner and mode.
  returned: success
  type: list
  elements: str
  sample: [/var/lib/pyops-proxy/www/shop]
recorded:
  description: The O(site_records) that were (in check mode, would be) written.
  returned: success
  type: list
  elements: str
  sample: [/var/lib/pyops-proxy/sites/shop.json]
reverted:
  description: Whether the previous live tree was put back because a site stopped answering or the reload failed.
  returned: failure
  type: bool
  sample: true
site:
  description: The site that stopped answering after the change.
  returned: failure
  type: str
  sample: shop
cmd:
  description: The command that failed, when the configuration test or the reload failed.
  returned: failure
  type: list
  elements: str
  sample: [nginx, -t, -q, -c, /etc/nginx/pyops-staging/nginx.conf]
rc:
  description: Exit status of the failed command.
  returned: failure
  type: int
  sample: 1
stdout:
  description: Standard output of the failed command.
  returned: failure
  type: str
  sample: ""
stderr:
  description: Error output of the failed command (the server's own message).
  returned: failure
  type: str
  sample: 'nginx: [emerg] unknown directive "no_such_directive" in /etc/nginx/pyops/vhost-shop.conf:12'
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._proxy_config import (
    RECORD_INTS,
    FileSpec,
    ProxyConfig,
    ProxyConfigError,
)
from ansible_collections.pyops.deploy.plugins.module_utils._results import with_diff_if_asked

_RECORD_STATE = {
    "server": {"type": "str", "required": True, "choices": ["nginx", "apache"]},
    "protocol": {"type": "str", "required": True, "choices": ["http", "uwsgi"]},
    "members": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {"host": {"type": "str", "required": True}, "address": {"type": "str", "required": True}},
    },
    **{name: {"type": "int", "required": True} for name in RECORD_INTS},
}


def argument_spec():
    return {
        "stage": {"type": "path", "required": True},
        "live": {"type": "path", "required": True},
        "service": {"type": "str", "required": True},
        "test_command": {"type": "list", "elements": "str", "required": True},
        "from_live": {"type": "bool", "default": False},
        "directories": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {"path": {"type": "path", "required": True}, "mode": {"type": "str", "required": True}},
        },
        "files": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "dest": {"type": "path", "required": True},
                "mode": {"type": "str", "required": True},
                "content": {"type": "str"},
                "src": {"type": "path"},
                "reports_change": {"type": "bool", "default": False},
            },
            "mutually_exclusive": [["content", "src"]],
            "required_one_of": [["content", "src"]],
        },
        "private_files": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "dest": {"type": "path", "required": True},
                "mode": {"type": "str", "required": True},
                "content": {"type": "str", "required": True, "no_log": True},
            },
        },
        "prune_stage": {"type": "bool", "default": False},
        "reload": {"type": "bool", "default": False},
        "lock_file": {"type": "path"},
        "lock_timeout": {"type": "int", "default": 60},
        "checks": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "site": {"type": "str", "required": True},
                "server_name": {"type": "str", "required": True},
                "path": {"type": "str", "required": True},
                "paths": {"type": "list", "elements": "str", "default": []},
            },
        },
        "check_address": {"type": "str", "default": "127.0.0.1"},
        "check_port": {"type": "int", "default": 443},
        "check_timeout": {"type": "int", "default": 5},
        "check_settle": {"type": "int", "default": 2},
        "site_records": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "dest": {"type": "path", "required": True},
                "state": {"type": "dict", "required": True, "options": _RECORD_STATE},
            },
        },
    }


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if not params["test_command"]:
        module.fail_json(msg="test_command must not be empty.")
    try:
        result = ProxyConfig(
            stage=params["stage"],
            live=params["live"],
            service=params["service"],
            test_command=params["test_command"],
            run=module.run_command,
            files=[
                FileSpec(
                    f["dest"],
                    f["mode"],
                    None if f["content"] is None else f["content"].encode("utf-8"),
                    f["src"],
                    f["reports_change"],
                    False,
                )
                for f in params["files"]
            ]
            + [
                FileSpec(f["dest"], f["mode"], f["content"].encode("utf-8"), None, False, True)
                for f in params["private_files"]
            ],
            directories=[(d["path"], d["mode"]) for d in params["directories"]],
            prune_stage=params["prune_stage"],
            from_live=params["from_live"],
            reload=params["reload"],
            check_mode=module.check_mode,
            lock_file=params["lock_file"],
            lock_timeout=params["lock_timeout"],
            checks=[(c["site"], c["server_name"], c["path"], c["paths"]) for c in params["checks"]],
            check_address=params["check_address"],
            check_port=params["check_port"],
            check_timeout=params["check_timeout"],
            check_settle=params["check_settle"],
            records=[(r["dest"], r["state"]) for r in params["site_records"]],
        ).run()
    except ProxyConfigError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    except OSError as exc:
        module.fail_json(msg=f"Applying {params['stage']} to {params['live']} failed: {exc}")

    module.exit_json(**with_diff_if_asked(module, result))


if __name__ == "__main__":
    main()
