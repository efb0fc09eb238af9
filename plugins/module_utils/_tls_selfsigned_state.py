# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whether self-signed certificates are as the reverse_proxy role makes them (``pyops.deploy.tls_selfsigned_state``).

Plain Python (no AnsibleModule), Python 3.8 compatible, stdlib only; the certificates, requests and
keys are read by the ``openssl`` program. For each name: ``<dir>/<name>.key`` is an EC P-256 key,
``<name>.csr`` its signing request and ``<name>.crt`` a certificate of the same key, both for the
given common name and subject alternative names; the directory and the files are regular (no link),
owned and moded as given. It reads; it changes nothing. No key material is returned or logged: a
key is only read by ``openssl pkey -pubout``, and what is compared is its public part.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat

from ansible_collections.pyops.deploy.plugins.module_utils._file_modes import account_id, parse_mode

PUBLIC_KEY = re.compile(r"-----BEGIN PUBLIC KEY-----\n.*?\n-----END PUBLIC KEY-----", re.S)
SAN_HEADER = "X509v3 Subject Alternative Name:"


class Stale(Exception):
    """What makes one certificate's files differ from what the role makes; never holds file content."""


def check_node(path, kind, mode, uid, gid):
    """``path`` is a ``kind`` (``stat.S_ISDIR``/``S_ISREG``), not a link, with this mode and owners."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise Stale(f"{path} is missing") from None
    if not kind(info.st_mode):
        raise Stale(f"{path} is not a {'directory' if kind is stat.S_ISDIR else 'regular file'}")
    if stat.S_IMODE(info.st_mode) != mode or info.st_uid != uid or info.st_gid != gid:
        raise Stale(f"{path} has mode {stat.S_IMODE(info.st_mode):04o} and owners {info.st_uid}:{info.st_gid}")


def _public_key(text, path):
    found = PUBLIC_KEY.search(text)
    if not found:
        raise Stale(f"{path} holds no public key openssl reads")
    return found.group(0)


def _subject_cn(text, path):
    for line in text.splitlines():
        if line.startswith("subject="):
            subject = line[len("subject=") :].strip()
            if subject.startswith("CN=") and "," not in subject and "+" not in subject:
                return subject[len("CN=") :]
            raise Stale(f"{path} has subject {subject!r}, not a common name alone")
    raise Stale(f"{path} has no subject openssl reads")


def _alt_names(text):
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.strip() == SAN_HEADER and index + 1 < len(lines):
            return [name.strip() for name in lines[index + 1].split(",") if name.strip()]
    return []


def _openssl(run, argv, path, data=None):
    rc, out, _err = run(argv, data)
    if rc != 0:
        # openssl's message may quote the file: not returned.
        raise Stale(f"openssl cannot read {path}")
    return out


def check_one(openssl, run, directory, entry, key_mode, public_mode, uid, gid):
    """Raise Stale unless ``entry``'s key, request and certificate are what the role makes."""
    base = os.path.join(directory, entry["name"])
    key, csr, crt = base + ".key", base + ".csr", base + ".crt"
    check_node(key, stat.S_ISREG, key_mode, uid, gid)
    check_node(csr, stat.S_ISREG, public_mode, uid, gid)
    check_node(crt, stat.S_ISREG, public_mode, uid, gid)

    key_public = _public_key(_openssl(run, [openssl, "pkey", "-in", key, "-pubout"], key), key)
    text = _openssl(run, [openssl, "pkey", "-pubin", "-noout", "-text"], key, data=key_public)
    if "ASN1 OID: prime256v1" not in text:
        raise Stale(f"{key} is not an EC P-256 key")

    names = {"common_name": entry["common_name"], "alt_names": list(entry["subject_alt_names"])}
    for path, argv in (
        (csr, [openssl, "req", "-in", csr, "-noout", "-pubkey", "-subject", "-nameopt", "RFC2253", "-text"]),
        (crt, [openssl, "x509", "-in", crt, "-noout", "-pubkey", "-subject", "-nameopt", "RFC2253", "-text"]),
    ):
        out = _openssl(run, argv, path)
        if _public_key(out, path) != key_public:
            raise Stale(f"{path} is not for the key {key}")
        found = {"common_name": _subject_cn(out, path), "alt_names": _alt_names(out)}
        if found != names:
            raise Stale(f"{path} names {found}, not {names}")


def read_state(params, run, openssl):
    """The names whose files are current and the stale ones with why, as the module returns them."""
    result = {"current": [], "stale": [], "reasons": {}}
    entries = params.get("certificates") or []
    uid = account_id(params.get("owner", "root"), pwd.getpwnam, "owner")
    gid = account_id(params.get("group", "root"), grp.getgrnam, "group")
    directory = params["directory"]
    try:
        if not openssl:
            raise Stale("the openssl program is not installed")
        check_node(directory, stat.S_ISDIR, parse_mode(params.get("directory_mode", "0700")), uid, gid)
    except Stale as exc:
        for entry in entries:
            result["stale"].append(entry["name"])
            result["reasons"][entry["name"]] = str(exc)
        return result
    key_mode = parse_mode(params.get("key_mode", "0600"))
    public_mode = parse_mode(params.get("public_mode", "0644"))
    for entry in entries:
        try:
            check_one(openssl, run, directory, entry, key_mode, public_mode, uid, gid)
        except Stale as exc:
            result["stale"].append(entry["name"])
            result["reasons"][entry["name"]] = str(exc)
        else:
            result["current"].append(entry["name"])
    return result
