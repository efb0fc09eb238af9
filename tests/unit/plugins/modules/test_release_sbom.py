# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Drive ``pyops.deploy.release_sbom`` through AnsibleModule, and the SBOM fields of ``release_info``."""

from __future__ import annotations

import hashlib
import json
import stat

import pytest

from ansible_collections.pyops.deploy.plugins.modules import release_info, release_sbom
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module


@pytest.fixture
def app(tmp_path):
    """An app root with release v1 whose virtualenv holds two distributions."""
    root = tmp_path / "app"
    release = root / "releases" / "v1"
    site = release / "venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    for name, version in (("Flask", "3.1.3"), ("werkzeug", "3.1.9")):
        (site / f"{name}-{version}.dist-info").mkdir()
        (site / f"{name}-{version}.dist-info" / "METADATA").write_text(f"Name: {name}\nVersion: {version}\n")
    return root


def args(root, **extra):
    release = root / "releases" / "v1"
    base = {"release_dir": str(release), "venv": str(release / "venv"), "app": "sample", "release": "v1"}
    audit = {"audit_root": str(root), "run_id": "run-1", "lock_owner": "me@ctl", "source": "git:https://tok@git/x@v1"}
    return dict(base, **audit, **extra)


def audit_lines(root):
    path = root / "deploy-audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_check_run_check_again_run_again(app, capsys):
    sbom = app / "releases" / "v1" / ".pyops-sbom.cdx.json"
    checked = run_module(release_sbom, capsys, args(app), check=True, diff=True)
    assert checked["changed"] is True
    assert checked["diff"]["after"] == "flask==3.1.3\nwerkzeug==3.1.9\n"
    assert not sbom.exists() and audit_lines(app) == []

    done = run_module(release_sbom, capsys, args(app))
    assert done["changed"] is True
    assert done["packages"] == ["Flask==3.1.3", "werkzeug==3.1.9"] and done["components"] == 2
    data = sbom.read_bytes()
    assert done["sha256"] == hashlib.sha256(data).hexdigest()
    assert stat.S_IMODE(sbom.stat().st_mode) == 0o644
    assert [c["name"] for c in json.loads(data)["components"]] == ["Flask", "werkzeug"]
    (line,) = audit_lines(app)
    assert line["action"] == "sbom" and line["release"] == "v1" and line["run_id"] == "run-1"
    assert line["details"]["sbom_sha256"] == done["sha256"]
    assert line["source"] == "git:https://***@git/x@v1"

    assert run_module(release_sbom, capsys, args(app), check=True)["changed"] is False
    again = run_module(release_sbom, capsys, args(app))
    assert again["changed"] is False and again["sha256"] == done["sha256"]
    assert sbom.read_bytes() == data
    assert len(audit_lines(app)) == 1


def test_a_changed_virtualenv_rewrites_the_document(app, capsys):
    first = run_module(release_sbom, capsys, args(app))
    site = app / "releases" / "v1" / "venv" / "lib" / "python3.11" / "site-packages"
    (site / "click-8.5.1.dist-info").mkdir()
    (site / "click-8.5.1.dist-info" / "METADATA").write_text("Name: click\nVersion: 8.5.1\n")
    second = run_module(release_sbom, capsys, args(app), diff=True)
    assert second["changed"] is True and second["sha256"] != first["sha256"]
    assert "click==8.5.1" in second["diff"]["after"] and "click" not in second["diff"]["before"]
    assert [line["details"]["sbom_sha256"] for line in audit_lines(app)] == [first["sha256"], second["sha256"]]


def test_no_virtualenv_fails_and_writes_nothing(app, capsys):
    result = run_module(release_sbom, capsys, args(app, venv=str(app / "nothing")))
    assert result["failed"] and "not a virtualenv" in result["msg"]
    assert not (app / "releases" / "v1" / ".pyops-sbom.cdx.json").exists()


def test_release_info_returns_the_digest_and_a_package_version(app, capsys):
    before = run_module(release_info, capsys, {"path": str(app), "sbom_package": "flask"})
    # No records yet: the directory is an untracked release, without an SBOM.
    (view,) = before["releases"]
    assert view["sbom_sha256"] is None and view["sbom_package_version"] is None
    done = run_module(release_sbom, capsys, args(app))
    after = run_module(release_info, capsys, {"path": str(app), "sbom_package": "FLASK"})
    assert after["releases"][0]["sbom_sha256"] == done["sha256"]
    assert after["releases"][0]["sbom_package_version"] == "3.1.3"
    plain = run_module(release_info, capsys, {"path": str(app)})
    assert "sbom_package_version" not in plain["releases"][0]
