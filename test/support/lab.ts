/** Lab hosts for tests: real Debian machines booted by `ops lab up` (root on Linux). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { ops, type RunResult } from './ops.js';

export function requireRoot(): void {
  expect(process.platform, 'lab tests need Linux').toBe('linux');
  expect(process.getuid?.(), 'lab tests need root (CI runs as root)').toBe(0);
}

/** `distro`: as `ops lab up --distro` takes it (one release, or one per host); the lab's default without. */
export async function labUp(repo: string, env: string, hosts: number, distro?: string): Promise<RunResult> {
  const r = await ops(['lab', 'up', '--env', env, '--hosts', String(hosts), ...(distro ? ['--distro', distro] : [])], { cwd: repo });
  expect(r.code, `ops lab up failed:\n${r.stderr}`).toBe(0);
  return r;
}

export async function labDown(repo: string): Promise<void> {
  const r = await ops(['lab', 'down'], { cwd: repo });
  expect(r.code, `ops lab down failed:\n${r.stderr}`).toBe(0);
}

export interface LabHostRow {
  env: string;
  name: string;
  address: string;
  state: string;
}

export async function labHosts(repo: string): Promise<LabHostRow[]> {
  const r = await ops(['lab', 'status'], { cwd: repo });
  return r.stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'))
    .map(([env = '', name = '', address = '', state = '']) => ({ env, name, address, state }));
}

/** The network namespace of a lab host (for faults injected from outside the host). */
export function netnsOf(address: string): string {
  for (const ns of execFileSync('ip', ['netns', 'list']).toString().split('\n')) {
    const name = ns.split(' ')[0];
    if (!name) continue;
    try {
      const addrs = execFileSync('ip', ['-n', name, '-o', '-4', 'addr', 'show']).toString();
      if (addrs.includes(` ${address}/`)) return name;
    } catch {
      // a namespace that vanished meanwhile
    }
  }
  throw new Error(`no network namespace holds ${address}`);
}

export function inNetns(ns: string, argv: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...argv]).toString();
}

/**
 * Waits (up to `ms`) until no process named `comm` runs inside a lab host — read from outside,
 * through its network namespace, so it works while the host is off the network. Returns what
 * still ran at the end (empty when they were all gone).
 */
export async function untilGone(address: string, comm: string, ms: number): Promise<string[]> {
  const ns = netnsOf(address);
  const running = () =>
    execFileSync('ip', ['netns', 'pids', ns])
      .toString()
      .split('\n')
      .filter((p) => p !== '')
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm;
        } catch {
          return false; // ended meanwhile
        }
      });
  const end = Date.now() + ms;
  let left = running();
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 2000));
    left = running();
  }
  return left;
}

/** Takes a lab host off the network (its link down) while `fn` runs, then restores link and routes. */
export async function withLinkDown<T>(address: string, fn: (takeDown: () => void) => Promise<T>): Promise<T> {
  const ns = netnsOf(address);
  const iface = inNetns(ns, ['ip', '-o', 'link', 'show']).split('\n').map((l) => l.split(': ')[1]?.split('@')[0]).find((n) => n && n !== 'lo') ?? '';
  const routes = inNetns(ns, ['ip', 'route', 'show']).split('\n').filter((l) => l.trim() !== '');
  try {
    return await fn(() => inNetns(ns, ['ip', 'link', 'set', iface, 'down']) && undefined);
  } finally {
    inNetns(ns, ['ip', 'link', 'set', iface, 'up']);
    for (const r of routes.filter((l) => l.startsWith('default'))) {
      try {
        inNetns(ns, ['ip', 'route', 'replace', ...r.trim().split(/\s+/)]);
      } catch {
        // already back
      }
    }
  }
}

/**
 * A lab environment set up the way an operator does it: lab hosts, `setup-master` on the first,
 * `setup-minion` with the given roles on the others, then secrets generated into the pillar.
 */
export async function provisionLab(
  repo: string,
  opts: { env?: string; hosts: number; distro?: string; minions: Record<string, string>; secrets?: string[] },
): Promise<LabHostRow[]> {
  const env = opts.env ?? 'lab';
  await labUp(repo, env, opts.hosts, opts.distro);
  const hosts = (await labHosts(repo)).filter((h) => h.env === env);
  const addr = (name: string) => hosts.find((h) => h.name === name)?.address ?? name;
  const master = await ops(['setup-master', env, '-H', addr(`${env}-1`)], { cwd: repo });
  expect(master.code, `setup-master failed:\n${master.stderr}`).toBe(0);
  for (const [name, roles] of Object.entries(opts.minions)) {
    const r = await ops(['setup-minion', env, roles, '-H', addr(name)], { cwd: repo });
    expect(r.code, `setup-minion ${name} failed:\n${r.stderr}`).toBe(0);
  }
  for (const s of opts.secrets ?? []) {
    const r = await ops(['encrypt', env, s, '--generate', '32', '--write'], { cwd: repo });
    expect(r.code, `encrypt ${s} failed:\n${r.stderr}`).toBe(0);
  }
  return hosts;
}
