#!/usr/bin/env bash
# Benchmark: `ops run -- uptime` on N lab hosts against Fabric 2 (ThreadingGroup), Ansible
# ad-hoc (pipelining on, forks = N) and one OpenSSH process per host, in one hyperfine run
# per size. Needs root on Linux (the lab). Usage: bench/uptime.sh [N ...]   (default: 10 30)
# Writes bench/results/uptime-<N>.{md,json} and peak memory to bench/results/uptime-<N>-rss.txt.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
sizes=("${@:-10}")
[ $# -gt 0 ] || sizes=(10 30)
command -v hyperfine >/dev/null && command -v ansible >/dev/null && /usr/bin/python3 -c 'import fabric' \
  || { echo "bench: apt-get install hyperfine ansible-core python3-fabric" >&2; exit 2; }
node "$here/scripts/build.mjs"
work=$(mktemp -d /tmp/ops-bench.XXXXXX)
mkdir -p "$work/pillar" "$here/bench/results"
printf 'project: bench\n' > "$work/pillar/project.yml"
printf 'protected: false\n' > "$work/pillar/bench.yml"
ops() { node "$here/dist/ops.mjs" --root "$work" "$@"; }
cleanup() { ops lab down >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
for n in "${sizes[@]}"; do
  ops lab up --env bench --hosts "$n" >/dev/null
  key="$work/.ops/lab/id_ed25519"
  kh="$work/.ops/known_hosts"
  mapfile -t addrs < <(ops lab status | awk -F'\t' '$1=="bench" {print $3}')
  [ "${#addrs[@]}" = "$n" ] || { echo "bench: expected $n hosts, got ${#addrs[@]}" >&2; exit 1; }
  # Ansible at its best settings: pipelining, no fact gathering (ad-hoc gathers none), forks = N.
  {
    echo "[defaults]"; echo "inventory = $work/hosts.ini"; echo "forks = $n"; echo "host_key_checking = True"
    echo "interpreter_python = /usr/bin/python3"; echo "stdout_callback = minimal"; echo "gathering = explicit"
    echo "[ssh_connection]"; echo "pipelining = True"
    echo "ssh_args = -o ControlMaster=no -o UserKnownHostsFile=$kh -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
  } > "$work/ansible.cfg"
  { echo "[lab]"; for a in "${addrs[@]}"; do echo "$a ansible_user=root ansible_ssh_private_key_file=$key"; done; } > "$work/hosts.ini"
  openssh="for a in ${addrs[*]}; do ssh -o BatchMode=yes -o UserKnownHostsFile=$kh -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -i $key root@\$a uptime & done; wait"
  fabric="/usr/bin/python3 $here/bench/fabric_uptime.py $key $kh ${addrs[*]}"
  opsrun="node $here/dist/ops.mjs --root $work run bench --parallel $n -- uptime"
  ansible="env ANSIBLE_CONFIG=$work/ansible.cfg ansible lab -m command -a uptime"
  for c in "$opsrun" "$fabric" "$ansible" "$openssh"; do bash -c "$c" >/dev/null || { echo "bench: failed: $c" >&2; exit 1; }; done
  hyperfine --warmup 2 --runs "${RUNS:-10}" --shell bash \
    -n "ops run" "$opsrun" -n "Fabric ThreadingGroup" "$fabric" -n "Ansible ad-hoc" "$ansible" -n "OpenSSH x$n" "$openssh" \
    --export-markdown "$here/bench/results/uptime-$n.md" --export-json "$here/bench/results/uptime-$n.json"
  {
    for pair in "ops run|$opsrun" "Fabric ThreadingGroup|$fabric" "Ansible ad-hoc|$ansible"; do
      name=${pair%%|*}; cmd=${pair#*|}
      /usr/bin/time -f "$name: %M KB peak RSS (largest single process, GNU time)" bash -c "exec $cmd" >/dev/null 2>"$work/time.txt" || true
      tail -1 "$work/time.txt"
    done
  } | tee "$here/bench/results/uptime-$n-rss.txt"
done
