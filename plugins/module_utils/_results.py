# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the collection's modules do with a result before they return it."""

from __future__ import annotations


def with_diff_if_asked(module, result):
    """``result`` without its ``diff`` key, unless the task runs with ``--diff``; returns ``result``."""
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    return result
