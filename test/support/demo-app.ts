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
export function curlDemo(address: string, path: string, seconds = 10, http1 = false): Promise<{ code: string; body: string }> {
  return new Promise((resolve) => {
    const c = spawn('curl', ['-sSk', ...(http1 ? ['--http1.1'] : []), '--max-time', String(seconds), '-w', '\n%{http_code}', '--resolve', `demo.lab.invalid:443:${address}`, `https://demo.lab.invalid${path}`]);
    let out = '';
    let err = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    c.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    c.on('close', () => {
      const i = out.lastIndexOf('\n');
      const code = out.slice(i + 1);
      // no answer at all: curl's own error is the body
      resolve({ body: code === '000' ? err.trim() : out.slice(0, i), code });
    });
  });
}

/** The release id the page served through the balancer at `address` shows. */
export async function servedDemoRelease(address: string): Promise<string> {
  const r = await curlDemo(address, '/');
  expect(r.code, r.body).toBe('200');
  return /release: (\S+)/.exec(r.body)?.[1] ?? '';
}

/**
 * Requests `/` through the balancer at `address` in a loop until stopped; every answer is recorded.
 * `http1`: over HTTP/1.1. An nginx reload refuses the requests of HTTP/2 connections an old worker
 * has not started (a GOAWAY, RFC 9113 §6.8: safe to retry, and browsers do); curl reports one as
 * "Error in the HTTP2 framing layer" instead of retrying it.
 */
export function requestLoop(address: string, o: { http1?: boolean } = {}): { stop(): Promise<{ ok: number; failed: string[]; releases: Set<string> }> } {
  let running = true;
  const result = { ok: 0, failed: [] as string[], releases: new Set<string>() };
  const done = (async () => {
    while (running) {
      const r = await curlDemo(address, '/', 10, o.http1);
      if (r.code === '200') {
        result.ok++;
        result.releases.add(/release: (\S+)/.exec(r.body)?.[1] ?? '?');
      } else result.failed.push(`${new Date().toISOString()} ${r.code} ${r.body.slice(0, 120)}`);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return result;
    },
  };
}
