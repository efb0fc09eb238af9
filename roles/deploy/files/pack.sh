#!/bin/sh
# pack.sh CACHE KIND SOURCE GIT_REF INLINE_MAX [REQUIREMENTS NAME]: pack a directory, copy an
# archive, export a git ref, or pack a wheel (with REQUIREMENTS, a file on the controller, beside it
# as NAME) into CACHE/<sha256>.tar.gz and print "<sha256> inline|file". Same input, same bytes: names
# sorted, times, owners and gzip headers fixed. A tarball of at most INLINE_MAX bytes also gets a
# base64 copy (<sha256>.tar.gz.b64), which the deploy sends inside a task's arguments instead of
# transferring the file: one exchange with each host instead of a copy's four.
set -eu
cache=$1 kind=$2 source=$3 ref=${4:-HEAD} inline_max=${5:-0}
# The cache is the controller user's alone (it may hold private code); made here, not by a task of
# its own, which would cost the controller a module run on every deploy.
mkdir -p "$cache"
chmod 0700 "$cache"
tmp=$(mktemp "$cache/.pack.XXXXXX")
trap 'rm -f "$tmp"' EXIT
pack_dir() {  # directory
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --exclude-vcs \
      --exclude=__pycache__ --exclude='*.pyc' --exclude=.venv --exclude=venv \
      -C "$1" -cf - . | gzip -n >"$tmp"
}
case $kind in
  dir)
    pack_dir "$source" ;;
  wheel)
    # The wheel keeps its file name, which pip and uv read the project and version from.
    stage=$(mktemp -d "$cache/.wheel.XXXXXX")
    trap 'rm -f "$tmp"; rm -rf "$stage"' EXIT
    cp "$source" "$stage/$(basename "$source")"
    if [ -n "${6:-}" ]; then
      mkdir -p "$stage/$(dirname "$7")"
      cp "$6" "$stage/$7"
    fi
    chmod -R u=rwX,go=rX "$stage"
    pack_dir "$stage"
    rm -rf "$stage" ;;
  archive)
    cp "$source" "$tmp" ;;
  git)
    if [ -d "$source" ]; then
      repo=$source
    else
      # A bare mirror per URL, fetched again on every run: the ref may have moved.
      repo=$cache/git-$(printf '%s' "$source" | sha256sum | cut -c1-16)
      [ -d "$repo" ] || git clone --quiet --bare "$source" "$repo"
      git -C "$repo" fetch --quiet --force --tags origin '+refs/heads/*:refs/heads/*'
    fi
    git -C "$repo" archive --format=tar "$ref" | gzip -n >"$tmp" ;;
  *)
    echo "unknown source kind $kind" >&2; exit 2 ;;
esac
sum=$(sha256sum "$tmp" | cut -c1-64)
mv "$tmp" "$cache/$sum.tar.gz"
trap - EXIT
if [ "$(wc -c <"$cache/$sum.tar.gz")" -le "$inline_max" ]; then
  [ -s "$cache/$sum.tar.gz.b64" ] || {
    base64 -w 0 "$cache/$sum.tar.gz" >"$cache/.$sum.b64.tmp"
    mv "$cache/.$sum.b64.tmp" "$cache/$sum.tar.gz.b64"
  }
  echo "$sum inline"
else
  echo "$sum file"
fi
