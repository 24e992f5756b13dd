/**
 * Database operations on real lab hosts: `production` (master production-1, PostgreSQL 15 on
 * production-2, both Debian 12) and `staging` (master staging-1, PostgreSQL 17 on staging-2, both
 * Debian 13), converged with
 * `ops deploy <env> --no-release`. The copy is killed mid-stream three ways (Ctrl-C, the source's
 * pg_dump killed, the source's link dropped) and must leave staging exactly as it was (and, after
 * a dropped link, no pg_dump left on the source once its sshd gives up the client); bad input
 * exits 2 before anything is touched; undo-copy, backup/restore and reset-local-db (into this
 * machine's PostgreSQL) round-trip the rows.
 *
 * The app around the swap: staging-2 also carries the worker and web roles in the inventory
 * (production-2 the web role), without their states: its `demo-worker.service` is a small unit
 * that holds a session on demo_staging, and the media folders are made by hand (the app release
 * itself is not part of this test) — the copy must stop the unit for the swap and start it
 * again, and swap the media folder with the database.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, provisionLab, requireRoot, untilGone, withLinkDown, type LabHostRow } from '../support/lab.js';
import { OPS, ops, tempDir, tempRepo, type RunResult } from '../support/ops.js';
import { startLocalPostgres } from '../support/local-pg.js';

let repo: string;
let hosts: LabHostRow[] = [];
const addr = (name: string) => hosts.find((h) => h.name === name)?.address ?? '';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const LOCAL_DB = 'ops_test_reset_local';
const MEDIA = '/var/www/demo/public/media';
const mediaList = (env: 'production' | 'staging') => run(env, `${env}-2`, `cd ${MEDIA} && find . -type f | sort | xargs -d '\\n' md5sum`).then((r) => r.stdout);

function run(env: string, host: string, line: string): Promise<RunResult> {
  return ops(['run', env, '--host', host, '--', line], { cwd: repo });
}

/** Rows of `sql` in `db` on the env's db host, as psql -At prints them. */
async function sql(env: 'production' | 'staging', sqlText: string, db = `demo_${env}`): Promise<string> {
  const r = await run(env, `${env}-2`, `echo ${b64(sqlText)} | base64 -d | runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -At -d ${db}`);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

const databases = (env: 'production' | 'staging') => sql(env, "select string_agg(datname, ' ' order by datname) from pg_database where datname like 'demo_%'", 'postgres');
/** What the app sees of staging: its rows and a checksum of every note. */
const FINGERPRINT = "select count(*) || ' ' || md5(string_agg(note, ',' order by id)) from items";
const fingerprint = () => sql('staging', FINGERPRINT);

/** The fingerprints of root's logins from `from` accepted by sshd on production-2 so far. */
async function loginsOnSource(from: string): Promise<string[]> {
  const r = await run('production', 'production-2', `journalctl -u ssh --no-pager -o cat | grep "Accepted publickey for root from ${from} " || true`);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => /(SHA256:\S+)/.exec(l)?.[1] ?? '?');
}

/** What of a pull is still running (pg_dump on production-2, ssh/pg_restore on staging-2, either script) after up to 10 s. */
async function pullLeftovers(): Promise<string> {
  let left = '';
  for (let i = 0; i < 20; i++) {
    const src = await run('production', 'production-2', "pgrep -a -x pg_dump; pgrep -a -f 'exec 3<&[0]'; true");
    const dst = await run('staging', 'staging-2', "pgrep -a -f 'OPS_PULL_KNOWN_HOST[S]|^ssh -F /dev/null|pg_[r]estore'; true");
    left = (src.stdout + dst.stdout).trim();
    if (left === '') return left;
    await new Promise((r) => setTimeout(r, 500));
  }
  return left;
}

/** Pull keys still authorized on production-2, and pull known_hosts files left on staging-2. */
async function pullTraces(): Promise<string> {
  const keys = await run('production', 'production-2', 'grep ops-pull- /root/.ssh/authorized_keys; true');
  const files = await run('staging', 'staging-2', 'ls /tmp/ops-pull.* 2>/dev/null; true');
  return (keys.stdout + files.stdout).trim();
}

/** `ops --json db copy production staging …` as a child process; resolves `streaming` at the first progress event. */
function startCopy(extra: string[] = []) {
  const child = spawn(process.execPath, [OPS, '--json', 'db', 'copy', 'production', 'staging', '--yes', '--compress', '9', ...extra], {
    cwd: repo,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let onProgress: () => void = () => undefined;
  const streaming = new Promise<void>((resolve) => (onProgress = resolve));
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
    if (/"type":"progress"/.test(stdout)) onProgress();
  });
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exit = new Promise<RunResult>((resolve) => child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr })));
  return { child, streaming, exit };
}

async function expectStagingUntouched(before: { rows: string; dbs: string }): Promise<void> {
  expect(await fingerprint()).toBe(before.rows);
  expect(await databases('staging')).toBe(before.dbs);
  expect((await run('staging', 'staging-2', 'systemctl is-active demo-worker.service')).stdout.trim()).toBe('active');
}

const snapshot = async () => ({ rows: await fingerprint(), dbs: await databases('staging') });

/** A copy interrupted (SIGINT) once it streams: exit 130, the new database dropped, staging as it was. */
async function interruptCopy(extra: string[]): Promise<void> {
  const before = await snapshot();
  const c = startCopy(extra);
  await c.streaming;
  c.child.kill('SIGINT');
  const r = await c.exit;
  expect(r.code, r.stderr).toBe(130);
  expect(r.stderr).toMatch(/dropped demo_staging_incoming_\d{8}t\d{6}/);
  await expectStagingUntouched(before);
}

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  writeFileSync(join(repo, 'pillar/production.yml'), 'domain: www.demo.lab.invalid\n# protected: true is the default for production\n');
  writeFileSync(join(repo, 'pillar/staging.yml'), 'domain: staging.demo.lab.invalid\nprotected: false\n');
  writeFileSync(join(repo, 'pillar/qa.yml'), 'servers:\n  qa-1:\n    address: 192.0.2.10\n    roles: [web]\n');
  // the two environments are independent: set up and converged side by side
  const envHosts = await Promise.all(
    ['production', 'staging'].map(async (env) => {
      // production on Debian 12 (PostgreSQL 15), staging on Debian 13 (17): every copy crosses majors
      const made = await provisionLab(repo, { env, hosts: 2, distro: env === 'production' ? 'debian-12' : 'debian-13', minions: { [`${env}-2`]: 'db' }, secrets: ['DB_PASSWORD'] });
      const d = await ops(['deploy', env, '--no-release'], { cwd: repo });
      expect(d.code, d.stdout + d.stderr).toBe(0);
      return made;
    }),
  );
  hosts = envHosts.flat();
  // production: a small table whose rows are checked, and ~120 MB of random text so a copy takes a while
  await sql(
    'production',
    `create table items (id serial primary key, note text not null);
     insert into items (note) select 'production row ' || i from generate_series(1, 500) i;
     create table filler as select i, md5(random()::text) || md5(random()::text) as t from generate_series(1, 1500000) i;
     create view item_notes as select note from items;`,
  );
  await sql('staging', `create table items (id serial primary key, note text not null); insert into items (note) values ('staging a'), ('staging b'), ('staging c'); alter table items owner to demo_staging;`);
  // the stand-ins for the app on staging-2 and production-2 (see above)
  for (const [env, roles] of [['staging', 'db, worker, web'], ['production', 'db, web']]) {
    const overlay = join(repo, `.ops/pillar/${env}.yml`);
    writeFileSync(overlay, readFileSync(overlay, 'utf8').replace(new RegExp(`(${env}-2:[^\\n]*roles: \\[)\\s*db\\s*\\]`), `$1${roles}]`));
    expect(readFileSync(overlay, 'utf8')).toContain(`roles: [${roles}]`);
  }
  expect((await run('production', 'production-2', `mkdir -p ${MEDIA}/sub && echo cat > ${MEDIA}/sub/cat.txt && echo "it's a dog" > "${MEDIA}/dog file.txt"`)).code).toBe(0);
  expect((await run('staging', 'staging-2', `useradd --system demo && mkdir -p ${MEDIA} && echo old > ${MEDIA}/old.txt`)).code).toBe(0);
  const unit = `[Unit]\nDescription=stand-in app worker\n[Service]\nUser=postgres\nExecStart=/usr/bin/psql -X -d demo_staging -c "select pg_sleep(1000000)"\nRestart=always\nRestartSec=1\n`;
  const u = await run('staging', 'staging-2', `echo ${b64(unit)} | base64 -d > /etc/systemd/system/demo-worker.service && systemctl daemon-reload && systemctl start demo-worker.service && systemctl is-active demo-worker.service`);
  expect(u.stdout.trim(), u.stderr).toBe('active');
});

afterAll(async () => {
  try {
    execFileSync('sh', ['-c', `runuser -u postgres -- psql -X -At -c "select datname from pg_database where datname like '${LOCAL_DB}%'" | while read d; do runuser -u postgres -- dropdb "$d"; done`]);
  } catch {
    // the local server may not have started
  }
  if (repo) await labDown(repo);
});

describe('db copy, faults, undo, backup/restore on lab hosts', () => {
  it('bad input: one clear line, exit 2, nothing touched (before any connection)', async () => {
    const before = await snapshot();
    const cases: [string[], RegExp][] = [
      [['db', 'copy', 'production', 'nosuch'], /unknown environment 'nosuch'/],
      [['db', 'copy', 'qa', 'staging'], /environment 'qa' has no db host/],
      [['db', 'copy', 'staging', 'staging'], /source and target are the same database/],
      [['db', 'copy', 'staging', 'production', '--yes'], /environment 'production' is protected/],
      [['db', 'copy', 'staging', 'production', '--allow-protected-target', '--confirm', 'demo_staging'], /does not name the database to replace \(demo_production\)/],
      [['db', 'restore', 'production', '/etc/hostname', '--yes'], /environment 'production' is protected/],
      [['db', 'copy', 'production', 'staging', '--compress', 'x'], /--compress takes auto or a level/],
      [['db', 'copy', 'production', 'staging', '--direct', '--keep-dump', join(tempDir(), 'd.dump')], /--keep-dump needs the stream to pass through ops/],
    ];
    for (const [args, message] of cases) {
      const r = await ops(args, { cwd: repo });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack
    }
    // no terminal and no --yes: the question is an error naming the flag, nothing waits
    const noTty = await ops(['db', 'copy', 'production', 'staging'], { cwd: repo });
    expect(noTty.code, noTty.stderr).toBe(2);
    expect(noTty.stderr).toMatch(/no terminal to ask on[\s\S]*--yes/);
    expect(noTty.stderr).toMatch(/copy\s+demo_production on production-2 \(production, \d/);
    await expectStagingUntouched(before);
  });

  it('copies only from older to newer PostgreSQL: staging (17) into production (15) is refused before anything, naming both', async () => {
    expect(await sql('production', 'show server_version')).toMatch(/^15\./);
    expect(await sql('staging', 'show server_version')).toMatch(/^17\./);
    const before = { dbs: await databases('production'), rows: await sql('production', FINGERPRINT) };
    const r = await ops(['db', 'copy', 'staging', 'production', '--allow-protected-target', '--confirm', 'demo_production', '--yes'], { cwd: repo });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(/staging-2 \(staging\) runs PostgreSQL 17 and production-2 \(production\) PostgreSQL 15: a dump of a newer PostgreSQL does not restore into an older one/);
    expect(r.stderr).toMatch(/nothing was changed/);
    expect({ dbs: await databases('production'), rows: await sql('production', FINGERPRINT) }).toEqual(before);
  });

  it('copies production into staging: rows, owners, the old database kept, the app stopped and started again, media swapped, dump kept 0600', async () => {
    const dump = join(tempDir(), 'prod.dump');
    const pidBefore = (await run('staging', 'staging-2', 'systemctl show -p MainPID --value demo-worker.service')).stdout.trim();
    const r = await ops(['--json', 'db', 'copy', 'production', 'staging', '--yes', '--with-media', '--keep-dump', dump], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(await mediaList('staging')).toBe(await mediaList('production'));
    expect(await mediaList('production')).toMatch(/\.\/dog file\.txt[\s\S]*\.\/sub\/cat\.txt/);
    const media = await run('staging', 'staging-2', `stat -c %U ${MEDIA}/sub/cat.txt; cat ${MEDIA}.before-*/old.txt; ls -d ${MEDIA}.incoming-* 2>/dev/null | wc -l`);
    expect(media.stdout.trim().split('\n')).toEqual(['demo', 'old', '0']);
    expect(r.stderr).toMatch(/link: \d+ MB\/s → pg_dump -Z\d/);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; bytes?: number });
    const stream = events.find((e) => e.type === 'stream');
    expect(stream?.bytes).toBeGreaterThan(1_000_000);
    expect(await fingerprint()).toBe(await sql('production', "select count(*) || ' ' || md5(string_agg(note, ',' order by id)) from items"));
    expect(await sql('staging', 'select count(*) from filler')).toBe('1500000');
    // everything belongs to the staging role, nothing to postgres
    expect(await sql('staging', "select string_agg(distinct pg_get_userbyid(relowner), ',') from pg_class c join pg_namespace n on n.oid = relnamespace where nspname = 'public'")).toBe('demo_staging');
    expect(await sql('staging', 'select pg_get_userbyid(datdba) from pg_database where datname = current_database()')).toBe('demo_staging');
    const dbs = (await databases('staging')).split(' ');
    expect(dbs.filter((d) => /^demo_staging_before_\d{8}t\d{6}$/.test(d))).toHaveLength(1);
    expect(dbs.some((d) => d.includes('incoming'))).toBe(false);
    const kept = dbs.find((d) => d.includes('_before_')) ?? '';
    expect(await sql('staging', 'select string_agg(note, \',\' order by id) from items', kept)).toBe('staging a,staging b,staging c');
    // the worker was stopped for the swap and runs again (a new process)
    const after = await run('staging', 'staging-2', 'systemctl is-active demo-worker.service; systemctl show -p MainPID --value demo-worker.service');
    const [state, pid] = after.stdout.trim().split('\n');
    expect(state).toBe('active');
    expect(pid).not.toBe(pidBefore);
    expect(statSync(dump).mode & 0o777).toBe(0o600);
    expect(execFileSync('pg_restore', ['--list', dump]).toString()).toMatch(/TABLE DATA public items/);
  });

  it('Ctrl-C mid-stream: exit 130, staging as it was, the new database dropped, the app running', async () => {
    await interruptCopy([]);
  });

  it("the source's pg_dump killed mid-stream: exit 1, staging as it was", async () => {
    const before = await snapshot();
    const c = startCopy();
    await c.streaming;
    const k = await run('production', 'production-2', 'pid=$(pgrep -x pg_dump) && kill -9 $pid && echo killed');
    expect(k.stdout.trim(), k.stderr).toBe('killed');
    const r = await c.exit;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/pg_dump on production-2 failed|pg_restore on staging-2 failed/);
    await expectStagingUntouched(before);
  });

  it('the source db host powered off at the first progress event: exit 1, staging as it was; started again, production keeps its databases', async () => {
    const before = await snapshot();
    const production = { dbs: await databases('production'), rows: await sql('production', FINGERPRINT) };
    const c = startCopy();
    await c.streaming;
    const cut = await ops(['lab', 'kill', 'production-2'], { cwd: repo });
    expect(cut.code, cut.stderr).toBe(0);
    const r = await c.exit;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/production-2/);
    await expectStagingUntouched(before);
    const start = await ops(['lab', 'start', 'production-2'], { cwd: repo });
    expect(start.code, start.stderr).toBe(0);
    // PostgreSQL recovers from the power cut as it starts on boot
    const ready = await run('production', 'production-2', 'for i in $(seq 60); do pg_isready -q && exit 0; sleep 0.5; done; exit 1');
    expect(ready.code, ready.stderr).toBe(0);
    expect({ dbs: await databases('production'), rows: await sql('production', FINGERPRINT) }).toEqual(production);
  });

  it("the source's link dropped mid-stream: exit 1 once the connection is given up, staging as it was", async () => {
    const before = await snapshot();
    const c = startCopy();
    await c.streaming;
    const { r, left } = await withLinkDown(addr('production-2'), async (takeDown) => {
      takeDown();
      const exit = await c.exit;
      // still cut off: production-2's sshd gives up on ops within two minutes, and its pg_dump ends
      return { r: exit, left: await untilGone(addr('production-2'), 'pg_dump', 120_000) };
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/production-2/);
    expect(left, 'pg_dump still running on production-2').toEqual([]);
    await expectStagingUntouched(before);
  });

  it('undo-copy brings the previous staging database back, and keeps the one it replaced', async () => {
    const r = await ops(['db', 'undo-copy', 'staging', '--yes'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(await sql('staging', "select string_agg(note, ',' order by id) from items")).toBe('staging a,staging b,staging c');
    expect((await databases('staging')).split(' ').filter((d) => d.includes('_before_'))).toHaveLength(1);
    expect((await run('staging', 'staging-2', 'systemctl is-active demo-worker.service')).stdout.trim()).toBe('active');
  });

  it('backup (0600, complete) and restore round trip, with --sanitize (and a failing one changes nothing)', async () => {
    const file = join(tempDir(), 'production.dump');
    const b = await ops(['db', 'backup', 'production', '--to', file], { cwd: repo });
    expect(b.code, b.stderr).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = await ops(['db', 'backup', 'production', '--to', file], { cwd: repo });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists already/);
    const scrub = join(tempDir(), 'scrub.sql');
    writeFileSync(scrub, "update items set note = 'scrubbed' where id > 10;\n");
    const r = await ops(['db', 'restore', 'staging', file, '--yes', '--sanitize', scrub], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(await sql('staging', "select count(*) filter (where note = 'scrubbed') || '/' || count(*) from items")).toBe('490/500');
    // a sanitize script that fails stops the restore before the swap
    writeFileSync(scrub, 'update no_such_table set x = 1;\n');
    const before = await snapshot();
    const bad = await ops(['db', 'restore', 'staging', file, '--yes', '--sanitize', scrub], { cwd: repo });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--sanitize .*no_such_table/);
    await expectStagingUntouched(before);
    expect(await sql('staging', 'select count(*) from item_notes')).toBe('500');
  });

  it("reset-local-db: production's database (PostgreSQL 15) into this machine's PostgreSQL 15, the old local one kept", async () => {
    startLocalPostgres();
    execFileSync('runuser', ['-u', 'postgres', '--', 'sh', '-c', `dropdb --if-exists ${LOCAL_DB}; createdb ${LOCAL_DB} && psql -X -q -d ${LOCAL_DB} -c "create table mine (x int); insert into mine values (42)"`]);
    const folder = join(tempDir(), 'media');
    const r = await ops(['reset-local-db', 'production', '--local-db', LOCAL_DB, '--with-media', folder, '--yes'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(folder, 'sub/cat.txt'), 'utf8')).toBe('cat\n');
    expect(readFileSync(join(folder, 'dog file.txt'), 'utf8')).toBe("it's a dog\n");
    const local = (db: string, q: string) => execFileSync('runuser', ['-u', 'postgres', '--', 'psql', '-X', '-At', '-d', db, '-c', q]).toString().trim();
    expect(local(LOCAL_DB, 'select count(*) from items')).toBe('500');
    const kept = local('postgres', `select datname from pg_database where datname like '${LOCAL_DB}_before_%'`);
    expect(local(kept, 'select x from mine')).toBe('42');
    // staging's PostgreSQL 17 is newer than this machine's 15: refused before anything, naming both
    const newer = await ops(['reset-local-db', 'staging', '--local-db', LOCAL_DB, '--yes'], { cwd: repo });
    expect(newer.code, newer.stderr).toBe(2);
    expect(newer.stderr.split('\n')[0]).toMatch(/staging-2 \(staging\) runs PostgreSQL 17 and this machine PostgreSQL 15/);
    expect(local(LOCAL_DB, 'select count(*) from items')).toBe('500');
  });

  it('--direct: staging-2 pulls the dump from production-2 itself, once, with a throw-away key ops lends it and removes after', async () => {
    await sql('production', "update items set note = 'direct ' || id where id <= 5");
    expect((await run('staging', 'staging-2', 'ls /root/.ssh/id_* 2>/dev/null | wc -l')).stdout.trim()).toBe('0'); // no key of its own
    const logins = await loginsOnSource(addr('staging-2'));
    const r = await ops(['--json', 'db', 'copy', 'production', 'staging', '--yes', '--direct', '--compress', '0'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/staging-2 ← production-2 \(direct\)/);
    const stream = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; bytes?: number }).find((e) => e.type === 'stream');
    expect(stream?.bytes).toBeGreaterThan(50_000_000); // counted on staging-2 (dd), -Z0: the uncompressed dump
    expect(await fingerprint()).toBe(await sql('production', "select count(*) || ' ' || md5(string_agg(note, ',' order by id)) from items"));
    expect(await sql('staging', 'select note from items where id = 3')).toBe('direct 3');
    expect(await sql('staging', "select string_agg(distinct pg_get_userbyid(relowner), ',') from pg_class c join pg_namespace n on n.oid = relnamespace where nspname = 'public'")).toBe('demo_staging');
    // one login from staging-2, with a key that is not the operator's
    const added = (await loginsOnSource(addr('staging-2'))).slice(logins.length);
    expect(added).toHaveLength(1);
    const operatorKey = execFileSync('ssh-keygen', ['-lf', join(repo, '.ops/lab/id_ed25519')]).toString().split(' ')[1];
    expect(added[0]).toMatch(/^SHA256:/);
    expect(added[0]).not.toBe(operatorKey);
    expect(await pullLeftovers()).toBe('');
    expect(await pullTraces()).toBe('');
  });

  it('--direct, Ctrl-C mid-stream: exit 130, staging as it was, nothing of the pull left running on either host', async () => {
    await interruptCopy(['--direct']);
    expect(await pullLeftovers()).toBe('');
    expect(await pullTraces()).toBe('');
  });

  it("--direct, the source's pg_dump killed mid-stream: exit 1 naming it, staging as it was, nothing left running", async () => {
    const before = await snapshot();
    const c = startCopy(['--direct']);
    await c.streaming;
    const k = await run('production', 'production-2', 'pid=$(pgrep -x pg_dump) && kill -9 $pid && echo killed');
    expect(k.stdout.trim(), k.stderr).toBe('killed');
    const r = await c.exit;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/pg_dump on production-2 \(pulled by staging-2\) failed \(exit \d+\)/);
    await expectStagingUntouched(before);
    expect(await pullLeftovers()).toBe('');
    expect(await pullTraces()).toBe('');
  });

  it("--direct to a host whose key is not the source's pinned one: OpenSSH on the target refuses it, exit 1, staging as it was", async () => {
    const before = await snapshot();
    const overlay = join(repo, '.ops/pillar/production.yml');
    const original = readFileSync(overlay, 'utf8');
    // the target is sent to its own sshd, whose key is not production-2's pinned one
    writeFileSync(overlay, original.replace(/(production-2: \{ address: [^,]+,)/, `$1 private_address: ${addr('staging-2')},`));
    try {
      const r = await ops(['db', 'copy', 'production', 'staging', '--yes', '--direct', '--compress', '0'], { cwd: repo });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/--direct: staging-2 → production-2 .*ssh failed: .*Host key verification failed/);
      expect(r.stderr).toMatch(/without --direct the stream goes through ops/);
    } finally {
      writeFileSync(overlay, original);
    }
    await expectStagingUntouched(before);
    expect(await pullTraces()).toBe('');
  });

  it("--direct, the source's link dropped mid-stream: exit 1, staging as it was, the pull on staging-2 gone; the pull key left is named", async () => {
    const before = await snapshot();
    const c = startCopy(['--direct']);
    await c.streaming;
    const { r, left: dumps } = await withLinkDown(addr('production-2'), async (takeDown) => {
      takeDown();
      const exit = await c.exit;
      // still cut off: production-2's sshd gives up on the pull within two minutes, and its pg_dump ends
      return { r: exit, left: await untilGone(addr('production-2'), 'pg_dump', 120_000) };
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/--direct: staging-2 → production-2 .*ssh failed/);
    expect(dumps, 'pg_dump still running on production-2').toEqual([]);
    await expectStagingUntouched(before);
    const left = await run('staging', 'staging-2', "pgrep -a -f 'OPS_PULL_KNOWN_HOST[S]|^ssh -F /dev/null|pg_[r]estore'; ls /tmp/ops-pull.* 2>/dev/null; true");
    expect(left.stdout.trim()).toBe('');
    // ops could not reach production-2 to remove the pull key: it says so; the key is useless without ops
    expect(r.stderr).toMatch(/cannot remove the pull key .* on production-2.*harmless/);
    const keys = await run('production', 'production-2', "grep -c ops-pull- /root/.ssh/authorized_keys; sed -i '/ops-pull-/d' /root/.ssh/authorized_keys");
    expect(keys.stdout.trim()).toBe('1');
  });

  it('hooks of a copy: a failing before_db_swap task stops it before the swap (staging as it was); after_db_copy runs once the copy is live', async () => {
    const project = join(repo, 'pillar', 'project.yml');
    const original = readFileSync(project, 'utf8');
    const marks = join(tempDir(), 'marks.log');
    writeFileSync(
      join(repo, 'tasks', 'mark.ts'),
      `import { appendFileSync } from 'node:fs';\nimport { defineTask } from 'ops';\nexport default defineTask({ name: 'mark', description: 'records its hook point', run(t) {\n  appendFileSync(${JSON.stringify(marks)}, (t.hook?.point ?? '-') + ' ' + t.env + '\\n');\n  if (process.env.OPS_TEST_MARK_FAIL === t.hook?.point) throw new Error('mark was told to fail');\n} });\n`,
    );
    writeFileSync(project, `${original}\nhooks:\n  before_db_swap: {task: mark}\n  after_db_copy: [{task: mark}, {run: 'true'}]\n`);
    try {
      const before = await snapshot();
      const failed = await ops(['db', 'copy', 'production', 'staging', '--yes', '--compress', '0'], { cwd: repo, env: { OPS_TEST_MARK_FAIL: 'before_db_swap' } });
      expect(failed.code, failed.stderr).toBe(1);
      expect(failed.stderr).toMatch(/hook before_db_swap \(task mark\) failed: .*mark was told to fail/);
      expect(failed.stderr).toMatch(/dropped demo_staging_incoming_\d{8}t\d{6}/);
      await expectStagingUntouched(before);
      const copied = await ops(['db', 'copy', 'production', 'staging', '--yes', '--compress', '0'], { cwd: repo });
      expect(copied.code, copied.stderr).toBe(0);
      expect(readFileSync(marks, 'utf8').trim().split('\n')).toEqual(['before_db_swap staging', 'before_db_swap staging', 'after_db_copy staging']);
      // staging-2 runs no release of the app: a shell line there is skipped, and said
      expect(copied.stdout).toMatch(/skipped after_db_copy: `true` on web on staging-2: \/var\/www\/demo\/current does not exist yet/);
      expect(await fingerprint()).toMatch(/^500 /);
    } finally {
      writeFileSync(project, original);
    }
  });
});
