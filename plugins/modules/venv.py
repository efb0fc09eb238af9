# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: venv
short_description: Build a Python virtualenv at its final path, idempotent by content
version_added: 0.1.0
description:
  - Creates a venv for an interpreter and installs a requirements file (hashes honoured), a C(uv.lock)
    or C(pylock.toml), and extra packages, with uv or pip, from an index or offline from a wheelhouse.
  - A marker C(<path>/.pyops-venv.json) records the interpreter's version and real path and a sha256 of the
    inputs (the requirements or lock and C(pyproject.toml), the wheelhouse's file names, the packages and
    the checksums of wheel files among them, and the installer options). All equal, nothing runs
    (RV(action=none)). Inputs changed, the venv is synced in place (RV(action=sync); with pip, or without a
    requirements file or lock, it is built afresh). Interpreter changed or no venv, it is built afresh
    (RV(action=create)).
  - A build runs the installer's commands, links the bytecode of the files the venv shares with
    O(bytecode_from) and compiles the rest, gives the venv to O(owner) (files uv hardlinked from its cache stay
    root's, since they are the cache's), removes group and world write permission and adds group and world read
    (and search on directories and executables), and writes the marker last and atomically, so that a build
    cut short is done again by the next run. A file linked from a cache that an older build left 0640 under a
    hardened umask is made readable this way, in the cache too.
  - With uv, the requirements (or lock) are installed with C(uv pip sync), which installs only what the file
    lists, so the file must be a complete lock. C(uv pip check) then runs; a dependency missing (a
    requirements file with Django but not asgiref) or in conflict fails the build before the marker, with the
    uv's finding and how to lock the file. The pip installer resolves dependencies itself.
  - With uv, a hash-pinned requirements file or lock from an index is synced from uv's cache alone first
    (C(--offline)), and from the index only when the cache lacks something, so that a new venv of an
    unchanged lock (a code-only release) builds without the index, even when it is unreachable.
  - uv is installed when missing, as C(<uv_dir>/<uv_version>/bin/uv), from its wheel in O(wheelhouse) or
    with pip from the index.
  - Everything runs with umask C(0022), whatever the caller's, so that the app's user can read the venv.
author:
  - pyops.deploy maintainers (@pyops)
options:
  path:
    description: Absolute path of the venv, where it will be used (venvs are not relocatable).
    type: path
    required: true
  python:
    description: Absolute path of the interpreter the venv is built on.
    type: path
    default: /usr/bin/python3
  owner:
    description:
      - Owner of the venv's directories and own files. Nothing in the venv stays group- or world-writable.
      - Not set, ownership is left as the installer made it.
    type: str
  group:
    description: Group of the venv; it may read and run the venv but never write to it. Defaults to O(owner).
    type: str
  requirements:
    description:
      - Path of a C(requirements.txt). Excludes O(lock).
      - Read as root without following a symlink, and only if it is a regular file.
    type: path
  require_hashes:
    description:
      - V(auto) passes C(--require-hashes) when the requirements carry hashes, V(always) also fails on a
        file without them, V(never) does not ask (hashes present are still checked).
    type: str
    choices: [auto, always, never]
    default: auto
  lock:
    description:
      - Path of a C(uv.lock), with its C(pyproject.toml) beside it, or of a C(pylock.toml) (or
        C(pylock.<name>.toml)). Needs O(installer=uv). Read like O(requirements).
      - A C(uv.lock) is exported with its hashes, without dev dependencies and without the project itself.
    type: path
  pyproject:
    description:
      - Path of the project's C(pyproject.toml), such as the one at a release's root. When its C([project])
        table sets C(requires-python) and O(python) does not meet it, the task fails before the inputs are
        read or anything is built, with C(release needs Python >=3.12, host <name> has 3.11.2 (...)). Checked in check
        mode too.
      - A missing file, or one without C(requires-python), requires nothing. Read like O(requirements)
        (no symlink followed, regular files only); nothing of it appears in results or messages but the
        C(requires-python) value, and only when it looks like a version specifier.
    type: path
  requires_python:
    description:
      - A C(requires-python) version specifier, such as C(>=3.12), that O(python) must meet, checked like the
        one O(pyproject) holds but with no file read on the host. The deploy role passes the one it read from
        the release's C(pyproject.toml) on the controller, to check every host before any host is changed.
    type: str
  packages:
    description: Extra requirement specs or wheel paths, installed after the requirements.
    type: list
    elements: str
    default: []
  wheelhouse:
    description: Directory of wheels; when set, everything (uv included) is installed from it, with no index.
    type: path
  installer:
    description: V(uv), or V(pip) from the venv itself (needs C(ensurepip), i.e. python3-venv on Debian).
    type: str
    choices: [uv, pip]
    default: uv
  uv_version:
    description: The uv version used, installed when missing.
    type: str
    default: 0.13.9
  uv_dir:
    description: uv is installed as C(<uv_dir>/<uv_version>/bin/uv).
    type: path
    default: /opt/pyops/uv
  cache_dir:
    description: uv's cache, shared by every venv on the host, owned by root with mode C(0755).
    type: path
    default: /var/cache/pyops/uv
  link_mode:
    description: V(auto) hardlinks from uv's cache when it shares a filesystem with the venv, and copies otherwise.
    type: str
    choices: [auto, hardlink, copy]
    default: auto
  compile_bytecode:
    description: Byte-compile the installed packages.
    type: bool
    default: true
  bytecode_from:
    description:
      - An earlier venv built from the same uv cache. Where both hold the same file, its bytecode is linked
        from there instead of compiled again; C(compileall) compiles the rest. uv only.
    type: path
  index_url:
    description:
      - Package index replacing PyPI. Given to uv and pip in their environment (C(UV_INDEX_URL),
        C(PIP_INDEX_URL)), never on a command line; credentials in it never appear in results or messages.
    type: str
  extra_index_urls:
    description:
      - Further indexes (C(UV_EXTRA_INDEX_URL), C(PIP_EXTRA_INDEX_URL)). uv takes a package from the first
        index that has it, pip from any of them.
    type: list
    elements: str
    default: []
  ca_bundle:
    description:
      - CA bundle trusted for the index (uv C(SSL_CERT_FILE), pip C(--cert)); it replaces the installers'
        built-in roots. Not set or empty, those roots are used.
    type: str
attributes:
  check_mode:
    support: full
    description: Reads the venv and reports what it would do (RV(action)) and whether that is a change; changes nothing.
  diff_mode:
    support: full
    description: The marker's fields before and after.
  platform:
    support: full
    platforms: posix
    description: Linux hosts with a CPython 3 interpreter; uv wheels for the host's machine type.
notes:
  - The requirements and lock files usually come from an application's release. A symlink there fails the
    task with a message naming only the path; their text never appears in results or messages
    (RV(inputs_digest) is a digest of it). A failed installer command's message ends with its output, in
    which the installer may quote the file.
  - Symlinks in the directories above an input are followed.
seealso:
  - module: pyops.deploy.release
"""

EXAMPLES = r"""
- name: Build a release's venv from hash-pinned requirements, with the app's wheel
  pyops.deploy.venv:
    path: /srv/shop/releases/r42/venv
    python: /usr/bin/python3.11
    owner: root
    group: shop
    requirements: /srv/shop/releases/r42/requirements.txt
    packages: [/srv/shop/releases/r42/shop-1.4.0-py3-none-any.whl]
    bytecode_from: /srv/shop/current/venv
  register: shop_venv

- name: Refuse a release that needs a newer Python than the host's, before building anything
  pyops.deploy.venv:
    path: /srv/shop/releases/r43/venv
    requirements: /srv/shop/releases/r43/requirements.txt
    pyproject: /srv/shop/releases/r43/pyproject.toml

- name: Build a venv offline from a uv.lock and a wheelhouse
  pyops.deploy.venv:
    path: /srv/tool/venv
    lock: /srv/tool/src/uv.lock
    wheelhouse: /srv/wheelhouse

- name: Build from a private index; the token stays out of results, logs and command lines
  pyops.deploy.venv:
    path: /srv/api/venv
    requirements: /srv/api/requirements.txt
    index_url: "https://deploy:{{ index_token }}@pypi.example.com/simple"
"""

RETURN = r"""
action:
  description: What the venv needed (in check mode, would need). V(create), V(sync) or V(none).
  returned: success
  type: str
  sample: sync
path:
  description: The venv's path.
  returned: success
  type: str
  sample: /srv/shop/releases/r42/venv
python:
  description: The interpreter's version.
  returned: success
  type: str
  sample: 3.11.2
interpreter:
  description: The interpreter's real path.
  returned: success
  type: str
  sample: /usr/bin/python3.11
installer:
  description: The installer, O(installer).
  returned: success
  type: str
  sample: uv
inputs_digest:
  description: The sha256 of the inputs that the marker records.
  returned: success
  type: str
  sample: 5f0c6a8e1b0d4b8f9f8d0b9a3c1e2d4f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d
uv_installed:
  description: Whether uv was (in check mode, would be) installed.
  returned: success
  type: bool
  sample: false
carried:
  description: The number of bytecode files linked from O(bytecode_from).
  returned: success
  type: int
  sample: 1012
seconds:
  description: The seconds each step of the build took.
  returned: success
  type: dict
  sample: {"uv venv": 0.021, "uv pip sync": 0.153, "compileall": 0.102, "marker": 0.001}
msg:
  description: What was (or would be) done.
  returned: always
  type: str
  sample: synced the venv at /srv/shop/releases/r42/venv with uv
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._results import with_diff_if_asked
from ansible_collections.pyops.deploy.plugins.module_utils._venv.build import Venv, validate
from ansible_collections.pyops.deploy.plugins.module_utils._venv.common import VenvError, redact


def argument_spec():
    return {
        "path": {"type": "path", "required": True},
        "python": {"type": "path", "default": "/usr/bin/python3"},
        "owner": {"type": "str"},
        "group": {"type": "str"},
        "requirements": {"type": "path"},
        "require_hashes": {"type": "str", "choices": ["auto", "always", "never"], "default": "auto"},
        "lock": {"type": "path"},
        "pyproject": {"type": "path"},
        "requires_python": {"type": "str"},
        "packages": {"type": "list", "elements": "str", "default": []},
        "wheelhouse": {"type": "path"},
        "installer": {"type": "str", "choices": ["uv", "pip"], "default": "uv"},
        "uv_version": {"type": "str", "default": "0.13.9"},
        "uv_dir": {"type": "path", "default": "/opt/pyops/uv"},
        "cache_dir": {"type": "path", "default": "/var/cache/pyops/uv"},
        "link_mode": {"type": "str", "choices": ["auto", "hardlink", "copy"], "default": "auto"},
        "compile_bytecode": {"type": "bool", "default": True},
        "bytecode_from": {"type": "path"},
        "index_url": {"type": "str", "no_log": True},
        "extra_index_urls": {"type": "list", "elements": "str", "default": [], "no_log": True},
        "ca_bundle": {"type": "str"},
    }


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("requirements", "lock")],
        supports_check_mode=True,
    )
    try:
        validate(module.params)
        result = Venv(module.params, check_mode=module.check_mode).apply()
    except VenvError as exc:
        module.fail_json(msg=redact(str(exc)))
    except OSError as exc:
        module.fail_json(msg=redact(f"building the venv at {module.params['path']} failed: {exc}"))

    module.exit_json(**with_diff_if_asked(module, result))


if __name__ == "__main__":
    main()
