/**
 * `ops task` on real lab hosts, booted converged from the run's `demo` snapshot (lab-1 master,
 * lab-2 db+queue+cache, lab-3 web+worker, lab-4 balancer) with the demo app released on it: the
 * example tasks (app, db-dump, add-swap) against the hosts, and a task that declares a secret,
 * which runs on the master and whose output reaches the operator redacted.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convergedLab, DEMO } from '../support/converged.js';
import { publishDemoApp } from '../support/demo-app.js';
import { labDown, requireRoot } from '../support/lab.js';
import { ops, tempDir, tempRepo, type RunResult } from '../support/ops.js';

let repo: string;

function opsLab(args: string[], input?: string | Buffer): Promise<RunResult> {
  return ops(args, { cwd: repo, input });
}

/** A command line on one lab host (`ops run --host`). */
async function onHost(host: string, command: string, input?: string | Buffer): Promise<RunResult> {
  return opsLab(['run', 'lab', '--host', host, '--', command], input);
}

async function isActive(unit: string): Promise<string> {
  return (await onHost('lab-3', `systemctl is-active ${unit}`)).stdout.trim();
}

/** A task that reads SECRET_KEY, so it runs on the master. */
const SECRET_CHECK = `import { defineTask } from 'ops';

export default defineTask({
  name: 'secret-check',
  description: "checks that the app's env file holds SECRET_KEY, then prints its line",
  secrets: ['SECRET_KEY'],
  async run(t) {
    const key = t.secret('SECRET_KEY');
    const [web] = t.hosts({ role: 'web' });
    if (!web) throw new Error('no web host');
    const found = await web.sudo(['grep', '-qF', '-f', '-', '/var/www/demo/shared/env'], { stdin: key + '\\n', check: false });
    web.log(found.ok ? 'the env file holds SECRET_KEY' : 'the env file lacks SECRET_KEY');
    await web.sudo('grep SECRET_KEY /var/www/demo/shared/env');
    t.result('secret-check ran on the ' + t.where + '; SECRET_KEY has ' + key.length + ' characters');
    return found.ok ? 0 : 1;
  },
});
`;

/** A task whose host prints 300 lines of 1001 'é' (two bytes each): lines longer than an SSH data chunk. */
const WIDE = (name: string, secrets: string[]) => `import { defineTask } from 'ops';

export default defineTask({
  name: '${name}',
  description: 'prints non-ASCII lines on the web host',
  secrets: ${JSON.stringify(secrets)},
  async run(t) {
    const [web] = t.hosts({ role: 'web' });
    if (!web) throw new Error('no web host');
    await web.run(\`python3 -c "for _ in range(300): print('\\u00e9' * 1001)"\`);
    t.result('${name} ran on the ' + t.where);
  },
});
`;

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  await convergedLab(repo, DEMO);
  writeFileSync(join(repo, 'tasks/secret-check.ts'), SECRET_CHECK);
  writeFileSync(join(repo, 'tasks/wide.ts'), WIDE('wide', []));
  writeFileSync(join(repo, 'tasks/wide-master.ts'), WIDE('wide-master', ['SECRET_KEY']));
  // The snapshot has no release (no repo.url when it was converged): publish the demo app and
  // deploy it, which makes the app's units, its env file and its tables.
  expect((await opsLab(['deploy-key', 'lab', '--write'])).code).toBe(0);
  await publishDemoApp(opsLab);
  const d = await opsLab(['deploy', 'lab']);
  expect(d.code, d.stderr + d.stdout.slice(-2000)).toBe(0);
});

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('ops task disk (the README example)', () => {
  it('reports each host; exit 1 and a warning when one is fuller than --over', async () => {
    const ok = await opsLab(['task', 'disk', 'lab', '--over', '99']);
    expect(ok.code, ok.stderr).toBe(0);
    for (const h of ['lab-1', 'lab-2', 'lab-3', 'lab-4']) expect(ok.stderr).toMatch(new RegExp(`^${h} \\| / is \\d+% full$`, 'm'));
    expect(ok.stdout).toBe('every host is at most 99% full\n');
    const full = await opsLab(['task', 'disk', 'lab', '/', '--over', '0', '--role', 'db']);
    expect(full.code).toBe(1);
    expect(full.stderr).toMatch(/warning: fuller than 0%: lab-2$/m);
    expect(full.stderr).not.toMatch(/lab-1 \|/);
  });
});

describe('ops task app', () => {
  it("status shows the app's units on lab-3, all active", async () => {
    const r = await opsLab(['task', 'app', 'lab', 'status']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^lab-3 \| demo-web\.service: active, demo-worker\.service: active/m);
    expect(await isActive('demo-web.service')).toBe('active');
  });

  it('stop without --yes and no terminal exits 2 and stops nothing', async () => {
    const r = await opsLab(['task', 'app', 'lab', 'stop']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
    expect(await isActive('demo-web.service')).toBe('active');
    expect(await isActive('demo-worker.service')).toBe('active');
  });

  it('stop --yes stops the units; start starts them again', async () => {
    const stop = await opsLab(['task', 'app', 'lab', 'stop', '--yes']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stderr).toMatch(/^lab-3 \| demo-web\.service: inactive/m);
    expect(await isActive('demo-web.service')).toBe('inactive');
    expect(await isActive('demo-worker.service')).toBe('inactive');
    const start = await opsLab(['task', 'app', 'lab', 'start']);
    expect(start.code, start.stderr).toBe(0);
    expect(start.stderr).toMatch(/^lab-3 \| demo-web\.service: active/m);
    expect(await isActive('demo-web.service')).toBe('active');
    expect(await isActive('demo-worker.service')).toBe('active');
  });

  it('a bad argument exits 2 with the usage and runs nothing', async () => {
    const r = await opsLab(['task', 'app', 'lab', 'frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/argument 'action'.*Allowed choices are stop, start, restart, status/);
    expect(r.stderr).toMatch(/ops task app --help/);
    expect(r.stderr).not.toMatch(/lab-3 \|/);
    const help = await opsLab(['task', 'app', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: ops task app \[env\] <action> \[options\]/);
  });
});

describe('ops task db-dump', () => {
  const dir = tempDir();
  const file = join(dir, 'lab.dump');
  const sha = () => createHash('sha256').update(readFileSync(file)).digest('hex');

  it("streams a custom-format dump of the app's database to a local file, mode 0600", async () => {
    const r = await opsLab(['task', 'db-dump', 'lab', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${file} \\(\\d+ bytes\\)`));
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file).subarray(0, 5).toString('latin1')).toBe('PGDMP');
    // Listed by the db host's pg_restore (the server's release: an older pg_restore refuses a newer archive), the file on stdin.
    const list = await onHost('lab-2', 'pg_restore --list', readFileSync(file));
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/ TABLE public hits_hit /);
    expect(list.stdout).toMatch(/ TABLE public django_migrations /);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('a second run without --force exits non-zero and keeps the file', async () => {
    const before = sha();
    const r = await opsLab(['task', 'db-dump', 'lab', '--out', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/exists \(give --force to replace it\)/);
    expect(sha()).toBe(before);
    expect(readdirSync(dir)).toEqual(['lab.dump']);
  });
});

describe('ops task add-swap', () => {
  const line = '/swapfile none swap sw 0 0';
  const fstabLines = async () => (await onHost('lab-3', `grep -cxF '${line}' /etc/fstab; true`)).stdout.trim();

  // Lab hosts are containers, which refuse swapon: only the swap file and its fstab line are checked.
  it('the first run makes /swapfile (mode 600) and its fstab line, and says changed', async () => {
    const r = await opsLab(['task', 'add-swap', 'lab', '64M', '--host', 'lab-3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^lab-3 \| changed: made \/swapfile \(64M\), added the fstab line/m);
    expect(r.stdout).toMatch(/1 of 1 host\(s\) changed/);
    expect((await onHost('lab-3', 'stat -c "%a %s" /swapfile')).stdout.trim()).toBe(`600 ${64 * 1024 * 1024}`);
    expect(await fstabLines()).toBe('1');
  });

  it('the second run changes nothing and says unchanged; the fstab line is still there once', async () => {
    const r = await opsLab(['task', 'add-swap', 'lab', '64M', '--host', 'lab-3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^lab-3 \| unchanged: /m);
    expect(r.stdout).toMatch(/0 of 1 host\(s\) changed/);
    expect(await fstabLines()).toBe('1');
  });
});

describe('a task that declares a secret', () => {
  it('runs on the master: its host lines reach the operator, the secret redacted', async () => {
    const value = await opsLab(['decrypt', 'lab', 'SECRET_KEY']);
    expect(value.code, value.stderr).toBe(0);
    const secret = value.stdout.trim().replace(/^SECRET_KEY=/, '');
    expect(secret.length).toBeGreaterThanOrEqual(16);
    const r = await opsLab(['task', 'secret-check', 'lab']);
    const all = r.stdout + r.stderr;
    expect(r.code, all).toBe(0);
    expect(r.stderr).toMatch(/^lab-1: running task on the master/m);
    expect(r.stdout).toMatch(new RegExp(`^secret-check ran on the master; SECRET_KEY has ${secret.length} characters$`, 'm'));
    expect(r.stderr).toMatch(/^lab-3 \| the env file holds SECRET_KEY$/m);
    expect(r.stdout).toMatch(/^lab-3 \| .*SECRET_KEY.*<redacted>/m);
    expect(all.includes(secret)).toBe(false);
  });
});

describe('task output', () => {
  for (const [name, where] of [['wide', 'operator'], ['wide-master', 'master']] as const) {
    it(`a host's non-ASCII lines reach the operator whole (the task runs on the ${where})`, async () => {
      const r = await opsLab(['task', name, 'lab']);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.split('\n').filter((l) => l.startsWith('lab-3 | '));
      expect(lines.length).toBe(300);
      expect(lines.filter((l) => l !== `lab-3 | ${'\u00e9'.repeat(1001)}`)).toEqual([]);
      expect(r.stdout).toMatch(new RegExp(`^${name} ran on the ${where}$`, 'm'));
    });
  }
});
