#!/bin/sh
# unpack.sh [EXCLUDE...]: put the release's code in place, then its release id and the marker that
# says the code is complete; prints what it changed. Environment: DIR (the release), GROUP (the
# app's), TARBALL (a copied tarball, removed at the end) or empty to read it base64 from stdin
# (stdin is not read otherwise: with no input the module leaves the task's own stdin attached),
# RELEASE_FILE (empty: none) and RELEASE, MARKER and SHA256 (the tarball's, the marker's content).
# EXCLUDE: paths from the release's root left out of the code (the shared paths, the release file).
# The deploy's unpack task runs it with `sh -euc`, its text as an argument: one exchange per host.
set -eu
write() {  # path, mode, text: rewritten only when the text differs, and then reported
  if [ ! -f "$1" ] || [ "$(cat "$1")" != "$3" ]; then
    printf '%s\n' "$3" > "$1.tmp"
    mv -f "$1.tmp" "$1"
    echo "wrote $1"
  fi
  chown "root:$GROUP" "$1"
  chmod "$2" "$1"
}
if [ ! -f "$MARKER" ] || [ "$(cat "$MARKER")" != "$SHA256" ]; then
  n=$#
  for path; do set -- "$@" "--exclude=$path" "--exclude=./$path"; done
  shift "$n"
  tmp=$(mktemp -d "$DIR/.pyops-unpack.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  if [ -n "$TARBALL" ]; then
    tar -xzf "$TARBALL" -C "$tmp" --no-same-owner --anchored "$@"
  else
    base64 -d | tar -xzf - -C "$tmp" --no-same-owner --anchored "$@"
  fi
  chgrp -R -h "$GROUP" "$tmp"
  find "$tmp" -mindepth 1 -maxdepth 1 -exec cp -a -t "$DIR" {} +
  echo "unpacked $SHA256"
elif [ -z "$TARBALL" ]; then
  cat >/dev/null  # the module writes all of an inline tarball before it reads any output
fi
[ -z "$RELEASE_FILE" ] || write "$RELEASE_FILE" 0644 "$RELEASE"
write "$MARKER" 0640 "$SHA256"
[ -z "$TARBALL" ] || rm -f "$TARBALL"
