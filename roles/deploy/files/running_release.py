"""Prints the release directory a service runs, or nothing when that is not known to be `current`.

The service resolves `<root>/current` when it starts (its WorkingDirectory and ExecStart go through
the link), so it runs the link's target exactly when its main process started after the link last
changed. Comparing times needs no ptrace access to the process, which reading /proc/<pid>/cwd does:
root lacks it in containers and under some hardened kernels.
"""

import os
import subprocess
import sys
import time


def main(unit, current):
    shown = subprocess.run(
        ["systemctl", "show", "-p", "MainPID", "-p", "ExecMainStartTimestampMonotonic", unit],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    props = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
    pid = int(props.get("MainPID") or 0)
    started_monotonic = int(props.get("ExecMainStartTimestampMonotonic") or 0) / 1e6
    if pid <= 0 or started_monotonic <= 0 or not os.path.islink(current):
        return
    started = time.time() - (time.clock_gettime(time.CLOCK_MONOTONIC) - started_monotonic)
    if started > os.lstat(current).st_mtime:
        print(os.path.realpath(current))


if __name__ == "__main__":
    main(*sys.argv[1:3])
