# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read whether a host already is what the app_server role makes it: ``pyops.deploy.app_server_state``.

Plain Python (no AnsibleModule): ``systemctl show`` runs through a ``run_command`` callable with
AnsibleModule.run_command's signature. Runs on the managed host, hence Python 3.8 compatible and
stdlib only.

The query (the module's options) names the release link, the user and group the role creates,
directories with their owner, group and mode, files with theirs and the sha1 of what the role's
template writes there, and the units the role enables and starts. Everything is read the way the
role's own modules read it (the group and user modules, file with follow, template without follow,
stat of the link, systemd_service's is-enabled and running states), so an empty ``differs`` means
those tasks would change nothing. Given a ``server``, it also says what the release behind the link
lacks to run the server (``server_missing``), so that the role fails before it starts a server that
systemd cannot execute (``status=203/EXEC``). Anything that cannot be read or compared is a difference: the
tasks then run and say what is wrong. Neither the answer nor an error holds a file's content or digest
(the env file holds secrets). A file is opened with O_NOFOLLOW, and a directory the app may write
(``follow`` false) is read with lstat, so a link planted there is a difference, never followed.

Given ``remove``, it also lists what the role must take away (``leftovers``): the unit files under
``unit_dir`` named ``<prefix>*.service`` or ``*.timer`` that carry the role's ``marker`` line and are not
kept (the units of jobs dropped from ``app_server_jobs``), the unit files named in ``units``, the units
among them that run or are enabled (to stop and disable), the running instances of ``instances`` patterns (to stop), and
which of ``paths`` exist. A unit file is read with O_NOFOLLOW, and an unmarked one is never listed, so a
unit an operator wrote under the app's prefix stays.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import grp
import hashlib
import os
import pwd
import re
import stat

from ansible_collections.pyops.deploy.plugins.module_utils._systemd_units import show_units

# systemd_service's is_running_service(): a unit in these states is not started again.
RUNNING = ("active", "activating")
# systemd_service's `enabled: false` disables a unit whose is-enabled succeeds, but for enabled-runtime,
# indirect and alias.
ENABLED = ("enabled", "static", "generated", "transient")


def uid_of(name):
    """The uid the file module would set for owner `name` (a name, else a number), or None."""
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        return int(name) if str(name).isdigit() else None


def gid_of(name):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return int(name) if str(name).isdigit() else None


def mode_of(mode):
    """An octal mode as the file module reads it ("0750", "750" or an int), or None if symbolic."""
    if isinstance(mode, int):
        return mode
    if isinstance(mode, str) and re.fullmatch("[0-7]{1,4}", mode):
        return int(mode, 8)
    return None


def attribute_differences(path, st, want):
    """Owner, group and mode of `st` against `want`, in words."""
    differs = []
    uid, gid, mode = uid_of(want["owner"]), gid_of(want["group"]), mode_of(want["mode"])
    if uid is None:
        differs.append(f"{path} owner {want['owner']} unknown")
    elif st.st_uid != uid:
        differs.append(f"{path} owner")
    if gid is None:
        differs.append(f"{path} group {want['group']} unknown")
    elif st.st_gid != gid:
        differs.append(f"{path} group")
    if mode is None:
        differs.append(f"{path} mode {want['mode']} not comparable")
    elif stat.S_IMODE(st.st_mode) != mode:
        differs.append(f"{path} mode {stat.S_IMODE(st.st_mode):04o}, not {mode:04o}")
    return differs


def account_differences(group, user):
    differs = []
    if group:
        try:
            grp.getgrnam(group)
        except KeyError:
            differs.append(f"group {group} missing")
    if user:
        try:
            entry = pwd.getpwnam(user["name"])
        except KeyError:
            return [*differs, f"user {user['name']} missing"]
        if entry.pw_gid != gid_of(user["group"]):
            differs.append(f"user {user['name']} primary group")
        if entry.pw_shell != user["shell"]:
            differs.append(f"user {user['name']} shell")
        if entry.pw_dir != user["home"]:
            differs.append(f"user {user['name']} home")
    return differs


def unreadable(exc):
    if exc.errno == errno.ENOENT:
        return "missing"
    if exc.errno == errno.ELOOP:
        return "a symbolic link"
    return (exc.strerror or type(exc).__name__).lower()


def dir_differences(path, want):
    """A directory's differences; ``follow`` false reads a link as a link (a difference)."""
    try:
        # followed by default, as the file module follows a link to a directory
        st = os.stat(path) if want.get("follow", True) else os.lstat(path)
    except OSError as exc:
        return [f"{path} {unreadable(exc)}"]
    if stat.S_ISLNK(st.st_mode):
        return [f"{path} a symbolic link, not a directory"]
    if not stat.S_ISDIR(st.st_mode):
        return [f"{path} not a directory"]
    return attribute_differences(path, st, want)


def file_differences(want):
    """A file's differences. Never follows a link: the template module replaces a link with the file."""
    path = want["path"]
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            return [f"{path} not a regular file"]
        # O_NOFOLLOW: a link swapped in after the lstat is not followed either; O_NONBLOCK: nor is a FIFO waited on.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode):
                return [f"{path} not a regular file"]
            digest = hashlib.sha1()  # the checksum the template module compares
            for block in iter(lambda: handle.read(65536), b""):
                digest.update(block)
        same = digest.hexdigest() == want["sha1"]
    except OSError as exc:
        return [f"{path} {unreadable(exc)}"]
    return ([] if same else [f"{path} content"]) + attribute_differences(path, st, want)


def unit_differences(started, reload_units, run_command, systemctl="systemctl", stopped=()):
    """What the daemon-reload and systemd_service tasks would change, and whether systemd must reload.

    ``started`` units must be enabled and running, ``stopped`` ones neither (a job that runs on another host).
    """
    stopped = list(stopped)
    names = list(dict.fromkeys(started + reload_units + stopped))
    if not names:
        return [], False
    units = show_units(names, run_command, systemctl)
    if isinstance(units, str):
        return [units], False
    differs, reload_needed = [], False
    for name in names:
        unit = units[name]
        if unit.get("LoadState") != "loaded":
            differs.append(f"{name} not loaded ({unit.get('LoadState') or 'unknown'})")
        if unit.get("NeedDaemonReload") == "yes":
            differs.append(f"{name} changed on disk since systemd read it")
            reload_needed = True
    for name in started:
        unit = units[name]
        # systemd_service enables again what is-enabled calls anything but plain "enabled" here.
        if unit.get("UnitFileState") != "enabled":
            differs.append(f"{name} not enabled ({unit.get('UnitFileState') or 'unknown'})")
        if unit.get("ActiveState") not in RUNNING:
            differs.append(f"{name} not active ({unit.get('ActiveState') or 'unknown'})")
    for name in stopped:
        unit = units[name]
        # systemd_service disables what is-enabled calls enabled, and stops what it finds running.
        if unit.get("UnitFileState") in ENABLED:
            differs.append(f"{name} enabled ({unit.get('UnitFileState')})")
        if unit.get("ActiveState") in RUNNING:
            differs.append(f"{name} active ({unit.get('ActiveState')})")
    return differs, reload_needed


def server_missing(release, server):
    """What the release's venv lacks to run the server: its executable, the modules it loads.

    Only tells whether names exist (nothing is opened or run); the executable is read with lstat.
    """
    venv = os.path.join(release, server["venv"])
    missing = []
    executable = os.path.join(server["venv"], "bin", server["executable"])
    try:
        st = os.lstat(os.path.join(release, executable))
        if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o111:
            missing.append(f"{executable} (not an executable file)")
    except OSError as exc:
        missing.append(f"{executable} ({unreadable(exc)})")
    for name in server.get("modules") or []:
        site = os.path.join(glob.escape(venv), "lib", "python3*", "site-packages")
        if not glob.glob(os.path.join(site, glob.escape(name))) and not glob.glob(
            os.path.join(site, glob.escape(name) + ".py")
        ):
            missing.append(f"the module {name} (in {server['venv']}/lib/python3*/site-packages)")
    return missing


# Enabled by a link systemd_service's `enabled: false` removes (a static unit has none to remove).
LINKED = ("enabled", "linked", "linked-runtime")
# The unit files the role writes are small: the marker is among their first lines.
MARKER_WITHIN = 4096
# systemctl stops a socket or a timer before the service it starts, so neither starts it again.
STOP_ORDER = (".timer", ".socket", ".service")


def carries_marker(path, marker):
    """Whether the regular file at `path` (a link is not followed) has the line `marker` near its top."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return False
        head = handle.read(MARKER_WITHIN)
    return marker.encode("utf-8") in (line.rstrip(b"\r") for line in head.split(b"\n"))


def running_instances(patterns, run_command, systemctl="systemctl"):
    """The loaded units matching `patterns` (such as ``shop-candidate@*.service``) that are active."""
    if not patterns:
        return []
    argv = [systemctl, "list-units", "--all", "--plain", "--no-legend", "--no-pager", "--full", "--", *patterns]
    rc, out, err = run_command(argv)
    if rc != 0:
        raise OSError(errno.EIO, f"systemctl list-units failed: {' '.join((err or '').split())}")
    found = []
    for line in (out or "").splitlines():
        fields = line.split()
        # UNIT LOAD ACTIVE SUB DESCRIPTION; systemctl matches the patterns, fnmatch makes sure of it.
        if len(fields) >= 3 and fields[2] in RUNNING and any(fnmatch.fnmatchcase(fields[0], p) for p in patterns):
            found.append(fields[0])
    return sorted(set(found))


def stop_order(name):
    return (next((i for i, suffix in enumerate(STOP_ORDER) if name.endswith(suffix)), len(STOP_ORDER)), name)


def leftovers(remove, run_command, systemctl="systemctl"):
    """What the role must take away: {"units", "instances", "files", "paths"} (see the module's RETURN)."""
    unit_dir, prefix, keep = remove["unit_dir"], remove["prefix"], set(remove.get("keep") or [])
    try:
        names = sorted(os.listdir(unit_dir))
    except FileNotFoundError:
        names = []
    marked = [
        name
        for name in names
        if name.startswith(prefix)
        and name.endswith((".service", ".timer"))
        and name not in keep
        and carries_marker(os.path.join(unit_dir, name), remove["marker"])
    ]
    named = [name for name in remove.get("units") or [] if os.path.lexists(os.path.join(unit_dir, name))]
    files = sorted(dict.fromkeys(marked + named), key=stop_order)
    # A template (name@.service) has no state of its own: its running instances are stopped instead.
    candidates = [name for name in files if "@." not in name]
    loaded = []
    if candidates:
        units = show_units(candidates, run_command, systemctl)
        if isinstance(units, str):
            raise OSError(errno.EIO, units)
        # Only what systemd_service would stop or disable: each is a round trip of its own.
        loaded = [
            name
            for name in candidates
            if units[name].get("LoadState") == "loaded"
            and (units[name].get("ActiveState") in RUNNING or units[name].get("UnitFileState") in LINKED)
        ]
    return {
        "units": loaded,
        "instances": running_instances(remove.get("instances") or [], run_command, systemctl),
        "files": [os.path.join(unit_dir, name) for name in files],
        "paths": [path for path in remove.get("paths") or [] if os.path.lexists(path)],
    }


def read_state(query, run_command, systemctl="systemctl"):
    """{"current": whether the release link exists, "differs": [in words], "daemon_reload": bool}."""
    current = os.path.lexists(query["current"])  # the stat module's `exists`: a link, even dangling
    differs = account_differences(query["group"], query["user"])
    for want in query["dirs"]:
        for path in want["paths"]:
            differs += dir_differences(path, want)
    for want in query["files"]:
        differs += file_differences(want)
    started = query["units"] + (query["release_units"] if current else [])
    unit_differs, reload_needed = unit_differences(
        started, query["reload_units"], run_command, systemctl, query.get("stopped_units") or []
    )
    state = {"current": current, "differs": differs + unit_differs, "daemon_reload": reload_needed}
    if query.get("remove"):
        state["leftovers"] = leftovers(query["remove"], run_command, systemctl)
    if query.get("server"):
        state["server_missing"] = server_missing(query["current"], query["server"]) if current else []
    return state
