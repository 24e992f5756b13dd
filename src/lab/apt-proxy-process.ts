/** Starting, finding and stopping the detached apt proxy process of a lab instance. */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { OperationError } from '../errors.js';
import type { AptProxyConfig } from './apt-proxy.js';
import { logTail } from './machine.js';
import { APT_CACHE_DIR, APT_PROXY_PORT, DEBIAN_MIRROR_HOST } from './names.js';
import { findProcesses, isAlive, signal, sleep, waitGone } from './processes.js';

export const PROXY_WORD = '__lab-apt-proxy';

/** Instance id of a proxy process's command line, if it is one. */
export function proxyInstanceOf(argv: readonly string[]): string | undefined {
  const i = argv.indexOf(PROXY_WORD);
  if (i < 0) return undefined;
  try {
    const cfg = JSON.parse(argv[i + 1] ?? '') as { instance?: unknown };
    return typeof cfg.instance === 'string' ? cfg.instance : undefined;
  } catch {
    return undefined;
  }
}

export function proxyPids(instance: string): number[] {
  return findProcesses((argv) => proxyInstanceOf(argv) === instance).map((p) => p.pid);
}

export function portOpen(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * The script that runs the ops CLI: the running CLI's own entry, or OPS_LAB_ENTRY (for callers that are not
 * the CLI, such as a test runner: a script that calls runAptProxyFromArgv(process.argv.slice(3))).
 */
function cliEntry(): string {
  const entry = process.env.OPS_LAB_ENTRY || process.argv[1];
  if (!entry) throw new OperationError('cannot start the lab apt proxy: unknown ops entry script (set OPS_LAB_ENTRY)');
  return resolvePath(entry);
}

export function proxyConfig(instance: string, address: string): AptProxyConfig {
  return { instance, listen: address, port: APT_PROXY_PORT, allow: [DEBIAN_MIRROR_HOST], cacheDir: APT_CACHE_DIR };
}

/** Starts the proxy detached and waits until it listens; returns its pid. */
export async function startProxy(cfg: AptProxyConfig, logFile: string): Promise<number> {
  const out = openSync(logFile, 'a');
  let pid: number;
  try {
    const child = spawn(process.execPath, [cliEntry(), PROXY_WORD, JSON.stringify(cfg)], {
      detached: true,
      cwd: '/',
      stdio: ['ignore', out, out],
    });
    pid = await new Promise<number>((ok, reject) => {
      child.once('error', (e) => reject(new OperationError(`cannot start the lab apt proxy: ${e.message}`)));
      child.once('spawn', () => ok(child.pid ?? -1));
    });
    child.unref();
  } finally {
    closeSync(out);
  }
  const deadline = Date.now() + 15_000;
  while (!(await portOpen(cfg.listen, cfg.port, 500))) {
    if (!isAlive(pid) || Date.now() > deadline) {
      signal(pid, 'SIGKILL');
      const tail = logTail(logFile, 5);
      throw new OperationError(`the lab apt proxy did not start (log: ${logFile})${tail ? `\n${tail}` : ''}`);
    }
    await sleep(100);
  }
  return pid;
}

/** Stops every proxy process of the instance. */
export async function stopProxies(instance: string): Promise<void> {
  const pids = proxyPids(instance);
  for (const p of pids) signal(p, 'SIGTERM');
  const left = await waitGone(pids, 5000);
  for (const p of left) signal(p, 'SIGKILL');
  await waitGone(left, 5000);
}
