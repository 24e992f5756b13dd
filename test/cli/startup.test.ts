/**
 * Start-up: each command loads only what it uses. The bundle's modules.json (written by the
 * build) says which packages each of its files holds; a hook of Node's module loader
 * (test/support/load-trace.mjs) lists the files a real run of the bundle loads.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ops, ROOT, tempDir } from '../support/ops.js';

const HOOK = pathToFileURL(join(ROOT, 'test/support/load-trace.mjs')).href;

/** The packages the files a run of `ops …args` loaded hold (its exit code beside them). */
async function packagesLoaded(args: string[]): Promise<{ code: number; packages: string[] }> {
  const dist = realpathSync(join(ROOT, 'dist'));
  const modules = JSON.parse(readFileSync(join(dist, 'modules.json'), 'utf8')) as Record<string, string[]>;
  const trace = join(tempDir(), 'loads');
  const r = await ops(args, { node: [process.execPath, '--import', HOOK], env: { OPS_LOAD_TRACE: trace } });
  const files = readFileSync(trace, 'utf8').split('\n').filter((u) => u.startsWith(pathToFileURL(dist).href)).map((u) => fileURLToPath(u).slice(dist.length + 1));
  expect(files, 'the trace saw the bundle').toContain('ops.mjs');
  for (const f of files) expect(modules[f], `${f} in modules.json`).toBeDefined();
  return { code: r.code, packages: [...new Set(files.flatMap((f) => modules[f] ?? []))].filter((p) => !p.startsWith('src/')).sort() };
}

describe('start-up', () => {
  it('--version and --help load no YAML, schema, OpenPGP or SSH code', async () => {
    // --version: nothing but the entry file (not even the command definitions)
    expect(await packagesLoaded(['--version'])).toEqual({ code: 0, packages: [] });
    for (const args of [['--help'], ['deploy', '--help']]) {
      const { code, packages } = await packagesLoaded(args);
      expect(code, args.join(' ')).toBe(0);
      expect(packages, args.join(' ')).toEqual(['chalk', 'commander']);
    }
  });

  it('generate-secret loads no OpenPGP, SSH or schema code; pillar commands no OpenPGP or SSH code', async () => {
    const secret = await packagesLoaded(['generate-secret']);
    expect(secret.code).toBe(0);
    for (const p of ['openpgp', 'ssh2', 'zod']) expect(secret.packages).not.toContain(p);
    for (const args of [['pillar', 'show', 'lab'], ['pillar', 'validate'], ['completion', 'bash']]) {
      const { code, packages } = await packagesLoaded(args);
      expect(code, args.join(' ')).toBe(0);
      for (const p of ['openpgp', 'ssh2']) expect(packages, args.join(' ')).not.toContain(p);
    }
    // the trace does see them where a command uses them
    const run = await packagesLoaded(['run', 'production', '--host', 'prod-web-1', '--connect-timeout', '1', '--', 'true']);
    expect(run.packages).toContain('ssh2');
  });
});
