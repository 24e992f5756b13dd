/**
 * The bundle runs on a master's distro Node: Debian 12's own nodejs 18 package (unpacked by
 * scripts/debian-node18.sh; needs root, as CI has).
 */
import { cpSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { OPS, ops, ROOT, tempDir, tempRepo } from '../support/ops.js';

const node18 = [join(ROOT, 'scripts', 'debian-node18.sh'), 'node'];

describe("dist/ops.mjs on Debian 12's Node 18", () => {
  beforeAll(() => {
    expect(process.getuid?.(), 'this test needs root (CI runs as root)').toBe(0);
  });

  it('is really Node 18', async () => {
    const { spawnSync } = await import('node:child_process');
    const v = spawnSync(node18[0] ?? '', ['node', '-v']).stdout.toString().trim();
    expect(v).toMatch(/^v18\.(19|[2-9]\d)\./);
  });

  it('runs the secrets workflow and the pillar commands with no node_modules', async () => {
    const repo = tempRepo();
    // A lone copy of dist/ (the bundle and its chunks), far from any node_modules.
    const dist = join(tempDir(), 'dist');
    cpSync(dirname(OPS), dist, { recursive: true });
    const bundle = join(dist, 'ops.mjs');
    const run = (args: string[], input?: string) => ops(args, { cwd: repo, node: node18, input, bundle });
    expect((await run(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect((await run(['keygen', 'lab'])).code).toBe(0);
    const w = await run(['encrypt', 'lab', 'SECRET_KEY', '--write'], 'node 18 ✓');
    expect(w.code, w.stderr).toBe(0);
    const d = await run(['decrypt', 'lab', 'SECRET_KEY']);
    expect(d.stdout).toBe('node 18 ✓');
    const show = await run(['pillar', 'show', 'lab']);
    expect(show.stdout).toMatch(/SECRET_KEY: <encrypted>/);
    const dk = await run(['deploy-key', 'lab', '--write']);
    expect(dk.code, dk.stderr).toBe(0);
    expect((await run(['pillar', 'schema'])).code).toBe(0);
    // local programs go through execa 9 (git, read by ops init)
    const app = tempDir();
    writeFileSync(join(app, 'Procfile'), 'web: ./serve --port $PORT\n');
    const { execFileSync } = await import('node:child_process');
    execFileSync('git', ['init', '-q', '-b', 'trunk', app]);
    execFileSync('git', ['-C', app, 'remote', 'add', 'origin', 'https://git.example.com/shop.git']);
    const init = await ops(['init', app, '--name', 'shop', '--user', 'ada'], { node: node18, bundle, env: { HOME: tempDir() } });
    expect(init.code, init.stderr).toBe(0);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(join(app, 'pillar/project.yml'), 'utf8')).toMatch(/url: https:\/\/git\.example\.com\/shop\.git[\s\S]*branch: trunk/);
  });

  it('compiles and runs a TypeScript task on the operator side (esbuild from the checkout, zx in the bundle)', async () => {
    const repo = tempRepo();
    writeFileSync(
      join(repo, 'tasks', 'hello.ts'),
      "import { defineTask } from 'ops';\nconst n: number = 2;\nexport default defineTask({ name: 'hello', description: 'greets', async run(t) { const r = await t.$`node -p process.versions.node`; t.result(`hello ${n} from ${r.stdout.trim()}`); } });\n",
    );
    const r = await ops(['task', 'hello', 'lab'], { cwd: repo, node: node18 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^hello 2 from \d+\.\d+\.\d+$/m);
  });
});
