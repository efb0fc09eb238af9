"""Lynis's hardening index of running containers, audited all at once (the auditor runs on the host
it audits, as `lynis audit system --quick`, and writes its figures to /var/log/lynis-report.dat and
its reasoning, test by test, to /var/log/lynis.log).
"""

import re
import subprocess

# Lynis 3.1.4 (Debian 13) looks for the security archive only in one-line `deb` sources, and only
# when /etc/apt/sources.list exists: Debian 13 lists its archives in deb822 form
# (sources.list.d/debian.sources), and unattended-upgrade leaves an empty sources.list behind when
# it first runs. The test then fails whatever the host has (3 points); the e2e test proves the
# security archive with apt itself instead, and these points are left out of the index.
MISREAD_TESTS = {"PKGS-7388"}


def points(log, leave_out=frozenset()):
    """(points, of max) as the log of one audit adds them up, less the tests in ``leave_out``."""
    test, earned, available = None, 0, 0
    for line in log.splitlines():
        found = re.search(r"Performing test ID (\S+)", line)
        if found:
            test = found.group(1)
        found = re.search(
            r"Hardening: assigned (?:maximum|partial) number of hardening points.*?"
            r"\((\d+)(?: of (\d+))?\)",
            line,
        )
        if found and test not in leave_out:
            got = int(found.group(1))
            earned += got
            available += int(found.group(2)) if found.group(2) else got
    return earned, available


def hardening_indexes(containers, timeout=600, leave_out=frozenset()):
    """{container: hardening index} for each container; lynis must be installed in them.

    Without ``leave_out`` it is Lynis's own figure; with it, the same sum without those tests.
    """
    runs = {
        name: subprocess.Popen(
            ["podman", "exec", name, "lynis", "audit", "system", "--quick", "--no-colors"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in containers
    }
    scores = {}
    for name, run in runs.items():
        assert run.wait(timeout=timeout) == 0, f"lynis failed on {name}"
        report = subprocess.run(
            ["podman", "exec", name, "cat", "/var/log/lynis-report.dat"], check=True, capture_output=True, text=True
        ).stdout
        index = int(re.search(r"^hardening_index=(\d+)$", report, re.MULTILINE).group(1))
        if leave_out:
            log = subprocess.run(
                ["podman", "exec", name, "cat", "/var/log/lynis.log"], check=True, capture_output=True, text=True
            ).stdout
            earned, available = points(log)
            # The log's sum is the report's index: checked, so that a change of Lynis's log is noticed.
            assert int(earned * 100 / available) == index, (name, earned, available, index)
            earned, available = points(log, leave_out)
            index = int(earned * 100 / available)
        scores[name] = index
    return scores
