# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The text of an edited file, as ``ansible.builtin.lineinfile`` and ``replace`` would leave it.

Pure functions over strings, for ``pyops.deploy.file_set``'s ``lines`` and ``replacements``: no I/O.
"""

from __future__ import annotations

import re


class EditError(Exception):
    """An edit that cannot be made (a bad regular expression, a line with a line break)."""


def compiled(regexp, flags=0):
    try:
        return re.compile(regexp, flags)
    except re.error as exc:
        raise EditError(f"bad regular expression {regexp!r}: {exc}") from None


def with_line(text, regexp, line):
    """``text`` as ``ansible.builtin.lineinfile`` leaves it with ``regexp`` and ``line`` (state present).

    The last line that matches is replaced (its line ending kept); with no match, an identical line
    anywhere leaves the text alone, else the line is added at the end.
    """
    if "\n" in line or "\r" in line:
        raise EditError(f"the line {line!r} spans several lines")
    pattern = compiled(regexp)
    lines = text.splitlines(keepends=True)
    found = -1
    for index, current in enumerate(lines):
        if pattern.search(current):
            found = index
    if found < 0:
        if any(current.rstrip("\r\n") == line for current in lines):
            return text
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += "\n"
        lines.append(line + "\n")
        return "".join(lines)
    ending = lines[found][len(lines[found].rstrip("\r\n")) :] or "\n"
    lines[found] = line + ending
    return "".join(lines)


def with_replacement(text, regexp, replace):
    """``text`` as ``ansible.builtin.replace`` leaves it (multiline mode)."""
    return compiled(regexp, re.MULTILINE).sub(replace, text)


def edited(text, edits):
    """``text`` after ``edits``: (kind, entry) pairs, kind ``line`` or ``replace``, in order."""
    for kind, entry in edits:
        if kind == "line":
            text = with_line(text, entry["regexp"], entry["line"])
        else:
            text = with_replacement(text, entry["regexp"], entry.get("replace") or "")
    return text
