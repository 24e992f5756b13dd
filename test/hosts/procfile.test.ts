/**
 * A Heroku-style app (test/fixtures/heroku-app: Procfile with web, worker and release; settings
 * only from DATABASE_URL, CLOUDAMQP_URL, REDIS_URL, PORT and WEB_CONCURRENCY; not one line of it
 * knows ops) on real lab hosts, booted converged from the run's `demo` snapshot, with a second web
 * host: lab-3 web+worker, lab-4 balancer+web, lab-2 db+queue+cache (Redis), lab-1 master.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convergedLab, DEMO } from '../support/converged.js';
import { curlDemo, requestLoop } from '../support/demo-app.js';
import { labDown, requireRoot, type LabHostRow } from '../support/lab.js';
import { OPS, ops, ROOT, tempRepo, type RunResult } from '../support/ops.js';

const tag = randomBytes(6).toString('hex');
// characters a URL must percent-encode: the app only works when DATABASE_URL encodes them
const dbPassword = `canary/db@${tag}:%?#`;
const encoded = encodeURIComponent(dbPassword);
let repo: string;
let hosts: LabHostRow[];
const outputs: string[] = [];
const addr = (name: string) => hosts.find((h) => h.name === name)?.address ?? '';
let version = 0;

async function opsLab(args: string[], input?: string): Promise<RunResult> {
  const r = await ops(args, { cwd: repo, input });
  outputs.push(r.stdout, r.stderr);
  return r;
}

const run = (host: string, line: string) => opsLab(['run', 'lab', '--host', host, '--', line]);

/** Publishes the app (a new VERSION each time), changed by `change`. */
async function publish(change?: (dir: string) => void): Promise<number> {
  const dir = join(mkdtempSync(join(tmpdir(), 'ops-app-')), 'heroku-app');
  cpSync(join(ROOT, 'test/fixtures/heroku-app'), dir, { recursive: true });
  version++;
  writeFileSync(join(dir, 'VERSION'), `${version}\n`);
  change?.(dir);
  const r = await opsLab(['lab', 'serve-repo', dir, '--name', 'heroku-app']);
  expect(r.code, r.stderr).toBe(0);
  return version;
}

async function page(path = '/'): Promise<Record<string, unknown>> {
  const r = await curlDemo(addr('lab-4'), path);
  expect(r.code, r.body).toBe('200');
  return JSON.parse(r.body) as Record<string, unknown>;
}

const deploy = () => opsLab(['deploy', 'lab']);

/** The active instances of a process type on a host, e.g. ['demo-worker@1.service']. */
async function instances(host: string, type: string): Promise<string[]> {
  const r = await run(host, `systemctl list-units --plain --no-legend --state=active 'demo-${type}@*.service' | awk '{print $1}'`);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.split('\n').map((l) => l.replace(/^lab-\d+\s+\|\s*/, '').trim()).filter((l) => l.endsWith('.service')).sort();
}

function setProject(processes: string): void {
  const file = join(repo, 'pillar/project.yml');
  const base = readFileSync(file, 'utf8').split('\n# --- procfile test ---\n')[0];
  writeFileSync(
    file,
    `${base}\n# --- procfile test ---\n` +
      [
        'app:',
        '  type: procfile',
        '  port: 8000',
        '  workers: 2',
        '  packages: [python3-flask, gunicorn, python3-psycopg2, python3-kombu, python3-redis]',
        'healthcheck: {path: /healthz, status: 200, timeout: 10}',
        'env_aliases: {CLOUDAMQP_URL: AMQP_URL}',
        processes,
        '',
      ].join('\n'),
  );
}

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  hosts = await convergedLab(repo, DEMO);
  const pw = await opsLab(['encrypt', 'lab', 'DB_PASSWORD', '--write'], dbPassword);
  expect(pw.code, pw.stderr).toBe(0);
  // the project.yml of the example is the Django demo's: this app is another one
  const file = join(repo, 'pillar/project.yml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/\napp:\n(?: {2}.*\n)+/, '\n').replace(/\nhealthcheck:\n(?: {2}.*\n)+/, '\n'));
  setProject('processes: {worker: {count: 1}}');
  appendFileSync(join(repo, 'pillar/lab.yml'), '\ncache:\n  backend: redis\n');
  expect((await opsLab(['deploy-key', 'lab', '--write'])).code).toBe(0);
  const role = await opsLab(['add-role', 'lab', 'web', '-H', addr('lab-4')]);
  expect(role.code, role.stderr).toBe(0);
  await publish();
});

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('a Heroku-style app: Procfile, the runtime contract, the release phase', () => {
  it('deploys on two web hosts; the page reads and writes PostgreSQL through DATABASE_URL', async () => {
    const r = await deploy();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const first = await page();
    const second = await page();
    expect(Number(second.visits)).toBe(Number(first.visits) + 1);
    // both web hosts serve behind the balancer
    const seen = new Set<unknown>();
    for (let i = 0; i < 12 && seen.size < 2; i++) seen.add((await page()).host);
    expect([...seen].sort()).toEqual(['lab-3', 'lab-4']);
    expect(await instances('lab-3', 'web')).toHaveLength(1);
    expect(await instances('lab-4', 'web')).toHaveLength(1);
  });

  it('the release command ran exactly once, as release.1; web has DYNO, PORT and WEB_CONCURRENCY', async () => {
    const p = await page();
    expect(p.release_runs).toBe(1);
    expect(p.dyno).toMatch(/^web\.1$/);
    expect(Number(p.port)).toBeGreaterThanOrEqual(8000);
    expect(p.web_concurrency).toBe('2');
    const rows = await opsLab(['manage-run', 'lab', '--', 'python', 'once.py']);
    expect(rows.code, rows.stderr).toBe(0);
    expect(rows.stdout).toContain('release runs: 1 as release.1');
    // gunicorn honours WEB_CONCURRENCY: its master (the unit's main process, or the child of the sh that runs the Procfile line) has 2 workers
    const procs = await run(
      'lab-3',
      `for u in $(systemctl list-units --plain --no-legend --state=active 'demo-web@*.service' | awk '{print $1}'); do m=$(systemctl show -p MainPID --value "$u"); [ "$(cat /proc/$m/comm)" = gunicorn ] || m=$(awk '{print $1}' /proc/$m/task/$m/children); echo "master=$(cat /proc/$m/comm) workers=$(cat /proc/$m/task/$m/children | wc -w)"; done`,
    );
    expect(procs.stdout, procs.stderr).toContain('master=gunicorn workers=2');
  });

  it('the worker consumes a message the page published, as worker.1 (through CLOUDAMQP_URL, an alias of AMQP_URL)', async () => {
    const msg = `hello-${tag}`;
    const r = await curlDemo(addr('lab-4'), `/publish?msg=${msg}`, 10);
    expect(r.body).toMatch(/^queued on lab-[34]$/);
    let done: unknown[] = [];
    for (let i = 0; i < 30; i++) {
      done = (await page('/done')).done as unknown[];
      if (JSON.stringify(done).includes(msg)) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    expect(done).toContainEqual([msg, 'worker.1']);
  });

  it('ops logs --unit worker shows what the worker wrote, with its host and unit', async () => {
    const r = await opsLab(['logs', 'lab', '--unit', 'worker', '--grep', `consumed hello-${tag}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^lab-3 \\| \\S+ \\S+ demo-worker@1\\.service: consumed hello-${tag}$`, 'm'));
    const json = await opsLab(['--json', 'logs', 'lab', '--unit', 'worker', '--grep', `consumed hello-${tag}`]);
    const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.type === 'log');
    expect(events).toEqual([expect.objectContaining({ host: 'lab-3', unit: 'demo-worker@1.service', message: `consumed hello-${tag}` })]);
    expect(Date.now() - Date.parse(String(events[0]?.time))).toBeLessThan(10 * 60_000);
  });

  it('ops logs -f shows a line the web process writes after it started, on the host that wrote it', async () => {
    const child = spawn(process.execPath, [OPS, 'logs', 'lab', '--unit', 'web', '-f', '-n', '1'], { cwd: repo, env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    await new Promise((res) => setTimeout(res, 3000));
    const msg = `follow-${tag}`;
    const served = (await curlDemo(addr('lab-4'), `/publish?msg=${msg}`)).body.replace('queued on ', '');
    for (let i = 0; i < 20 && !out.includes(msg); i++) await new Promise((res) => setTimeout(res, 500));
    child.kill('SIGINT');
    const code = await new Promise((res) => child.on('close', res));
    outputs.push(out);
    expect(out).toMatch(new RegExp(`^${served} \\| \\S+ \\S+ demo-web@\\d+\\.service: published ${msg}$`, 'm'));
    expect(code).toBe(0);
  });

  it('ops status: every process runs and the site is healthy; a worker stopped by hand is down (exit 1)', async () => {
    const ok = await opsLab(['--json', 'status', 'lab']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const rows = ok.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const lab3 = rows.find((e) => e.type === 'host_status' && e.host === 'lab-3') as { units: { unit: string; active: string }[]; release?: { id: string } };
    expect(lab3.units.filter((u) => u.active === 'active').map((u) => u.unit.replace(/@\d+/, '@N')).sort()).toEqual(['demo-web@N.service', 'demo-worker@N.service']);
    expect(lab3.release?.id).toMatch(/^\d{8}-\d{6}-[0-9a-f]{7}$/);
    expect(rows.filter((e) => e.type === 'health').map((e) => e.ok)).toEqual([true]);
    expect((await run('lab-3', 'systemctl stop demo-worker@1.service')).code).toBe(0);
    const down = await opsLab(['status', 'lab']);
    expect(down.code).toBe(1);
    expect(down.stdout).toContain('lab-3: demo-worker@1.service is inactive');
    expect((await run('lab-3', 'systemctl start demo-worker@1.service')).code).toBe(0);
  });

  it('ops maintenance on: 503 with the page (its message escaped), the health check still 200; ops status shows it; off: the site again', async () => {
    const on = await opsLab(['maintenance', 'on', 'lab', '--message', 'Back at <b>14:00</b> & "soon"']);
    expect(on.code, on.stderr).toBe(0);
    const page = await curlDemo(addr('lab-4'), '/');
    expect(page.code).toBe('503');
    expect(page.body).toContain('Back at &lt;b&gt;14:00&lt;/b&gt; &amp; &quot;soon&quot;');
    expect((await curlDemo(addr('lab-4'), '/healthz')).code).toBe('200');
    const st = await opsLab(['--json', 'status', 'lab']);
    const lab4 = st.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.type === 'host_status' && e.host === 'lab-4');
    expect(lab4?.maintenance).toBe(true);
    const off = await opsLab(['maintenance', 'off', 'lab']);
    expect(off.code, off.stderr).toBe(0);
    expect((await curlDemo(addr('lab-4'), '/')).code).toBe('200');
  });

  it('DATABASE_URL?sslmode=require connects over TLS; REDIS_URL reaches the Redis cache', async () => {
    expect((await page('/ssl')).ssl).toBe(true);
    const a = Number((await page('/cache')).hits);
    const b = Number((await page('/cache')).hits);
    expect(b).toBe(a + 1);
  });

  it('a new release takes over without a failed request', async () => {
    const v = await publish();
    const loop = requestLoop(addr('lab-4'));
    const r = await deploy();
    const { ok, failed } = await loop.stop();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await page()).version).toBe(String(v));
    expect(failed).toEqual([]);
    expect(ok).toBeGreaterThan(10);
    expect((await page()).release_runs).toBe(2);
  });

  it('processes.worker.count 1 → 3 → 1 converges to exactly that many units, without a new release', async () => {
    setProject('processes: {worker: {count: 3}}');
    let r = await deploy();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await instances('lab-3', 'worker')).toEqual(['demo-worker@1.service', 'demo-worker@2.service', 'demo-worker@3.service']);
    expect(await instances('lab-4', 'worker')).toEqual([]);
    setProject('processes: {worker: {count: 1}}');
    r = await deploy();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await instances('lab-3', 'worker')).toEqual(['demo-worker@1.service']);
    expect((await page()).release_runs).toBe(2);
  });

  it('processes.web.count 1 → 2 → 1 during a request loop: no failed request, that many web processes on each web host', async () => {
    let running = true;
    const failed: string[] = [];
    const loop = (async () => {
      while (running) {
        const r = await curlDemo(addr('lab-4'), '/');
        if (r.code !== '200') failed.push(`${r.code} ${r.body.slice(0, 80)}`);
      }
    })();
    for (const count of [2, 1]) {
      setProject(`processes: {worker: {count: 1}, web: {count: ${count}}}`);
      const r = await deploy();
      expect(r.code, r.stdout + r.stderr).toBe(0);
      for (const h of ['lab-3', 'lab-4']) expect(await instances(h, 'web'), h).toHaveLength(count);
    }
    running = false;
    await loop;
    expect(failed).toEqual([]);
    setProject('processes: {worker: {count: 1}}');
  });

  it('a changed environment, deployed during a request loop: the web processes take over with it (no failed request, no release), the worker restarts with it', async () => {
    const invocation = async () => (await run('lab-3', 'systemctl show -p InvocationID --value demo-worker@1.service')).stdout.replace(/^lab-\d+\s+\|\s*/gm, '').trim();
    const before = { web: await instances('lab-3', 'web'), runs: (await page()).release_runs, worker: await invocation() };
    const lab = join(repo, 'pillar/lab.yml');
    writeFileSync(lab, readFileSync(lab, 'utf8').replace(/^env:\n/m, 'env:\n  APP_SETTING: takeover-1\n'));
    const loop = requestLoop(addr('lab-4'));
    const r = await deploy();
    await new Promise((res) => setTimeout(res, 1000));
    const { ok, failed } = await loop.stop();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/unchanged/);
    expect(failed).toEqual([]);
    expect(ok).toBeGreaterThan(10);
    const seen = new Map<unknown, unknown>();
    for (let i = 0; i < 12 && seen.size < 2; i++) {
      const p = await page();
      seen.set(p.host, p.setting);
    }
    expect(Object.fromEntries(seen)).toEqual({ 'lab-3': 'takeover-1', 'lab-4': 'takeover-1' });
    // the other web set serves now; no release was made
    const after = await instances('lab-3', 'web');
    expect(after).toHaveLength(before.web.length);
    expect(after).not.toEqual(before.web);
    expect((await page()).release_runs).toBe(before.runs);
    const worker = await invocation();
    expect(worker).toMatch(/^[0-9a-f]{32}$/);
    expect(worker).not.toBe(before.worker);
  });

  it('deploy --maintenance: the page during a failing release command; exit 1 naming it; then the previous release serves again', async () => {
    const before = (await page()).version;
    await publish((dir) => appendFileSync(join(dir, 'release.py'), '\nimport time\ntime.sleep(4)\nraise SystemExit("migrations refused")\n'));
    let running = true;
    const codes: string[] = [];
    const loop = (async () => {
      while (running) {
        const r = await curlDemo(addr('lab-4'), '/');
        codes.push(r.code === '503' && r.body.includes('Upgrading the shop') ? 'page' : r.code);
        await new Promise((res) => setTimeout(res, 200));
      }
    })();
    const r = await opsLab(['deploy', 'lab', '--maintenance', 'Upgrading the shop']);
    running = false;
    await loop;
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/release command of \S+ \(Procfile `release:`\) failed on lab-3/);
    expect(codes).toContain('page');
    expect(codes.filter((c) => c !== '200' && c !== 'page')).toEqual([]);
    expect((await curlDemo(addr('lab-4'), '/')).code).toBe('200');
    expect((await page()).version).toBe(before);
  });

  it('a process type removed from the Procfile is stopped and its unit removed', async () => {
    await publish((dir) => writeFileSync(join(dir, 'Procfile'), readFileSync(join(dir, 'Procfile'), 'utf8').replace(/^worker:.*\n/m, '')));
    const r = await deploy();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await instances('lab-3', 'worker')).toEqual([]);
    const unit = await run('lab-3', 'test -e /etc/systemd/system/demo-worker@.service && echo present || echo absent');
    expect(unit.stdout).toContain('absent');
    expect(await instances('lab-3', 'web')).toHaveLength(1);
  });

  it('the database password, plain or percent-encoded, is in no output, argv or journal', async () => {
    for (const o of outputs) {
      expect(o.includes(dbPassword)).toBe(false);
      expect(o.includes(encoded)).toBe(false);
    }
    for (const h of ['lab-3', 'lab-4']) {
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      // ps and journalctl write to files first: the grep that reads them holds the value in its own argv
      const r = await run(h, `ps -eww -o args > /tmp/ps.txt; journalctl --no-pager -o cat > /tmp/journal.txt; for n in "$(echo ${b64(dbPassword)} | base64 -d)" "$(echo ${b64(encoded)} | base64 -d)"; do grep -cF -- "$n" /tmp/ps.txt | sed 's/^/argv=/'; grep -cF -- "$n" /tmp/journal.txt | sed 's/^/journal=/'; done; rm -f /tmp/ps.txt /tmp/journal.txt; true`);
      expect(r.stdout.match(/argv=(\d+)/g)).toEqual(['argv=0', 'argv=0']);
      expect(r.stdout.match(/journal=(\d+)/g)).toEqual(['journal=0', 'journal=0']);
    }
  });
});
