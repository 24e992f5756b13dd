/** The demo app (examples/demo-app) on a lab: publishing versions of it, and what the balancer serves. */
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ROOT, type RunResult } from './ops.js';

let version = 0;

/** Publishes a new version of the demo app (optionally changed) from the lab master, with `run` running ops. */
export async function publishDemoApp(run: (args: string[]) => Promise<RunResult>, change?: (dir: string) => void): Promise<void> {
  const dir = join(mkdtempSync(join(tmpdir(), 'ops-app-')), 'demo-app');
  cpSync(join(ROOT, 'examples/demo-app'), dir, { recursive: true });
  version++;
  appendFileSync(join(dir, 'hits/views.py'), `\n# version ${version}\n`);
  change?.(dir);
  const r = await run(['lab', 'serve-repo', dir, '--name', 'demo-app']);
  expect(r.code, r.stderr).toBe(0);
}

/** A request to the demo domain through the balancer at `address`. */
export function curlDemo(address: string, path: string, seconds = 10): Promise<{ code: string; body: string }> {
  return new Promise((resolve) => {
    const c = spawn('curl', ['-sk', '--max-time', String(seconds), '-w', '\n%{http_code}', '--resolve', `demo.lab.invalid:443:${address}`, `https://demo.lab.invalid${path}`]);
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    c.on('close', () => {
      const i = out.lastIndexOf('\n');
      resolve({ body: out.slice(0, i), code: out.slice(i + 1) });
    });
  });
}

/** The release id the page served through the balancer at `address` shows. */
export async function servedDemoRelease(address: string): Promise<string> {
  const r = await curlDemo(address, '/');
  expect(r.code, r.body).toBe('200');
  return /release: (\S+)/.exec(r.body)?.[1] ?? '';
}
