"""Values for the pyops.deploy Zabbix items, for the apps listed in the role's JSON file.

Usage: python3 pyops_app_probe.py discovery health|workers|units|tls
       python3 pyops_app_probe.py health|latency|workers|tls_days APP
       python3 pyops_app_probe.py unit UNIT
Only names found in the file are probed; anything else prints ZBX_NOTSUPPORTED-style errors on
stderr and exits non-zero, which the agent reports as an unsupported item.
"""

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

CONFIG = "/etc/zabbix/pyops-apps.json"


def load():
    with open(CONFIG, encoding="utf-8") as handle:
        return json.load(handle)


def find_app(config, name):
    for app in config["apps"]:
        if app["name"] == name:
            return app
    raise SystemExit(f"unknown app {name!r}")


def discovery(config, kind):
    rows = []
    for app in config["apps"]:
        if kind == "health" and app.get("health_url"):
            rows.append({"{#APP}": app["name"]})
        elif kind == "workers" and app.get("process_match"):
            rows.append({"{#APP}": app["name"], "{#WORKERS_MIN}": str(app.get("workers_min", 1))})
        elif kind == "tls" and app.get("tls_host"):
            rows.append({"{#APP}": app["name"]})
        elif kind == "units":
            rows += [{"{#APP}": app["name"], "{#UNIT}": unit} for unit in app.get("units", [])]
    if kind not in ("health", "workers", "tls", "units"):
        raise SystemExit(f"unknown discovery {kind!r}")
    return json.dumps(rows)


def fetch(config, app):
    """(healthy, seconds): healthy is HTTP 200 with the expected text in the body."""
    start = time.monotonic()
    try:
        with urllib.request.urlopen(app["health_url"], timeout=config["health_timeout"]) as response:
            body = response.read(65536).decode("utf-8", "replace")
            healthy = response.status == 200 and app.get("health_expect", "") in body
    except (OSError, ValueError):
        healthy = False
    return healthy, time.monotonic() - start


def workers(app):
    """Processes whose command line contains process_match, this probe excluded."""
    needle = app["process_match"].encode()
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ")
        except OSError:
            continue
        count += needle in cmdline
    return count


def tls_days(app):
    """Days until the certificate served on tls_host:tls_port expires (not verified: only dated)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    host, port = app["tls_host"], int(app.get("tls_port", 443))
    with socket.create_connection((host, port), timeout=10) as raw, context.wrap_socket(
        raw, server_hostname=host
    ) as tls:
        der = tls.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-enddate"], input=pem, capture_output=True, text=True, check=True
    ).stdout
    not_after = ssl.cert_time_to_seconds(out.strip().split("=", 1)[1])
    return f"{(not_after - time.time()) / 86400:.2f}"


def unit_active(config, unit):
    known = {u for app in config["apps"] for u in app.get("units", [])}
    if unit not in known:
        raise SystemExit(f"unknown unit {unit!r}")
    # is-active exits non-zero for every state but active: the printed state is what counts.
    state = subprocess.run(["systemctl", "is-active", "--", unit], capture_output=True, text=True, check=False).stdout
    return 1 if state.strip() == "active" else 0


def main(argv):
    if len(argv) != 3:
        raise SystemExit(__doc__)
    command, name = argv[1], argv[2]
    config = load()
    if command == "discovery":
        return discovery(config, name)
    if command == "unit":
        return unit_active(config, name)
    app = find_app(config, name)
    if command == "health":
        return int(fetch(config, app)[0])
    if command == "latency":
        return f"{fetch(config, app)[1]:.4f}"
    if command == "workers":
        return workers(app)
    if command == "tls_days":
        return tls_days(app)
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    print(main(sys.argv))
