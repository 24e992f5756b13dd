/**
 * Deploy hooks on real lab hosts, booted converged from the run's `demo` snapshot (lab-1 master,
 * serving the demo app's git repo; lab-2 db,queue,cache; lab-3 web,worker; lab-4 balancer): task
 * hooks run on this machine in deploy order with the master's lock held, a shell line runs as the
 * app user in the new release before the switch; `--dry-run` lists them and runs none; a failing
 * before_switch keeps the previous release serving; a failing after_release keeps the new one and
 * exits 1; a release that fails its health check fires after_rollback.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convergedLab, DEMO } from '../support/converged.js';
import { publishDemoApp, servedDemoRelease } from '../support/demo-app.js';
import { labDown, requireRoot, type LabHostRow } from '../support/lab.js';
import { ops, tempDir, tempRepo, type RunResult } from '../support/ops.js';

let repo: string;
let hosts: LabHostRow[];
let project = '';
const marks = join(tempDir(), 'marks.log');
const addr = (name: string) => hosts.find((h) => h.name === name)?.address ?? '';

/** A task for every point: it records the point and whether the master's deploy lock is held meanwhile. */
const MARK = `import { appendFileSync } from 'node:fs';
import { defineTask } from 'ops';
export default defineTask({
  name: 'mark',
  description: 'records the hook point it runs at',
  async run(t) {
    const [master] = t.hosts({ role: 'master' });
    const lock = master ? (await master.sudo(['test', '-e', '/var/lib/ops/' + t.env + '/deploy.lock'], { check: false, quiet: true })).ok : false;
    appendFileSync(${JSON.stringify(marks)}, \`\${t.hook?.point ?? 'no hook'} lock=\${lock}\\n\`);
    if (process.env.OPS_TEST_MARK_FAIL === t.hook?.point) throw new Error('mark was told to fail');
  },
});
`;

function setHooks(yaml: string): void {
  writeFileSync(join(repo, 'pillar', 'project.yml'), `${project}\n${yaml}`);
}

const publish = () => publishDemoApp((args) => ops(args, { cwd: repo }));
const servedRelease = () => servedDemoRelease(addr('lab-4'));

const deploy = (args: string[] = [], env: Record<string, string> = {}): Promise<RunResult> => ops(['deploy', 'lab', ...args], { cwd: repo, env });
const readMarks = () => (existsSync(marks) ? readFileSync(marks, 'utf8').trim().split('\n') : []);
const run = (host: string, line: string) => ops(['run', 'lab', '--host', host, '--', line], { cwd: repo });

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  hosts = await convergedLab(repo, DEMO);
  project = readFileSync(join(repo, 'pillar', 'project.yml'), 'utf8');
  writeFileSync(join(repo, 'tasks', 'mark.ts'), MARK);
  expect((await ops(['deploy-key', 'lab', '--write'], { cwd: repo })).code).toBe(0);
  await publish();
});

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('deploy hooks', () => {
  let first = '';

  it('run in deploy order with the lock held: tasks on this machine, a shell line as the app user in the new release before the switch', async () => {
    setHooks(
      [
        'hooks:',
        '  before_deploy: {task: mark}',
        '  after_converge: {task: mark}',
        '  before_switch:',
        '    - {task: mark}',
        `    - {run: 'printf "%s %s %s %s\\n" "$(id -un)" "$(pwd -P)" "$(cat RELEASE)" "$DB_NAME" > /tmp/before-switch.txt; (readlink /var/www/demo/current || echo none) >> /tmp/before-switch.txt'}`,
        '  after_release: {task: mark}',
        '  after_rollback: {task: mark}',
      ].join('\n'),
    );
    const r = await deploy();
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    expect(readMarks()).toEqual(['before_deploy lock=true', 'after_converge lock=true', 'before_switch lock=true', 'after_release lock=true']);
    first = await servedRelease();
    expect(first).toMatch(/^\d{8}-\d{6}-[0-9a-f]{7}$/);
    const seen = await run('lab-3', 'cat /tmp/before-switch.txt');
    const [who, cwd, id, db] = (seen.stdout.split('\n')[0] ?? '').split(' ');
    expect([who, cwd, id, db]).toEqual(['demo', `/var/www/demo/releases/${first}`, first, 'demo_lab']);
    // before the switch, current did not point at the new release yet (first deploy: no current at all)
    expect(seen.stdout.split('\n')[1] ?? '').not.toContain(first);
    expect(r.stdout).toMatch(/hook\s+\| ok before_switch: `printf .*` on web on lab-3/);
  });

  it('--dry-run lists the hooks a deploy would run, in order, and runs none', async () => {
    const before = readMarks().length;
    const r = await deploy(['--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    const listed = r.stderr.split('\n').filter((l) => l.startsWith('hook '));
    expect(listed).toEqual([
      'hook before_deploy: would run task mark',
      'hook after_converge: would run task mark',
      'hook before_switch: would run task mark',
      expect.stringMatching(/^hook before_switch: would run `printf .*` on web$/),
      'hook after_release: would run task mark',
      'hook after_rollback: would run task mark (only if the release is switched back)',
    ]);
    expect(readMarks().length).toBe(before);
  });

  it('a failing before_switch hook stops the deploy, naming the hook and its host; the previous release serves on', async () => {
    setHooks("hooks:\n  before_switch: {run: 'echo not today >&2; exit 3'}\n  after_release: {task: mark}\n");
    await publish();
    const before = readMarks().length;
    const r = await deploy();
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/hook before_switch \(`echo not today >&2; exit 3` on web\) failed on lab-3: exit 3: not today/);
    expect(await servedRelease()).toBe(first);
    expect((await run('lab-3', 'readlink /var/www/demo/current')).stdout.trim()).toBe(`releases/${first}`);
    expect(readMarks().length, 'after_release must not run').toBe(before);
  });

  let second = '';
  it('a failing after_release hook is reported and the deploy exits 1 — the new release keeps serving', async () => {
    setHooks("hooks:\n  after_release: [{task: mark}, {run: 'echo cannot notify >&2; exit 4', role: worker}]\n");
    await publish();
    const r = await deploy();
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/released \d{8}-\d{6}-[0-9a-f]{7}/);
    expect(r.stdout).toMatch(/hook after_release \(`echo cannot notify >&2; exit 4` on worker\) failed on lab-3: exit 4: cannot notify \(nothing is switched back for it\)/);
    second = await servedRelease();
    expect(second).not.toBe(first);
    expect(readMarks().pop()).toBe('after_release lock=true');
  });

  it('a failing task hook before the switch stops the deploy with its error', async () => {
    setHooks('hooks:\n  after_converge: {task: mark}\n');
    await publish();
    const r = await deploy([], { OPS_TEST_MARK_FAIL: 'after_converge' });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/hook after_converge \(task mark\) failed: .*mark was told to fail/);
    expect(r.stdout).not.toMatch(/released/);
    expect(await servedRelease()).toBe(second);
  });

  it('a release that fails its health check switches back and fires after_rollback', async () => {
    writeFileSync(join(repo, 'pillar', 'project.yml'), `${project.replace(/^healthcheck:[\s\S]*$/m, '')}\nhealthcheck:\n  path: /healthz\n  contains: 'text the page never has'\n  timeout: 3\nhooks:\n  after_rollback: {task: mark}\n`);
    await publish();
    const r = await deploy();
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/rolled-back/);
    expect(readMarks().pop()).toBe('after_rollback lock=true');
    expect(await servedRelease()).toBe(second);
  });
});
