# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""plugins/module_utils/_venv/requires.py: a project's requires-python against the interpreter."""

from __future__ import annotations

import platform

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._venv import requires
from ansible_collections.pyops.deploy.plugins.module_utils._venv.common import VenvError

SECRET = "root:$6$TOPSECRET-HASH$abcdef:19000:0:99999:7:::"
PY311 = {"version": "3.11.2", "path": "/usr/bin/python3.11"}


@pytest.mark.parametrize(
    ("version", "spec", "expected"),
    [
        ("3.11.2", ">=3.12", False),
        ("3.12.0", ">=3.12", True),
        ("3.13.5", ">=3.12", True),
        ("3.11.2", ">=3.11", True),
        ("3.11.2", ">=3.8,<4", True),
        ("3.11.2", ">= 3.8, < 3.11", False),
        ("3.11.2", "==3.11.*", True),
        ("3.12.1", "==3.11.*", False),
        ("3.9.18", ">=3.8, !=3.9.*", False),
        ("3.11.2", "!=3.9.*", True),
        ("3.11.2", "~=3.10", True),
        ("4.0.0", "~=3.10", False),
        ("3.11.2", "~=3.11.3", False),
        ("3.11.4", "~=3.11.3", True),
        ("3.12.1", "==3.12", False),
        ("3.12.0", "==3.12", True),
        ("3.11.2", "<4.0a0", True),
        ("3.13.0rc1", ">=3.13", True),
        ("3.11.2", ">3.11", True),
        ("3.11.0", ">3.11", False),
        ("3.11.2", "<=3.11.2", True),
        ("3.11.2", "", True),
    ],
)
def test_a_specifier_set_is_read_as_pep_440_reads_it_for_an_interpreter(version, spec, expected):
    assert requires.satisfies(version, spec) is expected


@pytest.mark.parametrize("spec", ["3.12", ">=3.x", ">=3.12.*", "~=3", "python>=3"])
def test_a_clause_that_is_no_specifier_is_an_error(spec):
    with pytest.raises(ValueError):
        requires.satisfies("3.11.2", spec)


def write(tmp_path, text):
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    return str(path)


def test_a_release_for_a_newer_python_is_refused_naming_both_versions(tmp_path):
    path = write(tmp_path, '[project]\nname = "shop"\nrequires-python = ">=3.12"\ndependencies = ["django>=6"]\n')
    with pytest.raises(VenvError) as exc:
        requires.check(path, PY311, "/usr/bin/python3")
    msg = str(exc.value)
    assert msg.startswith(f"release needs Python >=3.12, host {platform.node()} has 3.11.2 (/usr/bin/python3;")
    assert f"requires-python in {path}" in msg
    assert "django" not in msg


def test_a_met_missing_or_absent_requirement_passes(tmp_path):
    requires.check(write(tmp_path, '[project]\nrequires-python = ">=3.11"\n'), PY311, "/usr/bin/python3")
    requires.check(write(tmp_path, '[project]\nname = "shop"\n[tool.x]\nrequires-python = ">=9"\n'), PY311, "/p")
    requires.check(write(tmp_path, '[build-system]\nrequires = ["setuptools"]\n'), PY311, "/p")
    requires.check(str(tmp_path / "none" / "pyproject.toml"), PY311, "/p")


def test_a_symlinked_pyproject_is_refused_and_its_target_never_shown(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text(SECRET + "\n")
    link = tmp_path / "release" / "pyproject.toml"
    link.parent.mkdir()
    link.symlink_to(secret)
    with pytest.raises(VenvError) as exc:
        requires.check(str(link), PY311, "/p")
    assert "it is a symlink" in str(exc.value)
    assert "TOPSECRET" not in str(exc.value) and "shadow" not in str(exc.value)
    dangling = tmp_path / "release2" / "pyproject.toml"
    dangling.parent.mkdir()
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(VenvError, match="it is a symlink"):
        requires.check(str(dangling), PY311, "/p")


def test_what_is_not_a_specifier_is_never_quoted(tmp_path):
    with pytest.raises(VenvError) as exc:
        requires.check(write(tmp_path, f'[project]\nrequires-python = "{SECRET}"\n'), PY311, "/p")
    assert "is not a version specifier" in str(exc.value) and "TOPSECRET" not in str(exc.value)
    with pytest.raises(VenvError, match="is not a string"):
        requires.check(write(tmp_path, "[project]\nrequires-python = 3\n"), PY311, "/p")
    with pytest.raises(VenvError) as exc:
        requires.check(write(tmp_path, f"[project]\n{SECRET}\n"), PY311, "/p")
    assert "is not valid TOML" in str(exc.value) and "TOPSECRET" not in str(exc.value)


def test_the_fallback_reader_finds_the_project_tables_key_only():
    text = (
        '[tool.poetry]\nrequires-python = ">=9"\n[project] # the app\nname = "x"\n'
        "requires-python = '>=3.10'  # comment\n[[tool.list]]\nrequires-python = \">=8\"\n"
    )
    assert requires.fallback_requires_python(text) == ">=3.10"
    assert requires.fallback_requires_python('[project]\nname = "x"\n') is None
    assert requires.fallback_requires_python('requires-python = ">=3.12"\n') is None


def test_without_tomllib_the_fallback_reader_decides_the_same(tmp_path, monkeypatch):
    monkeypatch.setattr(requires, "tomllib", None)
    with pytest.raises(VenvError, match="^release needs Python >=3.12, host "):
        requires.check(write(tmp_path, '[project]\nrequires-python = ">=3.12"\n'), PY311, "/p")
    requires.check(write(tmp_path, '[project]\nrequires-python = ">=3.11"\n'), PY311, "/p")
