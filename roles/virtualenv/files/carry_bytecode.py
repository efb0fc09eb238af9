"""Link an earlier venv's bytecode into a new venv wherever both hold the same source file.

usage: python3 carry_bytecode.py EARLIER_VENV NEW_VENV   (prints the number of files carried)

uv hardlinks every installed file from its cache, so an unchanged package is the very same file
(same inode, same mtime) in both venvs, and the .pyc compiled for it in the earlier venv is valid in
the new one: its header records the source's mtime and size, and the import system fixes the code's
file name to the new path when it loads it. A file that is not the same (another version, or a copy
made across filesystems) is left alone, and `compileall`, run after this, compiles what is missing.
"""

import os
import sys
from importlib.util import source_from_cache


def carry(earlier, new):
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
                    if not os.path.samefile(source, new_source):
                        continue
                    os.makedirs(target_dir, exist_ok=True)
                    os.link(cached, os.path.join(target_dir, name))
                except OSError:
                    continue  # already there, no such source in the new venv, or another filesystem
                carried += 1
    return carried


if __name__ == "__main__":
    print(carry(sys.argv[1], sys.argv[2]))
