"""The ``systemd_env`` filter: a dict as the lines of a systemd ``EnvironmentFile=``, values byte-exact."""

DOCUMENTATION = r"""
name: systemd_env
short_description: Write a dict as a systemd EnvironmentFile, every value arriving byte-exact
version_added: 0.1.0
description:
  - Returns one C(KEY="value") assignment per key, sorted by key, each ending with a newline, in the
    quoting systemd.exec(5) describes for C(EnvironmentFile=).
  - Every value is double-quoted. Inside, a backslash precedes C(\), C("), C(`) and C($), the four
    characters systemd unescapes there; everything else is written as it is. A value spanning several
    lines (a PEM key) is written over several lines inside its quotes, which systemd keeps verbatim,
    so the process receives exactly the string given (no C(\n) or C(\uXXXX) sequences left in it).
  - Values that are not strings are converted with C(str()), as the C(string) filter does.
  - Refuses, naming the key but never the value, a key that is not a valid environment variable name
    and a value systemd cannot carry (NUL, a byte order mark, a Unicode noncharacter, a lone surrogate).
options:
  _input:
    description: The variables, name to value.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write the app's environment file
  ansible.builtin.copy:
    content: "{{ app_env | pyops.deploy.systemd_env }}"
    dest: /etc/app/env
    mode: "0640"
  no_log: true
"""

RETURN = r"""
_value:
  description: The file's assignments, one per key, each ending with a newline.
  type: str
"""

import re

from ansible.errors import AnsibleFilterError

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Unescaped by systemd after a backslash inside double quotes; every other backslash is kept as it is.
ESCAPED = re.compile(r'([\\"`$])')
# What systemd refuses in an environment file (not UTF-8 it can read, or not a value at all).
REFUSED = re.compile("[\x00\ufeff\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff]")


def quote(value):
    """A value as systemd reads it back exactly: double quotes, `\\ " ` $` escaped, newlines verbatim."""
    return '"' + ESCAPED.sub(r"\\\1", value) + '"'


def systemd_env(variables):
    if not isinstance(variables, dict):
        raise AnsibleFilterError("systemd_env: the input must be a dict of variable names to values")
    lines = []
    for key in sorted(variables, key=str):
        name = str(key)
        if not NAME.match(name):
            raise AnsibleFilterError(
                f"systemd_env: {name!r} is not an environment variable name (letters, digits and _, not first a digit)"
            )
        value = str(variables[key])
        if REFUSED.search(value):
            raise AnsibleFilterError(
                f"systemd_env: the value of {name} holds a character systemd cannot pass on "
                "(NUL, a byte order mark, a noncharacter or a lone surrogate)"
            )
        lines.append(f"{name}={quote(value)}\n")
    return "".join(lines)


class FilterModule:
    def filters(self):
        return {"systemd_env": systemd_env}
