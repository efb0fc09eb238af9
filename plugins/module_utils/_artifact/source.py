# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The audit log's name of a source, and the credentials a git URL may carry, kept out of both.

A URL's user information (``user:password@`` or a bare ``token@``) is removed: the audit log,
release_info and error messages are read by people who must not learn it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

KINDS = ("dir", "archive", "git", "wheel")

# scheme://userinfo@host...: the userinfo runs to the last @ before the path, query or fragment.
_USERINFO_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#\s'\"]*)@")
# Schemes where a bare user name is an account (ssh://git@host), not a token.
_ACCOUNT_SCHEMES = ("ssh://", "git+ssh://", "ssh+git://")


def redact_url(text):
    """``text`` with the user information of every URL in it removed."""
    return _USERINFO_RE.sub(r"\1", text)


def url_secrets(url):
    """The strings of ``url`` to hide wherever they would be shown: password, token, both spellings."""
    found = []
    for match in _USERINFO_RE.finditer(url):
        scheme, userinfo = match.group(1).lower(), match.group(2)
        user, sep, password = userinfo.partition(":")
        if sep:
            found.extend([userinfo, password])
        elif scheme not in _ACCOUNT_SCHEMES:
            found.append(user)
    secrets = set()
    for value in found:
        for spelling in (value, unquote(value)):
            # One or two characters would mask half of every message; such a secret guards nothing.
            if len(spelling) >= 3:
                secrets.add(spelling)
    return sorted(secrets, key=len, reverse=True)


def redact(text, secrets=()):
    """``text`` without URL user information and without any of ``secrets``."""
    text = redact_url(text)
    for secret in secrets:
        text = text.replace(secret, "********")
    return text


def describe(kind, src, git_ref="HEAD"):
    """The audit log's source: ``git:<repo>@<ref>``, ``archive:<path>``, ``wheel:<path>`` or ``dir:<path>``."""
    described = f"{kind}:{src}"
    if kind == "git":
        described += f"@{git_ref}"
    return redact(described, url_secrets(src))
