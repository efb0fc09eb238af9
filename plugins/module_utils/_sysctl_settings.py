# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Kernel settings through /proc/sys, behind ``pyops.deploy.sysctl_settings``.

Plain Python (no AnsibleModule), Python 3.8 compatible, stdlib only. Each key is handled on its
own, so a container (where /proc/sys is mounted read-only, but for some net.* keys of its own
network namespace) gets every setting it allows:

- a key without a file under the proc root is ``absent``;
- a key whose value already matches (whitespace-normalised, as ``sysctl -n`` compares) is left alone;
- a key the host does not let this process write is ``refused``;
- every other key is ``set`` (in check mode: would be set).
"""

from __future__ import annotations

import os
import stat

PROC_SYS = "/proc/sys"


class SysctlError(Exception):
    """A setting that cannot be handled at all (a malformed key)."""


def normalise(value):
    """A value as compared: booleans as 1/0, runs of whitespace (tabs of multi-value keys) as one space."""
    if isinstance(value, bool):
        value = int(value)
    return " ".join(str(value).split())


def key_path(proc_root, key):
    """The file of ``key`` below ``proc_root``: dots become slashes, as sysctl does."""
    parts = key.split(".")
    if any(not part or "/" in part or "\0" in part for part in parts):
        raise SysctlError(f"{key!r} is not a kernel setting name (dot-separated, no empty parts, no slashes)")
    return os.path.join(proc_root, *parts)


def read_value(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        return normalise(handle.read())


def may_write(path):
    """Whether the kernel would let this process write ``path``.

    /proc/sys grants root only the owner bits of a file (kernel.osrelease is 0444 even for root), and
    a read-only mount refuses everyone; ``os.access`` sees the mount, the mode bits are checked here.
    """
    info = os.stat(path)
    return stat.S_ISREG(info.st_mode) and bool(info.st_mode & stat.S_IWUSR) and os.access(path, os.W_OK)


def write_value(path, value):
    """Write ``value`` like ``sysctl -w``; False when the kernel refuses it."""
    if not may_write(path):
        return False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    except OSError:
        return False
    try:
        os.write(fd, (value + "\n").encode("utf-8", "surrogateescape"))
    except OSError:
        # EINVAL (a value the kernel rejects), EPERM, EROFS: the same refusal sysctl -w reports.
        return False
    finally:
        os.close(fd)
    return True


def apply_settings(settings, check_mode=False, proc_root=PROC_SYS):
    """Apply ``settings`` (key -> value); return the result lists and the diff.

    Keys are handled in the order given. An empty key or an empty value leaves that key alone.
    """
    result = {"set": [], "refused": [], "absent": []}
    before = {}
    after = {}
    for key, value in settings.items():
        if not key or value is None or normalise(value) == "":
            continue
        wanted = normalise(value)
        path = key_path(proc_root, key)
        if not os.path.exists(path):
            result["absent"].append(key)
            continue
        try:
            current = read_value(path)
        except OSError:
            current = None
        if current == wanted:
            continue
        if may_write(path) if check_mode else write_value(path, wanted):
            result["set"].append(key)
            before[key] = current
            after[key] = wanted
        else:
            result["refused"].append(key)
    result["changed"] = bool(result["set"])
    result["diff"] = {"before": before, "after": after}
    return result
