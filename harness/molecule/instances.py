#!/usr/bin/env python3
"""Creates or removes a Molecule scenario's containers with podman, in one step each.

usage: instances.py create|destroy PLATFORMS_JSON

Called by harness/molecule/create.yml and destroy.yml (set for every scenario in
.config/molecule/config.yml) in place of molecule-plugins' podman playbooks, which spend about 25 s of
CPU per scenario on Ansible tasks and polling around the same `podman run` and `podman rm` (on the
2-core test machine, where `make test` is bound by CPU). The containers are created exactly as
molecule-plugins creates them for the keys the scenarios use: name, hostname (the name), the
label owner=molecule, network (created when missing), capabilities, systemd, image, command; then
it waits until each container's systemd has booted (its SSH host keys made) before Ansible's first
login. Removal does not wait for the containers' systemd to shut down: nothing in them is kept.
"""

import json
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

PODMAN = "podman"
# Networks podman provides itself (molecule-plugins creates no network for these either).
BUILTIN_NETWORKS = {"bridge", "none", "host", "ns", "private", "slirp4netns"}
BOOT_TIMEOUT = 180
NETWORK_TIMEOUT = 60
KNOWN_KEYS = {"name", "hostname", "image", "pre_build_image", "systemd", "command", "network", "capabilities", "groups"}


def podman(*args, check=True):
    result = subprocess.run([PODMAN, *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        sys.exit(f"instances: podman {shlex.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def run_argv(platform):
    argv = ["container", "run", "--name", platform["name"], "--hostname", platform.get("hostname", platform["name"])]
    argv += ["--label", "owner=molecule"]
    if platform.get("network"):
        argv += ["--network", platform["network"]]
    for capability in platform.get("capabilities", []):
        argv += ["--cap-add", capability]
    if "systemd" in platform:
        argv.append(f"--systemd={str(platform['systemd']).lower()}")
    argv += ["--detach", platform["image"]]
    command = platform.get("command")
    argv += shlex.split(command) if isinstance(command, str) else list(command or [])
    return argv


def create(platforms):
    for platform in platforms:
        unknown = set(platform) - KNOWN_KEYS
        if unknown or not platform.get("pre_build_image", False):
            sys.exit(
                f"instances: platform {platform['name']}: only prebuilt images and the keys {sorted(KNOWN_KEYS)}"
                f" are supported here (got {sorted(unknown) or 'pre_build_image: false'}); see harness/molecule/"
            )
    for network in dict.fromkeys(p["network"] for p in platforms if p.get("network")):
        if network not in BUILTIN_NETWORKS and podman("network", "exists", network, check=False).returncode != 0:
            podman("network", "create", network)

    def start(platform):
        if podman("container", "exists", platform["name"], check=False).returncode == 0:
            podman("container", "start", platform["name"])
        else:
            podman(*run_argv(platform))
        if str(platform.get("systemd", "")).lower() in ("always", "true") or "init" in str(platform.get("command")):
            # Booted before the first SSH login: its unit makes the host keys, which ssh-via-podman would
            # otherwise make itself, slowly enough on a loaded machine to miss Ansible's 10 s connect timeout.
            deadline = time.monotonic() + BOOT_TIMEOUT
            while True:
                booted = podman("exec", platform["name"], "systemctl", "is-system-running", "--wait", check=False)
                state = booted.stdout.strip()
                if state in ("running", "degraded"):
                    break
                if time.monotonic() > deadline:
                    why = f"{state} {booted.stderr.strip()}"
                    sys.exit(f"instances: {platform['name']} did not boot in {BOOT_TIMEOUT} s: {why}")
                time.sleep(0.5)  # systemd not up yet: no bus to ask

    with ThreadPoolExecutor(max_workers=len(platforms) or 1) as pool:
        list(pool.map(start, platforms))


def destroy(platforms):
    names = [p["name"] for p in platforms]
    if names:
        podman("container", "rm", "--force", "--ignore", "--time", "0", *names)
    for network in dict.fromkeys(p["network"] for p in platforms if p.get("network")):
        if network in BUILTIN_NETWORKS:
            continue
        # On a loaded machine podman can still count a removed container (its SSH link's exec session
        # being torn down) on the network for a while: try again, then force it, as the network is
        # this scenario's own.
        deadline = time.monotonic() + NETWORK_TIMEOUT
        while podman("network", "exists", network, check=False).returncode == 0:
            removed = podman("network", "rm", network, check=False)
            if removed.returncode == 0:
                break
            if time.monotonic() > deadline:
                podman("network", "rm", "--force", network)
                break
            time.sleep(1)


if __name__ == "__main__":
    action, platforms = sys.argv[1], json.loads(sys.argv[2])
    {"create": create, "destroy": destroy}[action](platforms)
