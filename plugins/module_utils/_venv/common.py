# -*- coding: utf-8 -*-  # noqa: UP009
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Errors, redaction and commands for ``pyops.deploy.venv``."""

from __future__ import annotations

import os
import re
import shlex
import subprocess

OUTPUT_TAIL_LINES = 40
# The user and password in an index URL (https://user:token@host/...), wherever a message shows one.
URL_CREDENTIALS = re.compile(r"://[^/\s@]+@")


class VenvError(Exception):
    """A step failed; str() is the message for the operator (credentials already hidden)."""


def redact(text):
    """Hide the user and password of every URL in text."""
    return URL_CREDENTIALS.sub("://***@", text)


def tail(text, lines=OUTPUT_TAIL_LINES):
    """The last lines of a command's output, credentials hidden."""
    kept = redact(text).rstrip().splitlines()
    return "\n".join((["[...]"] if len(kept) > lines else []) + kept[-lines:])


def run(name, argv, chdir=None, env=None):
    """Run one command, stderr merged into stdout, with env added to this process's environment.

    Returns the output; raises VenvError naming the step, with the end of the output.
    """
    environ = None
    if env:
        environ = dict(os.environ)
        environ.update(env)
    try:
        done = subprocess.run(
            argv,
            cwd=chdir,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
    except OSError as exc:
        raise VenvError(redact(f"{name} failed: {exc}")) from exc
    output = done.stdout.decode("utf-8", "replace")
    if done.returncode != 0:
        command = " ".join(shlex.quote(arg) for arg in argv)
        raise VenvError(redact(f"{name} failed (exit {done.returncode}): {command}") + "\n" + tail(output))
    return output
