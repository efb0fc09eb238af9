# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixed names and paths of an app root, input validation, and the filesystem primitives the other files share."""

from __future__ import annotations

import calendar
import json
import os
import re
import shutil
import stat
import time

RELEASE_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
RELEASE_ID_RE = re.compile(RELEASE_ID_PATTERN)

RELEASES_DIR = "releases"
SHARED_DIR = "shared"
CURRENT_LINK = "current"
STATE_FILE = ".releases.json"
LOCK_FILE = ".deploy.lock"
AUDIT_FILE = "deploy-audit.jsonl"
STATE_FORMAT = 1

STATUSES = ("prepared", "good", "failed")
MARKABLE_STATUSES = ("good", "failed")
# A release directory without a record (made by hand or by an older tool) is listed with this status.
UNTRACKED_STATUS = "unknown"
STATES = ("prepared", "switched", "rolled_back", "pruned", "absent", "locked", "unlocked", "marked", "finalized")

DEFAULT_KEEP = 5
DEFAULT_LOCK_TTL = 3600
DEFAULT_HISTORY = 10
# Shared files are often secrets (.env, credentials); an empty placeholder must not be world readable.
SHARED_FILE_MODE = 0o600
AUDIT_FILE_MODE = 0o640
LOCK_FILE_MODE = 0o644
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class ReleaseError(Exception):
    """Bad input or an unsafe on-disk situation; the message is meant for the user."""


# --------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------


def validate_app_root(path):
    if not isinstance(path, str) or not path:
        raise ReleaseError("path is required and must be a non-empty string")
    if "\x00" in path:
        raise ReleaseError("path must not contain NUL bytes")
    if not os.path.isabs(path):
        raise ReleaseError(f"path must be absolute, got {path!r}")
    normalized = os.path.normpath(path)
    if normalized in ("/", "//"):
        raise ReleaseError("refusing to use / as the app root")
    return normalized


def validate_release_id(release, what="release"):
    if not isinstance(release, str) or not RELEASE_ID_RE.fullmatch(release):
        raise ReleaseError(
            f"{what} id {release!r} is invalid: it must match ^{RELEASE_ID_PATTERN}$ (letters, digits, '.', '_' "
            "and '-', starting with a letter or digit, at most 128 characters, no '/', not '.' or '..')"
        )
    return release


def validate_release_ids(releases, what):
    return [validate_release_id(r, what) for r in (releases or [])]


def validate_keep(keep):
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ReleaseError(f"keep must be an integer >= 1, got {keep!r}")
    return keep


def validate_lock_ttl(ttl):
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
        raise ReleaseError(f"lock_ttl must be an integer >= 1 (seconds), got {ttl!r}")
    return ttl


def validate_history(history):
    if isinstance(history, bool) or not isinstance(history, int) or history < 0:
        raise ReleaseError(f"history must be an integer >= 0, got {history!r}")
    return history


def normalize_shared_path(path, what):
    if not isinstance(path, str) or not path.strip():
        raise ReleaseError(f"{what} entries must be non-empty strings, got {path!r}")
    if "\x00" in path:
        raise ReleaseError(f"{what} entry {path!r} must not contain NUL bytes")
    if os.path.isabs(path):
        raise ReleaseError(f"{what} entry {path!r} must be relative to shared/, not absolute")
    if ".." in path.split("/"):
        raise ReleaseError(f"{what} entry {path!r} must not contain '..'")
    normalized = os.path.normpath(path)
    if normalized in (".", ""):
        raise ReleaseError(f"{what} entry {path!r} does not name anything below shared/")
    return normalized


def dedupe(items):
    seen = set()
    unique = []
    for item in items:
        if item not in seen:
            seen.add(item)
            unique.append(item)
    return unique


def validate_shared_paths(shared_dirs, shared_files):
    """Normalize both lists and reject overlaps, which would make one link write through another."""
    dirs = dedupe(normalize_shared_path(p, "shared_dirs") for p in (shared_dirs or []))
    files = dedupe(normalize_shared_path(p, "shared_files") for p in (shared_files or []))
    both = set(dirs) & set(files)
    if both:
        raise ReleaseError("{} listed in both shared_dirs and shared_files".format(", ".join(sorted(both))))
    everything = dirs + files
    for outer in everything:
        for inner in everything:
            if inner.startswith(outer + "/"):
                raise ReleaseError(
                    f"shared paths {outer!r} and {inner!r} overlap: a shared path must not be inside another one"
                )
    return dirs, files


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def format_time(epoch):
    return time.strftime(TIME_FORMAT, time.gmtime(epoch))


def parse_time(value):
    try:
        return calendar.timegm(time.strptime(value, TIME_FORMAT))
    except (TypeError, ValueError):
        return None


def is_inside(child, parent):
    if parent == os.sep:
        return child.startswith(os.sep)
    parent = parent.rstrip(os.sep)
    return child == parent or child.startswith(parent + os.sep)


def random_suffix():
    return os.urandom(6).hex()


def write_json_atomically(path, data):
    tmp = f"{path}.tmp-{random_suffix()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def replace_symlink(link_target, link_path):
    """Point ``link_path`` at ``link_target`` without a moment where ``link_path`` is missing."""
    tmp = os.path.join(os.path.dirname(link_path), f".{os.path.basename(link_path)}.tmp-{random_suffix()}")
    os.symlink(link_target, tmp)
    try:
        os.replace(tmp, link_path)
    except BaseException:
        os.unlink(tmp)
        raise


def create_empty_file(path):
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | O_NOFOLLOW, SHARED_FILE_MODE))


def replace_with_symlink(link_target, link_path):
    if os.path.isdir(link_path) and not os.path.islink(link_path):
        shutil.rmtree(link_path)
    else:
        os.unlink(link_path)
    os.symlink(link_target, link_path)


# --------------------------------------------------------------------------------------------
# The app root
# --------------------------------------------------------------------------------------------


class AppLayout:
    """Paths of one app root plus the checks that keep every resolved path inside it."""

    def __init__(self, path):
        self.root = validate_app_root(path)
        self.releases = os.path.join(self.root, RELEASES_DIR)
        self.shared = os.path.join(self.root, SHARED_DIR)
        self.current = os.path.join(self.root, CURRENT_LINK)
        self.state_file = os.path.join(self.root, STATE_FILE)
        self.lock_file = os.path.join(self.root, LOCK_FILE)
        self.audit_file = os.path.join(self.root, AUDIT_FILE)

    def release_dir(self, release):
        return os.path.join(self.releases, release)

    @staticmethod
    def link_target(release):
        # Relative so the whole app root can be moved or mounted elsewhere without breaking current.
        return f"{RELEASES_DIR}/{release}"

    def exists(self):
        if not os.path.lexists(self.root):
            return False
        if not os.path.isdir(self.root):
            raise ReleaseError(f"path {self.root} exists but is not a directory")
        return True

    def real_root(self):
        return os.path.realpath(self.root)

    def ensure_inside(self, path, base, what):
        real_base = os.path.realpath(base)
        real = os.path.realpath(path)
        if not is_inside(real, real_base):
            raise ReleaseError(f"{what} {path} resolves to {real}, outside of {base}; refusing to follow it")
        return real

    def check_top_level(self):
        """Refuse symlink tricks on the fixed entries below the root before anything reads or writes them."""
        real_root = self.real_root()
        for path, what in ((self.releases, "releases directory"), (self.shared, "shared directory")):
            if not os.path.lexists(path):
                continue
            real = os.path.realpath(path)
            if real == real_root or not is_inside(real, real_root):
                raise ReleaseError(f"{what} {path} resolves to {real}, outside of {self.root}")
            if not os.path.isdir(path):
                raise ReleaseError(f"{what} {path} exists but is not a directory")
        for path in (self.state_file, self.lock_file, self.audit_file):
            if os.path.islink(path):
                raise ReleaseError(f"{path} is a symlink; refusing to use it")
        if os.path.lexists(self.current) and not os.path.islink(self.current):
            raise ReleaseError(
                f"{self.current} exists and is not a symlink; move it away so current can be switched atomically"
            )

    def present_releases(self):
        """Ids of real release directories; anything else under releases/ is ignored, never followed."""
        if not os.path.isdir(self.releases):
            return []
        found = []
        for name in os.listdir(self.releases):
            path = os.path.join(self.releases, name)
            if RELEASE_ID_RE.fullmatch(name) and os.path.isdir(path) and not os.path.islink(path):
                found.append(name)
        return found

    def require_release_dir(self, release):
        path = self.release_dir(release)
        if os.path.islink(path):
            raise ReleaseError(f"release {release} ({path}) is a symlink; refusing to use it")
        if not os.path.isdir(path):
            raise ReleaseError(f"release {release} does not exist ({path})")
        return path

    def read_current(self):
        """Return ``(release id or None, link text or None)``; id is None when current points elsewhere."""
        if not os.path.lexists(self.current):
            return None, None
        if not os.path.islink(self.current):
            raise ReleaseError(
                f"{self.current} exists and is not a symlink; move it away so current can be switched atomically"
            )
        text = os.readlink(self.current)
        target = os.path.normpath(os.path.join(self.root, text))
        name = os.path.basename(target)
        if os.path.dirname(target) == self.releases and RELEASE_ID_RE.fullmatch(name):
            return name, text
        return None, text


def directory_view(path):
    """Type, permissions and numeric ownership of ``path`` (not followed if a symlink), None if missing."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return {
        "path": path,
        "is_dir": stat.S_ISDIR(info.st_mode),
        "mode": f"{stat.S_IMODE(info.st_mode):04o}",
        "uid": info.st_uid,
        "gid": info.st_gid,
    }
