# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_readable: which extension modules of a tree an account could not load, judged from the modes as the
kernel judges them (checked against a real open by that account where the test runs as root)."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._readable import account, allowed, refusal, unloadable

NOBODY = pwd.getpwnam("nobody")


@pytest.fixture
def public_dir():
    """A directory any account may enter (pytest's tmp_path is under one only root may enter)."""
    here = Path(tempfile.mkdtemp(prefix="pyops-readable-"))
    here.chmod(0o755)
    yield here
    shutil.rmtree(here, ignore_errors=True)


def make(path, mode, uid=None, gid=None, content=b"\x7fELF"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    path.chmod(mode)
    if uid is not None or gid is not None:
        os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    return path


@pytest.fixture
def venv(tmp_path):
    top = tmp_path / "venv"
    site = top / "lib" / "python3.13" / "site-packages"
    make(site / "markupsafe" / "_speedups.cpython-313-x86_64-linux-gnu.so", 0o644)
    make(site / "markupsafe" / "__init__.py", 0o644)
    for directory in (tmp_path, top, top / "lib", top / "lib" / "python3.13", site, site / "markupsafe"):
        directory.chmod(0o755)
    return top, site


def nobody():
    return NOBODY.pw_uid, {NOBODY.pw_gid}


def test_a_venv_made_readable_loads(venv):
    top, _site = venv
    assert unloadable(str(top), *nobody()) == []


def test_an_extension_left_0640_by_a_hardened_umask_is_named(venv):
    top, site = venv
    speedups = site / "markupsafe" / "_speedups.cpython-313-x86_64-linux-gnu.so"
    speedups.chmod(0o640)  # root:root, as uv's cache left it under umask 0027
    make(site / "markupsafe" / "private.py", 0o600)  # not an extension module: not judged
    assert unloadable(str(top), *nobody()) == [str(speedups)]


def test_the_group_and_the_owner_bits_count_for_their_account(venv):
    top, site = venv
    speedups = site / "markupsafe" / "_speedups.cpython-313-x86_64-linux-gnu.so"
    os.chown(speedups, -1, NOBODY.pw_gid)
    speedups.chmod(0o640)
    assert unloadable(str(top), *nobody()) == []
    os.chown(speedups, NOBODY.pw_uid, 0)
    speedups.chmod(0o400)
    assert unloadable(str(top), *nobody()) == []
    speedups.chmod(0o044)  # the owner's own bits rule for the owner, whatever the others'
    assert unloadable(str(top), *nobody()) == [str(speedups)]


def test_a_directory_the_account_cannot_search_is_named_and_not_entered(venv):
    top, site = venv
    (site / "markupsafe").chmod(0o750)
    assert unloadable(str(top), *nobody()) == [str(site / "markupsafe") + "/"]
    top.chmod(0o700)
    assert str(top) + "/" in unloadable(str(top), *nobody())


def test_links_are_neither_followed_nor_judged(venv, tmp_path):
    top, site = venv
    secret = make(tmp_path / "shadow.so", 0o600)
    os.symlink(secret, site / "shadow.so")
    outside = tmp_path / "outside"
    make(outside / "hidden.so", 0o600)
    outside.chmod(0o700)
    os.symlink(outside, site / "outside")
    assert unloadable(str(top), *nobody()) == []


def test_a_tree_that_is_a_link_is_named_and_not_entered(venv, tmp_path):
    top, _site = venv
    outside = tmp_path / "outside"
    make(outside / "lib" / "hidden.so", 0o600)
    link = tmp_path / "linked-venv"
    os.symlink(outside, link)
    assert unloadable(str(link), *nobody()) == [str(link) + "/"]
    assert unloadable(str(top / "lib" / "python3.13" / "site-packages" / "markupsafe" / "__init__.py"), 0, {0}) == [
        str(top / "lib" / "python3.13" / "site-packages" / "markupsafe" / "__init__.py") + "/"
    ]


def test_root_reads_everything(venv):
    top, site = venv
    (site / "markupsafe").chmod(0o700)
    assert unloadable(str(top), 0, {0}) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="judging another account's access against a real open needs root")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o600, 0o444, 0o400, 0o040, 0o004])
@pytest.mark.parametrize("owned_by_nobody", [False, True])
def test_the_judgement_is_the_kernels(public_dir, mode, owned_by_nobody):
    path = make(public_dir / "m.so", mode, uid=NOBODY.pw_uid if owned_by_nobody else 0, gid=NOBODY.pw_gid)
    pid = os.fork()
    if pid == 0:  # as nobody: can it open the file?
        try:
            os.setgroups([])
            os.setgid(NOBODY.pw_gid)
            os.setuid(NOBODY.pw_uid)
            os.close(os.open(path, os.O_RDONLY))
            os._exit(0)
        except OSError:
            os._exit(1)
    opened = os.waitpid(pid, 0)[1] == 0
    assert allowed(os.stat(path), *nobody(), 0o4) == opened


def test_the_account_has_its_primary_and_listed_groups():
    uid, gids = account("root")
    assert uid == 0 and 0 in gids
    listed = {g.gr_gid for g in grp.getgrall() if "root" in g.gr_mem}
    assert listed <= gids
    uid, gids = account("nobody")
    assert (uid, NOBODY.pw_gid in gids) == (NOBODY.pw_uid, True)
    with pytest.raises(KeyError):
        account("no-such-user-pyops")


def test_the_refusal_names_a_few_and_counts_the_rest():
    paths = [f"/v/m{i}.so" for i in range(7)]
    message = refusal("/v", "shop", paths)
    assert message.startswith("7 extension module(s) or directories of /v are not readable by shop")
    assert "/v/m4.so and 2 more" in message and "/v/m5.so" not in message
