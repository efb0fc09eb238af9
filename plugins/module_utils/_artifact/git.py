# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Export a git ref as a tar: from a local repository as it is, or from a bare mirror of a URL."""

from __future__ import annotations

import hashlib
import os

from ansible_collections.pyops.deploy.plugins.module_utils._artifact.source import redact, url_secrets


class GitError(Exception):
    """A git command failed; the message is redacted already."""


def mirror_path(cache, url):
    """The bare mirror of ``url`` in ``cache``: one per URL, named by its digest."""
    return os.path.join(cache, "git-" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:16])


def _git(run, git, repo, command, secrets):
    """Run ``git [-C repo] command...``; a failure says which command and git's reason, redacted."""
    rc, out, err = run([git] + (["-C", repo] if repo else []) + command)
    if rc != 0:
        said = (err or out or "").strip()
        raise GitError(redact(f"git {command[0]} failed (rc {rc}): {said}", secrets))


def export(run, git, cache, src, ref, destination):
    """Write ``ref`` of ``src`` as a tar at ``destination``; ``run(argv)`` returns (rc, stdout, stderr).

    A local directory is read in place. Anything else is a URL, mirrored bare in ``cache`` and
    fetched again on every run: a branch may have moved since the last one.
    """
    secrets = url_secrets(src)
    if os.path.isdir(src):
        repo = src
    else:
        repo = mirror_path(cache, src)
        if not os.path.isdir(repo):
            _git(run, git, None, ["clone", "--quiet", "--bare", "--", src, repo], secrets)
        fetch = ["fetch", "--quiet", "--force", "--tags", "origin", "+refs/heads/*:refs/heads/*"]
        _git(run, git, repo, fetch, secrets)
    _git(run, git, repo, ["archive", "--format=tar", "-o", destination, ref], secrets)
