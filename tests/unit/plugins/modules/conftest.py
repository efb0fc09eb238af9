"""Fixtures of the module tests: the release module run on an app root of its own."""

import pytest

from ansible_collections.pyops.deploy.plugins.modules import release
from ansible_collections.pyops.deploy.tests.unit.plugins.modules.test_release_module import run_module


@pytest.fixture
def root(tmp_path):
    return tmp_path / "app"


@pytest.fixture
def run(capsys, root):
    """Run the release module on ``root`` with common arguments filled in (a test file may define its own)."""

    def run(check=False, diff=False, **args):
        args.setdefault("path", str(root))
        args.setdefault("audit_user", "tester")
        return run_module(release, capsys, args, check=check, diff=diff)

    return run
