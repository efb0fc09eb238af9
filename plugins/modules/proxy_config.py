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
  - With O(from_live=true) the staged tree is first replaced by a copy of the live tree.
  - Each of O(files) is then written atomically (a temporary file renamed over it), owned by root with
    the given mode. A file that already has that content, owner and mode is left alone.
  - When the staged tree differs from the live tree (a path added, removed, or with other content,
    type or mode), O(test_command) tests it. If the test passes, the staged tree is copied to
    C(<live>.new), O(live) is renamed to C(<live>.old), C(<live>.new) to O(live), and C(<live>.old) is
    removed. Then O(service) is reloaded (C(systemctl reload-or-restart)).
  - If the test fails, the task fails with the server's own output and the live tree is not touched.
  - With O(reload=true) the service is reloaded even when the trees match.
  - Writing files alone is not a change; only a swap or a reload is.
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
  files:
    description:
      - Files to write before the trees are compared, inside the staged tree or elsewhere (for example
        a state file recorded with the change).
      - Their content is shown by C(--diff) and in the task's arguments. Do not pass secrets such as
        private keys; the C(reverse_proxy) role writes those with M(ansible.builtin.copy) and C(no_log).
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the file. Its directory must exist.
        type: path
        required: true
      mode:
        description: Octal mode, such as V('0644').
        type: str
        required: true
      content:
        description: The file's text, written as UTF-8 exactly as given.
        type: str
        required: true
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
attributes:
  check_mode:
    support: full
    description: >-
      Computes the staged tree a real run would produce (the live tree with O(from_live=true), plus
      O(files)) and reports whether it would be swapped in and the service reloaded. Nothing is written,
      the configuration test is not run, and no service is reloaded.
  diff_mode:
    support: full
    description: >-
      Shows, for every path that differs, the live and the staged text. Key material (below a C(tls)
      directory, C(.key) or C(.pem) files, anything holding C(PRIVATE KEY)), binary and large files
      are shown by their SHA-256 digest instead.
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
  description: The O(files) whose content, owner or mode was (in check mode, would be) written.
  returned: success
  type: list
  elements: str
  sample: [/var/lib/pyops-proxy/drain/shop.json]
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

from ansible_collections.pyops.deploy.plugins.module_utils._proxy_config import ProxyConfig, ProxyConfigError


def argument_spec():
    return {
        "stage": {"type": "path", "required": True},
        "live": {"type": "path", "required": True},
        "service": {"type": "str", "required": True},
        "test_command": {"type": "list", "elements": "str", "required": True},
        "from_live": {"type": "bool", "default": False},
        "files": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "dest": {"type": "path", "required": True},
                "mode": {"type": "str", "required": True},
                "content": {"type": "str", "required": True},
            },
        },
        "reload": {"type": "bool", "default": False},
        "lock_file": {"type": "path"},
        "lock_timeout": {"type": "int", "default": 60},
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
            files=[(f["dest"], f["mode"], f["content"].encode("utf-8")) for f in params["files"]],
            from_live=params["from_live"],
            reload=params["reload"],
            check_mode=module.check_mode,
            lock_file=params["lock_file"],
            lock_timeout=params["lock_timeout"],
        ).run()
    except ProxyConfigError as exc:
        module.fail_json(msg=str(exc), **exc.details)
    except OSError as exc:
        module.fail_json(msg=f"Applying {params['stage']} to {params['live']} failed: {exc}")

    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
