# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The audit log (deploy-audit.jsonl): who is deploying, appending one line per change, reading the last lines."""

from __future__ import annotations

import collections
import errno
import getpass
import json
import os
import re

from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import AUDIT_FILE_MODE, O_NOFOLLOW
from ansible_collections.pyops.deploy.plugins.module_utils._release.records import fsync_directory

# The user info of a URL (``https://user:password@host``, ``https://token@host``): a credential.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def redact_source(source):
    """``source`` with credentials in URLs replaced by ``***``; the audit log is readable by the app group."""
    if not isinstance(source, str):
        return source
    return _URL_CREDENTIALS.sub(lambda match: match.group("scheme") + "***@", source)


def default_audit_user():
    # os.getlogin() names the account that logged in even under become; it needs a terminal though.
    try:
        return os.getlogin()
    except OSError:
        pass
    if os.environ.get("SUDO_USER"):
        return os.environ["SUDO_USER"]
    try:
        return getpass.getuser()
    except (KeyError, OSError, ImportError):  # no passwd entry, or no pwd module at all
        return "unknown"


def append_audit_entry(layout, entry):
    """Append ``entry`` to the audit log as one JSON line, durably (fsync of the file, then of its directory)."""
    entry = dict(entry, source=redact_source(entry.get("source")))
    line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(layout.audit_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | O_NOFOLLOW, AUDIT_FILE_MODE)
    try:
        # One write call per entry: O_APPEND keeps concurrent lines from interleaving.
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(errno.ENOSPC, f"short write to {layout.audit_file} ({written} of {len(line)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_directory(layout.root)


def read_audit_tail(layout, count):
    """The last ``count`` entries of the audit log, oldest first; lines that are not JSON objects are skipped."""
    if count == 0 or not os.path.isfile(layout.audit_file):
        return []
    entries = collections.deque(maxlen=count)
    with open(layout.audit_file, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a torn line from a crash must not hide the rest of the history
            if isinstance(entry, dict):
                entries.append(entry)
    return list(entries)
