#!/bin/sh
# Runs inside the freshly debootstrapped root (via chroot) to turn it into a container test host.
set -eu

# The controller's CA bundle (copied in by build-images.sh) lets hosts reach PyPI through an
# intercepting proxy. It goes where update-ca-certificates keeps it across later package installs.
if [ -s /usr/local/share/ca-certificates/pyops-controller-bundle.crt ]; then
    update-ca-certificates >/dev/null 2>&1
fi

# Units that have no job inside a container and only fail or wait there.
for unit in getty@tty1.service console-getty.service systemd-remount-fs.service \
            systemd-udevd.service systemd-udev-trigger.service systemd-firstboot.service \
            sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
            sys-fs-fuse-connections.mount dev-hugepages.mount; do
    ln -sf /dev/null "/etc/systemd/system/$unit"
done

# Every container must have its own SSH host keys: none are baked into the image; a oneshot
# unit creates them at first boot.
rm -f /etc/ssh/ssh_host_*
cat > /etc/systemd/system/ssh-host-keys.service <<'UNIT'
[Unit]
Description=Generate this container's SSH host keys
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
Before=ssh.service ssh.socket

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
systemctl enable ssh-host-keys.service >/dev/null 2>&1
systemctl enable ssh.service >/dev/null 2>&1 || true

# A machine-id per container (systemd writes one at first boot when the file is empty).
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id

# Keep the image small; roles refresh apt lists themselves.
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /tmp/* /var/tmp/*
# The apt module's cache_valid_time reads the lists directory's time when apt has no success stamp:
# emptied just now, it would look fresh for an hour, and no role would refresh it.
touch -d @0 /var/lib/apt/lists
