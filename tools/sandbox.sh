#!/usr/bin/env bash
# The `sandbox` inventory's hosts: a proxy, two app hosts and a monitoring host as podman containers
# running systemd on one network, and beside them a database host (PostgreSQL and Redis for the Django
# sample: tools/sandbox_db_host.yml) that the inventory leaves out. The proxy's HTTP and HTTPS ports
# and the monitoring host's Nagios web interface (HTTPS) are published on 127.0.0.1 only.
# usage: tools/sandbox.sh up|down|info
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/harness/containers.conf}
network=pyops-sandbox
# Fixed addresses, so that inventories/sandbox/hosts.yml can name them: Ansible reaches the hosts
# over SSH on this network, as it reaches production hosts.
subnet=10.213.77.0/24
# Connections through a published port reach a host from this address (its firewall admits the
# monitoring host's Nagios web interface from here: inventories/sandbox/group_vars/monitoring).
gateway=10.213.77.1
http_port=${PYOPS_SANDBOX_HTTP_PORT:-8080}
https_port=${PYOPS_SANDBOX_HTTPS_PORT:-8443}
nagios_port=${PYOPS_SANDBOX_NAGIOS_PORT:-8444}
# The web interface's password, made on the first `up` by tools/sandbox_monitoring_host.yml (which names
# this path) and kept; printed by `info` as it is written here.
# shellcheck disable=SC2088  # shown, not opened
nagios_password_file="~/.cache/pyops/sandbox/nagios-web-password"
# name image [podman args...]. Every host loads its own nftables firewall (the hardening role): NET_ADMIN.
hosts=(
    "pyops-sandbox-proxy debian12 --ip 10.213.77.10 --publish 127.0.0.1:$http_port:80 --publish 127.0.0.1:$https_port:443"
    "pyops-sandbox-app1 debian12 --ip 10.213.77.11"
    "pyops-sandbox-app2 debian13 --ip 10.213.77.12"
    "pyops-sandbox-monitor debian12 --ip 10.213.77.13 --publish 127.0.0.1:$nagios_port:443"
    "pyops-sandbox-db debian12 --ip 10.213.77.14"
)

# systemd inside must be up before Ansible starts installing services. A container whose init
# exited is reported with its console output (systemd logs there), so that the cause is in the log.
wait_for_systemd() {  # name
    local name=$1 state
    for _ in $(seq 90); do
        if [ "$(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
            echo "sandbox: $name is not running: $(podman inspect --format '{{.State.Status}} exit={{.State.ExitCode}} {{.State.Error}}' "$name" 2>&1)" >&2
            podman logs --tail 40 "$name" >&2 || true
            return 1
        fi
        state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
        case $state in running|degraded) return 0 ;; esac
        sleep 1
    done
    echo "sandbox: $name: systemd is still '$state' after 90 s; going on" >&2
}

up() {
    podman network exists "$network" || podman network create --subnet "$subnet" --gateway "$gateway" "$network" >/dev/null
    local line name image
    for line in "${hosts[@]}"; do
        read -r name image args <<<"$line"
        if podman container exists "$name"; then
            podman start "$name" >/dev/null
            continue
        fi
        # shellcheck disable=SC2086  # args holds several options on purpose
        podman run -d --name "$name" --hostname "$name" --network "$network" --systemd=always \
            --cap-add NET_ADMIN $args "localhost/pyops-testhost:$image" /sbin/init >/dev/null
        echo "sandbox: started $name ($image)"
    done
    for line in "${hosts[@]}"; do
        read -r name _ <<<"$line"
        wait_for_systemd "$name"
        # The account Ansible logs in as (sudo, key only), as a cloud image's first boot would make it.
        "$root/harness/ssh-via-podman" --install "$name"
    done
    # The two hosts' own software, side by side (each mostly waits on apt); both must pass.
    ansible-playbook -i "$root/inventories/sandbox" "$root/tools/sandbox_db_host.yml" &
    local db=$!
    ansible-playbook -i "$root/inventories/sandbox" "$root/tools/sandbox_monitoring_host.yml"
    wait "$db"
}

down() {
    local line name
    for line in "${hosts[@]}"; do
        read -r name _ <<<"$line"
        podman rm -f "$name" >/dev/null 2>&1 && echo "sandbox: removed $name" || true
    done
    podman network exists "$network" && podman network rm "$network" >/dev/null || true
}

info() {
    cat <<EOT

The sandbox is up: $(podman ps --filter name=pyops-sandbox --format '{{.Names}}' | paste -sd' ').
  https://127.0.0.1:$https_port/healthz   (the sample app through the proxy: curl -k, the certificate is self-signed)
  https://127.0.0.1:$nagios_port/nagios4/  (Nagios, self-signed too: user nagiosadmin, password in $nagios_password_file)
  curl -k -H 'Host: shop.sandbox.test' https://127.0.0.1:$https_port/   (the Django sample, once deployed: docs/django.md)
Next:
  ansible-playbook site.yml -i inventories/sandbox          # converge again: reports changed=0
  ansible-playbook pyops.deploy.deploy -i inventories/sandbox -e deploy_src_dir=\$PWD/examples/flask_app -e deploy_release=v2
  ansible-playbook pyops.deploy.rollback -i inventories/sandbox
  ansible-playbook pyops.deploy.deploy -i inventories/sandbox -e @inventories/sandbox_shop.yml   # the Django sample
  ansible-playbook pyops.deploy.status -i inventories/sandbox
  make demo-down                                            # remove it all
EOT
}

case ${1:-} in
    up) up ;;
    down) down ;;
    info) info ;;
    *) echo "usage: $0 up|down|info" >&2; exit 2 ;;
esac
