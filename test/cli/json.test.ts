/**
 * `--json`: whatever fails, the last line on stdout is one error event
 * ({"type":"error","message","where","hint","exit_code"}) and the exit code is that event's; the
 * human line stays on stderr. Walks every command of the command definitions; and every command
 * that takes an environment, run in --json mode on one with a secret, shows its text only in the
 * value field of a value event (decrypt's).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { visibleCommands } from '../../src/cli/reference.js';
import { ops, tempRepo } from '../support/ops.js';

const commands = visibleCommands(buildProgram('0.0.0-test'));
const paths = commands.map((c) => c.path);
const envCommands = commands.filter((c) => c.command.registeredArguments[0]?.name() === 'env');

function lastEvent(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n');
  for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
  return JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown>;
}

function expectErrorEvent(e: Record<string, unknown>, code: number): void {
  expect(Object.keys(e).sort()).toEqual(['exit_code', 'hint', 'message', 'time', 'type', 'where']);
  expect(e.type).toBe('error');
  expect(e.exit_code).toBe(code);
  expect(typeof e.message).toBe('string');
  expect(e.where === null || typeof e.where === 'string').toBe(true);
  expect(e.hint === null || typeof e.hint === 'string').toBe(true);
  expect(Number.isNaN(Date.parse(String(e.time)))).toBe(false);
}

describe('--json values', () => {
  it('decrypt and generate-secret: the value only in the value field of a value event', async () => {
    const repo = tempRepo();
    expect((await ops(['keygen', 'lab'], { cwd: repo })).code).toBe(0);
    const secret = 'pl41n "text" \\ with: yaml & json';
    expect((await ops(['encrypt', 'lab', 'API_TOKEN', '--write'], { cwd: repo, input: `${secret}\n` })).code).toBe(0);
    const d = await ops(['--json', 'decrypt', 'lab', 'API_TOKEN'], { cwd: repo });
    expect(d.code, d.stderr).toBe(0);
    const lines = d.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const e = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(e).toMatchObject({ type: 'value', env: 'lab', name: 'API_TOKEN', value: secret });
    expect(d.stdout.split(JSON.stringify(secret).slice(1, -1)).length).toBe(2); // once, in the field
    expect(d.stderr).not.toContain('pl41n');
    const g = await ops(['--json', 'generate-secret', '--length', '24', '--alphabet', 'hex']);
    expect(JSON.parse(g.stdout) as Record<string, unknown>).toMatchObject({ type: 'value', length: 24, value: expect.stringMatching(/^[0-9a-f]{24}$/) });
  });

  it(`every command that takes an environment (${envCommands.length}): the secret's text nowhere but in a value event's value field, on stdout or stderr`, async () => {
    const repo = tempRepo();
    expect((await ops(['keygen', 'production'], { cwd: repo })).code).toBe(0);
    // a value whose pieces a careless printer would show: quotes, a backslash, a line break
    const secret = `s3cr3t-${Date.now()} "q" \\ end\nline two`;
    expect((await ops(['encrypt', 'production', 'API_TOKEN', '--write'], { cwd: repo, input: secret })).code).toBe(0);
    const pieces = [secret, 's3cr3t-', 'line two'];
    expect(envCommands.length).toBeGreaterThan(20);
    const seen: string[] = [];
    for (let i = 0; i < envCommands.length; i += 8) {
      const batch = envCommands.slice(i, i + 8);
      const results = await Promise.all(batch.map(({ path, command }) => {
        // production's addresses are documentation addresses: nothing answers; a second at most
        const timeout = command.options.some((o) => o.long === '--connect-timeout') ? ['--connect-timeout', '1'] : [];
        return ops(['--json', ...path, 'production', ...timeout, ...(path[0] === 'run' ? ['--', 'true'] : [])], { cwd: repo, input: '' });
      }));
      results.forEach((r, j) => {
        const name = (batch[j] as { path: string[] }).path.join(' ');
        seen.push(`${name}: ${r.code}`);
        for (const piece of pieces) expect(r.stderr, `${name}'s stderr`).not.toContain(piece);
        for (const line of r.stdout.split('\n').filter(Boolean)) {
          const e = JSON.parse(line) as Record<string, unknown>;
          const rest = e.type === 'value' ? { ...e, value: undefined } : e;
          for (const piece of pieces) expect(JSON.stringify(rest), `${name}'s stdout`).not.toContain(JSON.stringify(piece).slice(1, -1));
        }
      });
    }
    // the value does reach the one command that prints it
    expect(seen).toContain('decrypt: 0');
  }, 120_000);

  it('pillar validate: one event per environment', async () => {
    const r = await ops(['--json', 'pillar', 'validate']);
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => [e.type, e.env])).toEqual([['pillar_valid', 'lab'], ['pillar_valid', 'production'], ['pillar_valid', 'staging']]);
    expect(events[1]).toMatchObject({ files: ['pillar/project.yml', 'pillar/devs.yml', 'pillar/production.yml'], servers: 5 });
  });
});

describe('--json errors', () => {
  it(`every command (${paths.length}): a usage error is an error event with exit_code 2`, async () => {
    expect(paths.length).toBeGreaterThan(40);
    for (let i = 0; i < paths.length; i += 8) {
      const batch = paths.slice(i, i + 8);
      const results = await Promise.all(batch.map((p) => ops(['--json', ...p, '--no-such-flag'])));
      results.forEach((r, j) => {
        const name = (batch[j] as string[]).join(' ');
        expect(r.code, name).toBe(2);
        const e = lastEvent(r.stdout);
        expectErrorEvent(e, 2);
        // `ops task` hands options it does not know to the task: there the word is a task name
        const said = name === 'task' ? "no task '--no-such-flag'" : "unknown option '--no-such-flag'";
        expect(e.message, name).toBe(said);
        expect(r.stderr, name).toContain(`error: ${said}`);
      });
    }
  });

  it('a pillar error names its file:line:col in where; the hint is kept', async () => {
    const repo = tempRepo();
    writeFileSync(join(repo, 'pillar/staging.yml'), 'domain: example.com\nservers: {web-1: {address: "10.0.0.1; id"}}\n');
    const r = await ops(['--json', 'pillar', 'show', 'staging'], { cwd: repo });
    expect(r.code).toBe(2);
    const e = lastEvent(r.stdout);
    expectErrorEvent(e, 2);
    expect(e.where).toMatch(/^pillar\/staging\.yml:2:\d+$/);
    expect(e.message).toContain(`${String(e.where)}:`);
    const unknown = await ops(['--json', 'deploy', 'nope'], { cwd: repo });
    const u = lastEvent(unknown.stdout);
    expectErrorEvent(u, 2);
    expect(u.hint).toMatch(/^environments: /);
  });

  it('an operation that fails (exit 1) ends with its error event too; a fan-out ends with its summary', async () => {
    // production's addresses are documentation addresses (198.51.100.0/24): no master answers
    const r = await ops(['--json', 'releases', 'production', '--connect-timeout', '1']);
    expect(r.code).toBe(1);
    const e = lastEvent(r.stdout);
    expectErrorEvent(e, 1);
    expect(e.message).toMatch(/^prod-master \(198\.51\.100\.10:22\): /);
    const run = await ops(['--json', 'run', 'production', '--host', 'prod-web-1', '--connect-timeout', '1', '--', 'true']);
    expect(run.code).toBe(1);
    expect(lastEvent(run.stdout)).toMatchObject({ type: 'summary', hosts: 1, ok: 0, failed: 1 });
  });
});
