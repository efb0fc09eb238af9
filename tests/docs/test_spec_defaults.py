"""Each role's defaults/main.yml and its meta/argument_specs.yml say the same default.

The README's variable table is generated from the spec, while the role runs with defaults/main.yml:
a default changed in one place only makes the README lie (hardening_system_packages once installed
cron although its spec and README did not list it).
"""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def cases():
    for spec_file in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        role = spec_file.parents[1]
        defaults_file = role / "defaults" / "main.yml"
        defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
        for entry, spec in yaml.safe_load(spec_file.read_text())["argument_specs"].items():
            for name, option in (spec.get("options") or {}).items():
                if name not in (defaults or {}):
                    continue
                value = defaults[name]
                # A default computed from other variables cannot be written in the spec as it is.
                if isinstance(value, str) and "{{" in value:
                    continue
                # A large value (app_server_sandbox) the spec's description sends the reader to instead.
                if "default" not in option and "defaults/main.yml" in " ".join(option.get("description") or []):
                    continue
                yield pytest.param(option, value, id=f"{role.name}:{entry}:{name}")


@pytest.mark.parametrize(("option", "value"), list(cases()))
def test_the_spec_gives_the_default_the_role_runs_with(option, value):
    assert "default" in option, f"defaults/main.yml sets {value!r}; the spec gives no default"
    assert option["default"] == value
