#!/usr/bin/env bash
# Benchmark: copy a ~2 GB PostgreSQL database between two lab hosts (production-2 → staging-2),
# `ops db copy` (relayed through ops, and --direct; new database then swap) against the raw
# `ssh A 'pg_dump -Fc' | ssh B 'pg_restore'` pipe (OpenSSH, into a fresh database), at pg_dump's
# default compression and at -Z0 (and -Z0 with AES-GCM, the cipher --direct picks), in one
# hyperfine run; ops's peak RSS from GNU time (%M).
# Data: pgbench -i -s ${SCALE:-100} plus a table of random md5 text (pgbench rows compress far
# too well on their own). Needs root on Linux, hyperfine and GNU time.
# Usage: RUNS=3 bench/dbcopy.sh   (RUNS rounds) Writes bench/results/dbcopy.md, dbcopy-rounds/
# (hyperfine JSON per run), dbcopy-rss.txt and dbcopy-sizes.txt.
# OPS_BUNDLE=/path/to/ops.mjs runs that build instead of building dist/ (e.g. a copy made first).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
command -v hyperfine >/dev/null && [ -x /usr/bin/time ] || { echo "bench: apt-get install hyperfine time" >&2; exit 2; }
if [ -z "${OPS_BUNDLE:-}" ]; then node "$here/scripts/build.mjs"; fi
bundle=${OPS_BUNDLE:-$here/dist/ops.mjs}
work=$(mktemp -d /tmp/ops-bench-db.XXXXXX)
mkdir -p "$work/pillar" "$here/bench/results"
cp "$here/pillar/project.yml" "$work/pillar/"
printf 'users: {}\n' > "$work/pillar/devs.yml"
printf 'protected: true\n' > "$work/pillar/production.yml"
printf 'protected: false\n' > "$work/pillar/staging.yml"
ops() { node "$bundle" --root "$work" "$@"; }
cleanup() { ops lab down >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
for env in production staging; do
  ops lab up --env $env --hosts 2 >/dev/null
  mapfile -t addrs < <(ops lab status | awk -F'\t' -v e=$env '$1==e {print $3}')
  ops setup-master $env -H "${addrs[0]}" >/dev/null
  ops setup-minion $env db -H "${addrs[1]}" >/dev/null
  ops encrypt $env DB_PASSWORD --generate 32 --write >/dev/null
  ops deploy $env --no-release >/dev/null
done
src=$(ops lab status | awk -F'\t' '$2=="production-2" {print $3}')
dst=$(ops lab status | awk -F'\t' '$2=="staging-2" {print $3}')
psql_on() { ops run "$1" --host "$1-2" -- "cd /tmp && runuser -u postgres -- $2"; }
psql_on production "/usr/lib/postgresql/15/bin/pgbench -q -i -s ${SCALE:-100} demo_production" >/dev/null
psql_on production "psql -X -q -d demo_production -c \"create table notes as select i, md5(random()::text) || md5(random()::text) || md5(random()::text) as t from generate_series(1, ${NOTES:-3000000}) i\" -c \"vacuum analyze\""
size=$(psql_on production "psql -X -At -d demo_production -c 'select pg_database_size(current_database())'")
dump_default=$(psql_on production "sh -c 'pg_dump -Fc demo_production | wc -c'")
dump_z0=$(psql_on production "sh -c 'pg_dump -Fc -Z0 demo_production | wc -c'")
echo "database: $((size / 1000000)) MB; dump: $((dump_default / 1000000)) MB (default compression), $((dump_z0 / 1000000)) MB (-Z0)" | tee "$here/bench/results/dbcopy-sizes.txt"
ssh_to() { echo "ssh -o BatchMode=yes -o UserKnownHostsFile=$work/.ops/known_hosts -o StrictHostKeyChecking=yes -i $work/.ops/lab/id_ed25519 ${2:-} root@$1"; }
fresh="$(ssh_to "$dst") 'cd /tmp && runuser -u postgres -- sh -c \"dropdb --if-exists raw_copy && createdb -O demo_staging raw_copy\"'"
raw() { echo "$(ssh_to "$src" "${2:-}") 'cd /tmp && runuser -u postgres -- pg_dump -Fc $1 demo_production' | $(ssh_to "$dst" "${2:-}") 'cd /tmp && runuser -u postgres -- pg_restore --no-owner --no-privileges --exit-on-error -d raw_copy'"; }
rss="$here/bench/results/dbcopy-rss.txt"
: > "$rss"
opscopy() { echo "/usr/bin/time -a -o $rss -f '$1 ${2:-} %M KB' node $bundle --root $work db copy production staging --yes --compress $1 ${2:-}"; }
names=("raw pipe, default compression" "raw pipe, -Z0" "raw pipe, -Z0, AES-GCM" "ops db copy --compress 6 (= default)" "ops db copy --compress 0" "ops db copy --compress auto" "ops db copy --direct --compress 0" "ops db copy --direct (auto)")
cmds=("$(raw '')" "$(raw -Z0)" "$(raw -Z0 '-c aes128-gcm@openssh.com')" "$(opscopy 6)" "$(opscopy 0)" "$(opscopy auto)" "$(opscopy 0 --direct)" "$(opscopy auto --direct)")
prepares=("$fresh" "$fresh" "$fresh" true true true true true)
# Rounds: every command once per round, the order rotated each round, so that a machine that
# gets slower or faster during the run weighs on all of them alike (hyperfine's own repeated
# runs would time each command in one block).
rounds="$here/bench/results/dbcopy-rounds"
rm -rf "$rounds" && mkdir -p "$rounds"
n=${#names[@]}
for ((round = 1; round <= ${RUNS:-3}; round++)); do
  for ((k = 0; k < n; k++)); do
    i=$(( (k + round - 1) % n ))
    echo "round $round: ${names[$i]}" >&2
    hyperfine --runs 1 --style basic -n "${names[$i]}" --prepare "${prepares[$i]}" "${cmds[$i]}" --export-json "$rounds/$round-$i.json" >/dev/null
  done
done
node "$here/bench/rounds.mjs" "$rounds" "raw pipe, default compression" "raw pipe, -Z0" | tee "$here/bench/results/dbcopy.md"
ops db copy production staging --yes --compress auto 2>&1 | grep -E '^link:'
ops db copy production staging --yes --direct 2>&1 | grep -E '^link:'
echo "peak RSS of ops (KB), per run:"; sort "$rss" | uniq -c
