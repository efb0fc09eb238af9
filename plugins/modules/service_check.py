# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: service_check
short_description: (Re)start a systemd unit and request its health path until it answers
version_added: 0.1.0
description:
  - Stops the units matching O(stop_first) (leftovers of an interrupted run), enables O(name) when
    O(enabled=true), restarts or starts O(name), then sends C(GET) O(path) to the unit's unix socket
    O(socket) or TCP address O(url) until it answers status 200 with O(expect) in its body, at most
    O(retries) times, O(delay) seconds apart, then asks each of O(smoke_paths) once. With
    O(stop_after=true) it stops O(name) afterwards, whether the check passed or not.
  - On failure the task fails with the reason (the last status and the start of the body, or the
    connection error, or the failing C(systemctl) command) followed by the last 20 lines of the
    unit's journal.
  - The deploy role's candidate check and its restart after a switch use it.
author:
  - pyops.deploy maintainers (@pyops)
options:
  name:
    description:
      - The systemd unit to (re)start and check, for example V(shop.service) or V(shop-candidate@r2.service).
    type: str
    required: true
  state:
    description:
      - V(restarted) always restarts O(name).
      - V(started) starts O(name) only when it is not active, then checks it.
    type: str
    choices: [restarted, started]
    default: restarted
  enabled:
    description:
      - Enable O(name) before starting it, unless C(systemctl is-enabled) already says V(enabled).
    type: bool
    default: false
  stop_first:
    description:
      - A unit name or pattern (such as V(shop-candidate@*.service)) stopped before O(name) starts.
    type: str
  stop_after:
    description:
      - Stop O(name) after the check, whether it passed or not.
    type: bool
    default: false
  socket:
    description:
      - Path of the unix socket the unit listens on. Exactly one of O(socket) and O(url) is required.
    type: path
  url:
    description:
      - TCP address of the unit as V(host:port) or V(http://host:port); an IPv6 host goes in brackets.
      - Exactly one of O(socket) and O(url) is required.
    type: str
  path:
    description:
      - The path requested.
    type: str
    default: /
  host_header:
    description:
      - The C(Host) header of the request, for apps that check it (Django's C(ALLOWED_HOSTS)).
      - Every request also carries C(X-Forwarded-Proto) C(https), as the reverse proxy forwards one, so that an
        app that redirects plain HTTP behind a proxy (Django's C(SECURE_SSL_REDIRECT)) answers the page itself
        instead of a redirect that would pass any check.
    type: str
    default: localhost
  expect:
    description:
      - Text the body of the 200 answer must contain. Empty accepts any 200 answer.
    type: str
    default: ""
  smoke_paths:
    description:
      - Paths requested once each after the health check passed, with the same C(Host) header. Each must
        answer a status below 500.
      - A page behind a login (302, 401, 403) passes. A view that fails when it is first asked (500, for
        example because a module it imports only then is broken) fails the task, naming the path, its
        status and the start of its body.
    type: list
    elements: str
    default: []
  readable_tree:
    description:
      - A virtualenv whose extension modules (C(*.so)) O(readable_by) must be able to load. Before anything is
        stopped or started, every such file must be readable, and every directory of the tree searchable, by
        that account, judged from the modes (owner, group, other; POSIX ACLs are not read) without following a
        symlink or reading a file. Otherwise the task fails naming them, and nothing is started.
      - The deploy's candidate check gives the release's virtualenv and the app's user, so that a file left
        unreadable (a cache filled under a umask such as V(0027)) fails before the release can take traffic,
        not as an C(ImportError), or a silent fallback to pure Python, once it serves.
    type: path
  readable_by:
    description:
      - The account of O(readable_tree)'s check, a user name. Required with O(readable_tree).
    type: str
  retries:
    description:
      - Requests made before the check fails (at least one).
    type: int
    default: 10
  delay:
    description:
      - Seconds between two requests.
    type: float
    default: 1
  timeout:
    description:
      - Seconds one request may take, connection included. The first request after a start may wait
        for the app to boot.
    type: float
    default: 30
attributes:
  check_mode:
    support: full
    description: >-
      In check mode nothing is stopped, enabled, started or requested; the task reports O(name) as
      changed (it would restart it).
  diff_mode:
    support: none
    description: The module restarts a service; there is no state to show as a diff.
  platform:
    support: full
    platforms: posix
    description: Hosts run by systemd, with C(systemctl) and C(journalctl).
notes:
  - Since O(state=restarted) restarts every time, the task reports a change every time, unless in check mode.
"""

EXAMPLES = r"""
- name: Restart the app, enabling it, and wait for its health check to answer ok
  pyops.deploy.service_check:
    name: shop.service
    enabled: true
    socket: /run/shop.sock
    path: /healthz
    expect: ok

- name: Try a release as a candidate on its private socket, then stop it
  pyops.deploy.service_check:
    name: shop-candidate@20240502T090000Z.service
    stop_first: shop-candidate@*.service
    stop_after: true
    socket: /run/shop-candidate-20240502T090000Z/app.sock
    path: /healthz
    expect: 20240502T090000Z
    readable_tree: /srv/shop/releases/20240502T090000Z/venv
    readable_by: shop
    retries: 20
    delay: 0.5

- name: Check an app listening on a TCP port, with the host name its ALLOWED_HOSTS accepts
  pyops.deploy.service_check:
    name: shop.service
    state: started
    url: 127.0.0.1:8000
    path: /healthz
    host_header: shop.example.com
"""

RETURN = r"""
status:
  description:
    - HTTP status of the last answer; V(null) when no answer came (or in check mode).
    - On failure it is returned as well, with RV(msg) saying why.
  returned: always
  type: int
  sample: 200
attempts:
  description: Requests made; V(0) in check mode or when the unit did not (re)start.
  returned: always
  type: int
  sample: 3
smoked:
  description: The O(smoke_paths) that answered below 500, in order.
  returned: success, when O(smoke_paths) is set
  type: list
  elements: str
  sample: [/reports, /admin/login/]
msg:
  description:
    - On failure, the reason followed by the last 20 lines of the unit's journal.
  returned: failure
  type: str
  sample: |-
    shop.service failed its health check /healthz after 10 requests: status 500, body 'oops'
    Log of shop.service:
    [ERROR] Worker failed to boot.
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._readable import account, refusal, unloadable
from ansible_collections.pyops.deploy.plugins.module_utils._service_check import (
    ServiceCheckError,
    Systemd,
    ask,
    parse_url,
    service_check,
)


def argument_spec():
    return {
        "name": {"type": "str", "required": True},
        "state": {"type": "str", "choices": ["restarted", "started"], "default": "restarted"},
        "enabled": {"type": "bool", "default": False},
        "stop_first": {"type": "str"},
        "stop_after": {"type": "bool", "default": False},
        "socket": {"type": "path"},
        "url": {"type": "str"},
        "path": {"type": "str", "default": "/"},
        "host_header": {"type": "str", "default": "localhost"},
        "expect": {"type": "str", "default": ""},
        "smoke_paths": {"type": "list", "elements": "str", "default": []},
        "readable_tree": {"type": "path"},
        "readable_by": {"type": "str"},
        "retries": {"type": "int", "default": 10},
        "delay": {"type": "float", "default": 1},
        "timeout": {"type": "float", "default": 30},
    }


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("socket", "url")],
        required_one_of=[("socket", "url")],
        required_together=[("readable_tree", "readable_by")],
        supports_check_mode=True,
    )
    params = module.params
    if params["url"]:
        try:
            parse_url(params["url"])
        except ValueError as exc:
            module.fail_json(msg=str(exc))
    if module.check_mode:
        module.exit_json(changed=True, status=None, attempts=0)
    if params["readable_tree"]:
        try:
            uid, gids = account(params["readable_by"])
            paths = unloadable(params["readable_tree"], uid, gids)
        except KeyError:
            module.fail_json(msg=f"readable_by: there is no user {params['readable_by']!r} on this host")
        except OSError as exc:
            module.fail_json(msg=f"readable_tree {params['readable_tree']}: {exc.strerror or exc}")
        if paths:
            refused = refusal(params["readable_tree"], params["readable_by"], paths)
            module.fail_json(msg=refused, status=None, attempts=0)

    def ask_path(path):
        return ask(params["socket"], params["url"], path, params["host_header"], params["timeout"])

    def ask_once():
        return ask_path(params["path"])

    systemd = Systemd(
        module.run_command,
        module.get_bin_path("systemctl") or "systemctl",
        module.get_bin_path("journalctl") or "journalctl",
    )
    try:
        result = service_check(
            systemd,
            params["name"],
            ask_once,
            path=params["path"],
            state=params["state"],
            enabled=params["enabled"],
            stop_first=params["stop_first"],
            stop_after=params["stop_after"],
            ask_path=ask_path,
            smoke_paths=params["smoke_paths"],
            expect=params["expect"],
            retries=params["retries"],
            delay=params["delay"],
        )
    except ServiceCheckError as exc:
        module.fail_json(msg=str(exc), changed=exc.changed, status=exc.status, attempts=exc.attempts)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
