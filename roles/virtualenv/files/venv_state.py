"""Read, in one go, everything the virtualenv role compares a venv with; print it as one JSON object.

usage: python3 venv_state.py QUERY   (run by the interpreter the venv is built on)

QUERY is a JSON object: "inputs" (the requirements or lock files, read whole), "wheelhouse" (a
directory, or ""), "package_files" (the wheel paths among virtualenv_packages), "marker" (the venv's
.pyops-venv.json) and "paths" (name: path, the paths the role would create or change). The answer
holds the interpreter's version and real path and what the role used to ask slurp, find and stat
for, read the way those modules read it, so the digest the role computes from it, and the marker,
stay what they were: symlinks are not followed (a symlinked wheel has no checksum, like stat's),
the wheelhouse lists its regular, non-hidden *.whl, *.tar.gz and *.zip files (like find's), and a
marker that cannot be read is no marker. An input that cannot be read is reported in "errors", in
slurp's words.
"""

import errno
import fnmatch
import hashlib
import json
import os
import platform
import stat
import sys

WHEELHOUSE_PATTERNS = ("*.whl", "*.tar.gz", "*.zip")
SLURP_ERRORS = {
    errno.ENOENT: "File not found: {}",
    errno.EACCES: "File is not readable: {}",
    errno.EISDIR: "Source is a directory and must be a file: {}",
}


def read_text(path):
    # Bytes decoded as Ansible's b64decode filter decodes slurp's content.
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "surrogateescape")


def wheelhouse_names(directory):
    if not directory or not os.path.isdir(directory):
        return []
    names = []
    for name in os.listdir(directory):
        if name.startswith(".") or not any(fnmatch.fnmatch(name, p) for p in WHEELHOUSE_PATTERNS):
            continue
        try:
            if stat.S_ISREG(os.lstat(os.path.join(directory, name)).st_mode):
                names.append(name)
        except OSError:
            continue  # gone, or not ours to see: find skips it too
    return names


def sha256_or_missing(path):
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode) or not os.access(path, os.R_OK):
            return "missing"
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(65536), b""):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return "missing"


def path_state(path):
    """What the role's file and `creates:` tasks would find at path, and its filesystem."""
    if not os.path.lexists(path):
        # A directory created here lands on the filesystem of the nearest one that exists.
        ancestor = os.path.dirname(os.path.abspath(path))
        while not os.path.exists(ancestor):
            ancestor = os.path.dirname(ancestor)
        return {"exists": False, "dir": False, "dev": os.stat(ancestor).st_dev}
    # `exists` and `dev` as stat(1) sees the path itself, the rest as the file module (following it).
    info = {"exists": True, "dir": False, "dev": os.lstat(path).st_dev}
    try:
        st = os.stat(path)
    except OSError:
        return info  # a dangling link
    info.update(dir=stat.S_ISDIR(st.st_mode), uid=st.st_uid, gid=st.st_gid, mode=f"{stat.S_IMODE(st.st_mode):04o}")
    return info


def main(query):
    texts, errors = [], []
    for path in query["inputs"]:
        try:
            texts.append(read_text(path))
        except OSError as exc:
            errors.append(SLURP_ERRORS.get(exc.errno, "Unable to slurp file: {}").format(path))
    try:
        marker = read_text(query["marker"])
    except OSError:
        marker = None
    return {
        "interpreter": {"version": platform.python_version(), "path": os.path.realpath(sys.executable)},
        "texts": texts,
        "errors": errors,
        "wheelhouse": wheelhouse_names(query["wheelhouse"]),
        "package_files": [sha256_or_missing(path) for path in query["package_files"]],
        "marker": marker,
        "paths": {name: path_state(path) for name, path in query["paths"].items()},
    }


if __name__ == "__main__":
    # One line, ASCII only: the script's output may come back through a terminal.
    print(json.dumps(main(json.loads(sys.argv[1]))))
