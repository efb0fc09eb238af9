"""Lynis's hardening index of running containers, audited all at once (the auditor runs on the host
it audits, as `lynis audit system --quick`, and writes its figures to /var/log/lynis-report.dat).
"""

import re
import subprocess


def hardening_indexes(containers, timeout=600):
    """{container: hardening index} for each container; lynis must be installed in them."""
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
        scores[name] = int(re.search(r"^hardening_index=(\d+)$", report, re.MULTILINE).group(1))
    return scores
