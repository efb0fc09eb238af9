"""Make ``ansible_collections.pyops.deploy`` importable when pytest runs from a plain checkout.

ansible-test runs from an ``ansible_collections/pyops/deploy`` tree, where the import already
works; a checkout is named anything, so a throwaway tree with a link to it is put on sys.path.
"""

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _ensure_collection_importable():
    if ROOT.parent.name == "pyops" and ROOT.parent.parent.name == "ansible_collections":
        top = str(ROOT.parent.parent.parent)
    else:
        top = tempfile.mkdtemp(prefix="pyops-collection-")
        namespace = Path(top, "ansible_collections", "pyops")
        namespace.mkdir(parents=True)
        (namespace / "deploy").symlink_to(ROOT)
    if top not in sys.path:
        sys.path.insert(0, top)
    # ansible-core may have imported the top-level package already; extend its search path.
    if "ansible_collections" in sys.modules:
        sys.modules["ansible_collections"].__path__.insert(0, str(Path(top, "ansible_collections")))


_ensure_collection_importable()
