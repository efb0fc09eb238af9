"""Import a script a role ships in its files/ directory, which is not a Python package."""

import importlib.util
from pathlib import Path

ROLES = Path(__file__).resolve().parents[2] / "roles"


def load_role_file(role, name):
    """The module roles/<role>/files/<name>, imported under its file name without the suffix."""
    path = ROLES / role / "files" / name
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
