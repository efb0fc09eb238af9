# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: artifact
short_description: Pack an app's code into a reproducible tarball named by its sha256
version_added: 0.1.0
description:
  - Packs a directory, copies an archive, exports a git ref or packs a wheel into
    C(<cache>/<sha256>.tar.gz), on the machine the module runs on. The deploy role runs it on the
    controller (C(delegate_to=localhost), C(run_once=true)) and names the release after the sha256.
  - The same input gives the same bytes, so every batch of a run and every run of the same code get
    the same sha256. Members are sorted by name, every time is 0, owner and group are 0 without
    names, and the gzip header holds neither a file name nor a time.
  - A directory or a wheel is packed with entries named C(./<path>). Version control directories and
    files (as C(tar --exclude-vcs) leaves out), C(__pycache__), C(*.pyc), C(.venv) and C(venv) are left
    out at every level. Symlinks are packed as links; sockets, pipes and devices are left out.
  - A git ref is exported with C(git archive). A local repository is read as it is. A URL is
    mirrored bare in O(cache) (one mirror per URL) and fetched again on every run, so a branch that
    moved is packed at its new commit. git never prompts for credentials; put them in the URL, a
    credential helper or an SSH agent.
  - A tarball of at most O(inline_max) bytes also gets a base64 copy, C(<sha256>.tar.gz.b64), which a
    task can send inside its arguments instead of copying the file.
  - The module never reports a change. The cache is the controller's, no managed host is changed,
    and packing the same input again writes the same files.
author:
  - pyops.deploy maintainers (@pyops)
options:
  cache:
    description:
      - The artifact cache directory. It is created when missing and its mode is set to C(0700), as it
        may hold private code and git mirrors whose configuration holds the URL.
    type: path
    required: true
  kind:
    description:
      - V(dir) packs the directory O(src).
      - V(archive) ships the file O(src), which must be a gzipped tarball, byte for byte.
      - V(git) exports O(git_ref) of O(src), a local repository or a URL git can fetch.
      - V(wheel) packs the wheel O(src) under its own file name (pip and uv read the project and
        version from it), with O(requirements) beside it as O(requirements_name).
    type: str
    required: true
    choices: [dir, archive, git, wheel]
  src:
    description:
      - What to pack, as O(kind) says. A directory, archive or wheel is a path on the controller,
        absolute or relative to the working directory (C(~) is not expanded).
      - With O(kind=git), a local path or a URL. A URL may carry credentials
        (C(https://user:token@host/repo.git)). They are never returned and are removed from error
        messages and from RV(source).
    type: str
    required: true
  git_ref:
    description:
      - The branch, tag or commit to export with O(kind=git).
    type: str
    default: HEAD
  inline_max:
    description:
      - The size in bytes up to which the tarball also gets a base64 copy. V(0) writes none.
    type: int
    default: 0
  requirements:
    description:
      - With O(kind=wheel), a requirements file to pack beside the wheel.
    type: path
  requirements_name:
    description:
      - The path, relative to the tarball's root, under which O(requirements) is packed.
    type: str
    default: requirements.txt
attributes:
  check_mode:
    support: full
    description: >-
      Runs the same in check mode. Packing changes no managed host, and the sha256 is needed to name the
      release that check mode reports on.
  diff_mode:
    support: none
    description: Nothing is changed, so there is nothing to show.
  platform:
    support: full
    platforms: posix
    description: Needs C(git) on the machine that packs for O(kind=git).
notes:
  - The tarball's bytes depend on the zlib of the Python that packs; two controllers may give the same
    code different sha256s.
seealso:
  - module: pyops.deploy.release
"""

EXAMPLES = r"""
- name: Pack a directory on the controller
  pyops.deploy.artifact:
    cache: "{{ lookup('ansible.builtin.env', 'HOME') }}/.cache/pyops-deploy"
    kind: dir
    src: /home/alice/shop
    inline_max: 262144
  delegate_to: localhost
  run_once: true
  register: packed

- name: Export a tag of a repository over HTTPS
  pyops.deploy.artifact:
    cache: ~/.cache/pyops-deploy
    kind: git
    src: "https://deploy:{{ vault_git_token }}@git.example.org/shop.git"
    git_ref: v1.4.2
  delegate_to: localhost
  run_once: true

- name: Pack a wheel with its pinned requirements
  pyops.deploy.artifact:
    cache: ~/.cache/pyops-deploy
    kind: wheel
    src: dist/shop-1.4.2-py3-none-any.whl
    requirements: requirements.lock
    requirements_name: requirements.txt
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
sha256:
  description: The sha256 of the tarball, in hex.
  returned: success
  type: str
  sample: 6f1c0f0d6e3c2b8a5f0f4b6a8d2f6c1e9b7a3d5c4e2f1a0b9c8d7e6f5a4b3c2d
path:
  description: The tarball, C(<cache>/<sha256>.tar.gz).
  returned: success
  type: str
  sample: /home/alice/.cache/pyops-deploy/6f1c0f0d6e3c2b8a5f0f4b6a8d2f6c1e9b7a3d5c4e2f1a0b9c8d7e6f5a4b3c2d.tar.gz
size:
  description: The tarball's size in bytes.
  returned: success
  type: int
  sample: 48213
inline:
  description: Whether the tarball is at most O(inline_max) bytes and has a base64 copy.
  returned: success
  type: bool
  sample: true
content_path:
  description: The base64 copy, C(<path>.b64), when RV(inline) is true; V(null) otherwise.
  returned: success
  type: str
  sample: /home/alice/.cache/pyops-deploy/6f1c0f0d6e3c2b8a5f0f4b6a8d2f6c1e9b7a3d5c4e2f1a0b9c8d7e6f5a4b3c2d.tar.gz.b64
source:
  description:
    - What was packed, for an audit log, C(<kind>:<src>), with C(@<git_ref>) for O(kind=git).
    - Credentials in a URL (C(user:password@) or C(token@)) are removed.
  returned: always
  type: str
  sample: git:https://git.example.org/shop.git@v1.4.2
requires_python:
  description:
    - The C([project] requires-python) of the packed tree's top-level C(pyproject.toml), empty without one
      (or for a wheel). Read from the tarball, never by following a link.
  returned: success
  type: str
  sample: ">=3.11"
run_id:
  description:
    - A new id for each call, C(<UTC time>-<12 hex digits>). The deploy packs once per run and uses
      it as the run's id in the deploy lock, so two runs never share a lock, even from one user and host.
  returned: success
  type: str
  sample: 20261204T171500Z-3f9a0c1be2d4
"""

import binascii
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pyops.deploy.plugins.module_utils._artifact import (
    KINDS,
    ArtifactError,
    describe,
    pack,
    url_secrets,
)


def argument_spec():
    return {
        "cache": {"type": "path", "required": True},
        "kind": {"type": "str", "required": True, "choices": list(KINDS)},
        "src": {"type": "str", "required": True},
        "git_ref": {"type": "str", "default": "HEAD"},
        "inline_max": {"type": "int", "default": 0},
        "requirements": {"type": "path"},
        "requirements_name": {"type": "str", "default": "requirements.txt"},
    }


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    kind, src = params["kind"], params["src"]
    # A URL's password or token is masked wherever ansible would show it, the invocation included.
    module.no_log_values.update(url_secrets(src))
    source = describe(kind, src, params["git_ref"])
    git = module.get_bin_path("git", required=True) if kind == "git" else "git"

    def run(argv):
        return module.run_command(argv, environ_update={"GIT_TERMINAL_PROMPT": "0"})

    try:
        packed = pack(
            params["cache"],
            kind,
            src,
            git_ref=params["git_ref"],
            inline_max=params["inline_max"],
            requirements=params["requirements"],
            requirements_name=params["requirements_name"],
            run=run,
            git=git,
        )
    except ArtifactError as exc:
        module.fail_json(msg=str(exc), source=source)
    run_id = "{}-{}".format(
        time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), binascii.hexlify(os.urandom(6)).decode("ascii")
    )
    module.exit_json(changed=False, source=source, run_id=run_id, **packed)


if __name__ == "__main__":
    main()
