// `ops lab` on real hosts: Debian 12 machines booted with systemd on this machine (root on Linux).
// These tests must run as root on Linux; anywhere else they fail loudly, never skip.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { labDown, labStatus, labUp } from '../../src/lab/index.js';
import type { LabHostInfo } from '../../src/lab/index.js';
import { instanceIdFor } from '../../src/lab/names.js';
import { repoAt } from '../../src/repo.js';
import type { Repo } from '../../src/repo.js';
import { instanceProcesses, leftovers, sh, type Out } from '../support/leftovers.js';

const ENV = 'labtest';
const srcRoot = fileURLToPath(new URL('../..', import.meta.url));

let dir = '';
let repo: Repo;
let id = '';
const lines: string[] = [];
const log = (l: string): void => {
  lines.push(l);
};

function sshArgs(address: string, command: string): string[] {
  return [
    '-i',
    join(repo.stateDir, 'lab', 'id_ed25519'),
    '-o',
    `UserKnownHostsFile=${join(repo.stateDir, 'known_hosts')}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=10',
    '-o',
    'LogLevel=ERROR',
    `root@${address}`,
    command,
  ];
}

function ssh(address: string, command: string): Promise<Out> {
  return sh('ssh', sshArgs(address, command));
}

function knownHosts(): string[] {
  const p = join(repo.stateDir, 'known_hosts');
  return existsSync(p) ? readFileSync(p, 'utf8').trim().split('\n').filter(Boolean) : [];
}

const isRootOnLinux = process.platform === 'linux' && process.getuid?.() === 0;

/** Fails the calling test loudly (never skips it) when the lab cannot run here. */
function needRootOnLinux(): void {
  if (!isRootOnLinux) {
    throw new Error(
      `THE LAB TESTS NEED ROOT ON LINUX (this is ${process.platform}, uid ${process.getuid?.() ?? '?'}): run them as root, as CI does`,
    );
  }
}

describe('ops lab (real hosts, root on Linux)', () => {
  let first: LabHostInfo[] = [];

  beforeAll(async () => {
    if (!isRootOnLinux) return; // every test then fails with the reason
    dir = mkdtempSync(join(tmpdir(), 'ops-labtest-'));
    mkdirSync(join(dir, 'pillar'));
    writeFileSync(join(dir, 'pillar', 'project.yml'), 'project: t\n');
    writeFileSync(join(dir, 'pillar', `${ENV}.yml`), '');
    repo = repoAt(dir);
    id = instanceIdFor(dir);
    // The detached apt proxy runs the ops bundle (built by the test setup); a test runner is not the ops CLI.
    process.env.OPS_LAB_ENTRY = join(srcRoot, 'dist', 'ops.mjs');
  });

  afterAll(async () => {
    if (!dir) return;
    try {
      await labDown(repo, { log });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('boots two Debian hosts and writes their inventory, keys and state', async () => {
    needRootOnLinux();
    first = await labUp(repo, { env: ENV, hosts: 2, log });
    expect(first.map((h) => h.name)).toEqual([`${ENV}-1`, `${ENV}-2`]);
    for (const h of first) {
      expect(h.state).toBe('running');
      expect(h.env).toBe(ENV);
      expect(h.port).toBe(22);
      expect(h.address).toMatch(/^10\.\d+\.\d+\.\d+$/);
      expect(h.netns).toContain(id);
    }
    expect(new Set(first.map((h) => h.address)).size).toBe(2);
    expect(lines.some((l) => l.includes('ready (ssh)'))).toBe(true);

    const pillar = parse(readFileSync(join(repo.overlayDir, `${ENV}.yml`), 'utf8')) as {
      lab: boolean;
      servers: Record<string, { address: string; port: number; user: string; roles: string[] }>;
    };
    expect(pillar.lab).toBe(true);
    for (const h of first) {
      expect(pillar.servers[h.name]).toEqual({ address: h.address, port: 22, user: 'root', roles: [] });
    }
    const key = join(repo.stateDir, 'lab', 'id_ed25519');
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const kh = knownHosts();
    for (const h of first) expect(kh.some((l) => l.startsWith(`${h.address} ssh-ed25519 AAAA`))).toBe(true);
    expect(existsSync(join(repo.stateDir, 'lab', 'state.json'))).toBe(true);
  });

  it('lets the system ssh client in with pinned host keys; systemd runs; hostnames are their own', async () => {
    needRootOnLinux();
    for (const h of first) {
      const r = await ssh(h.address, 'systemctl is-system-running --wait; hostname; cat /proc/1/comm');
      expect(r.stderr).toBe('');
      const [state, name, pid1] = r.stdout.trim().split('\n');
      expect(['running', 'degraded']).toContain(state);
      expect(name).toBe(h.name);
      expect(pid1).toBe('systemd');
    }
  });

  it('gives each host host keys of its own', () => {
    needRootOnLinux();
    const keys = first.map((h) => knownHosts().find((l) => l.startsWith(`${h.address} `))?.split(' ')[2]);
    expect(keys[0]).toBeTruthy();
    expect(keys[0]).not.toBe(keys[1]);
  });

  it('has apt working through the proxy, which refuses any other host', async () => {
    needRootOnLinux();
    const h = first[0];
    if (!h) throw new Error('no host');
    const upd = await ssh(h.address, 'apt-get update -q 2>&1 && cd /tmp && apt-get -q download hello 2>&1 && ls /tmp');
    expect(upd.code, upd.stdout + upd.stderr).toBe(0);
    expect(upd.stdout).toMatch(/hello_.*\.deb/);
    const gw = h.address.replace(/\.\d+$/, '.1');
    const probe = [
      'import urllib.request as u, urllib.error as e',
      `o = u.build_opener(u.ProxyHandler({"http": "http://${gw}:3142"}))`,
      'for url in ["http://example.com/", "http://deb.debian.org/debian/dists/bookworm/InRelease"]:',
      '    try:',
      '        print(o.open(url, timeout=30).status)',
      '    except e.HTTPError as x:',
      '        print(x.code)',
    ].join('\n');
    const r = await ssh(h.address, `python3 -c '${probe}'`);
    expect(r.stdout.trim().split('\n')).toEqual(['403', '200']);
    // and no route past this machine: nothing is forwarded
    const out = await ssh(h.address, 'python3 -c \'import socket; socket.create_connection(("192.0.2.1", 80), timeout=3)\' 2>&1 || echo blocked');
    expect(out.stdout).toContain('blocked');
  });

  it('changes nothing on a second up with the same env and count', async () => {
    needRootOnLinux();
    const files = [join(repo.overlayDir, `${ENV}.yml`), join(repo.stateDir, 'known_hosts')];
    const before = files.map((f) => [readFileSync(f, 'utf8'), statSync(f).mtimeMs]);
    // nothing booted again (same machine processes) and nothing rewritten; how fast that is is a
    // benchmark's question, not this test's (a timed assertion failed here under a loaded machine)
    const again = await labUp(repo, { env: ENV, hosts: 2, log });
    expect(again.map((h) => [h.name, h.address, h.pid])).toEqual(first.map((h) => [h.name, h.address, h.pid]));
    expect(files.map((f) => [readFileSync(f, 'utf8'), statSync(f).mtimeMs])).toEqual(before);
    const status = await labStatus(repo);
    expect(status.map((h) => [h.name, h.state])).toEqual([
      [`${ENV}-1`, 'running'],
      [`${ENV}-2`, 'running'],
    ]);
  });

  it('holds several environments on one bridge without address collisions; down of one env keeps the other', async () => {
    needRootOnLinux();
    const other = await labUp(repo, { env: `${ENV}b`, hosts: 1, log });
    expect(other.map((h) => h.name)).toEqual([`${ENV}b-1`]);
    const all = [...first, ...other].map((h) => h.address);
    expect(new Set(all).size).toBe(3);
    const hosts = await ssh(first[0]?.address ?? '', `getent hosts ${ENV}b-1`);
    expect(hosts.stdout).toContain(other[0]?.address ?? '?');
    const r = await ssh(other[0]?.address ?? '', `hostname && getent hosts ${ENV}-2`);
    expect(r.stdout).toContain(`${ENV}b-1`);
    expect(r.stdout).toContain(first[1]?.address ?? '?');

    await labDown(repo, { env: `${ENV}b`, log });
    expect(existsSync(join(repo.overlayDir, `${ENV}b.yml`))).toBe(false);
    expect(knownHosts()).toHaveLength(2);
    const status = await labStatus(repo);
    expect(status.map((h) => [h.name, h.state])).toEqual([
      [`${ENV}-1`, 'running'],
      [`${ENV}-2`, 'running'],
    ]);
  });

  it('recognises and clears leftovers whose processes are gone, even without state.json', async () => {
    needRootOnLinux();
    // what a machine holds after a session ended: every process killed, namespaces and mounts left
    for (const h of ['/sys/fs/cgroup/unified/ops-lab', '/sys/fs/cgroup/ops-lab']) {
      for (const name of first.map((x) => x.netns)) {
        const kill = join(h, name, 'cgroup.kill');
        if (existsSync(kill)) writeFileSync(kill, '1');
      }
    }
    for (const p of instanceProcesses(id)) process.kill(Number(p.split(':')[0]), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    expect(instanceProcesses(id)).toEqual([]);
    expect((await sh('ip', ['netns', 'list'])).stdout).toContain(id);
    expect((await labStatus(repo)).map((h) => h.state)).toEqual(['stopped', 'stopped']);
    writeFileSync(join(repo.stateDir, 'lab', 'state.json'), '{ not json');

    const back = await labUp(repo, { env: ENV, hosts: 2, log });
    expect(back.map((h) => h.state)).toEqual(['running', 'running']);
    for (const h of back) {
      const r = await ssh(h.address, 'hostname');
      expect(r.stdout.trim()).toBe(h.name);
    }
    expect(knownHosts()).toHaveLength(2);
    first = back;
  });

  it('leaves nothing behind after down (namespaces, links, mounts, processes), even with a corrupt state.json', async () => {
    needRootOnLinux();
    writeFileSync(join(repo.stateDir, 'lab', 'state.json'), '[]');
    await labDown(repo, { log });
    expect(await leftovers(id)).toEqual([]);
    expect(existsSync(join(repo.overlayDir, `${ENV}.yml`))).toBe(false);
    expect(knownHosts()).toEqual([]);
    expect(await labStatus(repo)).toEqual([]);
  });
});
