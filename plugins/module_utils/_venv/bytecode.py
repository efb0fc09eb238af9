# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bytecode for a new venv: carried from an earlier venv where both hold the same file, the rest compiled.

Standard library only and no imports from the collection, so the benchmark can run this file on its
own: ``python3 bytecode.py EARLIER NEW`` carries, compiles the rest and prints the number carried.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from importlib.util import cache_from_source, source_from_cache

# Above this many files without bytecode, compileall compiles all of lib/ in parallel (see compile_rest).
COMPILE_LIST_LIMIT = 200


def carry(earlier, new):
    """Link an earlier venv's bytecode into a new venv wherever both hold the same source file.

    uv hardlinks every installed file from its cache, so an unchanged package is the very same file
    (same inode, same mtime) in both venvs, and the .pyc compiled for it in the earlier venv is valid
    in the new one: its header records the source's mtime and size, and the import system fixes the
    code's file name to the new path when it loads it. A file that is not the same (another version,
    or a copy made across filesystems) is left alone, for compileall. Returns the number carried.
    """
    earlier, new = os.path.realpath(earlier), os.path.realpath(new)
    carried = 0
    for top in ("lib", "lib64"):
        root = os.path.join(earlier, top)
        if os.path.islink(root):
            continue
        for directory, _subdirs, files in os.walk(root):
            if os.path.basename(directory) != "__pycache__":
                continue
            target_dir = os.path.join(new, os.path.relpath(directory, earlier))
            for name in files:
                if not name.endswith(".pyc"):
                    continue
                cached = os.path.join(directory, name)
                try:
                    source = source_from_cache(cached)
                except ValueError:
                    continue
                new_source = os.path.join(new, os.path.relpath(source, earlier))
                try:
                    if os.path.islink(cached) or not os.path.samefile(source, new_source):
                        continue
                    os.makedirs(target_dir, exist_ok=True)
                    os.link(cached, os.path.join(target_dir, name), follow_symlinks=False)
                except OSError:
                    continue  # already there, no such source in the new venv, or another filesystem
                carried += 1
    return carried


def uncompiled(venv):
    """The .py files under <venv>/lib that have no bytecode beside them yet."""
    missing = []
    for directory, subdirs, files in os.walk(os.path.join(venv, "lib")):
        subdirs[:] = [name for name in subdirs if name != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                if not os.path.exists(cache_from_source(path)):
                    missing.append(path)
    return missing


def check_output(name, argv):
    """The runner used when this file runs on its own: output, or CalledProcessError."""
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True).stdout.decode()


def compile_rest(venv, runner=check_output):
    """Compile what the carry left without bytecode; return compileall's output.

    Carried bytecode is valid (its source is the very same file), so only the files without any
    need compiling, and listing them spares compileall reading the header of every other .pyc
    (most of a code-only build's time with a large dependency set). When most files are missing
    (nothing to carry from), all of lib/ is compiled with a worker per core instead.
    runner(name, argv) runs a command and returns its output.
    """
    python, lib = os.path.join(venv, "bin", "python"), os.path.join(venv, "lib")
    missing = uncompiled(venv)
    if not missing:
        return ""
    if len(missing) > COMPILE_LIST_LIMIT:
        return runner("compileall", [python, "-m", "compileall", "-q", "-j", "0", lib])
    with tempfile.NamedTemporaryFile("w", prefix="pyops-compile-", suffix=".txt") as listing:
        listing.write("\n".join(missing) + "\n")
        listing.flush()
        return runner("compileall", [python, "-m", "compileall", "-q", "-i", listing.name])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.stderr.write("usage: bytecode.py EARLIER NEW\n")
        raise SystemExit(2)
    CARRIED = carry(sys.argv[1], sys.argv[2])
    compile_rest(sys.argv[2])
    sys.stdout.write(f"{CARRIED}\n")
