"""The minimal example of each role's README, the one molecule/alone runs as it is.

A role's README marks its minimal example with the line MARKER right before the example's ```yaml
fence: a playbook that needs nothing but one host and the variables the README says are the user's.
molecule/alone extracts each example with `example()` and applies it, alone, to a one-host inventory
with no group; tests/docs/test_readme_examples.py checks (without hosts) that every role's README has
exactly one marked example that parses as a playbook using that role.

`python tools/readme_examples.py ROLE` prints the role's example.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROLES = ROOT / "roles"
MARKER = "<!-- minimal example: molecule/alone runs it as it is -->"
# The order a user follows, the one molecule/alone applies the examples in.
ORDER = (
    "python", "virtualenv", "app_server", "reverse_proxy", "log_shipping", "nagios_agent", "zabbix_agent",
    "hardening", "deploy",
)  # fmt: skip
# Applied alone elsewhere: hardening's example runs in molecule/hardening (tests/test_alone.py), on that
# scenario's Debian 12 and 13 hosts, where a fresh host's first run would cost CI a quarter of an hour.
ELSEWHERE = {"hardening": "molecule/hardening/tests/test_alone.py"}
# What molecule/alone applies, in ORDER.
IN_ALONE = tuple(role for role in ORDER if role not in ELSEWHERE)
_FENCE = re.compile(r"^```yaml[ \t]*\n(?P<body>.*?)^```[ \t]*$", re.S | re.M)


class ExampleError(ValueError):
    """A README whose marked example is missing, repeated or not a fenced YAML block."""


def extract(text, name="README.md"):
    """The YAML text of the one block that follows MARKER in a Markdown text."""
    count = text.count(MARKER)
    if count != 1:
        raise ExampleError(f"{name}: {count} lines '{MARKER}', need exactly one")
    after = text.split(MARKER, 1)[1].lstrip(" \t")
    if not after.startswith("\n"):
        raise ExampleError(f"{name}: the marker must be a line of its own")
    block = _FENCE.match(after[1:])
    if block is None:
        raise ExampleError(f"{name}: the line after the marker must open a ```yaml block")
    return block.group("body")


def example(role, roles=ROLES):
    """The marked example of roles/<role>/README.md."""
    path = Path(roles) / role / "README.md"
    return extract(path.read_text(), str(path))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: readme_examples.py ROLE")
    sys.stdout.write(example(sys.argv[1]))
