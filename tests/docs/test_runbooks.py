"""The runbooks' runnable blocks (docs/runbooks/*.md, fenced ```console runnable) parse, and name only
playbooks, modules and variables that exist: a renamed playbook or variable fails here, at once,
rather than in the end-to-end run (tests/e2e/test_3_runbooks.py), which runs every block.
"""

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("runbook_blocks", ROOT / "tools" / "runbook_blocks.py")
runbook_blocks = importlib.util.module_from_spec(_spec)
sys.modules["runbook_blocks"] = runbook_blocks  # dataclasses look their module up
_spec.loader.exec_module(runbook_blocks)

BLOCKS = runbook_blocks.collect(ROOT)
COMMANDS = [(block, command) for block in BLOCKS for command in block.commands]


def command_id(value):
    return value.name if isinstance(value, runbook_blocks.Block) else value.split(" -i ")[0]


def known_variables():
    """Role options (meta/argument_specs.yml) and the variables the playbooks name themselves."""
    names = set()
    for spec in ROOT.glob("roles/*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            names.update(entry.get("options", {}))
    for playbook in ROOT.glob("playbooks/*.yml"):
        names.update(re.findall(r"\b[a-z][a-z0-9_]*\b", playbook.read_text()))
    return names


def module_exists(fqcn):
    namespace, collection, name = fqcn.split(".", 2)
    if (namespace, collection) == ("pyops", "deploy"):
        return (ROOT / "plugins" / "modules" / f"{name}.py").is_file()
    if (namespace, collection) == ("ansible", "builtin"):
        import ansible.modules

        return (Path(ansible.modules.__file__).parent / f"{name}.py").is_file()
    # Another collection: installed beside ansible-core (the `ansible` package) or in a collections path.
    return any(
        Path(entry, "ansible_collections", namespace, collection, "plugins", "modules", f"{name}.py").is_file()
        for entry in sys.path
    )


SAMPLE = """\
Text, then an indented block in a list item:

- step

  ```console runnable
  $ ansible-playbook pyops.deploy.status -i inventories/sandbox

  $ ansible-playbook pyops.deploy.deploy -i inventories/sandbox -e deploy_release=rb-$(date -u +%s)
  ```

````markdown
```console runnable
$ inside another block: an example, not a runnable block
```
````

```console
$ ansible-playbook pyops.deploy.deploy -i inventories/prod
```

~~~console   runnable
$ ansible all -i inventories/sandbox -m ansible.builtin.ping
~~~
"""


def test_extraction_finds_each_runnable_block_and_command_in_order():
    blocks = runbook_blocks.extract(SAMPLE, Path("sample.md"))
    assert [(b.line, b.commands) for b in blocks] == [
        (
            5,
            (
                "ansible-playbook pyops.deploy.status -i inventories/sandbox",
                "ansible-playbook pyops.deploy.deploy -i inventories/sandbox -e deploy_release=rb-$(date -u +%s)",
            ),
        ),
        (21, ("ansible all -i inventories/sandbox -m ansible.builtin.ping",)),
    ]
    assert blocks[0].name == "sample.md:5"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("```console runable\n$ true\n```\n", None),  # no "runnable" in it: an ordinary block
        ("```console-runnable\n$ true\n```\n", "a runnable block is fenced as"),
        ("```runnable console\n$ true\n```\n", "a runnable block is fenced as"),
        ("```console runnable\n$ true\n", "not closed"),
        ("```console runnable\n$ true\nok: sample output\n```\n", "only `$ <command>` lines"),
        ("```console runnable\n```\n", "holds no command"),
        ("```console runnable\n$ \n```\n", "only `$ <command>` lines"),
        ("```console runnable\n$ ansible-playbook x \\\n$   -i y\n```\n", "without continuation"),
    ],
)
def test_a_block_that_breaks_the_rules_is_refused_not_skipped(text, message):
    if message is None:
        assert runbook_blocks.extract(text) == []
    else:
        with pytest.raises(runbook_blocks.RunbookError, match=re.escape(message)):
            runbook_blocks.extract(text)


def test_the_runbooks_have_runnable_blocks():
    """Every runbook README.md lists; those that act on hosts have at least one block to run."""
    names = {block.path.name for block in BLOCKS}
    assert BLOCKS[0].path.name == "README.md", "the first look (status) runs first"
    for runbook in ("deploy.md", "rollback.md", "stuck_lock.md", "host_out_of_upstream.md", "disk_full.md"):
        assert runbook in names, runbook
    listed = re.findall(r"\]\(([a-z_]+\.md)\)", (ROOT / "docs" / "runbooks" / "README.md").read_text())
    assert sorted(listed) == sorted(p.name for p in runbook_blocks.runbooks(ROOT) if p.name != "README.md")


@pytest.mark.parametrize(("block", "command"), COMMANDS, ids=command_id)
def test_a_runnable_command_names_the_sandbox_and_what_exists(block, command):
    parsed = runbook_blocks.parse(command)
    # The end-to-end test maps exactly this onto its copy of the sandbox inventory.
    assert command.count(runbook_blocks.SANDBOX) == 1, f"{block.name}: {command}"
    assert parsed["inventories"] == ["inventories/sandbox"], f"{block.name}: {command}"
    assert not re.search(r"[|;&<>`]", re.sub(r"\$\([^()]*\)", "", command)), f"{block.name}: one command, {command}"
    if parsed["program"] == "ansible-playbook":
        (playbook,) = parsed["positional"]
        fqcn = re.fullmatch(r"pyops\.deploy\.([a-z_]+)", playbook)
        path = ROOT / "playbooks" / f"{fqcn[1]}.yml" if fqcn else ROOT / playbook
        assert path.is_file(), f"{block.name}: no playbook {playbook} ({path.relative_to(ROOT)})"
    else:
        (pattern,) = parsed["positional"]
        groups = yaml.safe_load((ROOT / "inventories" / "sandbox" / "hosts.yml").read_text())["all"]["children"]
        assert pattern in {"all", *groups}, f"{block.name}: no group {pattern} in inventories/sandbox"
        module = parsed["module"]
        assert module and module.count(".") >= 2, f"{block.name}: a module by FQCN: {command}"
        assert module_exists(module), f"{block.name}: no module {module}"
    unknown = set(parsed["extra_vars"]) - known_variables()
    assert not unknown, f"{block.name}: variables no role or playbook reads: {sorted(unknown)}"
