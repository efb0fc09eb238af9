"""Installs uv's binary from its wheel in a wheelhouse: no pip, no ensurepip, no network.

Usage: install_uv_wheel.py WHEELHOUSE VERSION DEST (the binary lands in DEST/bin/uv).
"""

import os
import platform
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

wheelhouse, version, dest = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
machine = platform.machine()
# Prefer glibc wheels; musllinux ones do not run on Debian.
candidates = sorted(
    (w for w in wheelhouse.glob(f"uv-{version}-*.whl") if machine in w.name and "musllinux" not in w.name),
    key=lambda w: "manylinux" not in w.name,
)
if not candidates:
    sys.exit(f"no uv {version} wheel for {machine} in {wheelhouse}: add it, e.g. pip download uv=={version}")

with zipfile.ZipFile(candidates[0]) as wheel:
    member = f"uv-{version}.data/scripts/uv"
    (dest / "bin").mkdir(parents=True, exist_ok=True)
    # Written beside its final name and renamed, so a half-written uv never passes `creates:`.
    with wheel.open(member) as src, tempfile.NamedTemporaryFile(dir=dest / "bin", delete=False) as tmp:
        shutil.copyfileobj(src, tmp)
    os.chmod(tmp.name, 0o755)
    Path(tmp.name).rename(dest / "bin" / "uv")
print(f"installed uv {version} from {candidates[0].name}")
