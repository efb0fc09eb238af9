# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Who Ansible is connected as, and from where, behind ``pyops.deploy.hardening_connection``.

Plain Python (no AnsibleModule), Python 3.8 compatible, stdlib only. It runs as the connected account
(the task says ``become: false``): its name and groups, whether it has authorized keys, and the
address its SSH session comes from (``SSH_CLIENT``). It reads; it changes nothing.
"""

from __future__ import annotations

import contextlib
import grp
import ipaddress
import os
import pwd


def account(uid=None, environ=None):
    """The account's name, its groups (as ``id -Gn`` lists them) and whether it has authorized keys."""
    environ = os.environ if environ is None else environ
    entry = pwd.getpwuid(os.getuid() if uid is None else uid)
    groups = []
    for gid in [entry.pw_gid] + [gid for gid in os.getgrouplist(entry.pw_name, entry.pw_gid) if gid != entry.pw_gid]:
        try:
            name = grp.getgrgid(gid).gr_name
        except KeyError:
            name = str(gid)
        if name not in groups:
            groups.append(name)
    home = environ.get("HOME") or entry.pw_dir
    has_keys = any(
        os.path.isfile(path) and os.path.getsize(path) > 0
        for path in (os.path.join(home, ".ssh", "authorized_keys"), os.path.join(home, ".ssh", "authorized_keys2"))
    )
    return {"user": entry.pw_name, "groups": groups, "authorized_keys": has_keys}


def ssh_source(environ=None):
    """The address of the SSH client, an IPv4 address for an IPv4-mapped one; None without SSH (or on a pipe)."""
    environ = os.environ if environ is None else environ
    try:
        source = ipaddress.ip_address(environ.get("SSH_CLIENT", "").split()[0])
    except (IndexError, ValueError):
        # Not SSH, or sshd on a pipe (`sshd -i` behind a ProxyCommand says "UNKNOWN").
        return None
    return getattr(source, "ipv4_mapped", None) or source


def outside(source, networks):
    """Whether ``source`` is in none of ``networks``; malformed networks are skipped (nft -c names them)."""
    if source is None:
        return False
    allowed = []
    for network in networks:
        with contextlib.suppress(ValueError):
            allowed.append(ipaddress.ip_network(str(network), strict=False))
    return not any(source in network for network in allowed)


def read_connection(ssh_sources=(), environ=None, uid=None):
    result = account(uid=uid, environ=environ)
    source = ssh_source(environ)
    result["ssh_source"] = "" if source is None else str(source)
    result["ssh_source_outside"] = outside(source, ssh_sources)
    return result
