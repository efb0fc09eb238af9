#!/bin/sh
# Marks the Debian packages owning the shared libraries an interpreter in prefix $1 links against
# as manually installed, so removing the -dev packages (and autoremove) keeps them.
set -eu
prefix=$1

owner() {
    # usrmerge: dpkg may know a library under /lib or /usr/lib, by its link name or its real name.
    real=$(readlink -f "$1")
    for path in "$1" "/usr$1" "${1#/usr}" "$real" "${real#/usr}"; do
        if dpkg -S "$path" 2>/dev/null; then return 0; fi
    done
}

packages=$(
    find "$prefix/bin" "$prefix/lib" -type f \( -name 'python3.*' -o -name '*.so' \) -print |
        while read -r file; do ldd "$file" 2>/dev/null || true; done |
        awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
        while read -r lib; do owner "$lib" || true; done |
        cut -d: -f1 | sort -u
)
auto=$(apt-mark showauto)
for pkg in $packages; do
    if printf '%s\n' "$auto" | grep -qx "$pkg"; then
        apt-mark manual "$pkg" >/dev/null && echo "marked $pkg"
    fi
done
