#!/usr/bin/env bash
# Runs a command with Debian 12's own Node 18 (the `nodejs` package a master gets), without
# installing it over this machine's Node: the .debs are unpacked into a cache folder and
# /usr/share/nodejs (Debian's externalised builtins) is bind-mounted in a private mount
# namespace. Needs root. Usage: scripts/debian-node18.sh node dist/ops.mjs --version
set -euo pipefail
cache=${OPS_NODE18_CACHE:-/var/cache/ops-test/node18}
if [ ! -x "$cache/root/usr/bin/node" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # libnode108 is Debian's own; take the nodejs of the same version (another repo may offer a newer one).
  ver=$(apt-cache policy libnode108 | awk '/Candidate:/ {print $2}')
  [ -n "$ver" ] && [ "$ver" != "(none)" ] || { echo "debian-node18: no libnode108 package known to apt (run apt-get update)" >&2; exit 2; }
  (cd "$tmp" && apt-get download -q "nodejs=$ver" "libnode108=$ver" node-acorn node-cjs-module-lexer node-undici >/dev/null 2>&1) \
    || { echo "debian-node18: apt-get download failed (is Debian's package registry reachable? run apt-get update)" >&2; exit 2; }
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$tmp/root"; done
  mkdir -p "$cache"
  rm -rf "$cache/root"
  mv "$tmp/root" "$cache/root"
fi
[ "$(id -u)" = 0 ] || { echo "debian-node18: needs root (a private mount namespace for /usr/share/nodejs)" >&2; exit 2; }
[ "${1:-}" = node ] && shift
mkdir -p /usr/share/nodejs
export OPS_NODE18_ROOT="$cache/root"
exec unshare -m sh -c 'mount --bind "$OPS_NODE18_ROOT/usr/share/nodejs" /usr/share/nodejs && LD_LIBRARY_PATH="$OPS_NODE18_ROOT/usr/lib/x86_64-linux-gnu" exec "$OPS_NODE18_ROOT/usr/bin/node" "$@"' node18 "$@"
