"""A real Nagios Core 4 on the monitoring host runs the rendered objects and reaches OK."""

import os
import re

from monitoring_helpers import APP_HOSTS, MONITOR, wait_for

FLEET = "/etc/nagios4/pyops/fleet.cfg"
STATUS = "/var/lib/nagios4/status.dat"
COMMAND_FILE = "/var/lib/nagios4/rw/nagios.cmd"
SERVICES = {
    "Load", "Disk", "Swap", "Memory", "Processes", "Time offset",
    "sample health", "sample workers", "sample unit sample.service", "sample TLS certificate",
}  # fmt: skip


def service_status(mon):
    """{(host, service): block} for every servicestatus block of status.dat."""
    blocks = re.findall(r"^servicestatus \{\n(.*?)^\s*\}", mon.file(STATUS).content_string, re.M | re.S)
    states = {}
    for block in blocks:
        fields = dict(line.strip().split("=", 1) for line in block.splitlines() if "=" in line)
        states[(fields["host_name"], fields["service_description"])] = fields
    return states


def force_checks(mon, host, services=None):
    now = mon.check_output("date +%s")
    lines = [f"[{now}] SCHEDULE_FORCED_HOST_CHECK;{host};{now}"]
    if services is None:
        lines.append(f"[{now}] SCHEDULE_FORCED_HOST_SVC_CHECKS;{host};{now}")
    else:
        lines += [f"[{now}] SCHEDULE_FORCED_SVC_CHECK;{host};{service};{now}" for service in services]
    mon.check_output("printf '%s\\n' " + " ".join(f"'{line}'" for line in lines) + f" > {COMMAND_FILE}")
    return int(now)


def wait_for_states(mon, wanted, since):
    """Waits until each (host, service) in wanted was checked after `since` with the wanted state."""

    def reached():
        states = service_status(mon)
        done = all(
            key in states and int(states[key]["last_check"]) >= since and int(states[key]["current_state"]) == state
            for key, state in wanted.items()
        )
        return done and states

    states = wait_for(reached, timeout=120, interval=3)
    if not states:
        states = service_status(mon)
        bad = {k: (states.get(k, {}).get("current_state"), states.get(k, {}).get("plugin_output")) for k in wanted}
        raise AssertionError(f"states not reached: {bad}")
    return states


def test_configuration_verifies(mon):
    main = mon.file("/etc/nagios4/nagios.cfg").content_string
    assert f"cfg_file={FLEET}" in main.splitlines()
    assert mon.run("nagios4 -v /etc/nagios4/nagios.cfg").rc == 0
    assert mon.service("nagios4").is_running
    # Debian's sample objects (nagios_agent_server_unload_cfg_files) are gone from what Nagios runs.
    assert "cfg_file=/etc/nagios4/objects/localhost.cfg" not in main.splitlines()
    assert "localhost" not in {host for host, _service in service_status(mon)}


def test_controller_copy_matches_the_loaded_objects(mon):
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "nagios-fleet.cfg")
    with open(path, encoding="utf-8") as handle:
        assert handle.read() == mon.file(FLEET).content_string


def test_every_service_reaches_ok(mon):
    since = min(force_checks(mon, host) for host in APP_HOSTS + [MONITOR])
    wanted = {(host, service): 0 for host in APP_HOSTS for service in SERVICES}
    wanted.update({(MONITOR, service): 0 for service in SERVICES if not service.startswith("sample")})
    states = wait_for_states(mon, wanted, since)
    assert {key for key in states if key[0] in APP_HOSTS} == set(wanted) - {k for k in wanted if k[0] == MONITOR}


def test_stopped_app_turns_critical_in_nagios(mon, stopped_app):
    host = APP_HOSTS[0]
    services = ["sample health", "sample unit sample.service"]
    since = force_checks(mon, host, services)
    states = wait_for_states(mon, {(host, service): 2 for service in services}, since)
    assert "sample.service is inactive" in states[(host, "sample unit sample.service")]["plugin_output"]
