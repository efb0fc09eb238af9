# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""plugins/module_utils/_venv/state.py and build.py's plan: inputs read safely, digests, the commands."""

from __future__ import annotations

import json
import os
import platform
import sys

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._venv import state
from ansible_collections.pyops.deploy.plugins.module_utils._venv.build import Venv, validate
from ansible_collections.pyops.deploy.plugins.module_utils._venv.common import VenvError

SECRET = "root:$6$TOPSECRET-HASH$abcdef:19000:0:99999:7:::"


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "shadow"
    path.write_text(SECRET + "\n")
    path.chmod(0o600)
    return path


# Reading the inputs


def test_an_input_is_read_whole_as_slurp_decoded_it(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"flask==3.1.3\n# caf\xc3\xa9 \xff\n")
    assert state.read_input(str(path)) == "flask==3.1.3\n# café \udcff\n"


def test_a_symlinked_input_is_refused_without_a_word_of_its_target(tmp_path, secret):
    link = tmp_path / "release" / "requirements.txt"
    link.parent.mkdir()
    link.symlink_to(secret)
    with pytest.raises(VenvError) as exc:
        state.read_input(str(link))
    assert str(exc.value) == f"Refusing to read {link}: it is a symlink; give the file itself"
    assert "TOPSECRET" not in str(exc.value) and "shadow" not in str(exc.value)


def test_only_regular_files_are_read(tmp_path):
    fifo = tmp_path / "requirements.txt"
    os.mkfifo(fifo)  # would block a plain open() for good
    with pytest.raises(VenvError, match="it is not a regular file"):
        state.read_input(str(fifo))
    with pytest.raises(VenvError, match="^Source is a directory and must be a file: "):
        state.read_input(str(tmp_path))
    with pytest.raises(VenvError, match="^File not found: "):
        state.read_input(str(tmp_path / "none"))


def test_a_symlinked_wheel_or_marker_is_not_read(tmp_path, secret):
    (tmp_path / "a.whl").symlink_to(secret)
    assert state.sha256_or_missing(str(tmp_path / "a.whl")) == "missing"
    marker = tmp_path / ".pyops-venv.json"
    marker.symlink_to(secret)
    assert state.read_marker(str(marker)) == {}


def test_the_marker_gives_only_its_known_string_fields(tmp_path):
    marker = tmp_path / ".pyops-venv.json"
    marker.write_text(json.dumps({"python": "3.11.2", "inputs": "abc", "installer": 1, "other": "x"}))
    assert state.read_marker(str(marker)) == {"python": "3.11.2", "inputs": "abc"}
    marker.write_text("not json")
    assert state.read_marker(str(marker)) == {}


def test_the_wheelhouse_lists_regular_visible_archives(tmp_path):
    for name in ("a-1-py3-none-any.whl", "B-1.tar.gz", "c.zip", ".hidden.whl", "notes.txt"):
        (tmp_path / name).write_text("")
    (tmp_path / "d.whl").symlink_to(tmp_path / "c.zip")
    (tmp_path / "e.whl").mkdir()
    assert sorted(state.wheelhouse_names(str(tmp_path))) == ["B-1.tar.gz", "a-1-py3-none-any.whl", "c.zip"]
    assert state.wheelhouse_names("") == [] and state.wheelhouse_names(str(tmp_path / "none")) == []


# Digests: the very ones the role computed with Ansible's filters, so venvs built before stay current


DIGEST_TEXTS = ["flask==3.1.3 --hash=sha256:abc\n# café \udcff\n"]
DIGEST_WHEELHOUSE = ["b.whl", "A.whl", "c.tar.gz"]
# What the role's `to_json | hash('sha256')` gave for these inputs (ansible-core 2.19).
ROLE_DIGEST = "02e7b15070d5776299cfe3cff110d44dc304a34d647d06427e2ffe070612fba3"
MARKER = {"python": "3.11.2", "interpreter": "/usr/bin/python3.11", "inputs": "ab", "installer": "uv"}
MARKER_TEXT = (
    '{\n    "inputs": "ab",\n    "installer": "uv",\n'
    '    "interpreter": "/usr/bin/python3.11",\n    "python": "3.11.2"\n}\n'
)


def module_digest():
    return state.inputs_digest(DIGEST_TEXTS, DIGEST_WHEELHOUSE, ["/w/app.whl", "x"], ["0f" * 32], "uv", "auto", True)


def test_the_inputs_digest_is_the_one_the_role_recorded():
    assert module_digest() == ROLE_DIGEST
    assert state.marker_text(MARKER) == MARKER_TEXT


def test_the_digest_and_marker_match_ansibles_filters():
    # ansible.plugins is there under plain pytest, not in ansible-test's units environment.
    core = pytest.importorskip("ansible.plugins.filter.core")
    role = {
        "files": DIGEST_TEXTS,
        "wheelhouse": sorted(DIGEST_WHEELHOUSE, key=str.lower),
        "packages": ["/w/app.whl", "x"],
        "package_files": ["0f" * 32],
        "installer": "uv",
        "require_hashes": "auto",
        "compile": True,
    }
    assert core.get_hash(core.to_json(role), "sha256") == module_digest() == ROLE_DIGEST
    assert core.to_nice_json(MARKER) + "\n" == state.marker_text(MARKER)


def test_the_interpreter_reports_its_version_and_real_path():
    found = state.interpreter(sys.executable)
    assert found == {"version": platform.python_version(), "path": os.path.realpath(sys.executable)}
    with pytest.raises(VenvError, match="^reading the interpreter failed"):
        state.interpreter("/nonexistent/python3")


# The plan


def params(**extra):
    base = {
        "path": "/srv/app/venv",
        "python": "/usr/bin/python3",
        "owner": None,
        "group": None,
        "requirements": "/srv/app/requirements.txt",
        "require_hashes": "auto",
        "lock": None,
        "packages": [],
        "wheelhouse": None,
        "installer": "uv",
        "uv_version": "0.13.9",
        "uv_dir": "/opt/pyops/uv",
        "cache_dir": "/var/cache/pyops/uv",
        "link_mode": "auto",
        "compile_bytecode": True,
        "bytecode_from": None,
        "index_url": None,
        "extra_index_urls": [],
        "ca_bundle": None,
    }
    base.update(extra)
    return base


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"path": "venv"}, "path must be an absolute path"),
        ({"path": "/"}, "path must be an absolute path"),
        ({"python": "python3"}, "python must be an absolute path"),
        ({"lock": "/srv/app/uv.lock"}, "exclude each other"),
        ({"requirements": None, "lock": "/srv/app/poetry.lock"}, "named uv.lock or pylock"),
        ({"requirements": None, "lock": "/srv/app/uv.lock", "installer": "pip"}, "uv installer only"),
        ({"wheelhouse": "wheels"}, "wheelhouse must be an absolute path"),
    ],
)
def test_bad_options_are_refused(extra, message):
    with pytest.raises(VenvError, match=message):
        validate(params(**extra))


@pytest.mark.parametrize("lock", ["/a/uv.lock", "/a/pylock.toml", "/a/pylock.prod.toml"])
def test_lock_names(lock):
    validate(params(requirements=None, lock=lock))


URL = "https://deploy:s3cr3t@pypi.example.com/simple"
EXTRA = ["https://ci:t0ken@extra.example.com/simple", "https://public.example.com/simple"]


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_index_urls_go_to_the_environment_not_the_command_line(installer):
    venv = Venv(params(installer=installer, index_url=URL, extra_index_urls=EXTRA, packages=["app"]))
    venv.has_hashes, venv.link_mode = True, "hardlink"
    argvs = [argv for _name, argv, _creates in venv.steps()]
    assert len(argvs) == 3
    assert not any("example.com" in arg for argv in argvs for arg in argv)
    env = venv.uv_env() if installer == "uv" else venv.index_env("PIP")
    prefix = installer.upper()
    assert env[prefix + "_INDEX_URL"] == URL
    assert env[prefix + "_EXTRA_INDEX_URL"] == " ".join(EXTRA)


def test_a_wheelhouse_replaces_every_index():
    venv = Venv(params(index_url=URL, wheelhouse="/srv/wheels", ca_bundle="/etc/ca.crt"))
    venv.has_hashes, venv.link_mode = False, "copy"
    name, argv, creates = venv.steps()[1]
    assert name == "uv pip sync" and not creates
    assert argv == [
        "/opt/pyops/uv/0.13.9/bin/uv",
        "pip",
        "sync",
        "--python",
        "/srv/app/venv/bin/python",
        "--compile-bytecode",
        "--no-index",
        "--find-links",
        "/srv/wheels",
        "/srv/app/requirements.txt",
    ]
    env = venv.uv_env()
    assert "UV_INDEX_URL" not in env and env["SSL_CERT_FILE"] == "/etc/ca.crt" and env["UV_LINK_MODE"] == "copy"


def test_a_uv_lock_is_exported_and_synced_with_hashes_and_bytecode_carried():
    venv = Venv(params(requirements=None, lock="/srv/app/uv.lock", bytecode_from="/srv/app/old/venv"))
    venv.has_hashes = False
    steps = {name: argv for name, argv, _creates in venv.steps()}
    assert list(steps) == ["uv venv", "uv export", "uv pip sync"]
    assert "--project=/srv/app" in steps["uv export"]
    assert "--output-file=/srv/app/venv/.pyops-requirements.txt" in steps["uv export"]
    assert steps["uv pip sync"][-2:] == ["--require-hashes", "/srv/app/venv/.pyops-requirements.txt"]
    assert "--compile-bytecode" not in steps["uv pip sync"]  # carried, then compiled by the build


def test_pip_steps_are_the_roles():
    venv = Venv(params(installer="pip", ca_bundle="/etc/ca.crt", compile_bytecode=False, packages=["app"]))
    venv.has_hashes = True
    assert venv.steps() == [
        ("python -m venv", ["/usr/bin/python3", "-m", "venv", "/srv/app/venv"], True),
        (
            "pip install -r",
            ["/srv/app/venv/bin/pip", "install", "--disable-pip-version-check", "--no-input"]
            + ["--cert", "/etc/ca.crt", "--no-compile", "--require-hashes", "-r", "/srv/app/requirements.txt"],
            False,
        ),
        (
            "pip install",
            ["/srv/app/venv/bin/pip", "install", "--disable-pip-version-check", "--no-input"]
            + ["--cert", "/etc/ca.crt", "--no-compile", "app"],
            False,
        ),
    ]
