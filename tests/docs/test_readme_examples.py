"""Every role's README has exactly one marked minimal example (tools/readme_examples.py), a playbook
that applies that role to `all` and names only variables that exist: molecule/alone applies each one
as it is, alone, to a one-host inventory with no group, so a renamed variable or a play aimed at a
group fails here first, without hosts.
"""

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("readme_examples", ROOT / "tools" / "readme_examples.py")
readme_examples = importlib.util.module_from_spec(_spec)
sys.modules["readme_examples"] = readme_examples
_spec.loader.exec_module(readme_examples)

ROLES = sorted(path.name for path in (ROOT / "roles").iterdir() if (path / "README.md").is_file())
PLAY_KEYS = {"name", "hosts", "become", "gather_facts", "roles", "tasks", "vars", "serial", "pre_tasks", "post_tasks"}


def role_options():
    names = set()
    for spec in ROOT.glob("roles/*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            names.update(entry.get("options", {}))
    return names


def role_uses(play):
    """(role FQCN, its vars) for each role a play applies, by `roles:` or include_role/import_role."""
    for entry in play.get("roles", []):
        yield (entry if isinstance(entry, str) else entry.get("role", entry.get("name"))), entry.get("vars", {})
    for task in play.get("tasks", []):
        for action in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
            if action in task:
                yield task[action]["name"], task.get("vars", {})


def test_every_role_is_in_the_order_molecule_alone_applies():
    assert sorted(readme_examples.ORDER) == ROLES


@pytest.mark.parametrize("role", ROLES)
def test_the_readme_has_one_minimal_example_that_is_a_playbook_for_the_role_alone(role):
    plays = yaml.safe_load(readme_examples.example(role))
    assert isinstance(plays, list) and plays, "the example must be a playbook: a list of plays"
    for play in plays:
        assert isinstance(play, dict) and "hosts" in play, f"not a play: {play}"
        assert set(play) <= PLAY_KEYS, f"unexpected play keys {set(play) - PLAY_KEYS}"
    uses = [use for play in plays for use in role_uses(play)]
    assert f"pyops.deploy.{role}" in [use[0] for use in uses]
    # Applied alone to a one-host inventory with no group: the role's own play must reach that host.
    assert any(
        play["hosts"] == "all" and f"pyops.deploy.{role}" in [use[0] for use in role_uses(play)] for play in plays
    ), "the play applying the role must target `all`: a one-host inventory has no group"
    options = role_options()
    for name, variables in uses:
        unknown = set(variables) - options
        assert not unknown, f"{name} is given variables no role knows: {sorted(unknown)}"


GOOD = f"""# role

{readme_examples.MARKER}
```yaml
- hosts: all
  roles: [pyops.deploy.x]
```

```yaml
- hosts: other
```
"""


def test_extract_takes_the_block_after_the_marker():
    assert readme_examples.extract(GOOD) == "- hosts: all\n  roles: [pyops.deploy.x]\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("# role\n\n```yaml\n- hosts: all\n```\n", "0 lines"),
        (GOOD + GOOD, "2 lines"),
        (GOOD.replace("```yaml\n- hosts: all", "```sh\n- hosts: all", 1), "open a ```yaml block"),
        (GOOD.replace("\n```yaml\n- hosts: all", "\n\n```yaml\n- hosts: all", 1), "open a ```yaml block"),
        (GOOD.replace(readme_examples.MARKER + "\n", readme_examples.MARKER + " text\n"), "a line of its own"),
    ],
)
def test_extract_refuses_a_missing_repeated_or_misplaced_marker(text, says):
    with pytest.raises(readme_examples.ExampleError, match=says):
        readme_examples.extract(text)
