# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The tree helpers of ``_proxy_config`` on their own: copy, compare, swap, lock."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._proxy_config import (
    ProxyConfigError,
    copy_tree,
    differences,
    exclusive_lock,
    parse_mode,
    put_back,
    read_tree,
    site_record,
    swap_in,
)


@pytest.fixture
def src(tmp_path):
    root = tmp_path / "src"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.conf").write_text("a\n")
    (root / "link").symlink_to("sub/a.conf")
    os.chown(root / "sub" / "a.conf", 1, 1)
    return root


def test_copy_tree_keeps_links_modes_and_owners(src, tmp_path):
    dst = tmp_path / "dst"
    copy_tree(str(src), str(dst))
    assert os.readlink(dst / "link") == "sub/a.conf"
    assert os.stat(dst / "sub" / "a.conf").st_uid == 1
    assert differences(read_tree(str(src)), read_tree(str(dst))) == []


def test_differences_see_content_mode_links_and_missing_trees(src, tmp_path):
    dst = tmp_path / "dst"
    copy_tree(str(src), str(dst))
    (dst / "link").unlink()
    (dst / "link").symlink_to("elsewhere")
    (dst / "sub" / "a.conf").chmod(0o640)
    (dst / "new").write_text("")
    assert differences(read_tree(str(src)), read_tree(str(dst))) == ["link", "new", "sub/a.conf"]
    assert read_tree(str(tmp_path / "none")) is None
    assert differences(None, read_tree(str(src))) == ["link", "sub", "sub/a.conf"]


def test_swap_in_replaces_the_live_tree_and_leaves_no_leftovers(src, tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    (live / "old.conf").write_text("old\n")
    swap_in(str(src), str(live))
    assert differences(read_tree(str(src)), read_tree(str(live))) == []
    assert sorted(os.listdir(tmp_path)) == ["live", "src"]


def test_a_missing_lock_file_is_not_created_without_create(tmp_path):
    with exclusive_lock(str(tmp_path / "apply.lock"), 1, create=False):
        pass
    assert not (tmp_path / "apply.lock").exists()
    with exclusive_lock(str(tmp_path / "apply.lock"), 1):
        assert (tmp_path / "apply.lock").read_text() == f"{os.getpid()}\n"


@pytest.mark.parametrize("mode", ["rw-r--r--", "8", "17777", ""])
def test_modes_must_be_octal(mode):
    with pytest.raises(ProxyConfigError):
        parse_mode(mode)


def test_a_site_record_is_the_same_text_for_5_and_the_string_5():
    base = {"server": "nginx", "protocol": "http", "members": [{"host": "app1", "address": "app1:8000"}]}
    as_int = site_record({**base, "connect_timeout": 5, "tries": 2})
    as_text = site_record({**base, "connect_timeout": "5", "tries": "2"})
    assert as_int == as_text
    assert json.loads(as_text)["connect_timeout"] == 5
    with pytest.raises(ProxyConfigError, match="connect_timeout must be an integer"):
        site_record({**base, "connect_timeout": "five"})


def test_put_back_restores_the_tree_swap_in_kept(src, tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    (live / "old.conf").write_text("old\n")
    swap_in(str(src), str(live), keep_old=True)
    assert (live / "sub" / "a.conf").exists() and (tmp_path / "live.old" / "old.conf").exists()
    put_back(str(live))
    assert sorted(os.listdir(tmp_path)) == ["live", "src"]
    assert (live / "old.conf").read_text() == "old\n" and not (live / "sub").exists()
