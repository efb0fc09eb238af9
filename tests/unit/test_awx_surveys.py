"""The AWX job templates of awx/ against the playbooks and roles they run.

No controller runs here: this checks the data awx/configure_controller.yml sends. Every playbook
has a template and every template's playbook exists; each survey is a valid survey_spec whose
variables the template's playbook reads (a role entry point's argument spec or defaults), with a
type and required-ness that agree with the argument spec.
"""

from pathlib import Path

import pytest
import yaml
from ansible.module_utils.parsing.convert_bool import BOOLEANS

ROOT = Path(__file__).resolve().parents[2]
AWX = ROOT / "awx"
TEMPLATES = yaml.safe_load((AWX / "vars" / "job_templates.yml").read_text())["awx_job_templates"]
SURVEYED = [t for t in TEMPLATES if "survey" in t]
QUESTION_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
ROLE_KEYS = ("ansible.builtin.include_role", "ansible.builtin.import_role")


def load(path):
    return yaml.safe_load(path.read_text())


def survey(template):
    return load(AWX / "surveys" / f"{template['survey']}.yml")


def entry_points(playbook):
    """The (role, entry point) pairs a playbook runs, following import_playbook."""
    found = set()
    for play in load(playbook):
        if "ansible.builtin.import_playbook" in play:
            found |= entry_points(playbook.parent / play["ansible.builtin.import_playbook"])
            continue
        for role in play.get("roles", []):
            found.add(((role["role"] if isinstance(role, dict) else role), "main"))
        for task in play.get("pre_tasks", []) + play.get("tasks", []) + play.get("post_tasks", []):
            for key in ROLE_KEYS:
                if key in task:
                    found.add((task[key]["name"], task[key].get("tasks_from", "main")))
    return {(name.removeprefix("pyops.deploy."), entry) for name, entry in found}


def play_vars(playbook):
    """The variables a playbook's plays declare with a default (a survey may set them)."""
    return {name for play in load(playbook) for name in play.get("vars", {})}


def role_options(playbook):
    """Variable name -> its argument spec (or {} for a default without one), over the entry points and
    the plays' own variables."""
    options = dict.fromkeys(play_vars(playbook), {})
    for role, entry in entry_points(playbook):
        role_dir = ROOT / "roles" / role
        defaults = role_dir / "defaults" / "main.yml"
        options.update(dict.fromkeys(load(defaults) or {}, {}) if defaults.exists() else {})
        specs = load(role_dir / "meta" / "argument_specs.yml")["argument_specs"]
        options.update(specs[entry].get("options", {}))
    return options


def test_every_playbook_has_a_template():
    playbooks = {str(p.relative_to(ROOT)) for p in (ROOT / "playbooks").glob("*.yml")}
    assert {t["playbook"] for t in TEMPLATES} == playbooks


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t["name"])
def test_template_playbook_is_in_the_project(template):
    playbook = ROOT / template["playbook"]
    assert playbook.is_file(), f"{template['playbook']} is not in the project"
    assert all("hosts" in play or "ansible.builtin.import_playbook" in play for play in load(playbook))


def test_template_names_and_surveys_are_unique():
    assert len({t["name"] for t in TEMPLATES}) == len(TEMPLATES)
    used = {f"{t['survey']}.yml" for t in SURVEYED}
    assert used == {p.name for p in (AWX / "surveys").glob("*.yml")}, "a survey file no template uses"


@pytest.mark.parametrize("template", SURVEYED, ids=lambda t: t["name"])
def test_survey_is_a_valid_spec(template):
    spec = survey(template)
    assert spec["name"] and spec["description"] and spec["spec"]
    variables = [q["variable"] for q in spec["spec"]]
    assert len(set(variables)) == len(variables)
    for question in spec["spec"]:
        assert {"question_name", "variable", "type", "required"} <= question.keys(), question
        assert question["type"] in QUESTION_TYPES
        if question["type"] in {"multiplechoice", "multiselect"}:
            assert question["choices"], question
            assert question.get("default", "") in ["", *question["choices"]], question
        if question["type"] == "text":
            assert 0 <= question["min"] <= question["max"], question
            assert question["min"] <= len(question.get("default", "")) or question["required"], question


@pytest.mark.parametrize(
    ("template", "question"),
    [(t, q) for t in SURVEYED for q in survey(t)["spec"]],
    ids=lambda x: x["variable"] if "variable" in x else x["name"],
)
def test_survey_variable_is_read_by_the_playbook(template, question):
    options = role_options(ROOT / template["playbook"])
    name = question["variable"]
    assert name in options, f"{template['playbook']} reads no variable {name}"
    option = options[name]
    if option.get("required"):
        assert question["required"], f"{name} is required by the role: the question must be too"
    if option.get("type") == "bool":
        assert question["type"] == "multiplechoice", name
        assert all(choice in BOOLEANS for choice in question["choices"]), question["choices"]
    elif option.get("type") in {"str", "path", None}:
        assert question["type"] in {"text", "textarea", "password", "multiplechoice"}, name
    else:
        pytest.fail(f"no survey type chosen for {name} of type {option['type']}")
