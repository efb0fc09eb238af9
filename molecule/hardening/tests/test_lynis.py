"""Lynis, run on both hardened hosts at once, scores them at or above the floor.

Floors from measurement in this scenario (podman containers, November 2026; docs/hardening.md has
the unhardened baselines, 59 and 60, and the suggestions accepted). Debian 13's Lynis 3.1.4 scores
the same role 79 (227 of 284 points): 17 points are its sysctl test, which no container can pass
because /proc/sys is read-only there.
"""

import pytest
from lynis_index import hardening_indexes
from probes import HARDENED

FLOOR = {"pyops-hardening-debian12": 80, "pyops-hardening-debian13": 79}


@pytest.fixture(scope="module")
def lynis_index():
    return hardening_indexes(HARDENED)


@pytest.mark.parametrize("target", HARDENED)
def test_lynis_hardening_index_reaches_the_floor(lynis_index, target):
    print(f"lynis hardening index of {target}: {lynis_index[target]}")
    assert lynis_index[target] >= FLOOR[target]
