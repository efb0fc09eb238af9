"""Read, in one go, whether a host already is what the app_server role makes it; print one JSON object.

usage: python3 app_state.py < QUERY   (the role runs it as `python3 -c <this file>`, QUERY on stdin)

QUERY is a JSON object built by the role (tasks/state.yml): "current" (the release link), "user"
(name, group, home and shell, or {} when the role does not manage the user), "group" (the group the
role creates, or ""), "dirs" (paths with their owner, group and mode), "files" (each with path,
owner, group, mode and the sha1 of what the role's template writes there), "units" (the units the
role enables and starts with or without a release), "release_units" (those it starts only with a
release) and "reload_units" (every unit file the role writes but the candidate's template, which
systemctl cannot show).

The answer: {"current": whether the release link exists, "differs": [what the role's tasks would
change, in words], "daemon_reload": whether systemd holds an older version of one of the unit files}
or {"error": "..."}. Everything is read the way the role's own modules read it (the group and user
modules, file with follow, copy without follow, stat of the link, systemd_service's is-enabled and
running states), so an empty "differs" means those tasks would change nothing. Anything that cannot
be read or compared is a difference: the tasks then run and say what is wrong. Neither the answer
nor an error ever holds a file's content or digest (the env file holds secrets).
"""

import errno
import grp
import hashlib
import json
import os
import pwd
import re
import stat
import subprocess
import sys

SHOW_PROPERTIES = "Id,LoadState,ActiveState,UnitFileState,NeedDaemonReload"
# systemd_service's is_running_service(): a unit in these states is not started again.
RUNNING = ("active", "activating")


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
    return "missing" if exc.errno == errno.ENOENT else (exc.strerror or type(exc).__name__).lower()


def dir_differences(path, want):
    try:
        st = os.stat(path)  # followed, as the file module follows a link to a directory
    except OSError as exc:
        return [f"{path} {unreadable(exc)}"]
    if not stat.S_ISDIR(st.st_mode):
        return [f"{path} not a directory"]
    return attribute_differences(path, st, want)


def sha1_of(path):
    digest = hashlib.sha1()  # the checksum the copy module compares
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def file_differences(want):
    path = want["path"]
    try:
        st = os.lstat(path)  # not followed: the template module replaces a link with the file
        if not stat.S_ISREG(st.st_mode):
            return [f"{path} not a regular file"]
        same = sha1_of(path) == want["sha1"]
    except OSError as exc:
        return [f"{path} {unreadable(exc)}"]
    return ([] if same else [f"{path} content"]) + attribute_differences(path, st, want)


def show_units(names):
    """{unit: {property: value}} from one `systemctl show`, or a string saying why not."""
    try:
        run = subprocess.run(
            ["systemctl", "show", "--no-pager", "-p", SHOW_PROPERTIES, "--", *names],
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        return f"systemctl: {exc.strerror}"
    if run.returncode != 0:
        return f"systemctl show failed: {' '.join(run.stderr.split())}"
    blocks = [block for block in run.stdout.split("\n\n") if block.strip()]
    if len(blocks) != len(names):
        return f"systemctl show answered for {len(blocks)} of {len(names)} units"
    units = {}
    for name, block in zip(names, blocks):
        units[name] = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
    return units


def unit_differences(started, reload_units):
    """What the daemon-reload and systemd_service tasks would change, and whether systemd must reload."""
    names = list(dict.fromkeys(started + reload_units))
    if not names:
        return [], False
    units = show_units(names)
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
    return differs, reload_needed


def main(query):
    current = os.path.lexists(query["current"])  # the stat module's `exists`: a link, even dangling
    differs = account_differences(query["group"], query["user"])
    for want in query["dirs"]:
        for path in want["paths"]:
            differs += dir_differences(path, want)
    for want in query["files"]:
        differs += file_differences(want)
    started = query["units"] + (query["release_units"] if current else [])
    unit_differs, reload_needed = unit_differences(started, query["reload_units"])
    return {"current": current, "differs": differs + unit_differs, "daemon_reload": reload_needed}


if __name__ == "__main__":
    try:
        answer = main(json.load(sys.stdin))
    except Exception as exc:  # reported to the role's check, which fails the run with it
        # The exception's type and words only: never the query, which holds the env file's digest.
        answer = {"error": f"app_state.py: {type(exc).__name__}: {exc}"}
    # One line, ASCII only: the output may come back through a terminal.
    print(json.dumps(answer))
