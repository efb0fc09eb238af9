# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""``pyops.deploy.file_set``'s lines, replacements, validation and backups on an /etc in tmp: check, run, check
again, run again; then the edge cases."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils import _file_set_edits as edits
from ansible_collections.pyops.deploy.plugins.modules import file_set
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import tree as snapshot

ME = str(os.getuid())
MY_GROUP = str(os.getgid())
LOGIN_DEFS = "# Password aging controls:\nPASS_MAX_DAYS\t99999\n#PASS_MIN_DAYS\t0\nUMASK\t\t022\n"
COMMON_AUTH = "auth\t[success=1 default=ignore]\tpam_unix.so nullok\nauth\trequisite\tpam_deny.so\n"


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "login.defs").write_text(LOGIN_DEFS)
    (tmp_path / "etc" / "login.defs").chmod(0o644)
    (tmp_path / "etc" / "common-auth").write_text(COMMON_AUTH)
    (tmp_path / "etc" / "issue").write_text("Debian GNU/Linux 12 \\n \\l\n")
    (tmp_path / "etc" / "issue").chmod(0o664)
    (tmp_path / "etc" / "limits.conf").write_text("* hard core 0\n")
    (tmp_path / "etc" / "limits.conf").chmod(0o600)
    (tmp_path / "outside").write_text("not ours\n")
    (tmp_path / "etc" / "issue.net").symlink_to(tmp_path / "outside")
    return tmp_path


@pytest.fixture
def run(capsys):
    def run(check=False, diff=False, **args):
        return run_module(file_set, capsys, args, check=check, diff=diff)

    return run


def arguments(root):
    etc = root / "etc"
    owner = {"owner": ME, "group": MY_GROUP}
    defs = str(etc / "login.defs")
    return {
        "directories": [{"path": str(etc / "pwquality.conf.d"), "mode": "0750", **owner}],
        "files": [
            {"path": str(etc / "pwquality.conf.d" / "90.conf"), "content": "minlen = 14\n", "mode": "0644", **owner},
            {"path": str(etc / "issue"), "content": "Authorized access only.\n", "mode": "0644", **owner},
            {"path": str(etc / "issue.net"), "content": "Authorized access only.\n", "mode": "0644", **owner},
            # Same content, other mode: only the mode changes.
            {"path": str(etc / "limits.conf"), "content": "* hard core 0\n", "mode": "0644", **owner},
            {
                "path": str(etc / "sudoers"),
                "content": "Defaults use_pty\n",
                "mode": "0440",
                "validate": "grep -q use_pty %s",
                **owner,
            },
        ],
        "lines": [
            {"path": defs, "regexp": r"^#?\s*PASS_MAX_DAYS\s", "line": "PASS_MAX_DAYS\t365"},
            {"path": defs, "regexp": r"^#?\s*PASS_MIN_DAYS\s", "line": "PASS_MIN_DAYS\t1"},
            {"path": defs, "regexp": r"^#?\s*SHA_CRYPT_MIN_ROUNDS\s", "line": "SHA_CRYPT_MIN_ROUNDS\t5"},
        ],
        "replacements": [
            {"path": str(etc / "common-auth"), "regexp": r"^(auth\s.*pam_unix\.so.*?)\s+nullok\b", "replace": r"\1"}
        ],
    }


def test_check_run_check_run(run, tree):
    etc = tree / "etc"
    before = snapshot(tree)
    expected = [
        str(etc / "pwquality.conf.d"),
        str(etc / "pwquality.conf.d" / "90.conf"),
        str(etc / "issue"),
        str(etc / "issue.net"),
        str(etc / "limits.conf"),
        str(etc / "sudoers"),
        str(etc / "login.defs"),
        str(etc / "common-auth"),
    ]

    first_check = run(check=True, diff=True, **arguments(tree))
    assert first_check["changed"] is True
    assert first_check["changed_paths"] == expected
    assert snapshot(tree) == before, "check mode wrote something"
    diffs = {entry["before_header"]: entry for entry in first_check["diff"]}
    # The mode changes too (0664 to 0644): a first line with owner, group and mode on both sides.
    assert diffs[str(etc / "issue")]["before"] == f"# {ME}:{MY_GROUP} 0664\nDebian GNU/Linux 12 \\n \\l\n"
    assert diffs[str(etc / "issue")]["after"] == f"# {ME}:{MY_GROUP} 0644\nAuthorized access only.\n"
    assert diffs[str(etc / "login.defs")]["before"] == LOGIN_DEFS
    assert diffs[str(etc / "limits.conf")]["after"] == f"# {ME}:{MY_GROUP} 0644\n* hard core 0\n"

    first_run = run(diff=True, **arguments(tree))
    assert first_run["changed_paths"] == expected
    assert first_run["diff"] == first_check["diff"]
    assert (etc / "login.defs").read_text() == (
        "# Password aging controls:\nPASS_MAX_DAYS\t365\nPASS_MIN_DAYS\t1\nUMASK\t\t022\nSHA_CRYPT_MIN_ROUNDS\t5\n"
    )
    assert stat.S_IMODE(os.stat(etc / "login.defs").st_mode) == 0o644, "an edited file keeps its mode"
    assert (etc / "common-auth").read_text() == COMMON_AUTH.replace(" nullok", "")
    assert stat.S_IMODE(os.stat(etc / "pwquality.conf.d").st_mode) == 0o750
    assert (etc / "pwquality.conf.d" / "90.conf").read_text() == "minlen = 14\n"
    assert stat.S_IMODE(os.stat(etc / "limits.conf").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(etc / "sudoers").st_mode) == 0o440
    # The link was replaced by a file; its target is untouched.
    assert not (etc / "issue.net").is_symlink()
    assert (etc / "issue.net").read_text() == "Authorized access only.\n"
    assert (tree / "outside").read_text() == "not ours\n"
    assert not [name for name in os.listdir(etc) if name.endswith(".pyops")], "a temporary file was left"

    after = snapshot(tree)
    second_check = run(check=True, diff=True, **arguments(tree))
    assert second_check["changed"] is False
    assert second_check["changed_paths"] == []
    assert second_check["diff"] == []
    second_run = run(**arguments(tree))
    assert second_run["changed"] is False
    assert "diff" not in second_run
    assert snapshot(tree) == after


def test_refused_validation_leaves_the_file_and_no_temporary(run, tree):
    etc = tree / "etc"
    (etc / "sudoers").write_text("old\n")
    args = {"files": [{"path": str(etc / "sudoers"), "content": "broken\n", "mode": "0440", "validate": "false %s"}]}
    result = run(**args)
    assert result["failed"] is True
    assert "failed to validate" in result["msg"]
    assert (etc / "sudoers").read_text() == "old\n"
    assert sorted(os.listdir(etc)) == ["common-auth", "issue", "issue.net", "limits.conf", "login.defs", "sudoers"]


def test_a_wrong_entry_writes_nothing(run, tree):
    before = snapshot(tree)
    args = arguments(tree)
    args["lines"].append({"path": str(tree / "etc" / "missing"), "regexp": "^x", "line": "x"})
    result = run(**args)
    assert result["failed"] is True
    assert "does not exist" in result["msg"]
    assert snapshot(tree) == before


def test_lines_and_replacements_never_follow_a_link(run, tree):
    result = run(lines=[{"path": str(tree / "etc" / "issue.net"), "regexp": "^x", "line": "x"}])
    assert result["failed"] is True
    assert "not a regular file" in result["msg"]
    assert (tree / "outside").read_text() == "not ours\n"


def test_a_file_in_a_missing_directory_is_refused_before_anything_is_written(run, tree):
    before = snapshot(tree)
    files = arguments(tree)["files"] + [{"path": str(tree / "nowhere" / "x.conf"), "content": "", "mode": "0644"}]
    result = run(files=files)
    assert result["failed"] is True
    assert "its directory does not exist" in result["msg"]
    assert snapshot(tree) == before


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        # The last matching line is replaced, commented or not.
        ("#UMASK 022\nUMASK 022\n", "UMASK\t027", "#UMASK 022\nUMASK\t027\n"),
        ("# UMASK 022\n", "UMASK\t027", "UMASK\t027\n"),
        # No match: added at the end, after a newline the file lacked.
        ("A 1", "UMASK\t027", "A 1\nUMASK\t027\n"),
        ("", "UMASK\t027", "UMASK\t027\n"),
        # No match, but the same line is there: left alone (lineinfile does the same).
        ("XUMASK\t027\n", "XUMASK\t027", "XUMASK\t027\n"),
        # CRLF endings are kept.
        ("UMASK 022\r\nB\r\n", "UMASK\t027", "UMASK\t027\r\nB\r\n"),
    ],
)
def test_with_line_follows_lineinfile(text, line, expected):
    assert edits.with_line(text, r"^#?\s*UMASK\s", line) == expected


def test_a_line_with_a_line_break_or_a_bad_expression_is_refused():
    with pytest.raises(edits.EditError, match="spans several lines"):
        edits.with_line("", "^x", "x\ny")
    with pytest.raises(edits.EditError, match="bad regular expression"):
        edits.with_replacement("", "(", "")


def test_backup_of_a_replaced_file_made_only_after_validation(run, tree):
    etc = tree / "etc"
    config = etc / "sshd_config"
    config.write_text("Port 22\n")
    os.utime(config, (1_000_000_000, 1_000_000_000))
    entry = {"path": str(config), "content": "Port 2222\n", "mode": "0600", "backup": True}

    refused = run(files=[{**entry, "validate": "false %s"}])
    assert refused["failed"] is True
    assert not [name for name in os.listdir(etc) if name.endswith("~")], "a backup of a refused change was left"

    assert run(check=True, files=[entry])["backups"] == {}
    first = run(files=[entry])
    backup = first["backups"][str(config)]
    assert backup.startswith(f"{config}.") and backup.endswith("~")
    with open(backup) as handle:
        assert handle.read() == "Port 22\n"
    assert os.stat(backup).st_mtime == 1_000_000_000, "the backup keeps the old file's mtime"
    assert config.read_text() == "Port 2222\n"

    again = run(files=[entry])
    assert again["changed"] is False
    assert again["backups"] == {}


def test_backup_when_only_the_mode_changes(run, tree):
    config = tree / "etc" / "sshd_config"
    config.write_text("Port 22\n")
    config.chmod(0o644)
    result = run(files=[{"path": str(config), "content": "Port 22\n", "mode": "0600", "backup": True}])
    backup = result["backups"][str(config)]
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
