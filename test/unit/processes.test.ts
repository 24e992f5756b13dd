import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pillarSchema } from '../../src/pillar/schema.js';
import { parseProcfile, procfileBuildLines, processUnit, webPortRange, webSet } from '../../src/release/processes.js';
import { renderEnvFile, WITH_ENV, WITH_ENV_SCRIPT } from '../../src/roles/app.js';
import { templates } from '../../src/roles/templates.js';

const pillar = (processes: Record<string, unknown> = {}) => pillarSchema.parse({ project: 'demo', app: { type: 'procfile', port: 9000, workers: 4 }, processes });

/** systemd's unquoting of one double-quoted ExecStart word, as systemdWord wrote it. */
function unword(w: string): string {
  return w
    .slice(1, -1)
    .replace(/\$\$/g, '$')
    .replace(/%%/g, '%')
    .replace(/\\(["\\nrt])/g, (_, c: string) => ({ '"': '"', '\\': '\\', n: '\n', r: '\r', t: '\t' })[c] ?? c);
}

/** The script of a unit's ExecStart (`"/bin/sh" "-c" "<script>" "<type>" %i`). */
function scriptOf(unit: string): string {
  const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
  const words = exec.match(/"(?:[^"\\]|\\.)*"|%i/g) ?? [];
  expect(words.map((w, i) => (i === 2 ? '<script>' : w))).toEqual(['"/bin/sh"', '"-c"', '<script>', expect.stringMatching(/^"[a-z]+"$/), '%i']);
  return unword(words[2] ?? '');
}

describe('Procfile', () => {
  it('reads type: command lines, skipping blanks and comments, CRLF or not', () => {
    const p = parseProcfile('# processes\r\nweb: gunicorn -b 0.0.0.0:$PORT app:app\r\n\nworker:python3 worker.py\nrelease:  python3 release.py  \n');
    expect([...p]).toEqual([
      ['web', 'gunicorn -b 0.0.0.0:$PORT app:app'],
      ['worker', 'python3 worker.py'],
      ['release', 'python3 release.py'],
    ]);
  });

  it.each([
    ['web gunicorn', /line 1 is not `type: command`/],
    ['web/x: run', /line 1: 'web\/x' is not a process type/],
    ['web: a\nweb: b', /line 2: web is in the Procfile twice/],
    ['web:   ', /line 1: web has no command/],
    ['# nothing\n\n', /names no process/],
  ])('refuses %j', (text, rule) => {
    expect(() => parseProcfile(text)).toThrow(rule);
  });

  it('keeps each command in the release byte for byte, quoted by the one shell quoting function', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ops-procfile-'));
    const command = `sh -c 'echo "$PORT" $(id) \`id\`; x=\\\\' ; ünï ✓`;
    execFileSync('/bin/sh', ['-c', ['set -e', `cd ${dir}`, ...procfileBuildLines(new Map([['web', command]]))].join('\n')]);
    expect(execFileSync('cat', [join(dir, '.ops-procfile/web')]).toString()).toBe(`${command}\n`);
  });
});

describe('processes in the pillar', () => {
  it('belong to a Procfile app', () => {
    const r = pillarSchema.safeParse({ project: 'demo', processes: { worker: { count: 2 } } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('they need app.type: procfile (this app is django)');
    expect(pillar({ worker: { count: 2 } }).processes.worker).toEqual({ count: 2 });
  });

  it("keeps the web processes' ports in the port space and off the services' ports", () => {
    const issues = (app: Record<string, unknown>, web: number) => JSON.stringify(pillarSchema.safeParse({ project: 'demo', app: { type: 'procfile', ...app }, processes: { web: { count: web } } }).error?.issues ?? []);
    expect(issues({ port: 65500 }, 1)).toContain('past 65535');
    expect(issues({ port: 6330 }, 1)).toContain('which hold 6379');
    expect(issues({ port: 8000 }, 32)).toBe('[]');
  });

  it('interleaves the two web sets: the first instances of either stay in range when the count goes down', () => {
    expect(webSet(1, 3)).toEqual([1, 3, 5]);
    expect(webSet(2, 3)).toEqual([2, 4, 6]);
    // 3 → 1: the range is 1–2; instance 2 of the even set still serves until the odd set takes over
    expect(webSet(2, 3).filter((n) => n <= 2)).toEqual([2]);
  });

  it('release is the release phase, never a process', () => {
    expect(pillarSchema.safeParse({ project: 'demo', app: { type: 'procfile' }, processes: { release: { count: 1 } } }).success).toBe(false);
  });
});

describe('the template unit of a process type', () => {
  const tpl = templates(undefined);

  it('holds no Procfile text: the same unit for any command', () => {
    const unit = processUnit(pillar(), tpl, 'worker');
    expect(unit).toContain('Description=demo worker.%i (Procfile)');
    expect(unit).toMatch(/^User=demo$/m);
    expect(unit).toMatch(/^TimeoutStopSec=30$/m);
    expect(webPortRange(pillar({ web: { count: 3 } }))).toEqual({ first: 9000, last: 9005 });
  });

  it.each([
    ['web', 1, { web: { count: 2 } }, 'PORT=9000 DYNO=web.1 WEB_CONCURRENCY=4'],
    ['web', 4, { web: { count: 2 } }, 'PORT=9003 DYNO=web.2 WEB_CONCURRENCY=4'],
    ['worker', 3, {}, 'PORT= DYNO=worker.3 WEB_CONCURRENCY=4'],
  ])('runs the live release\'s %s command with sh -c (instance %i): PORT, DYNO, WEB_CONCURRENCY', (type, n, processes, expected) => {
    // the unit's own script, run with the app's paths moved into a temporary folder
    const root = mkdtempSync(join(tmpdir(), 'ops-unit-'));
    const script = scriptOf(processUnit(pillar(processes), tpl, type)).replaceAll('/var/www/demo', root).replaceAll(WITH_ENV, join(root, 'with-env'));
    mkdirSync(join(root, 'current/.ops-procfile'), { recursive: true });
    mkdirSync(join(root, 'shared'));
    writeFileSync(join(root, 'with-env'), WITH_ENV_SCRIPT, { mode: 0o755 });
    writeFileSync(join(root, 'shared/env'), renderEnvFile({ FROM_ENV: 'yes', PORT: '1' }));
    writeFileSync(join(root, `current/.ops-procfile/${type}`), 'echo "PORT=$PORT DYNO=$DYNO WEB_CONCURRENCY=$WEB_CONCURRENCY" && echo "env=$FROM_ENV" && echo "$PATH"\n');
    const out = execFileSync('/bin/sh', ['-c', script, type, String(n)], { env: { PATH: '/usr/bin:/bin' } }).toString().split('\n');
    expect(out[0]).toBe(type === 'web' ? expected : expected.replace('PORT= ', 'PORT=1 '));
    expect(out[1]).toBe('env=yes');
    expect(out[2]).toMatch(new RegExp(`^${root}/current/venv/bin:`));
  });

  it('fails plainly when the live release has no such process', () => {
    const root = mkdtempSync(join(tmpdir(), 'ops-unit-'));
    mkdirSync(join(root, 'current'));
    const script = scriptOf(processUnit(pillar(), tpl, 'clock')).replaceAll('/var/www/demo', root);
    expect(() => execFileSync('/bin/sh', ['-c', script, 'clock', '1'], { stdio: 'pipe' })).toThrow(/the live release's Procfile has no clock process/);
  });
});
