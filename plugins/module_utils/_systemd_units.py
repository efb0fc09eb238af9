# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


"""Units' properties from one ``systemctl show``, for the modules that read a host's state.

Plain Python (no AnsibleModule), Python 3.8 compatible, stdlib only; ``run_command`` runs an argv and
returns ``(rc, stdout, stderr)``.
"""

from __future__ import annotations

SHOW_PROPERTIES = "Id,LoadState,ActiveState,UnitFileState,NeedDaemonReload"


def show_units(names, run_command, systemctl="systemctl", properties=SHOW_PROPERTIES):
    """{unit: {property: value}} from one `systemctl show`, or a string saying why not."""
    if not systemctl:
        return "systemctl: not found"
    try:
        rc, out, err = run_command([systemctl, "show", "--no-pager", "-p", properties, "--", *names])
    except OSError as exc:
        return f"systemctl: {exc.strerror}"
    if rc != 0:
        return f"systemctl show failed: {' '.join((err or '').split())}"
    blocks = [block for block in (out or "").split("\n\n") if block.strip()]
    if len(blocks) != len(names):
        return f"systemctl show answered for {len(blocks)} of {len(names)} units"
    units = {}
    for name, block in zip(names, blocks):
        units[name] = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
    return units
