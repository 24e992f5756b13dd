/**
 * Lab hosts behave like servers (root on Linux): a Debian 13 and a Debian 12 host in one env; a power
 * cut and a clean shutdown keep the disk and the host key, `start` and `up` boot them again with it,
 * `destroy` takes the disk (the next `up` makes a new host with a new key), a host whose nspawn
 * supervisor died is shown as what it is and removed by `down`. `ops lab status` tells the truth
 * in each state.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceIdFor } from '../../src/lab/names.js';
import { leftovers } from '../support/leftovers.js';
import { labDown, requireRoot } from '../support/lab.js';
import { ops, tempRepo, type RunResult } from '../support/ops.js';

let repo = '';
const run = (host: string, line: string): Promise<RunResult> => ops(['run', 'lab', '--host', host, '--', line], { cwd: repo });
const pin = (address: string) => readFileSync(join(repo, '.ops/known_hosts'), 'utf8').split('\n').find((l) => l.startsWith(`${address} `)) ?? '';

/** ENV NAME ADDRESS STATE ROLES RELEASE rows of `ops lab status`. */
async function status(): Promise<Record<string, { address: string; state: string; release: string }>> {
  const r = await ops(['lab', 'status'], { cwd: repo });
  const out: Record<string, { address: string; state: string; release: string }> = {};
  for (const l of r.stdout.trim().split('\n').slice(1)) {
    const [, name = '', address = '', state = '', , release = ''] = l.split('\t');
    if (name) out[name] = { address, state, release };
  }
  return out;
}

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  const up = await ops(['lab', 'up', '--hosts', '2', '--distro', 'debian-13,debian-12'], { cwd: repo });
  expect(up.code, up.stderr).toBe(0);
});

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('lab hosts across power cuts, shutdowns and reboots', () => {
  it('one env holds both releases, and status says which runs where', async () => {
    const s = await status();
    expect([s['lab-1']?.state, s['lab-1']?.release, s['lab-2']?.state, s['lab-2']?.release]).toEqual(['running', 'debian-13', 'running', 'debian-12']);
    expect((await run('lab-1', '. /etc/os-release; echo $VERSION_ID $VERSION_CODENAME')).stdout.trim()).toBe('13 trixie');
    expect((await run('lab-2', '. /etc/os-release; echo $VERSION_ID $VERSION_CODENAME')).stdout.trim()).toBe('12 bookworm');
  });

  it('a power cut: stopped; started again with its disk and its host key', async () => {
    const s = await status();
    const key = pin(s['lab-1']?.address ?? '');
    expect((await run('lab-1', 'echo on-disk > /root/marker && sync && echo ok')).stdout.trim()).toBe('ok');
    const kill = await ops(['lab', 'kill', 'lab-1'], { cwd: repo });
    expect(kill.code, kill.stderr).toBe(0);
    expect((await status())['lab-1']?.state).toBe('stopped');
    expect((await run('lab-1', 'true')).code).not.toBe(0);
    const start = await ops(['lab', 'start', 'lab-1'], { cwd: repo });
    expect(start.code, start.stderr).toBe(0);
    expect((await status())['lab-1']?.state).toBe('running');
    expect(pin(s['lab-1']?.address ?? '')).toBe(key);
    expect((await run('lab-1', 'cat /root/marker')).stdout).toBe('on-disk\n');
  });

  it('a clean shutdown: stopped; `lab up` boots it again with its disk, never a fresh one', async () => {
    expect((await run('lab-2', 'echo kept > /root/marker')).code).toBe(0);
    const stop = await ops(['lab', 'stop', 'lab-2'], { cwd: repo });
    expect(stop.code, stop.stderr).toBe(0);
    expect((await status())['lab-2']?.state).toBe('stopped');
    const up = await ops(['lab', 'up', '--hosts', '2'], { cwd: repo });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toMatch(/lab-2: stopped: booting it again with its disk/);
    expect((await run('lab-2', 'cat /root/marker; . /etc/os-release; echo $VERSION_ID')).stdout).toBe('kept\n12\n');
  });

  it('after a reboot of this machine (every host stopped, the apt proxy gone), another clone’s `lab up` keeps this lab’s disks', async () => {
    const id = instanceIdFor(repo);
    for (const h of ['lab-1', 'lab-2']) expect((await ops(['lab', 'stop', h], { cwd: repo })).code).toBe(0);
    execFileSync('sh', ['-c', `pkill -KILL -f '[_]_lab-apt-proxy .*"instance":"${id}"'; sleep 0.5`]);
    const other = tempRepo();
    try {
      const up = await ops(['lab', 'up', '--hosts', '1'], { cwd: other });
      expect(up.code, up.stderr).toBe(0);
      expect(up.stderr).toContain(`keeping the stopped lab of ${realpathSync(repo)} (instance ${id})`);
    } finally {
      await labDown(other);
    }
    const start = await ops(['lab', 'start', 'lab-1', 'lab-2'], { cwd: repo });
    expect(start.code, start.stderr).toBe(0);
    expect((await run('lab-1', 'cat /root/marker')).stdout).toBe('on-disk\n');
    expect((await run('lab-2', 'cat /root/marker')).stdout).toBe('kept\n');
  });

  it('refuses another release for an existing host, and a --distro that does not fit', async () => {
    const other = await ops(['lab', 'up', '--hosts', '2', '--distro', 'debian-13'], { cwd: repo });
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/lab-2 runs Debian 12 \(bookworm\), not Debian 13 \(trixie\)/);
    expect(other.stderr).toMatch(/ops lab destroy lab-2/);
    const unknown = await ops(['lab', 'up', '--hosts', '2', '--distro', 'debian-11'], { cwd: repo });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/the lab cannot boot 'debian-11'/);
    const count = await ops(['lab', 'up', '--hosts', '2', '--distro', 'debian-12,debian-13,debian-13'], { cwd: repo });
    expect(count.code).toBe(2);
    expect(count.stderr).toMatch(/--distro names 3 releases for 2 host/);
    const nobody = await ops(['lab', 'kill', 'lab-9'], { cwd: repo });
    expect(nobody.code).toBe(2);
  });

  it('destroy takes the disk: the next up makes a new host in its place, with a new host key', async () => {
    const before = await status();
    const key = pin(before['lab-2']?.address ?? '');
    const d = await ops(['lab', 'destroy', 'lab-2'], { cwd: repo });
    expect(d.code, d.stderr).toBe(0);
    expect((await status())['lab-2']).toBeUndefined();
    expect(pin(before['lab-2']?.address ?? '')).toBe('');
    const up = await ops(['lab', 'up', '--hosts', '2', '--distro', 'debian-13'], { cwd: repo });
    expect(up.code, up.stderr).toBe(0);
    const after = await status();
    expect(after['lab-2']).toMatchObject({ state: 'running', release: 'debian-13' });
    expect(pin(after['lab-2']?.address ?? '')).not.toBe(key);
    expect((await run('lab-2', 'test -e /root/marker && echo old || echo new')).stdout.trim()).toBe('new');
  });

  it('a host whose supervisor died while its processes run on is shown as orphaned, and down removes it too', async () => {
    const s = await status();
    const nspawn = execFileSync('sh', ['-c', `pgrep -f 'systemd-nspawn .* -M ops-${instanceIdFor(repo)}-lab-1$' || true`]).toString().trim().split('\n').filter(Boolean);
    expect(nspawn).toHaveLength(1);
    execFileSync('kill', ['-KILL', nspawn[0] ?? '']);
    await new Promise((r) => setTimeout(r, 500));
    expect((await status())['lab-1']?.state).toBe('orphaned');
    // its sshd still answers: the status says what is true, not what the record remembers
    expect((await run('lab-1', 'echo still-here')).stdout.trim()).toBe('still-here');
    void s;
    await labDown(repo);
    expect(await leftovers(instanceIdFor(repo))).toEqual([]);
    expect(await status()).toEqual({});
  });
});
