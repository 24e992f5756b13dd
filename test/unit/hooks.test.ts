/** Hooks in the pillar, the shell line they become, and the master's line back to the operator. */
import { execFileSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { framedSnapshot, readFramed } from '../../src/converge/operator-channel.js';
import { OpsError } from '../../src/errors.js';
import { loadPillar } from '../../src/pillar/load.js';
import { describeHook, hasTaskHooks, hooksAt } from '../../src/release/hooks.js';
import { appShellLine } from '../../src/release/manage.js';
import { repoWith } from '../support/files.js';

const load = (hooks: string) => loadPillar(repoWith({ 'pillar/project.yml': `project: demo\n${hooks}`, 'pillar/lab.yml': 'domain: x.invalid\n' }), 'lab');

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof OpsError) return e.message;
    throw e;
  }
  throw new Error('no error');
}

describe('hooks in the pillar', () => {
  it('takes one hook or a list per point; a shell line runs on web unless a role is named', () => {
    const p = load("hooks:\n  before_switch: {run: 'python manage.py check --deploy'}\n  after_release:\n    - task: notify\n    - {run: 'true', role: worker}\n").data;
    expect(hooksAt(p, 'before_switch')).toEqual([{ run: 'python manage.py check --deploy', role: 'web' }]);
    expect(hooksAt(p, 'after_release').map(describeHook)).toEqual(['task notify', '`true` on worker']);
    expect(hooksAt(p, 'before_deploy')).toEqual([]);
    expect(hasTaskHooks(p)).toBe(true);
    expect(hasTaskHooks(p, ['before_switch'])).toBe(false);
  });

  it('refuses an unknown point, an unknown role, a bare string, a line break and a task name that is not one', () => {
    expect(failure(() => load("hooks:\n  before_lunch: {task: x}\n"))).toMatch(/before_lunch/);
    expect(failure(() => load("hooks:\n  before_switch: {run: 'true', role: mailer}\n"))).toMatch(/hooks\.before_switch\.role: unknown role 'mailer'/);
    expect(failure(() => load("hooks:\n  before_switch: 'make check'\n"))).toMatch(/hooks\.before_switch/);
    expect(failure(() => load('hooks:\n  before_switch: {run: "a\\nb"}\n'))).toMatch(/one line/);
    expect(failure(() => load("hooks:\n  after_release: {task: '../x'}\n"))).toMatch(/task name/);
  });

  it("a shell line of any content is one word of sh -c, run as the app user in the release with the app's environment", () => {
    const hostile = `'; touch /tmp/pwned; echo "$(id)" \`id\` \\ #`;
    const line = appShellLine({ project: 'demo' }, hostile, '/var/www/demo/releases/1');
    // The words the shell would give runuser, printed one per NUL instead of run.
    const words = execFileSync('sh', ['-c', line.replace(/^cd (.*?) && exec /, "printf '%s\\0' ")]).toString().split('\0').slice(0, -1);
    expect(words).toEqual(['runuser', '-u', 'demo', '--', '/usr/local/lib/ops/with-env', '/var/www/demo/shared/env', 'sh', '-c', hostile]);
    expect(line.startsWith("cd /var/www/demo/releases/1 && exec ")).toBe(true);
  });
});

describe("the master's line back to the operator", () => {
  it('reads the framed snapshot, then answers task requests in any order; a failed task is an error', async () => {
    const input = new PassThrough();
    const asked: Record<string, unknown>[] = [];
    const archive = Buffer.from('tar bytes\nwith a newline');
    const got = readFramed(input, (_t, d) => asked.push(d));
    const framed = framedSnapshot(archive);
    input.write(framed.subarray(0, 5));
    input.write(framed.subarray(5));
    const { archive: back, channel } = await got;
    expect(back.equals(archive)).toBe(true);
    const a = channel.task('notify', 'after_release');
    const b = channel.task('check', 'before_switch');
    expect(asked).toEqual([
      { id: 1, task: 'notify', point: 'after_release' },
      { id: 2, task: 'check', point: 'before_switch' },
    ]);
    input.write('{"id": 2, "ok": false, "error": "exit 3"}\n\n{"id"');
    input.write(': 1, "ok": true}\n');
    await expect(a).resolves.toBeUndefined();
    await expect(b).rejects.toThrow('exit 3');
    const c = channel.task('late', 'after_rollback');
    input.end();
    await expect(c).rejects.toThrow(/went away/);
    await expect(channel.task('after', 'after_release')).rejects.toThrow(/gone/);
  });

  it('refuses a stream that does not start with the header, or ends inside the snapshot', async () => {
    const bad = new PassThrough();
    const r = readFramed(bad, () => undefined);
    bad.end('tar...\n');
    await expect(r).rejects.toThrow(/snapshot header/);
    const short = new PassThrough();
    const s = readFramed(short, () => undefined);
    short.end('ops-snapshot 100\nabc');
    await expect(s).rejects.toThrow(/ended inside/);
  });
});
