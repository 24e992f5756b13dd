/**
 * `ops task` on this machine, with no host: listing, --help, argument parsing (exit 2 with the
 * usage), files that do not parse or export no task, names of built-in commands, zx's `$`, the
 * JSON events — and the example tasks type-checked against the shipped declarations (types/ops.d.ts).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ops, ROOT, tempDir, tempRepo } from '../support/ops.js';

const HELLO = `import { defineTask, quote } from 'ops';
import { shout } from './_lib.js';
export default defineTask({
  name: 'hello',
  description: 'greets someone',
  args: [{ name: 'who', required: true }],
  options: { times: { type: 'number', default: 1, description: 'how often' }, loud: { type: 'boolean' } },
  async run(t) {
    const n = t.options.times as number;
    for (let i = 0; i < n; i++) t.result(\`hello \${t.options.loud ? shout(String(t.args.who)) : String(t.args.who)} in \${t.env}\`);
    const echoed = await t.$\`printf %s \${'a b; touch pwned'}\`;
    t.info('zx: ' + echoed.stdout + ' quoted: ' + quote("it's"));
    if (t.args.who === 'fail') return 3;
  },
});
`;

function repoWith(files: Record<string, string>): string {
  const repo = tempRepo();
  for (const [name, text] of Object.entries(files)) writeFileSync(join(repo, 'tasks', name), text);
  return repo;
}

describe('ops task', () => {
  it('lists the example tasks with their descriptions', async () => {
    const r = await ops(['task'], { cwd: tempRepo() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^add-swap\s+add a swap file/m);
    expect(r.stdout).toMatch(/^app\s+stop, start or restart/m);
    expect(r.stdout).toMatch(/^db-dump\s+stream a pg_dump/m);
    expect(r.stdout).toMatch(/^disk\s+show how full/m);
  });

  it("README's task example is tasks/disk.ts, word for word", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const block = /```ts\n(\/\/ tasks\/disk\.ts[\s\S]*?)```\n/.exec(readme)?.[1];
    expect(block).toBe(readFileSync(join(ROOT, 'tasks', 'disk.ts'), 'utf8'));
  });

  it('runs a TypeScript task that imports a helper of its folder; zx quotes what it interpolates', async () => {
    const repo = repoWith({ 'hello.ts': HELLO, '_lib.ts': 'export const shout = (s: string): string => s.toUpperCase() + "!";\n' });
    const r = await ops(['task', 'hello', 'lab', 'ada', '--times', '2', '--loud'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hello ADA! in lab\nhello ADA! in lab\n');
    expect(r.stderr).toContain("zx: a b; touch pwned quoted: 'it'\\''s'");
    const rc = await ops(['task', 'hello', 'lab', 'fail'], { cwd: repo });
    expect(rc.code).toBe(3);
  });

  it('with --json, every word is an NDJSON event', async () => {
    const repo = repoWith({ 'hello.ts': HELLO, '_lib.ts': 'export const shout = (s: string) => s;\n' });
    const r = await ops(['--json', 'task', 'hello', 'lab', 'bo'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; message?: string });
    expect(events.map((e) => e.type)).toEqual(['task_start', 'result', 'log', 'task_done']);
    expect(events[1]?.message).toBe('hello bo in lab');
  });

  it('a bad argument or option exits 2 with the usage; --help shows the arguments', async () => {
    const repo = repoWith({ 'hello.ts': HELLO, '_lib.ts': 'export const shout = (s: string) => s;\n' });
    const missing = await ops(['task', 'hello', 'lab'], { cwd: repo });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing required argument 'who'/);
    expect(missing.stderr).toMatch(/ops task hello --help/);
    const nan = await ops(['task', 'hello', 'lab', 'x', '--times', 'many'], { cwd: repo });
    expect(nan.code).toBe(2);
    expect(nan.stderr).toMatch(/--times <n>' argument 'many' is invalid/);
    const unknown = await ops(['task', 'hello', 'lab', 'x', '--colour'], { cwd: repo });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--colour'/);
    const help = await ops(['task', 'hello', '--help'], { cwd: repo });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: ops task hello \[env\] <who> \[options\]/);
    expect(help.stdout).toMatch(/--times <n>\s+how often \(default: 1\)/);
  });

  it('a file that does not parse, or exports no task, is one line with file:line:col (exit 2)', async () => {
    const broken = await ops(['task', 'broken'], { cwd: repoWith({ 'broken.ts': "import { defineTask } from 'ops';\nexport default defineTask({ name: 'broken', run( {\n" }) });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^error: tasks\/broken\.ts:3:1: Expected/m);
    const none = await ops(['task', 'empty'], { cwd: repoWith({ 'empty.ts': 'export const x: number = 1;\n' }) });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^error: tasks\/empty\.ts:1:1: exports no task/m);
    const listed = await ops(['task'], { cwd: repoWith({ 'empty.ts': 'export const x = 1;\n' }) });
    expect(listed.code).toBe(2);
    expect(listed.stdout).toMatch(/^app\s/m);
  });

  it("refuses a task named like a built-in command, and one whose name is not its file's", async () => {
    const r = await ops(['task', 'deploy'], { cwd: repoWith({ 'deploy.ts': "export default { name: 'deploy', description: 'x', run() {} };\n" }) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/'deploy' is a built-in ops command, not a task/);
    const other = await ops(['task', 'one'], { cwd: repoWith({ 'one.mjs': "export default { name: 'two', description: 'x', run() {} };\n" }) });
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/defines task 'two'/);
  });

  it('the example tasks type-check against types/ops.d.ts, and a task using the API wrongly does not', () => {
    const ok = spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(ROOT, 'tasks')], { encoding: 'utf8' });
    expect(ok.status, ok.stdout).toBe(0);
    const dir = join(tempDir(), 'tasks');
    mkdirSync(dir);
    cpSync(join(ROOT, 'tasks'), dir, { recursive: true });
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', skipLibCheck: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')], paths: { ops: [join(ROOT, 'types/ops.d.ts')] } }, include: ['*.ts'] }));
    writeFileSync(join(dir, 'wrong.ts'), "import { defineTask } from 'ops';\nexport default defineTask({ name: 'wrong', description: 'x', async run(t) { await t.hosts()[0]?.run(42); } });\n");
    const bad = spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', dir], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toMatch(/wrong\.ts\(2,\d+\): error TS2345/);
  });

  it('a task returns an exit code from 0 to 255 or nothing; what it throws is one line, exit 1', async () => {
    const t = (name: string, body: string) => `export default { name: '${name}', description: 'x', async run(t) { ${body} } };\n`;
    const repo = repoWith({ 'big.mjs': t('big', 'return 256;'), 'frac.mjs': t('frac', 'return 1.5;'), 'boom.mjs': t('boom', "throw new Error('first line\\nsecond line');"), 'zx.mjs': t('zx', 'await t.$`sh -c "echo oops >&2; exit 4"`;') });
    const big = await ops(['task', 'big', 'lab'], { cwd: repo });
    expect(big.code).toBe(1);
    expect(big.stderr).toMatch(/task big returned 256: a task returns nothing or an exit code from 0 to 255/);
    expect((await ops(['task', 'frac', 'lab'], { cwd: repo })).code).toBe(1);
    const boom = await ops(['task', 'boom', 'lab'], { cwd: repo });
    expect(boom.code).toBe(1);
    expect(boom.stderr).toBe('error: task boom: first line\n');
    const zx = await ops(['task', 'zx', 'lab'], { cwd: repo });
    expect(zx.code).toBe(1);
    expect(zx.stderr.trim().split('\n').filter((l) => l.startsWith('error: '))).toHaveLength(1);
    expect(zx.stderr).not.toMatch(/unexpected failure|at .*ops\.mjs/);
  });

  it("refuses options that clash with every task's own (-y, --no-x), naming the file", async () => {
    const repo = repoWith({ 'clash.mjs': "export default { name: 'clash', description: 'x', options: { yolo: { type: 'boolean', short: 'y' } }, run() {} };\n", 'neg.mjs': "export default { name: 'neg', description: 'x', options: { 'no-verify': { type: 'boolean' } }, run() {} };\n" });
    const clash = await ops(['task', 'clash', 'lab'], { cwd: repo });
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/^error: tasks\/clash\.mjs:1:1: option 'yolo': -y is one every task already has/m);
    const neg = await ops(['task', 'neg', 'lab'], { cwd: repo });
    expect(neg.code).toBe(2);
    expect(neg.stderr).toMatch(/tasks\/neg\.mjs:1:1: option 'no-verify'/);
  });

  it('a deploy whose hook names a missing task, or one needing an argument, stops before reaching any host (exit 2)', async () => {
    const repo = tempRepo();
    const project = readFileSync(join(repo, 'pillar', 'project.yml'), 'utf8');
    writeFileSync(join(repo, 'pillar', 'project.yml'), `${project}\nhooks:\n  after_release: {task: notfy}\n`);
    const missing = await ops(['deploy', 'lab', '--dry-run'], { cwd: repo });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: hooks: task notfy: there is no tasks\/notfy\.ts/m);
    writeFileSync(join(repo, 'pillar', 'project.yml'), `${project}\nhooks:\n  after_release: {task: app}\n`);
    const needs = await ops(['deploy', 'lab'], { cwd: repo });
    expect(needs.code).toBe(2);
    expect(needs.stderr).toMatch(/hooks: task app: the task needs action, and a hook runs it with none/);
    writeFileSync(join(repo, 'pillar', 'project.yml'), `${project}\nhooks:\n  after_release: {task: deploy}\n`);
    const builtin = await ops(['deploy', 'lab'], { cwd: repo });
    expect(builtin.code).toBe(2);
    expect(builtin.stderr).toMatch(/hooks: task deploy: 'deploy' is a built-in ops command/);
  });
});
