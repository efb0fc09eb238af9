# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Logic behind ``pyops.deploy.venv``: read a venv's state, decide, build it.

- ``common``: errors, redaction of index credentials, running commands.
- ``state``: what the venv is compared with (interpreter, inputs read without following symlinks,
  wheelhouse, wheel digests, marker), and the digest the marker records.
- ``bytecode``: bytecode carried from an earlier venv, and the rest compiled.
- ``owner``: the venv's ownership and modes, and the marker written atomically.
- ``build``: the plan (create, sync or nothing; uv or pip; installing uv) and its execution.

Plain Python (no AnsibleModule), stdlib only, Python 3.8 compatible: it runs on the managed host.
"""
