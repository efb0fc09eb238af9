# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Plan and build a venv for ``pyops.deploy.venv``.

The venv is compared with its inputs by content (state.py): a marker in it records the interpreter's
version and real path and a digest of the inputs. A new interpreter (or no venv) means ``create``, new
inputs ``sync``, otherwise ``none``. A build runs the installer's commands (uv or pip), carries and
compiles the bytecode, gives the venv its owner and the marker last, so that a build cut short is
done again by the next run. Everything runs with umask 0022, whatever the caller's.

Index URLs reach uv and pip through their environment variables, never their command lines, and
every message has URL credentials hidden.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import tempfile
import time
import zipfile

from ansible_collections.pyops.deploy.plugins.module_utils._venv import bytecode, owner, requires, state
from ansible_collections.pyops.deploy.plugins.module_utils._venv.common import VenvError, redact, run

BUILD_UMASK = 0o022
MARKER = ".pyops-venv.json"
# A lock exported by uv export, in the venv: also a record of what was installed.
EXPORTED = ".pyops-requirements.txt"
PYLOCK_NAME = re.compile(r"^pylock\.([^/]+\.)?toml$")


def validate(params):
    """Raise VenvError unless the options make sense together (the role's old assertions)."""
    path, lock = params["path"], params.get("lock") or ""
    if not path.startswith("/") or path.rstrip("/") == "":
        raise VenvError(f"path must be an absolute path below /, not {path!r}")
    if not params["python"].startswith("/"):
        raise VenvError(f"python must be an absolute path, not {params['python']!r}")
    if params.get("requirements") and lock:
        raise VenvError("requirements and lock exclude each other")
    if lock and not (os.path.basename(lock) == "uv.lock" or PYLOCK_NAME.match(os.path.basename(lock))):
        raise VenvError(f"a lock is named uv.lock or pylock[.name].toml, not {os.path.basename(lock)}")
    if lock and params["installer"] != "uv":
        raise VenvError("a lock is installed with the uv installer only")
    if params.get("wheelhouse") and not params["wheelhouse"].startswith("/"):
        raise VenvError("wheelhouse must be an absolute path")
    if params.get("pyproject") and not params["pyproject"].startswith("/"):
        raise VenvError("pyproject must be an absolute path")


class Venv:
    """One venv: read() its state, then apply() the action it needs (or report it in check mode)."""

    def __init__(self, params, check_mode=False):
        self.p = params
        self.check_mode = check_mode
        self.path = params["path"].rstrip("/")
        self.venv_python = os.path.join(self.path, "bin", "python")
        self.marker_path = os.path.join(self.path, MARKER)
        self.lock = params.get("lock") or ""
        self.is_uv_lock = os.path.basename(self.lock) == "uv.lock"
        self.wheelhouse = params.get("wheelhouse") or ""
        self.uv = os.path.join(params["uv_dir"], params["uv_version"], "bin", "uv")
        self.seconds = {}

    # Reading

    def inputs(self):
        files = [name for name in (self.p.get("requirements"), self.lock) if name]
        if self.is_uv_lock:
            files.append(os.path.join(os.path.dirname(self.lock), "pyproject.toml"))
        return files

    def read(self):
        """Everything the decision needs; the inputs' text stays here, only its digest is kept."""
        self.interpreter = state.interpreter(self.p["python"])
        # Before anything else is read or built: a release for a newer Python stops here.
        if self.p.get("requires_python"):
            requires.check_spec(self.p["requires_python"], self.interpreter, self.p["python"])
        if self.p.get("pyproject"):
            requires.check(self.p["pyproject"], self.interpreter, self.p["python"])
        texts = [state.read_input(path) for path in self.inputs()]
        self.has_hashes = state.has_hashes(texts)
        packages = list(self.p.get("packages") or [])
        self.digest = state.inputs_digest(
            texts,
            state.wheelhouse_names(self.wheelhouse),
            packages,
            [state.sha256_or_missing(name) for name in packages if name.startswith("/")],
            self.p["installer"],
            self.p["require_hashes"],
            self.p["compile_bytecode"],
        )
        self.current = state.read_marker(self.marker_path)
        self.venv_exists = os.path.lexists(self.venv_python)
        self.link_mode = self.p["link_mode"]
        if self.link_mode == "auto":
            # Hardlinks work within one filesystem only; across two, uv would copy anyway, with a warning.
            same = state.device_of(self.p["cache_dir"]) == state.device_of(os.path.dirname(self.path))
            self.link_mode = "hardlink" if same else "copy"
        if (
            not self.venv_exists
            or self.current.get("python") != self.interpreter["version"]
            or self.current.get("interpreter") != self.interpreter["path"]
        ):
            self.action = "create"
        elif self.current.get("inputs") != self.digest:
            self.action = "sync"
        else:
            self.action = "none"
        self.needs_uv = self.p["installer"] == "uv" and not os.path.exists(self.uv)

    def marker(self):
        return {
            "python": self.interpreter["version"],
            "interpreter": self.interpreter["path"],
            "inputs": self.digest,
            "installer": self.p["installer"],
        }

    # The commands

    def req_source(self):
        """The file `uv pip sync` / `pip install -r` reads: requirements, the exported uv.lock, or a pylock."""
        if self.p.get("requirements"):
            return self.p["requirements"]
        if self.is_uv_lock:
            return os.path.join(self.path, EXPORTED)
        return self.lock

    def source_args(self):
        return ["--no-index", "--find-links", self.wheelhouse] if self.wheelhouse else []

    def index_env(self, prefix):
        """The index URLs as uv's or pip's environment variables (never on a command line)."""
        if self.wheelhouse:
            return {}
        env = {}
        if self.p.get("index_url"):
            env[prefix + "_INDEX_URL"] = self.p["index_url"]
        extra = [url for url in self.p.get("extra_index_urls") or [] if url]
        if extra:
            env[prefix + "_EXTRA_INDEX_URL"] = " ".join(extra)
        return env

    def pip_args(self):
        cert = ["--cert", self.p["ca_bundle"]] if self.p.get("ca_bundle") and not self.wheelhouse else []
        return ["--disable-pip-version-check", "--no-input"] + cert + self.source_args()

    def hash_args(self):
        wanted = self.p["require_hashes"]
        if self.is_uv_lock or wanted == "always" or (wanted == "auto" and self.has_hashes):
            return ["--require-hashes"]
        return []

    def carries(self):
        return self.p["installer"] == "uv" and self.p["compile_bytecode"] and bool(self.p.get("bytecode_from"))

    def uv_env(self):
        env = {"UV_CACHE_DIR": self.p["cache_dir"], "UV_PYTHON_DOWNLOADS": "never", "UV_LINK_MODE": self.link_mode}
        if self.p.get("ca_bundle"):
            env["SSL_CERT_FILE"] = self.p["ca_bundle"]
        env.update(self.index_env("UV"))
        return env

    def steps(self):
        """(name, argv, creates) of the installer's commands, in order."""
        source, packages = self.req_source(), list(self.p.get("packages") or [])
        if self.p["installer"] == "uv":
            uv_pip = ["--python", self.venv_python]
            if self.p["compile_bytecode"] and not self.carries():
                uv_pip.append("--compile-bytecode")
            uv_pip += self.source_args()
            steps = [("uv venv", [self.uv, "venv", "--no-project", "--python", self.p["python"], self.path], True)]
            if self.is_uv_lock:
                export = ["--frozen", "--quiet", "--no-dev", "--no-emit-project", "--format=requirements-txt"]
                steps.append(
                    (
                        "uv export",
                        [self.uv, "export"]
                        + export
                        + ["--project=" + os.path.dirname(self.lock), "--output-file=" + self.req_source()],
                        False,
                    )
                )
            if source:
                steps.append(("uv pip sync", [self.uv, "pip", "sync"] + uv_pip + self.hash_args() + [source], False))
            if packages:
                steps.append(("uv pip install", [self.uv, "pip", "install"] + uv_pip + packages, False))
            return steps
        pip = [os.path.join(self.path, "bin", "pip"), "install"] + self.pip_args()
        if not self.p["compile_bytecode"]:
            pip.append("--no-compile")
        # python -m venv needs ensurepip: on Debian, python3-venv (the python role installs it).
        steps = [("python -m venv", [self.p["python"], "-m", "venv", self.path], True)]
        if source:
            steps.append(("pip install -r", pip + self.hash_args() + ["-r", source], False))
        if packages:
            steps.append(("pip install", pip + packages, False))
        return steps

    # Changing the host

    def timed(self, name, action, *args):
        start = time.monotonic()
        result = action(*args)
        self.seconds[name] = round(time.monotonic() - start, 3)
        return result

    def install_uv(self):
        """uv in <uv_dir>/<version>: from its wheel in the wheelhouse, else with pip from the index."""
        dest = os.path.dirname(os.path.dirname(self.uv))
        if self.wheelhouse:
            self.timed("install uv", install_uv_wheel, self.wheelhouse, self.p["uv_version"], dest)
            return
        if not os.path.exists(os.path.join(dest, "bin", "pip")):
            self.timed("uv's venv", run, "uv's venv", [self.p["python"], "-m", "venv", dest])
        argv = [os.path.join(dest, "bin", "pip"), "install"] + self.pip_args() + ["uv==" + self.p["uv_version"]]
        self.timed("install uv", run, "install uv", argv, None, self.index_env("PIP"))

    def prepare_paths(self):
        # pip cannot remove what a new requirements file dropped, so with pip every change starts afresh.
        if (self.action == "create" or self.p["installer"] == "pip" or not self.req_source()) and os.path.lexists(
            self.path
        ):
            if os.path.isdir(self.path) and not os.path.islink(self.path):
                shutil.rmtree(self.path)
            else:
                os.unlink(self.path)
        ensure_directory(os.path.dirname(self.path), 0o755)
        if self.p["installer"] == "uv":
            ensure_directory(self.p["cache_dir"], 0o755, uid=0, gid=0)

    def check_complete(self, env):
        """`uv pip sync` installs what the file lists and nothing it depends on: a file that is not a
        complete lock leaves the venv without dependencies (Django without asgiref). Refused here, before
        the marker, so the venv is never taken for built and the next run checks again."""
        try:
            run("uv pip check", [self.uv, "pip", "check", "--python", self.venv_python], None, env)
        except VenvError as exc:
            named = self.p.get("requirements") or self.lock or "the packages"
            raise VenvError(
                f"the venv at {self.path} lacks dependencies of what it installed: {named} must be a complete "
                "lock, every dependency pinned (uv pip sync installs only what is listed). Lock it, e.g. "
                "`uv pip compile --generate-hashes requirements.in -o requirements.txt` (or pip-compile "
                f"--generate-hashes), or give a uv.lock as the lock.\n{exc}"
            ) from None

    def offline_first(self, name, argv):
        """Whether a step tries uv's cache alone first: `uv pip sync` of a hash-pinned lock from an index.

        Each release has a venv of its own, so a code-only deploy builds one from an unchanged lock, which
        the cache holds whole; online, uv would still ask the index whether its cached pages are current
        (and wait out its timeouts when the index is unreachable). Exact pins with hashes leave nothing
        for the index to decide, so the cache's answer is the index's. What the cache lacks fails at once,
        before the venv is touched, and the step runs online.
        """
        return name == "uv pip sync" and not self.wheelhouse and "--require-hashes" in argv

    def build(self):
        env = self.uv_env() if self.p["installer"] == "uv" else self.index_env("PIP")
        for name, argv, skip_if_venv in self.steps():
            if skip_if_venv and os.path.lexists(self.venv_python):
                continue
            if self.offline_first(name, argv):
                try:
                    self.timed(name + " (offline)", run, name, argv[:3] + ["--offline"] + argv[3:], None, env)
                    continue
                except VenvError:
                    pass  # something is not in the cache: ask the index
            self.timed(name, run, name, argv, "/" if name == "uv venv" else None, env)
        if self.p["installer"] == "uv":
            self.timed("uv pip check", self.check_complete, env)
        carried = 0
        if self.carries():
            try:
                carried = self.timed("carry", bytecode.carry, self.p["bytecode_from"], self.path)
            except OSError as exc:
                raise VenvError(f"carrying the bytecode of {self.p['bytecode_from']} failed: {exc}") from exc
            self.timed("compileall", bytecode.compile_rest, self.path, run)
        uid = gid = -1
        if self.p.get("owner"):
            uid = owner.user_id(self.p["owner"])
            gid = owner.group_id(self.p.get("group") or self.p["owner"])
        try:
            self.timed("ownership", owner.own, self.path, uid, gid)
        except OSError as exc:
            raise VenvError(f"ownership failed: {exc}") from exc
        try:
            text = state.marker_text(self.marker())
            self.timed("marker", owner.write_marker, self.marker_path, text, uid, gid)
        except OSError as exc:
            raise VenvError(f"writing the marker failed: {exc}") from exc
        return carried

    def apply(self):
        """Read, decide, and (unless in check mode) build; return the module's result."""
        previous = os.umask(BUILD_UMASK)
        try:
            return self._apply()
        finally:
            os.umask(previous)

    def _apply(self):
        self.read()
        if self.action != "none" and self.p["require_hashes"] == "always" and not (self.has_hashes or self.is_uv_lock):
            named = self.p.get("requirements") or self.lock or "no requirements file"
            raise VenvError(f"require_hashes is 'always' but {named} has no --hash entries.")
        carried = 0
        if not self.check_mode:
            try:
                if self.needs_uv:
                    self.install_uv()
                if self.action != "none":
                    self.prepare_paths()
                    carried = self.build()
            except OSError as exc:
                raise VenvError(redact(f"building the venv at {self.path} failed: {exc}")) from exc
        changed = self.action != "none" or self.needs_uv
        msg = f"the venv at {self.path} is current"
        if self.action != "none":
            verb = {"create": "created", "sync": "synced"}[self.action]
            msg = f"{'would be ' if self.check_mode else ''}{verb} the venv at {self.path} with {self.p['installer']}"
        after = self.marker() if self.action != "none" else self.current
        return {
            "changed": changed,
            "action": self.action,
            "path": self.path,
            "python": self.interpreter["version"],
            "interpreter": self.interpreter["path"],
            "installer": self.p["installer"],
            "inputs_digest": self.digest,
            "uv_installed": self.needs_uv,
            "carried": carried,
            "seconds": self.seconds,
            "msg": msg,
            "diff": {"before": dict(self.current), "after": dict(after)},
        }


def ensure_directory(path, mode, uid=-1, gid=-1):
    """A directory with this mode (and owner, when given), created with its parents when missing."""
    if not os.path.isdir(path):
        os.makedirs(path, mode)
    st = os.stat(path)
    if (uid != -1 and st.st_uid != uid) or (gid != -1 and st.st_gid != gid):
        os.chown(path, uid, gid)
    if st.st_mode & 0o7777 != mode:
        os.chmod(path, mode)


def install_uv_wheel(wheelhouse, version, dest):
    """uv's binary from its wheel in a wheelhouse: no pip, no ensurepip, no network. Returns the wheel's name."""
    machine = platform.machine()
    prefix = f"uv-{version}-"
    names = sorted(
        (
            name
            for name in os.listdir(wheelhouse)
            if name.startswith(prefix) and name.endswith(".whl") and machine in name and "musllinux" not in name
        ),
        # Prefer glibc wheels; musllinux ones do not run on Debian.
        key=lambda name: ("manylinux" not in name, name),
    )
    if not names:
        raise VenvError(f"no uv {version} wheel for {machine} in {wheelhouse}: add it, e.g. pip download uv=={version}")
    bindir = os.path.join(dest, "bin")
    os.makedirs(bindir, exist_ok=True)
    with zipfile.ZipFile(os.path.join(wheelhouse, names[0])) as wheel:
        try:
            member = wheel.open(f"uv-{version}.data/scripts/uv")
        except KeyError:
            raise VenvError(f"{names[0]} holds no uv-{version}.data/scripts/uv") from None
        # Written beside its final name and renamed, so a half-written uv is never taken for uv.
        with member, tempfile.NamedTemporaryFile(dir=bindir, delete=False) as tmp:
            shutil.copyfileobj(member, tmp)
    os.chmod(tmp.name, 0o755)
    os.replace(tmp.name, os.path.join(bindir, "uv"))
    return names[0]
