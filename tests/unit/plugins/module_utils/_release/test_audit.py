# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The audit log (``_release.audit``)."""

from __future__ import annotations

import errno
import getpass
import os
import stat

import pytest

from ansible_collections.pyops.deploy.plugins.module_utils._release import audit as audit_module
from ansible_collections.pyops.deploy.plugins.module_utils._release.audit import default_audit_user, redact_source
from ansible_collections.pyops.deploy.plugins.module_utils._release.layout import AUDIT_FILE, ReleaseError
from ansible_collections.pyops.deploy.plugins.module_utils._release.manager import ReleaseManager
from ansible_collections.pyops.deploy.tests.unit.plugins.module_utils._release.helpers import audit_lines, deploy


def _raise_no_tty():
    raise OSError("no tty")


def test_prepare_audits_a_change_made_only_by_attributes(make, root):
    make().prepare("r1")

    def chmod(path, is_dir):
        if stat.S_IMODE(os.stat(path).st_mode) == 0o750:
            return False
        os.chmod(path, 0o750)
        return True

    assert make(apply_attributes=chmod).prepare("r1")["changed"] is True
    assert stat.S_IMODE(os.stat(root / "releases" / "r1").st_mode) == 0o750
    assert make(apply_attributes=chmod).prepare("r1")["changed"] is False
    assert [e["action"] for e in audit_lines(root)] == ["prepared", "prepared"]


def test_failed_step_is_audited_and_reported(make, root, clock, monkeypatch):
    deploy(make, clock, "r1")
    make().prepare("r2")

    def broken_symlink(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "symlink", broken_symlink)

    with pytest.raises(ReleaseError, match="failed to point .* No space left"):
        make().switch("r2")

    assert os.readlink(root / "current") == "releases/r1"
    last = audit_lines(root)[-1]
    assert last["result"].startswith("failed: ")
    assert last["current"] == "r1"


def test_audit_log_is_appended(make, root, clock):
    root.mkdir()
    (root / AUDIT_FILE).write_text('{"action": "older"}\n')
    deploy(make, clock, "r1")
    assert [e["action"] for e in audit_lines(root)] == ["older", "prepared", "switched"]


def test_new_audit_log_is_not_world_readable(make, root):
    old_umask = os.umask(0o022)
    try:
        make().prepare("r1")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(root / AUDIT_FILE).st_mode) == 0o640


def test_audit_records_previous_and_new_current(make, root, clock):
    deploy(make, clock, "r1", "r2")
    last = audit_lines(root)[-1]
    assert (last["previous"], last["current"], last["release"]) == ("r1", "r2", "r2")


def test_audit_user_defaults_to_the_login_user(monkeypatch, root, clock):
    monkeypatch.setattr(os, "getlogin", _raise_no_tty)
    monkeypatch.setenv("SUDO_USER", "deployer")
    assert ReleaseManager(str(root), clock=clock).audit_user == "deployer"
    monkeypatch.setattr(os, "getlogin", lambda: "alice")
    assert ReleaseManager(str(root), clock=clock).audit_user == "alice"


def test_audit_user_falls_back_to_the_process_user(monkeypatch):
    monkeypatch.setattr(os, "getlogin", _raise_no_tty)
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "svc")
    assert default_audit_user() == "svc"


@pytest.mark.parametrize(
    ("source", "written"),
    [
        ("git:https://deploy:s3cret@git.example.com/shop.git#v1", "git:https://***@git.example.com/shop.git#v1"),
        ("url:https://ghp_token@objects.example.com/shop.tar.gz", "url:https://***@objects.example.com/shop.tar.gz"),
        ("git:git@github.com:acme/shop.git#v1", "git:git@github.com:acme/shop.git#v1"),
        ("sha256:" + "a" * 64, "sha256:" + "a" * 64),
    ],
)
def test_credentials_in_the_source_are_redacted_in_the_audit_line(make, root, source, written):
    make(source=source).prepare("r1")
    assert audit_lines(root)[-1]["source"] == written
    assert "s3cret" not in (root / AUDIT_FILE).read_text()


def test_redact_source_leaves_other_values_alone():
    assert redact_source(None) is None
    assert redact_source("https://example.com/a@b") == "https://example.com/a@b"


def test_a_full_disk_while_auditing_fails_clearly(make, root, clock, monkeypatch):
    deploy(make, clock, "r1")
    make().prepare("r2")

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(audit_module.os, "write", full)

    with pytest.raises(ReleaseError) as raised:
        make().switch("r2")

    assert str(raised.value) == (
        f"could not record the switched audit line in {root / AUDIT_FILE}: No space left on device; "
        "current still points at r2"
    )


def test_audit_lines_are_fsynced(make, root, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(audit_module.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))

    make().prepare("r1")

    # The records (file and directory) and the audit line (file and directory).
    assert len(synced) >= 4
