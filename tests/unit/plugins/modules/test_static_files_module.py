# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Drive ``pyops.deploy.static_files`` through AnsibleModule: pack on the app host, merge on the proxy."""

from __future__ import annotations

import os

import pytest

from ansible_collections.pyops.deploy.plugins.modules import static_files
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module

SECRET = "root:$y$j9T$module-test:19000:0:99999:7:::"


@pytest.fixture
def shared(tmp_path):
    static = tmp_path / "shared" / "staticfiles" / "css"
    static.mkdir(parents=True)
    (static / "app.3f2a.css").write_text("body{}\n")
    return tmp_path / "shared"


@pytest.fixture
def run(capsys):
    def run(check=False, diff=False, **args):
        return run_module(static_files, capsys, args, check=check, diff=diff)

    return run


def test_pack_then_check_merge_check_merge_again(run, shared, tmp_path):
    packed = run(state="packed", path=str(shared), subdir="staticfiles", dest_dir=str(tmp_path))
    assert not packed["changed"] and packed["files"] == 1 and os.path.isfile(packed["dest"])
    proxy = str(tmp_path / "proxy")
    check = run(check=True, diff=True, state="merged", src=packed["dest"], path=proxy)
    assert check["changed"] and "+ css/app.3f2a.css" in check["diff"]["after"] and not os.path.exists(proxy)
    merged = run(state="merged", src=packed["dest"], path=proxy)
    assert merged["changed"] and "diff" not in merged  # no --diff, no diff
    assert (tmp_path / "proxy" / "css" / "app.3f2a.css").read_text() == "body{}\n"
    assert not run(check=True, state="merged", src=packed["dest"], path=proxy)["changed"]
    assert not run(state="merged", src=packed["dest"], path=proxy)["changed"]


def test_a_link_fails_the_task_naming_its_path_only(run, shared, tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text(SECRET)
    (shared / "staticfiles" / "css" / "shadow.css").symlink_to(secret)
    failed = run(state="packed", path=str(shared), subdir="staticfiles", dest_dir=str(tmp_path))
    assert failed["failed"] and "refused css/shadow.css: it is a symbolic link" in failed["msg"]
    assert SECRET not in str(failed) and str(secret) not in str(failed)


def test_merge_needs_its_src(run, tmp_path):
    failed = run(state="merged", path=str(tmp_path / "proxy"))
    assert failed["failed"] and "src" in failed["msg"]
