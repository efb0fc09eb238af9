"""Fixtures shared by the tests of the modules and their module_utils."""

import pytest


@pytest.fixture
def source(tmp_path):
    """An app tree whose own root is private, with a log/ of its own and a package with a log/ too."""
    src = tmp_path / "src"
    (src / "app" / "log").mkdir(parents=True)
    (src / "log").mkdir()
    (src / "app" / "__init__.py").write_text("VERSION = 1\n")
    (src / "app" / "log" / "__init__.py").write_text("")
    (src / "log" / ".gitkeep").write_text("")
    (src / "RELEASE").write_text("from the repository\n")
    src.chmod(0o700)
    return src
