#!/usr/bin/env bash
# Builds the Debian test-host images with debootstrap + podman import (no registry is needed).
# An image is rebuilt only when its recipe changes: this script, harness/image/*, the release and
# the controller's CA bundle are hashed into the image's "pyops.recipe" label.
#
# usage: harness/build-images.sh [bookworm|trixie ...]   (default: both)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/containers.conf}
ca_bundle=${PYOPS_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
releases=("$@")
[ ${#releases[@]} -gt 0 ] || releases=(bookworm trixie)

declare -A version=([bookworm]=12 [trixie]=13)

# The Debian mirror this controller already uses, so the harness works wherever apt does.
apt_uri() {  # $1: path suffix to match, e.g. /debian or /debian-security
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        grep -hoE "(https?|ftp)://[^ ]+$1/?( |$)" "$f" | head -n1 | tr -d ' '
    done | head -n1
}
mirror=${DEBIAN_MIRROR:-$(apt_uri /debian)}
security_mirror=${DEBIAN_SECURITY_MIRROR:-$(apt_uri /debian-security)}
if [ -z "$mirror" ]; then
    echo "build-images: no Debian mirror found in /etc/apt/sources*; set DEBIAN_MIRROR" >&2
    exit 1
fi

recipe_hash() {  # $1: release
    { echo "$1"; cat "$0" "$here"/image/*; [ -r "$ca_bundle" ] && cat "$ca_bundle"; } | sha256sum | cut -c1-16
}

build() {  # $1: release
    local release=$1 tag="localhost/pyops-testhost:debian${version[$1]}" hash root
    hash=$(recipe_hash "$release")
    if [ "$(podman image inspect --format '{{ index .Labels "pyops.recipe" }}' "$tag" 2>/dev/null)" = "$hash" ]; then
        echo "build-images: $tag is up to date ($hash)"
        return
    fi
    echo "build-images: building $tag from $mirror ($hash)"
    root=$(mktemp -d /var/tmp/pyops-rootfs.XXXXXX)
    trap 'rm -rf "$root"' RETURN
    local packages
    packages=$(grep -vE '^\s*(#|$)' "$here/image/packages" | paste -sd, -)
    debootstrap --variant=minbase --include="$packages" "$release" "$root" "$mirror" \
        > "$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; exit 1; }
    rm -f "$root.log"

    rm -f "$root/etc/apt/sources.list"
    {
        printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$mirror" "$release" "$release"
        [ -z "$security_mirror" ] || printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$security_mirror" "$release"
    } > "$root/etc/apt/sources.list.d/debian.sources"
    [ -r "$ca_bundle" ] && install -m 0644 "$ca_bundle" "$root/usr/local/share/ca-certificates/pyops-controller-bundle.crt"
    install -m 0755 "$here/image/setup-rootfs.sh" "$root/setup-rootfs.sh"
    chroot "$root" /setup-rootfs.sh
    rm -f "$root/setup-rootfs.sh"

    tar --numeric-owner --xattrs -C "$root" -c . | podman import \
        --change 'CMD=["/sbin/init"]' \
        --change 'STOPSIGNAL=SIGRTMIN+3' \
        --change "LABEL=pyops.recipe=$hash" \
        --change "LABEL=pyops.release=$release" \
        - "$tag" >/dev/null
    echo "build-images: built $tag"
}

for r in "${releases[@]}"; do
    [ -n "${version[$r]:-}" ] || { echo "build-images: unknown release '$r' (bookworm, trixie)" >&2; exit 2; }
    build "$r"
done
