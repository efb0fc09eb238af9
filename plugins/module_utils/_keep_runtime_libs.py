# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Find and keep the Debian packages an interpreter's shared libraries come from.

Logic behind ``pyops.deploy.keep_runtime_libs``; plain Python, Python 3.8 compatible, stdlib only.
Commands run through a ``run(argv) -> (rc, stdout, stderr)`` callable (``AnsibleModule.run_command``),
so the dpkg and apt parts are unit tested with a stub:

1. the interpreter's files: regular files named ``python3.*`` or ``*.so`` under ``<prefix>/bin`` and
   ``<prefix>/lib``;
2. the libraries they link against: the ``name => /path`` lines of ``ldd``;
3. the packages owning them: ``dpkg -S``, trying the usrmerge variants of each path (dpkg may know a
   library under /lib or /usr/lib, by its link name or its real name) and taking the first known;
4. of those, the ones ``apt-mark showauto`` lists are marked manual, so an autoremove keeps them.
"""

from __future__ import annotations

import fnmatch
import os

# ldd takes several files at once; a bounded batch keeps the command line short.
LDD_BATCH = 100


class RuntimeLibsError(Exception):
    """A command failed in a way that leaves the answer unknown."""


def interpreter_files(prefix):
    """Regular files (not symlinks) named python3.* or *.so under prefix/bin and prefix/lib, sorted."""
    found = []
    for top in ("bin", "lib"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(prefix, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if not (fnmatch.fnmatchcase(name, "python3.*") or fnmatch.fnmatchcase(name, "*.so")):
                    continue
                path = os.path.join(dirpath, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    found.append(path)
    return found


def parse_ldd(output):
    """The absolute library paths of ``ldd`` output, in first-seen order.

    Only ``name => /path (address)`` lines count: the vdso, the loader's own line, ``not found``
    libraries, the ``file:`` headers of several files and ``not a dynamic executable`` are skipped.
    """
    libraries = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1] == "=>" and fields[2].startswith("/") and fields[2] not in libraries:
            libraries.append(fields[2])
    return libraries


def path_variants(library, realpath=os.path.realpath):
    """The names dpkg may know ``library`` by, in the order tried, without repeats."""
    real = realpath(library)
    variants = []
    for path in (library, "/usr" + library, _strip_usr(library), real, _strip_usr(real)):
        if path not in variants:
            variants.append(path)
    return variants


def _strip_usr(path):
    return path[len("/usr") :] if path.startswith("/usr/") else path


def parse_dpkg_search(output):
    """Map each path of ``dpkg -S`` output to its package names (architecture qualifiers dropped).

    Lines look like ``libssl3:amd64: /usr/lib/x86_64-linux-gnu/libssl.so.3`` or, for a path several
    packages share, ``pkg-a, pkg-b: /path``; ``diversion by ...`` lines are skipped.
    """
    owners = {}
    for line in output.splitlines():
        if line.startswith("diversion by ") or ": " not in line:
            continue
        packages, path = line.split(": ", 1)
        names = [package.strip().split(":", 1)[0] for package in packages.split(",")]
        owners.setdefault(path.strip(), [])
        for name in names:
            if name and name not in owners[path.strip()]:
                owners[path.strip()].append(name)
    return owners


class RuntimeLibs:
    """Compute (and apply) the packages to mark manual for the interpreter under ``prefix``."""

    def __init__(self, run, realpath=os.path.realpath):
        self.run = run
        self.realpath = realpath

    def libraries(self, files):
        libraries = []
        for start in range(0, len(files), LDD_BATCH):
            # ldd exits non-zero when one file is not dynamic (python3.X-config is a script); the
            # other files are still listed, as the script's `ldd || true` took them.
            rc, out, err = self.run(["ldd", *files[start : start + LDD_BATCH]])
            for library in parse_ldd(out):
                if library not in libraries:
                    libraries.append(library)
        return libraries

    def owners(self, libraries):
        """The packages owning ``libraries``, sorted; a library no package owns is skipped."""
        variants = {library: path_variants(library, self.realpath) for library in libraries}
        queries = []
        for paths in variants.values():
            queries.extend(path for path in paths if path not in queries)
        if not queries:
            return []
        rc, out, err = self.run(["dpkg", "-S", *queries])
        # dpkg -S exits 1 when some path is unknown: expected for the variants that do not apply.
        if rc not in (0, 1):
            raise RuntimeLibsError(f"dpkg -S failed (exit {rc}): {err.strip()}")
        known = parse_dpkg_search(out)
        packages = set()
        for paths in variants.values():
            for path in paths:
                if path in known:
                    packages.update(known[path])
                    break
        return sorted(packages)

    def automatic(self):
        rc, out, err = self.run(["apt-mark", "showauto"])
        if rc != 0:
            raise RuntimeLibsError(f"apt-mark showauto failed (exit {rc}): {err.strip()}")
        return set(out.split())

    def keep(self, prefix, check_mode=False):
        """Mark the automatically installed owners of the interpreter's libraries as manual."""
        files = interpreter_files(prefix)
        libraries = self.libraries(files)
        packages = self.owners(libraries)
        automatic = self.automatic()
        marked = [package for package in packages if package in automatic]
        if marked and not check_mode:
            rc, out, err = self.run(["apt-mark", "manual", *marked])
            if rc != 0:
                raise RuntimeLibsError(f"apt-mark manual {' '.join(marked)} failed (exit {rc}): {err.strip()}")
        return {
            "changed": bool(marked),
            "marked": marked,
            "packages": packages,
            "libraries": libraries,
        }
