"""Fixtures of the hardening scenario."""

import time

import pytest
from probes import on


@pytest.fixture
def listener():
    """Start a throwaway TCP server on a host and port; stopped after the test."""
    started = []

    def start(name, port):
        host = on(name)
        unit = f"pyops-probe-{port}"
        host.check_output(f"systemd-run --unit={unit} --collect python3 -m http.server {port}")
        started.append((host, unit))
        for _ in range(50):
            if host.socket(f"tcp://0.0.0.0:{port}").is_listening:
                return
            time.sleep(0.2)
        raise AssertionError(f"probe server on {name}:{port} did not start")

    yield start
    for host, unit in started:
        host.run(f"systemctl stop {unit}")
