#!/usr/bin/env bash
# The main job, end to end, in a throw-away copy of the example repo (needs root on Linux):
# three real Debian 13 lab hosts; lab-1 becomes the master (the environment key is made there),
# lab-2 db+queue, lab-3 web+balancer+cache+worker; secrets are generated into the pillar
# encrypted (never in argv or a plaintext file); the demo app is served from the master over
# SSH; `ops deploy lab` converges every host and releases the app; then the site is asked for
# its page, the worker for a Celery task, and the management command for its migration plan.
# KEEP_LAB=1 leaves the lab running (the script prints how to remove it).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ops() { node "$here/dist/ops.mjs" "$@"; }
[ -f "$here/dist/ops.mjs" ] || node "$here/scripts/build.mjs"
work=$(mktemp -d /tmp/ops-demo.XXXXXX)
if [ "${KEEP_LAB:-0}" = 1 ]; then
  trap 'echo; echo "the lab keeps running: cd $work && $here/bin/ops lab status   (remove: $here/bin/ops --root $work lab down)"' EXIT
else
  trap 'ops --root "$work" lab down >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
fi
cp -r "$here/pillar" "$work/"
cd "$work"
exec 2>&1
step() { echo; echo "== $*"; }
step "ops lab up (3 Debian 13 hosts)"; ops lab up
addr() { ops lab status | awk -F'\t' -v n="$1" '$2==n {print $3}'; }
step "ops setup-master lab -H $(addr lab-1)"; ops setup-master lab -H "$(addr lab-1)"
step "ops setup-minion lab db,queue -H $(addr lab-2)"; ops setup-minion lab db,queue -H "$(addr lab-2)"
step "ops setup-minion lab web,balancer,cache,worker -H $(addr lab-3)"; ops setup-minion lab web,balancer,cache,worker -H "$(addr lab-3)"
step "secrets, generated and encrypted to the key on the master"
for s in SECRET_KEY DB_PASSWORD BROKER_PASSWORD; do ops encrypt lab "$s" --generate 40 --write; done
ops deploy-key lab --write
step "ops pillar show lab (secrets masked)"; ops pillar show lab | grep -A4 '^secrets:'
step "ops lab serve-repo examples/demo-app (git over SSH from the master)"; ops lab serve-repo "$here/examples/demo-app"
step "ops deploy lab"; time ops deploy lab
step "ops deploy lab again (nothing to do)"; ops deploy lab 2>&1 | grep -E '^release|succeeded'
step "ops releases lab"; ops releases lab
step "ops manage-run lab -- migrate --plan"; ops manage-run lab -- migrate --plan
web=$(addr lab-3)
url="https://demo.lab.invalid/"
step "GET ${url}task?n=12 (a Celery task through RabbitMQ on the worker)"
curl -sk --resolve "demo.lab.invalid:443:$web" "${url}task?n=12&timeout=40"; echo
step "GET $url (balancer lab-3, $web)"
curl -sk --resolve "demo.lab.invalid:443:$web" "$url"
echo
echo "demo served at $url (curl -k --resolve demo.lab.invalid:443:$web $url)"
