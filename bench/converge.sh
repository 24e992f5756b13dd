#!/usr/bin/env bash
# Benchmark: a no-op converge of the web role (everything already in place) on N lab hosts,
# `ops deploy --role web` run from the operator through the master, against ansible-playbook
# doing the same tasks on the same hosts at its best settings (pipelining, no fact gathering,
# forks = N, ControlPersist), in one hyperfine run. Needs root on Linux.
# Usage: bench/converge.sh [N]   (default 10). Writes bench/results/converge-<N>.{md,json}.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-10}
command -v hyperfine >/dev/null && command -v ansible-playbook >/dev/null || { echo "bench: apt-get install hyperfine ansible-core" >&2; exit 2; }
node "$here/scripts/build.mjs"
work=$(mktemp -d /tmp/ops-bench.XXXXXX)
mkdir -p "$work/pillar" "$work/files" "$here/bench/results"
cp "$here/pillar/project.yml" "$work/pillar/"
printf 'users: {}\n' > "$work/pillar/devs.yml"
printf 'protected: false\ndomain: bench.lab.invalid\n' > "$work/pillar/bench.yml"
ops() { node "$here/dist/ops.mjs" --root "$work" "$@"; }
cleanup() { ops lab down >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
ops lab up --env bench --hosts $((n + 1)) >/dev/null
mapfile -t addrs < <(ops lab status | awk -F'\t' '$1=="bench" {print $3}')
ops setup-master bench -H "${addrs[0]}" >/dev/null
for a in "${addrs[@]:1}"; do ops setup-minion bench web -H "$a" >/dev/null; done
ops deploy bench --no-release >/dev/null 2>&1 || true   # first converge (packages etc.)
ops deploy bench --role web --no-release >/dev/null     # must now be clean
# The files the web role wrote, so that Ansible's copy tasks find them identical.
h="${addrs[1]}"
for f in /etc/ssh/sshd_config.d/ops-hardening.conf /etc/nftables.conf /usr/local/lib/ops/with-env /var/www/demo/shared/env /etc/logrotate.d/demo /etc/systemd/system/demo-web.service; do
  ops run bench --host "$h" -- "cat $f" > "$work/files/$(basename "$f")"
done
pkgs=$(node -e "const y=require('fs').readFileSync('$work/pillar/project.yml','utf8');const m=/packages: \[(.*)\]/.exec(y);console.log(m?m[1]:'')")
key="$work/.ops/lab/id_ed25519"
kh="$work/.ops/known_hosts"
{
  echo "[defaults]"; echo "inventory = $work/hosts.ini"; echo "forks = $n"; echo "host_key_checking = True"
  echo "interpreter_python = /usr/bin/python3"; echo "gathering = explicit"; echo "stdout_callback = minimal"
  echo "[ssh_connection]"; echo "pipelining = True"
  echo "ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=$kh -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
} > "$work/ansible.cfg"
{ echo "[web]"; for a in "${addrs[@]:1}"; do echo "$a ansible_user=root ansible_ssh_private_key_file=$key"; done; } > "$work/hosts.ini"
cat > "$work/web.yml" <<YML
- hosts: web
  gather_facts: false
  tasks:
    - {name: base packages, apt: {name: [sudo, nftables, cron, logrotate, ca-certificates, netbase], state: present}}
    - {name: sshd hardening, copy: {src: $work/files/ops-hardening.conf, dest: /etc/ssh/sshd_config.d/ops-hardening.conf, mode: "0644"}}
    - {name: app packages, apt: {name: [python3, python3-venv, gunicorn, $pkgs], state: present}}
    - {name: app user, user: {name: demo, system: true, home: /var/www/demo, shell: /usr/sbin/nologin, create_home: false}}
    - {name: app root, file: {path: /var/www/demo, state: directory, mode: "0755", owner: root, group: root}}
    - {name: releases, file: {path: /var/www/demo/releases, state: directory, mode: "0755", owner: demo, group: demo}}
    - {name: shared, file: {path: /var/www/demo/shared, state: directory, mode: "0750", owner: root, group: demo}}
    - {name: log, file: {path: /var/www/demo/log, state: directory, mode: "0750", owner: demo, group: demo}}
    - {name: public, file: {path: /var/www/demo/public, state: directory, mode: "0755", owner: root, group: root}}
    - {name: static, file: {path: /var/www/demo/public/static, state: directory, mode: "0755", owner: demo, group: demo}}
    - {name: media, file: {path: /var/www/demo/public/media, state: directory, mode: "0755", owner: demo, group: demo}}
    - {name: ops lib, file: {path: /usr/local/lib/ops, state: directory, mode: "0755"}}
    - {name: with-env, copy: {src: $work/files/with-env, dest: /usr/local/lib/ops/with-env, mode: "0755"}}
    - {name: env file, copy: {src: $work/files/env, dest: /var/www/demo/shared/env, mode: "0640", owner: root, group: demo}}
    - {name: logrotate, copy: {src: $work/files/demo, dest: /etc/logrotate.d/demo, mode: "0644"}}
    - {name: no cron file, file: {path: /etc/cron.d/demo, state: absent}}
    - {name: unit, copy: {src: $work/files/demo-web.service, dest: /etc/systemd/system/demo-web.service, mode: "0644"}}
    - {name: unit enabled, systemd: {name: demo-web.service, enabled: true}}
    - {name: firewall rules, copy: {src: $work/files/nftables.conf, dest: /etc/nftables.conf, mode: "0755"}}
    - {name: firewall on, systemd: {name: nftables, enabled: true, state: started}}
YML
export ANSIBLE_CONFIG="$work/ansible.cfg"
ansible-playbook "$work/web.yml" >/dev/null   # warm-up; installs python3-apt for the apt module
out=$(ansible-playbook "$work/web.yml"); if echo "$out" | grep -qE '\| (CHANGED|FAILED)'; then echo "bench: ansible run is not a no-op:"; echo "$out" | grep -E '\| (CHANGED|FAILED)'; exit 1; fi
state_count=$(ops --json deploy bench --role web --dry-run | grep -c '"type":"state"' || true)
echo "ops checks $((state_count / n)) states per host; the playbook has 20 tasks"
hyperfine --warmup 1 --runs "${RUNS:-10}" \
  -n "ops deploy (no-op, via master)" "node $here/dist/ops.mjs --root $work deploy bench --role web --no-release" \
  -n "ansible-playbook (no-op)" "env ANSIBLE_CONFIG=$work/ansible.cfg ansible-playbook $work/web.yml" \
  --export-markdown "$here/bench/results/converge-$n.md" --export-json "$here/bench/results/converge-$n.json"
