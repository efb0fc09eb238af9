# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The project's ``requires-python`` against the interpreter, for ``pyops.deploy.venv``.

A release that needs a newer Python (Django 6 needs 3.12) otherwise fails deep in the installer's
resolver, on one host, after the others have moved on. ``pyproject.toml`` is the app's (untrusted)
file: it is read like the other inputs (state.read_input: no symlink followed, regular files only),
and nothing of it reaches a message but the ``requires-python`` value itself, and only when it looks
like a version specifier.

PEP 440 specifiers are compared on release numbers (``3.12``, ``3.12.*``); pre-release, post-release
and local parts of a specifier's version are ignored, which is exact for interpreter versions.
"""

from __future__ import annotations

import os
import platform
import re

from ansible_collections.pyops.deploy.plugins.module_utils._venv import state
from ansible_collections.pyops.deploy.plugins.module_utils._venv.common import VenvError

try:
    import tomllib
except ImportError:  # Python < 3.11: the one key is read by the fallback below
    tomllib = None

# What a requires-python may hold; anything else is never quoted back.
SPEC_TEXT = re.compile(r"^[0-9A-Za-z.*<>=!~, ]{1,100}$")
# A pre-, post- or dev-release part and a local part (PEP 440), read and ignored.
SUFFIX = r"(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview|post|rev|r|dev)[-_.]?[0-9]*)*(?:\+[0-9A-Za-z.]+)?"
CLAUSE = re.compile(r"^\s*(~=|===|==|!=|<=|>=|<|>)\s*v?([0-9]+(?:\.[0-9]+)*)(\.\*)?" + SUFFIX + r"\s*$")
NUMBERS = re.compile(r"^[0-9]+(?:\.[0-9]+)*")
# The fallback reader: the [project] table's requires-python, a basic or literal string on one line.
TABLE = re.compile(r"^\s*\[\s*([^\]]*?)\s*\]\s*(#.*)?$")
KEY = re.compile(
    r"""^\s*(?:requires-python|"requires-python"|'requires-python')\s*=\s*(?:"([^"\\]*)"|'([^']*)')\s*(#.*)?$"""
)


def release_numbers(version):
    """The release part of a version, as ints: "3.11.2" and "3.13.0rc1" give (3, 11, 2) and (3, 13, 0)."""
    found = NUMBERS.match(version.strip().lstrip("v"))
    if not found:
        raise ValueError(version)
    return tuple(int(part) for part in found.group(0).split("."))


def padded(numbers, length):
    return tuple(numbers) + (0,) * (length - len(numbers))


def satisfies(version, spec):
    """Whether an interpreter version ("3.11.2") meets a PEP 440 specifier set (">=3.8, !=3.9.*, <4").

    Raises ValueError on a clause it cannot read.
    """
    have = release_numbers(version)
    for clause in (part for part in spec.split(",") if part.strip()):
        found = CLAUSE.match(clause)
        if not found:
            raise ValueError(clause)
        op, numbers, wildcard = found.group(1), tuple(int(n) for n in found.group(2).split(".")), found.group(3)
        if wildcard and op not in ("==", "!="):
            raise ValueError(clause)
        if wildcard:
            same = padded(have, len(numbers))[: len(numbers)] == numbers
            ok = same if op == "==" else not same
        else:
            width = max(len(have), len(numbers))
            left, right = padded(have, width), padded(numbers, width)
            if op == "~=":
                if len(numbers) < 2:
                    raise ValueError(clause)
                prefix = numbers[:-1]
                ok = left >= right and padded(have, len(prefix))[: len(prefix)] == prefix
            else:
                ok = {
                    "==": left == right,
                    "===": left == right,
                    "!=": left != right,
                    "<=": left <= right,
                    ">=": left >= right,
                    "<": left < right,
                    ">": left > right,
                }[op]
        if not ok:
            return False
    return True


def fallback_requires_python(text):
    """[project] requires-python from TOML text without tomllib (Python < 3.11), or None."""
    table = None
    for line in text.splitlines():
        header = TABLE.match(line)
        if header and not line.lstrip().startswith("[["):
            table = header.group(1)
            continue
        if table == "project":
            found = KEY.match(line)
            if found:
                return found.group(1) if found.group(1) is not None else found.group(2)
    return None


def parse(text, origin):
    """The [project] requires-python of pyproject.toml text ("" when it sets none); ``origin`` names it in errors."""
    if tomllib is None:
        return fallback_requires_python(text) or ""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The decoder's words name a line and column, never the text.
        raise VenvError(f"{origin} is not valid TOML, so its requires-python cannot be read: {exc}") from None
    project = data.get("project")
    value = project.get("requires-python", "") if isinstance(project, dict) else ""
    if not isinstance(value, str):
        raise VenvError(f"{origin}: [project] requires-python is not a string")
    return value


def requires_python(path):
    """The [project] requires-python of a pyproject.toml, "" when it sets none or the file is missing."""
    try:
        text = state.read_input(path)
    except VenvError:
        if not os.path.lexists(path):
            return ""
        raise
    return parse(text, path)


def check(path, interpreter, python):
    """Raise VenvError unless the interpreter meets the project's requires-python (none set: it does)."""
    check_spec(requires_python(path), interpreter, python, f"requires-python in {path}")


def check_spec(spec, interpreter, python, origin="requires_python"):
    """Raise VenvError unless the interpreter meets ``spec`` (empty: it does); ``origin`` says where it is from."""
    if not spec.strip():
        return
    if not SPEC_TEXT.match(spec):
        raise VenvError(f"{origin} is not a version specifier such as '>=3.11'")
    try:
        ok = satisfies(interpreter["version"], spec)
    except ValueError:
        raise VenvError(f"{origin} '{spec}' cannot be read as a version specifier") from None
    if not ok:
        raise VenvError(
            f"release needs Python {spec}, host {platform.node()} has {interpreter['version']} "
            f"({python}; {origin}). Nothing was built: build the release for this Python, or "
            "give the host an interpreter that meets it (the python role) as the venv's python (deploy_python)."
        )
