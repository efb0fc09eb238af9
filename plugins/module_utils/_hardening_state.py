# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host state the hardening role decides by, read at once, behind ``pyops.deploy.hardening_state``.

Plain Python (no AnsibleModule), Python 3.8 compatible, stdlib only. It reads, as root: the
installed packages (dpkg's status file), the units' states (one ``systemctl show``), whether a group
exists and which users are missing or outside it, the accounts with an empty password field in the
shadow file (names only, never a hash), the size of an RSA public host key, which paths exist, how
many Diffie-Hellman moduli are too small, the setuid and setgid programs, and which nftables tables
are loaded. It changes nothing; ``run`` runs a command (argv) and returns ``(rc, stdout, stderr)``.
"""

from __future__ import annotations

import base64
import binascii
import grp
import os
import pwd
import stat
import struct

from ansible_collections.pyops.deploy.plugins.module_utils._systemd_units import show_units

UNIT_PROPERTIES = "ActiveState,UnitFileState"
# dpkg states of a package that is not (or no longer) installed.
NOT_INSTALLED = ("not-installed", "config-files")


def installed_packages(status="/var/lib/dpkg/status"):
    """The installed packages' versions by name, from dpkg's status file (as package_facts lists them).

    A package counts in every state but not-installed and config-files (a half-configured one is
    installed); of a package installed for several architectures, the first version is kept.
    """
    packages = {}
    fields = {}
    with open(status, encoding="utf-8", errors="replace") as handle:
        for line in [*handle, "\n"]:
            if not line.strip():
                name, state = fields.get("Package"), fields.get("Status", "").split()
                if name and state and state[-1] not in NOT_INSTALLED:
                    packages.setdefault(name, fields.get("Version", ""))
                fields = {}
            elif line[0] not in " \t":
                key, _sep, value = line.partition(":")
                if key in ("Package", "Status", "Version"):
                    fields[key] = value.strip()
    return packages


def units(names, run, systemctl="systemctl"):
    """The active and the enabled units of ``names``, from one ``systemctl show``."""
    if not names:
        return [], []
    shown = show_units(names, run, systemctl, UNIT_PROPERTIES)
    if isinstance(shown, str):
        raise OSError(shown)
    active = [name for name in names if shown[name].get("ActiveState") == "active"]
    enabled = [name for name in names if shown[name].get("UnitFileState") == "enabled"]
    return active, enabled


def group_state(group, users):
    """Whether ``group`` exists, the ``users`` with no account, and those not listed among its members."""
    try:
        members = grp.getgrnam(group).gr_mem if group else []
        exists = bool(group)
    except KeyError:
        members, exists = [], False
    missing, outside = [], []
    for user in users:
        try:
            pwd.getpwnam(user)
        except KeyError:
            missing.append(user)
            continue
        if user not in members:
            outside.append(user)
    return exists, missing, outside


def empty_password_accounts(shadow="/etc/shadow"):
    """The accounts whose password field is empty (anyone could log in as them without one)."""
    found = []
    with open(shadow, encoding="utf-8", errors="surrogateescape") as handle:
        for line in handle:
            fields = line.rstrip("\n").split(":")
            if len(fields) >= 2 and fields[0] and fields[1] == "":
                found.append(fields[0])
    return found


def _ssh_string(blob, offset):
    (length,) = struct.unpack(">I", blob[offset : offset + 4])
    end = offset + 4 + length
    if length > len(blob) or end > len(blob):
        raise ValueError("truncated key")
    return blob[offset + 4 : end], end


def rsa_public_key_bits(path):
    """The modulus size of an OpenSSH RSA public key file, as ``ssh-keygen -l`` gives it; 0 when missing or not one."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            fields = handle.read().split()
        blob = base64.b64decode(fields[1], validate=True)
        kind, offset = _ssh_string(blob, 0)
        if kind != b"ssh-rsa":
            return 0
        _exponent, offset = _ssh_string(blob, offset)
        modulus, _end = _ssh_string(blob, offset)
    except (OSError, IndexError, ValueError, binascii.Error, struct.error):
        return 0
    return int.from_bytes(modulus, "big").bit_length()


def small_moduli(path, min_size):
    """How many moduli lines group exchange could offer under ``min_size`` (the file's size field, bits - 1).

    Counted as the lines that ``awk '$1 ~ /^#/ || $5 >= min_size'`` would drop: not a comment, and no
    size field of at least ``min_size``. A missing file holds none.
    """
    count = 0
    if not os.path.exists(path):
        # No OpenSSH server yet (check mode on a new host): nothing group exchange could offer.
        return 0
    with open(path, encoding="ascii", errors="replace") as handle:
        for line in handle:
            fields = line.split()
            if fields and fields[0].startswith("#"):
                continue
            try:
                if int(fields[4]) >= min_size:
                    continue
            except (IndexError, ValueError):
                pass
            count += 1
    return count


def setid_programs(directories):
    """The setuid and setgid regular files under ``directories``, sorted, as ``find DIRS -xdev -type f -perm /6000``.

    No link is followed and no other file system entered; unreadable entries are passed over.
    """
    found = []
    for top in directories:
        try:
            top_info = os.lstat(top)
        except OSError:
            continue
        if not stat.S_ISDIR(top_info.st_mode):
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            kept = []
            for name in dirnames:
                try:
                    info = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                if stat.S_ISDIR(info.st_mode) and info.st_dev == top_info.st_dev:
                    kept.append(name)
            dirnames[:] = kept
            for name in filenames:
                path = os.path.join(dirpath, name)
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode) and info.st_mode & (stat.S_ISUID | stat.S_ISGID):
                    found.append(path)
    return sorted(found)


def nft_tables_loaded(tables, run, nft):
    """The tables (``family name``) of ``tables`` that are loaded; none without the nft program."""
    if not nft:
        return []
    return [table for table in tables if run([nft, "list", "table", *table.split()])[0] == 0]


def read_state(params, run, systemctl="systemctl", nft=None):
    """Everything ``params`` asks for (the module's options), as the module returns it."""
    result = {}
    status = params.get("dpkg_status") or "/var/lib/dpkg/status"
    result["packages"] = installed_packages(status) if params.get("packages") else {}
    result["units_active"], result["units_enabled"] = units(params.get("units") or [], run, systemctl)
    group = params.get("group") or ""
    result["group_exists"], result["users_missing"], result["users_outside_group"] = group_state(
        group, params.get("users") or []
    )
    result["empty_password_accounts"] = (
        empty_password_accounts(params.get("shadow") or "/etc/shadow") if params.get("empty_passwords") else []
    )
    key = params.get("rsa_public_key")
    result["rsa_public_key_bits"] = rsa_public_key_bits(key) if key else 0
    result["paths_present"] = [path for path in params.get("paths") or [] if os.path.exists(path)]
    moduli = params.get("moduli")
    result["small_moduli"] = small_moduli(moduli, params.get("moduli_min_size", 3071)) if moduli else 0
    result["setid_programs"] = setid_programs(params.get("setid_directories") or [])
    result["nft_tables_loaded"] = nft_tables_loaded(params.get("nft_tables") or [], run, nft)
    return result
