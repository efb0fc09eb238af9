"""The runnable command blocks of docs/runbooks/*.md (the rules: docs/runbooks/README.md, "Runnable blocks").

A fenced block whose info string is exactly `console runnable` holds one command per line that starts
with `$ `, run by bash from the checkout's root against the sandbox. tests/docs/test_runbooks.py checks
that every block parses and names only playbooks, modules and variables that exist;
tests/e2e/test_3_runbooks.py runs every block against the sandbox. `python tools/runbook_blocks.py`
lists the blocks and their commands.
"""

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNBOOKS = ROOT / "docs" / "runbooks"
MARKER = "console runnable"
PROMPT = "$ "
# The inventory every runnable command names (the e2e maps it onto its own copy of it).
SANDBOX = "-i inventories/sandbox"
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
# ansible / ansible-playbook options that take a value (the others are flags).
VALUE_OPTIONS = {
    "-i", "--inventory", "-e", "--extra-vars", "-l", "--limit", "-t", "--tags", "--skip-tags", "-u", "--user",
    "-m", "--module-name", "-a", "--args", "-f", "--forks", "-M", "--module-path", "--vault-password-file",
    "--vault-id", "-c", "--connection", "-T", "--timeout", "--become-user", "--become-method", "--start-at-task",
}  # fmt: skip


class RunbookError(ValueError):
    """A runnable block that does not keep the rules."""


@dataclass(frozen=True)
class Block:
    path: Path  # the runbook, relative to the checkout
    line: int  # the opening fence's line, from 1
    commands: tuple  # each `$ ` line without its prompt

    @property
    def name(self):
        return f"{self.path.name}:{self.line}"


def extract(text, path=Path("runbook.md")):
    """Every `console runnable` block of one Markdown text, in order.

    Fences may be indented (in a list item) and made of backticks or tildes; a block ends at a fence
    of the same character at least as long, with no info string (CommonMark). A runnable block holds
    only `$ ` lines and blank lines; a fence whose info string mentions `runnable` but is not exactly
    the marker, an unclosed runnable block, a continued (`\\`) or empty command raise RunbookError,
    so that no block is silently left out.
    """
    blocks = []
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        number += 1
        if not opening:
            continue
        fence, info = opening["fence"], opening["info"].strip()
        where = f"{path}:{number}"
        if "runnable" in info and " ".join(info.split()) != MARKER:
            raise RunbookError(f"{where}: info string {info!r}: a runnable block is fenced as ```{MARKER}")
        body, start = [], number
        while number < len(lines):
            closing = FENCE.match(lines[number])
            number += 1
            same = closing and closing["fence"][0] == fence[0] and len(closing["fence"]) >= len(fence)
            if same and not closing["info"].strip():
                break
            body.append(lines[number - 1])
        else:
            if " ".join(info.split()) == MARKER:
                raise RunbookError(f"{where}: the runnable block is not closed")
        if " ".join(info.split()) != MARKER:
            continue
        commands = []
        for offset, raw in enumerate(body, start=start + 1):
            line = raw.strip()
            if not line:
                continue
            if not line.startswith(PROMPT) or not line[len(PROMPT) :].strip():
                raise RunbookError(f"{path}:{offset}: a runnable block holds only `$ <command>` lines, not {line!r}")
            command = line[len(PROMPT) :].strip()
            if command.endswith("\\"):
                raise RunbookError(f"{path}:{offset}: one command per line, without continuation: {line!r}")
            commands.append(command)
        if not commands:
            raise RunbookError(f"{where}: the runnable block holds no command")
        blocks.append(Block(path, start, tuple(commands)))
    return blocks


def runbooks(root=ROOT):
    """docs/runbooks' files in the order their blocks run: README.md (the first look) first, then by name."""
    folder = Path(root) / "docs" / "runbooks"
    return sorted(folder.glob("*.md"), key=lambda p: (p.name != "README.md", p.name))


def collect(root=ROOT):
    """Every runnable block of docs/runbooks/*.md, in the order of runbooks()."""
    root = Path(root)
    return [
        block for path in runbooks(root) for block in extract(path.read_text(encoding="utf-8"), path.relative_to(root))
    ]


def parse(command):
    """What an `ansible` or `ansible-playbook` command names: program, playbook, pattern, module,
    inventories, extra vars (name -> value) and limit. A `$(...)` substitution counts as one word."""
    words = shlex.split(re.sub(r"\$\([^()]*\)", "SUBSTITUTION", command), comments=True)
    if not words or words[0] not in ("ansible", "ansible-playbook"):
        raise RunbookError(f"not an ansible or ansible-playbook command: {command!r}")
    parsed = {"program": words[0], "positional": [], "inventories": [], "extra_vars": {}, "module": None}
    index = 1
    while index < len(words):
        word = words[index]
        option, equals, inline = word.partition("=")
        if word.startswith("-") and option in VALUE_OPTIONS:
            if equals:
                value = inline
            elif index + 1 < len(words):
                index += 1
                value = words[index]
            else:
                raise RunbookError(f"{word} without a value in {command!r}")
            if option in ("-i", "--inventory"):
                parsed["inventories"].append(value)
            elif option in ("-e", "--extra-vars"):
                if value.startswith(("@", "{")):
                    raise RunbookError(f"extra vars as name=value only, not {value!r}, in {command!r}")
                for pair in shlex.split(value):
                    name, _equals, var_value = pair.partition("=")
                    parsed["extra_vars"][name] = var_value
            elif option in ("-m", "--module-name"):
                parsed["module"] = value
        elif word.startswith("-"):
            pass  # a flag: --check, --diff, -b, -v...
        else:
            parsed["positional"].append(word)
        index += 1
    return parsed


def main():
    for block in collect():
        print(f"{block.name}")
        for command in block.commands:
            print(f"  {PROMPT}{command}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
