/**
 * The whole provisioning story on four bare lab hosts, as an operator runs it: setup-master on
 * lab-1, setup-minion db,queue,cache on lab-2, web,worker on lab-3 and balancer on lab-4, secrets
 * generated into the pillar, `ops deploy lab` — then what the servers serve and refuse. The
 * converged hosts become this run's `demo` snapshot, which the other host tests boot from.
 */
import { mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, offerSnapshot, provisionKind } from '../support/converged.js';
import { labDown, requireRoot, withLinkDown, type LabHostRow } from '../support/lab.js';
import { ops, ROOT, tempRepo } from '../support/ops.js';

let repo: string;
let hosts: LabHostRow[];
const addr = (name: string) => hosts.find((h) => h.name === name)?.address ?? '';
const run = (host: string, line: string) => ops(['run', 'lab', '--host', host, '--', line], { cwd: repo });

interface Summary {
  type: string;
  changed: number;
  failed: number;
  unreachable: number;
}

async function deployJson(args: string[] = []): Promise<{ code: number; summary: Summary; stdout: string }> {
  const r = await ops(['--json', 'deploy', 'lab', ...args], { cwd: repo });
  const summary = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Summary;
  return { code: r.code, summary, stdout: r.stdout };
}

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  hosts = await provisionKind(repo, DEMO);
});

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('ops deploy lab (master lab-1; db,queue,cache on lab-2; web,worker on lab-3; balancer on lab-4)', () => {
  it('converges every host', async () => {
    const r = await ops(['deploy', 'lab'], { cwd: repo });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const h of ['lab-2', 'lab-3', 'lab-4']) expect(r.stderr).toMatch(new RegExp(`${h}\\s+succeeded \\d+ \\(changed \\d+\\), failed 0`));
    // the converged hosts, before any test below changes them, are the run's demo snapshot
    await offerSnapshot(repo, DEMO);
  });

  it('lab-4 (the balancer) answers HTTPS with a certificate for the pillar domain', async () => {
    const cert = execFileSync('sh', ['-c', `openssl s_client -connect ${addr('lab-4')}:443 -servername demo.lab.invalid </dev/null 2>/dev/null | openssl x509 -noout -subject -ext subjectAltName`]).toString();
    expect(cert).toMatch(/demo\.lab\.invalid/);
    const code = execFileSync('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', '--resolve', `demo.lab.invalid:443:${addr('lab-4')}`, 'https://demo.lab.invalid/']).toString();
    expect(code).toMatch(/^[1-5]\d\d$/);
    const redirect = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '--resolve', `demo.lab.invalid:80:${addr('lab-4')}`, 'http://demo.lab.invalid/x']).toString();
    expect(redirect).toMatch(/^30[18] https:\/\/demo\.lab\.invalid\/x$/);
  });

  it('the DB password from the pillar opens the app database from lab-3', async () => {
    const py = 'import os, psycopg2; c = psycopg2.connect(host=os.environ["DB_HOST"], dbname=os.environ["DB_NAME"], user=os.environ["DB_USER"], password=os.environ["DB_PASSWORD"]); cur = c.cursor(); cur.execute("select current_database(), current_user"); print(*cur.fetchone())';
    const r = await run('lab-3', `/usr/local/lib/ops/with-env /var/www/demo/shared/env python3 -c '${py}'`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('demo_lab demo_lab');
  });

  it('from lab-1 (the master, not an app host) the db port does not open and pg_hba has no rule for it', async () => {
    const probe = await run('lab-1', `timeout 3 bash -c '</dev/tcp/${addr('lab-2')}/5432' && echo open || echo closed`);
    expect(probe.stdout.trim()).toBe('closed');
    const fromApp = await run('lab-3', `timeout 3 bash -c '</dev/tcp/${addr('lab-2')}/5432' && echo open || echo closed`);
    expect(fromApp.stdout.trim()).toBe('open');
    const hba = await run('lab-2', `cat /etc/postgresql/*/main/pg_hba.conf`);
    expect(hba.stdout).toContain(addr('lab-3'));
    expect(hba.stdout).not.toContain(addr('lab-1'));
  });

  it('a second deploy reports 0 changed', async () => {
    const d = await deployJson();
    expect(d.code).toBe(0);
    expect(d.summary).toMatchObject({ type: 'summary', changed: 0, failed: 0, unreachable: 0 });
  });

  it('after editing a template, --dry-run shows the diff and changes nothing', async () => {
    const override = join(repo, 'templates/base/sshd-hardening.conf.njk');
    mkdirSync(join(repo, 'templates/base'), { recursive: true });
    writeFileSync(override, `${readFileSync(join(ROOT, 'templates/base/sshd-hardening.conf.njk'), 'utf8')}MaxAuthTries 4\n`);
    try {
      const before = (await run('lab-2', 'sha256sum /etc/ssh/sshd_config.d/ops-hardening.conf')).stdout;
      const r = await ops(['deploy', 'lab', '--dry-run'], { cwd: repo });
      expect(r.code, r.stderr).toBe(0);
      for (const h of ['lab-1', 'lab-2', 'lab-3', 'lab-4']) {
        expect(r.stdout).toMatch(new RegExp(`${h}\\s+\\|\\s+would change\\s+file:/etc/ssh/sshd_config.d/ops-hardening.conf`));
      }
      expect(r.stdout).toMatch(/\|\s+\+MaxAuthTries 4/);
      expect((await run('lab-2', 'sha256sum /etc/ssh/sshd_config.d/ops-hardening.conf')).stdout).toBe(before);
      expect((await deployJson(['--dry-run'])).summary.changed).toBe(4);
    } finally {
      rmSync(join(repo, 'templates'), { recursive: true, force: true });
    }
  });

  it('a minion killed mid-deploy: the others finish, exit 1; a re-run converges', async () => {
    // A project role whose one state takes a while, so the deploy is surely under way on lab-2.
    mkdirSync(join(repo, 'roles'), { recursive: true });
    writeFileSync(join(repo, 'roles/slow.yml'), 'states:\n  - cmd: {run: "sleep 8; touch /var/tmp/slow-done", creates: /var/tmp/slow-done}\n');
    writeFileSync(join(repo, 'pillar/project.yml'), `${readFileSync(join(repo, 'pillar/project.yml'), 'utf8')}\nroles:\n  slow:\n    states: roles/slow.yml\n`);
    const added = await ops(['add-role', 'lab', 'slow', '-H', 'lab-2'], { cwd: repo });
    expect(added.code, added.stderr).toBe(0);
    const third = join(repo, 'roles/touch.yml');
    writeFileSync(third, 'states:\n  - file: {path: /var/tmp/ops-marker, content: "1\\n"}\n');
    writeFileSync(join(repo, 'pillar/project.yml'), `${readFileSync(join(repo, 'pillar/project.yml'), 'utf8')}  marker:\n    states: roles/touch.yml\n`);
    expect((await ops(['add-role', 'lab', 'marker', '-H', 'lab-3'], { cwd: repo })).code).toBe(0);
    const started = Date.now();
    const result = await withLinkDown(addr('lab-2'), async (takeDown) => {
      const pending = ops(['deploy', 'lab'], { cwd: repo });
      await new Promise((r) => setTimeout(r, 4000));
      takeDown();
      return pending;
    });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/lab-3\s+\|\s+changed\s+file:\/var\/tmp\/ops-marker/);
    expect(result.stdout + result.stderr).toMatch(/lab-2.*(unreachable|failed)/);
    const again = await deployJson();
    expect(again.code, again.stdout).toBe(0);
    expect(again.summary.failed + again.summary.unreachable).toBe(0);
    expect((await run('lab-2', 'test -e /var/tmp/slow-done && echo done')).stdout.trim()).toBe('done');
  });
});
