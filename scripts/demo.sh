#!/usr/bin/env bash
# The main job, end to end, in a throw-away copy of the example repo: an environment key,
# secrets encrypted into the pillar without ever touching argv or disk as plaintext, the
# merged pillar shown masked, a fail-closed check; then real lab hosts (Debian 12 booted
# with systemd on this machine; needs root) and commands run on them over SSH.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ops() { node "$here/dist/ops.mjs" "$@"; }
work=$(mktemp -d)
trap 'ops --root "$work" lab down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cp -r "$here/pillar" "$work/"
cd "$work"
exec 2>&1
echo "== ops keygen lab"; ops keygen lab
echo "== ops encrypt lab SECRET_KEY --generate 64 --write"; ops encrypt lab SECRET_KEY --generate 64 --write
echo "== (stdin) ops encrypt lab DB_PASSWORD --write"; ops generate-secret --length 32 | ops encrypt lab DB_PASSWORD --write
echo "== ops deploy-key lab --write"; ops deploy-key lab --write
echo "== ops pillar show lab (secrets masked)"; ops pillar show lab | sed -n '/^env:/,/^http_auth/p'
echo "== ops decrypt lab DB_PASSWORD | wc -c"; ops decrypt lab DB_PASSWORD | wc -c
echo "== a value encrypted to another key fails closed:"
mkdir other && cp -r pillar other/ && rm -rf other/pillar/keys
# secrets: is the last mapping of lab.yml here, so an indented snippet lands inside it
(cd other && ops keygen lab >/dev/null 2>&1 && ops encrypt lab FOREIGN=y) | sed 's/^/  /' >> pillar/lab.yml
if ops decrypt lab; then echo "demo: expected decrypt to fail" >&2; exit 1; else echo "(exit $? as expected)"; fi
echo "== ops lab up (3 Debian 12 hosts)"; ops lab up
echo "== ops lab status"; ops lab status
echo "== ops run lab -- hostname"; ops run lab -- hostname
echo "== ops run lab --host lab-2 -- 'systemctl is-system-running; ls / | wc -l'"; ops run lab --host lab-2 -- 'systemctl is-system-running; ls / | wc -l'
echo "== ops lab down"
