# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """The attributes the collection's modules share; each module adds its own C(platform)."""

    # The modules that read a host's state and change nothing (app_server_state, hardening_state, ...).
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    support: full
    description: It only reads, so it reads in check mode too.
  diff_mode:
    support: none
    description: It changes nothing.
"""
