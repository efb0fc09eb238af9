# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A release's software bill of materials behind ``pyops.deploy.release_sbom`` and ``release_info``.

Reads each installed distribution's name and version from its ``*.dist-info/METADATA`` (or an
``*.egg-info/PKG-INFO``) in the virtualenv's ``lib/python*/site-packages``, never following a symlink,
and writes a CycloneDX 1.5 JSON document: the same virtualenv gives the same bytes (no time stamp), so
writing it again changes nothing. Stdlib only: it runs on the app hosts.
"""

from __future__ import annotations

import email.parser
import hashlib
import json
import os
import re
import stat
import tempfile
import uuid
from urllib.parse import quote

SBOM_FILE = ".pyops-sbom.cdx.json"
SBOM_MODE = 0o644
SPEC_VERSION = "1.5"
MAX_METADATA_BYTES = 1 << 20
MAX_SBOM_BYTES = 32 << 20
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]{0,127}$")
# The namespace of the documents' serial numbers (uuid5 of their content).
_NAMESPACE = uuid.UUID("6f0f3c52-4a63-4c43-9a5f-6a8c5b0e2d11")


class SbomError(Exception):
    pass


def canonical_name(name):
    """PEP 503's normalized name: ``Flask_Login`` and ``flask.login`` are ``flask-login``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _is_dir(path):
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _read_regular(path, limit):
    """A regular file's first ``limit`` bytes, opened without following a symlink; None if it is not one."""
    try:
        fd = os.open(path, os.O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def site_packages(venv):
    """The virtualenv's ``lib/python*/site-packages`` directories (real directories only, not lib64's link)."""
    lib = os.path.join(venv, "lib")
    if not _is_dir(venv) or not _is_dir(lib):
        raise SbomError(f"{venv} is not a virtualenv (no lib/ directory)")
    found = []
    for entry in sorted(os.listdir(lib)):
        path = os.path.join(lib, entry, "site-packages")
        if entry.startswith("python") and _is_dir(os.path.join(lib, entry)) and _is_dir(path):
            found.append(path)
    if not found:
        raise SbomError(f"{venv} has no lib/python*/site-packages directory")
    return found


def _headers(raw):
    head = raw.split(b"\n\n", 1)[0].decode("utf-8", errors="replace")
    return email.parser.HeaderParser().parsestr(head)


def read_distribution(meta_dir):
    """(name, version) of a ``*.dist-info`` or ``*.egg-info`` directory, None if it holds no metadata."""
    base = os.path.basename(meta_dir)
    raw = _read_regular(
        os.path.join(meta_dir, "METADATA" if base.endswith(".dist-info") else "PKG-INFO"), MAX_METADATA_BYTES
    )
    name = version = None
    if raw is not None:
        headers = _headers(raw)
        name, version = (headers.get("Name") or "").strip(), (headers.get("Version") or "").strip()
    if not name or not version:
        # pip's own fallback: the directory's name, <name>-<version>.dist-info.
        stem = base.rsplit(".", 1)[0]
        if "-" not in stem:
            return None
        name, version = stem.split("-", 1)
    if not _NAME.match(name) or not _VERSION.match(version):
        raise SbomError(f"{meta_dir} names no valid distribution name and version")
    return name, version


def installed_distributions(venv):
    """Every distribution installed in the virtualenv as sorted, unique (name, version) pairs."""
    found = set()
    for directory in site_packages(venv):
        for entry in os.listdir(directory):
            path = os.path.join(directory, entry)
            if entry.endswith((".dist-info", ".egg-info")) and _is_dir(path):
                dist = read_distribution(path)
                if dist:
                    found.add(dist)
    return sorted(found, key=lambda dist: (canonical_name(dist[0]), dist[1]))


def purl(name, version):
    return f"pkg:pypi/{canonical_name(name)}@{quote(version, safe='.+!')}"


def build_document(distributions, app, release):
    """The CycloneDX 1.5 JSON document of ``distributions`` for ``app`` at ``release``, as bytes."""
    components = [
        {
            "type": "library",
            "bom-ref": purl(name, version),
            "name": name,
            "version": version,
            "purl": purl(name, version),
        }
        for name, version in distributions
    ]
    serial = uuid.uuid5(_NAMESPACE, json.dumps([app, release, components], sort_keys=True))
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{serial}",
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "pyops.deploy.release_sbom"}]},
            "component": {"type": "application", "bom-ref": f"app:{app}", "name": app, "version": release},
        },
        "components": components,
    }
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode("utf-8")


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def read_document(path):
    """The SBOM's bytes (a regular file, not followed if a symlink), None when there is none."""
    return _read_regular(path, MAX_SBOM_BYTES)


def write_document(path, data, uid=None, gid=None):
    """Write ``data`` to ``path`` atomically (a new file renamed over it): mode 0644, owned by uid/gid."""
    directory = os.path.dirname(path)
    if not _is_dir(directory):
        raise SbomError(f"{directory} is not a directory")
    fd, temporary = tempfile.mkstemp(prefix=".sbom-", dir=directory)
    try:
        os.write(fd, data)
        os.fchmod(fd, SBOM_MODE)
        if uid is not None or gid is not None:
            os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.rename(temporary, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        os.unlink(temporary)
        raise


def packages_of(data):
    """{canonical name: version} of an SBOM's bytes; {} when they are not a CycloneDX document."""
    try:
        document = json.loads(data)
        components = document["components"] if document.get("bomFormat") == "CycloneDX" else []
        return {
            canonical_name(str(item["name"])): str(item["version"])
            for item in components
            if isinstance(item, dict) and "name" in item and "version" in item
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


def release_sbom_view(release_dir, package=None):
    """``sbom_sha256`` (None without an SBOM) and, with ``package``, ``sbom_package_version`` of a release."""
    data = read_document(os.path.join(release_dir, SBOM_FILE))
    view = {"sbom_sha256": sha256_hex(data) if data is not None else None}
    if package:
        view["sbom_package_version"] = packages_of(data).get(canonical_name(package)) if data is not None else None
    return view
