/** Drives the built CLI as a user would, in throw-away copies of the example repo. */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const OPS = join(ROOT, 'dist', 'ops.mjs');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  node?: string[];
  /** Another copy of the bundle to run. */
  bundle?: string;
  /** Called with all of stdout so far, each time more arrives (to act at a point of a run). */
  onStdout?: (soFar: string) => void;
}

export function ops(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...pre] = opts.node ?? [process.execPath];
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', OPS_ENV: undefined, OPS_ROOT: undefined, OPS_KEY_FILE: undefined, OPS_KEY_PASSPHRASE: undefined, ...opts.env };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const child = spawn(cmd ?? process.execPath, [...pre, opts.bundle ?? OPS, ...args], { cwd: opts.cwd ?? ROOT, env: env as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => {
      out.push(b);
      opts.onStdout?.(Buffer.concat(out).toString('utf8'));
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.end(opts.input ?? '');
  });
}

const made: string[] = [];
afterAll(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A temp folder holding a copy of the example pillar/ (and templates/), for commands that write. */
export function tempRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ops-test-'));
  made.push(dir);
  cpSync(join(ROOT, 'pillar'), join(dir, 'pillar'), { recursive: true });
  cpSync(join(ROOT, 'tasks'), join(dir, 'tasks'), { recursive: true });
  return dir;
}

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ops-tmp-'));
  made.push(dir);
  return dir;
}
