/**
 * Debian 12 still, next to Debian 13, and a refusal for anything else. One environment of four lab
 * hosts: lab-1 master, lab-2 db,queue,cache and lab-3 web,worker on Debian 12 (Node 18, PostgreSQL
 * 15, Python 3.11), lab-4 web,balancer on Debian 13 (Python 3.13) — the demo deployed and released
 * on Debian 12, and the app on Debian 13 against a Debian 12 database (the mixed environment).
 *
 * No other system can be fetched here (only Debian's archive is reachable), so the refusal fakes
 * one: lab-4's /etc/os-release says Debian 11 for that test, and is put back after it.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, provisionLab, requireRoot, type LabHostRow } from '../support/lab.js';
import { ops, ROOT, tempRepo, type RunResult } from '../support/ops.js';

let repo: string;
let hosts: LabHostRow[];
const addr = (name: string) => hosts.find((h) => h.name === name)?.address ?? '';
const run = (host: string, line: string): Promise<RunResult> => ops(['run', 'lab', '--host', host, '--', line], { cwd: repo });
const ALL = ['lab-1', 'lab-2', 'lab-3', 'lab-4'];

/** What a converge leaves on every host (the base role's sshd hardening). */
async function converged(host: string): Promise<boolean> {
  return (await run(host, 'test -e /etc/ssh/sshd_config.d/ops-hardening.conf && echo yes || echo no')).stdout.trim() === 'yes';
}

/** The page of the app's web server on `host` itself (not through the balancer). */
async function health(host: string): Promise<{ release?: string; ok?: boolean }> {
  const get = 'import urllib.request as u; print(u.urlopen(u.Request("http://127.0.0.1:8000/healthz", headers={"Host": "demo.lab.invalid"}), timeout=10).read().decode())';
  const r = await run(host, `python3 -c '${get}'`);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { release?: string; ok?: boolean };
}

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  hosts = await provisionLab(repo, {
    hosts: 4,
    distro: 'debian-12,debian-12,debian-12,debian-13',
    minions: { 'lab-2': 'db,queue,cache', 'lab-3': 'web,worker', 'lab-4': 'web,balancer' },
    secrets: ['DB_PASSWORD', 'BROKER_PASSWORD', 'SECRET_KEY'],
  });
  expect((await ops(['deploy-key', 'lab', '--write'], { cwd: repo })).code).toBe(0);
  const app = join(mkdtempSync(join(tmpdir(), 'ops-app-')), 'demo-app');
  cpSync(join(ROOT, 'examples/demo-app'), app, { recursive: true });
  const served = await ops(['lab', 'serve-repo', app, '--name', 'demo-app'], { cwd: repo });
  expect(served.code, served.stderr).toBe(0);
});

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('Debian 12 and 13 in one environment; anything else refused', () => {
  it('lab status shows each host’s release', async () => {
    const s = await ops(['lab', 'status'], { cwd: repo });
    const release = Object.fromEntries(s.stdout.trim().split('\n').slice(1).map((l) => l.split('\t')).map((c) => [c[1], c[5]]));
    expect(release).toEqual({ 'lab-1': 'debian-12', 'lab-2': 'debian-12', 'lab-3': 'debian-12', 'lab-4': 'debian-13' });
  });

  it('a host whose system is not in the table is refused before anything changes on any host (exit 2)', async () => {
    // The fake: /etc/os-release (a symlink to /usr/lib/os-release) replaced by a Debian 11 file.
    const fake = await run('lab-4', `rm /etc/os-release && printf '%s\\n' 'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"' 'ID=debian' 'VERSION_ID="11"' > /etc/os-release`);
    expect(fake.code, fake.stderr).toBe(0);
    try {
      const line = /lab-4 runs Debian GNU\/Linux 11 \(bullseye\), which ops does not support \(ops supports Debian 13, Debian 12, Ubuntu 24\.04, Ubuntu 22\.04 \(not as a master\)\)/;
      const deploy = await ops(['deploy', 'lab'], { cwd: repo });
      expect(deploy.code, deploy.stdout + deploy.stderr).toBe(2);
      expect(deploy.stderr).toMatch(line);
      expect(deploy.stderr).toMatch(/nothing was changed on any host/);
      for (const h of ALL) expect(await converged(h), `${h} was converged`).toBe(false);
      expect((await run('lab-2', 'dpkg-query -W -f="${Status}" postgresql 2>/dev/null || echo absent')).stdout).toMatch(/absent|not-installed/);
      // setup-minion refuses it too, before it writes the master's key there
      const minion = await ops(['setup-minion', 'lab', 'web', '-H', addr('lab-4'), '--name', 'lab-4'], { cwd: repo });
      expect(minion.code, minion.stderr).toBe(2);
      expect(minion.stderr).toMatch(line);
    } finally {
      expect((await run('lab-4', 'rm -f /etc/os-release && ln -s ../usr/lib/os-release /etc/os-release && . /etc/os-release && echo $VERSION_ID')).stdout.trim()).toBe('13');
    }
  });

  it('deploys and releases the demo: Debian 12 master, db and app; Debian 13 app and balancer', async () => {
    const d = await ops(['--json', 'deploy', 'lab'], { cwd: repo });
    expect(d.code, d.stderr + d.stdout.slice(-3000)).toBe(0);
    const release = JSON.parse(d.stdout.split('\n').filter((l) => l.includes('"type":"release"')).pop() ?? '{}') as { status?: string; id?: string };
    expect(release.status).toBe('released');
    for (const h of ALL) expect(await converged(h)).toBe(true);
    // what each release brought
    expect((await run('lab-1', 'node --version')).stdout).toMatch(/^v18\./);
    expect((await run('lab-2', 'runuser -u postgres -- psql -X -At -c "show server_version"')).stdout).toMatch(/^15\./);
    expect((await run('lab-2', 'pg_lsclusters -h | cut -d" " -f1-3')).stdout.trim()).toBe('15 main 5432');
    expect((await run('lab-3', '/var/www/demo/current/venv/bin/python --version 2>/dev/null || python3 --version')).stdout).toMatch(/^Python 3\.11\./);
    expect((await run('lab-4', 'python3 --version')).stdout).toMatch(/^Python 3\.13\./);
    // both web hosts serve the release from the Debian 12 database, and the balancer serves it
    for (const h of ['lab-3', 'lab-4']) expect(await health(h), h).toMatchObject({ ok: true, release: release.id });
    const page = execFileSync('curl', ['-sk', '--max-time', '10', '--resolve', `demo.lab.invalid:443:${addr('lab-4')}`, 'https://demo.lab.invalid/']).toString();
    expect(page).toContain(`release: ${release.id}`);
  });

  it('manage-run runs on the Debian 12 web host; the second deploy changes nothing', async () => {
    const m = await ops(['manage-run', 'lab', '--', 'migrate', '--plan'], { cwd: repo });
    expect(m.code, m.stderr).toBe(0);
    expect(m.stdout).toMatch(/No planned migration operations/);
    const again = await ops(['--json', 'deploy', 'lab'], { cwd: repo });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout.trim().split('\n').pop() ?? '{}')).toMatchObject({ type: 'summary', changed: 0, failed: 0 });
  });
});
