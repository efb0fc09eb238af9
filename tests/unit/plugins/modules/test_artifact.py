"""Drive ``pyops.deploy.artifact`` end to end through AnsibleModule, for each kind of source."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess

import pytest

from ansible_collections.pyops.deploy.plugins.modules import artifact
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module

RESULT_KEYS = {"sha256", "path", "size", "inline", "content_path", "source"}


@pytest.fixture
def app(tmp_path):
    src = tmp_path / "app"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "__init__.py").write_text("VERSION = 1\n")
    (src / "requirements.txt").write_text("flask\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(src)], check=True)
    identity = ["-c", "user.name=ci", "-c", "user.email=ci@example.org"]
    subprocess.run(["git", *identity, "-C", str(src), "add", "-A"], check=True)
    subprocess.run(["git", *identity, "-C", str(src), "commit", "-qm", "v1"], check=True)
    return src


@pytest.fixture
def run(capsys, tmp_path):
    def run(check=False, **args):
        args.setdefault("cache", str(tmp_path / "cache"))
        return run_module(artifact, capsys, args, check=check)

    return run


def sources(tmp_path, app):
    archive = tmp_path / "build.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(app), "."], check=True)
    wheel = tmp_path / "app-1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    return {
        "dir": ({"src": str(app)}, f"dir:{app}"),
        "archive": ({"src": str(archive)}, f"archive:{archive}"),
        "wheel": ({"src": str(wheel), "requirements": str(app / "requirements.txt")}, f"wheel:{wheel}"),
        "git": ({"src": f"file://{app}", "git_ref": "main"}, f"git:file://{app}@main"),
    }


@pytest.mark.parametrize("kind", ["dir", "archive", "wheel", "git"])
def test_each_kind_packs_the_same_in_check_mode_and_never_reports_a_change(run, tmp_path, app, kind):
    options, source = sources(tmp_path, app)[kind]
    checked = run(check=True, kind=kind, inline_max=1 << 20, **options)
    real = run(kind=kind, inline_max=1 << 20, **options)
    again = run(kind=kind, inline_max=1 << 20, **options)
    for result in (checked, real, again):
        assert result["changed"] is False
        assert {key: result[key] for key in RESULT_KEYS} == {key: real[key] for key in RESULT_KEYS}
    assert real["source"] == source
    assert real["path"] == str(tmp_path / "cache" / f"{real['sha256']}.tar.gz")
    assert real["inline"] is True and real["content_path"] == real["path"] + ".b64"
    assert real["size"] == os.path.getsize(real["path"])
    assert stat.S_IMODE(os.stat(tmp_path / "cache").st_mode) == 0o700
    # Each call names a new run: two deploys of the same code never share the lock's run id.
    run_ids = {result["run_id"] for result in (checked, real, again)}
    assert len(run_ids) == 3 and all(re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{12}", r) for r in run_ids), run_ids


def test_a_large_tarball_has_no_inline_copy(run, app):
    result = run(kind="dir", src=str(app), inline_max=10)
    assert (result["inline"], result["content_path"]) == (False, None)
    assert not os.path.exists(result["path"] + ".b64")


def test_credentials_in_a_git_url_appear_nowhere_in_the_result(capsys, tmp_path):
    args = {"cache": str(tmp_path / "cache"), "kind": "git", "src": "https://user:s3cret@127.0.0.1:9/x.git"}
    result = run_module(artifact, capsys, args)
    assert result["failed"] is True
    assert "s3cret" not in json.dumps(result)
    assert result["source"] == "git:https://127.0.0.1:9/x.git@HEAD"
    assert "git clone failed" in result["msg"]


def test_a_token_in_a_git_url_appears_nowhere_in_the_result(capsys, tmp_path):
    args = {"cache": str(tmp_path / "cache"), "kind": "git", "src": "https://ghp_t0ken@127.0.0.1:9/x.git"}
    result = run_module(artifact, capsys, args)
    assert "ghp_t0ken" not in json.dumps(result)


def test_bad_input_fails_with_the_reason(run, tmp_path):
    result = run(kind="dir", src=str(tmp_path / "missing"))
    assert result["failed"] is True
    assert "is not a directory" in result["msg"]
