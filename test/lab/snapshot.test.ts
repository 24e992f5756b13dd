/**
 * `ops lab snapshot` on real lab hosts (root on Linux): two bare hosts of one repo are saved (they go
 * on running on the snapshot), then booted from it in another clone (another lab instance) with
 * their disks, host keys, addresses and the env's .ops/ files; stale and incomplete snapshots are
 * refused before anything changes; `lab down` leaves nothing of either lab; `rm` is refused while a
 * host runs on the snapshot.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceIdFor } from '../../src/lab/names.js';
import { leftovers } from '../support/leftovers.js';
import { labDown, labHosts, labUp, requireRoot, type LabHostRow } from '../support/lab.js';
import { ops, tempRepo, type RunResult } from '../support/ops.js';

const NAME = `t-snapcmd-${process.pid}`;
const DIR = `/var/cache/ops-lab/snapshots/${NAME}`;
let a = '';
let b = '';
let c = '';
let first: LabHostRow[] = [];

const run = (repo: string, host: string, line: string): Promise<RunResult> => ops(['run', 'lab', '--host', host, '--', line], { cwd: repo });
const pins = (repo: string): string[] => readFileSync(join(repo, '.ops/known_hosts'), 'utf8').trim().split('\n').sort();

/** The repo has no lab hosts and no lab state, as before any `lab up`. */
async function untouched(repo: string): Promise<void> {
  expect(await labHosts(repo)).toEqual([]);
  expect(existsSync(join(repo, '.ops/pillar/lab.yml'))).toBe(false);
  expect(await leftovers(instanceIdFor(repo))).toEqual([]);
}

function editManifest(edit: (m: Record<string, unknown>) => void): () => void {
  const file = join(DIR, 'manifest.json');
  const original = readFileSync(file, 'utf8');
  const m = JSON.parse(original) as Record<string, unknown>;
  edit(m);
  writeFileSync(file, JSON.stringify(m));
  return () => writeFileSync(file, original);
}

beforeAll(async () => {
  requireRoot();
  [a, b, c] = [tempRepo(), tempRepo(), tempRepo()];
  await labUp(a, 'lab', 2);
  first = await labHosts(a);
  const w = await run(a, 'lab-1', 'echo "disk of lab-1" > /root/marker');
  expect(w.code, w.stderr).toBe(0);
  // something of the env's own in .ops/, as setup-master or encrypt --write leave there
  mkdirSync(join(a, '.ops/pillar/keys'), { recursive: true });
  writeFileSync(join(a, '.ops/pillar/keys/lab.master.pub'), 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOpsTestOnlyNotARealKeyxxxxxxxxxxxxxxxxxxxx ops-master\n');
});

afterAll(async () => {
  for (const r of [a, b, c]) if (r) await labDown(r);
  await ops(['lab', 'snapshot', 'rm', NAME], { cwd: a });
});

describe('ops lab snapshot (real hosts, root on Linux)', () => {
  it('save keeps the disks; the hosts go on running on the snapshot with the same keys and files', async () => {
    const pinsBefore = pins(a);
    const r = await ops(['lab', 'snapshot', 'save', NAME], { cwd: a });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`${NAME}\tlab\tlab-1,lab-2`);
    expect(existsSync(join(DIR, 'manifest.json'))).toBe(true);
    expect((await labHosts(a)).map((h) => [h.name, h.address, h.state])).toEqual(first.map((h) => [h.name, h.address, 'running']));
    expect(pins(a)).toEqual(pinsBefore);
    expect((await run(a, 'lab-1', 'cat /root/marker')).stdout).toBe('disk of lab-1\n');
    const list = await ops(['--json', 'lab', 'snapshot', 'list'], { cwd: a });
    const mine = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((s) => s.name === NAME);
    expect(mine).toMatchObject({ envs: ['lab'], hosts: ['lab-1', 'lab-2'], usable: true, in_use: 2 });
  });

  it('refuses a second save of the same name, and rm while a host runs on it', async () => {
    const again = await ops(['lab', 'snapshot', 'save', NAME], { cwd: a });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists already/);
    const rm = await ops(['lab', 'snapshot', 'rm', NAME], { cwd: a });
    expect(rm.code).toBe(2);
    expect(rm.stderr).toMatch(/in use by 2 running lab host/);
    expect(existsSync(join(DIR, 'manifest.json'))).toBe(true);
  });

  it('refuses to boot it while the lab it came from holds its addresses, changing nothing', async () => {
    const r = await ops(['lab', 'up', '--from', NAME], { cwd: b });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/is in use on this machine/);
    await untouched(b);
  });

  it('lab down leaves nothing behind but the snapshot', async () => {
    await labDown(a);
    expect(await leftovers(instanceIdFor(a))).toEqual([]);
    expect(existsSync(join(DIR, 'manifest.json'))).toBe(true);
  });

  it('refuses a stale snapshot (other ops, rebuilt base image) or an incomplete one, naming why, changing nothing', async () => {
    const cases: Array<[(m: Record<string, unknown>) => void, RegExp]> = [
      [(m) => (m.ops = 'ops 0.0.1 (bundle 0000000000000000)'), /cannot be used: it was made with ops 0\.0\.1 \(bundle 0000000000000000\); this is ops \S+ \(bundle [0-9a-f]{16}\)/],
      [(m) => { for (const h of m.hosts as Array<{ base: { id: string } }>) h.base.id = h.base.id.replace(/:.*/, ':0000000000000000'); }, /cannot be used: its base image was rebuilt since \(made on base-\S+:0000000000000000, now base-\S+:[0-9a-f]{16}\)/],
    ];
    for (const [edit, message] of cases) {
      const restore = editManifest(edit);
      try {
        const r = await ops(['lab', 'up', '--from', NAME], { cwd: c });
        expect(r.code, r.stderr).toBe(2);
        // its first line is the refusal (after the lab lock's notice, when a lab command of the other lane held it)
        expect(r.stderr.split('\n').filter((l) => !l.startsWith('waiting for another ops lab command'))[0]).toMatch(message);
      } finally {
        restore();
      }
      await untouched(c);
    }
    renameSync(join(DIR, 'manifest.json'), join(DIR, 'manifest.json.aside'));
    try {
      const r = await ops(['lab', 'up', '--from', NAME], { cwd: c });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/is incomplete/);
    } finally {
      renameSync(join(DIR, 'manifest.json.aside'), join(DIR, 'manifest.json'));
    }
    await untouched(c);
    const none = await ops(['lab', 'up', '--from', 'no-such-snapshot'], { cwd: c });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/there is no lab snapshot 'no-such-snapshot'/);
    const both = await ops(['lab', 'up', '--from', NAME, '--hosts', '2'], { cwd: c });
    expect(both.code).toBe(2);
    await untouched(c);
  });

  it('up --from boots the hosts in another clone: same addresses, host keys and disks; the env files of .ops/ back', async () => {
    const t0 = Date.now();
    const r = await ops(['lab', 'up', '--from', NAME], { cwd: b });
    expect(r.code, r.stderr).toBe(0);
    process.stderr.write(`lab up --from ${NAME}: 2 hosts in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    expect((await labHosts(b)).map((h) => [h.name, h.address, h.state])).toEqual(first.map((h) => [h.name, h.address, 'running']));
    // the pins of repo a are b's now: ops connects without any new first contact
    const marker = await run(b, 'lab-1', 'cat /root/marker; systemctl is-system-running');
    expect(marker.code, marker.stderr).toBe(0);
    expect(marker.stdout).toMatch(/^disk of lab-1\n(running|degraded)\n$/);
    expect(readFileSync(join(b, '.ops/pillar/keys/lab.master.pub'), 'utf8')).toMatch(/ops-master/);
    expect(readFileSync(join(b, '.ops/pillar/lab.yml'), 'utf8')).toMatch(/lab-2:/);
    // writes on b's hosts stay in b's lab: the snapshot's disk is not changed by them
    expect((await run(b, 'lab-1', 'echo changed > /root/marker')).code).toBe(0);
    const again = await ops(['lab', 'up', '--from', NAME], { cwd: b });
    expect(again.code, again.stderr).toBe(0);
    expect((await run(b, 'lab-1', 'cat /root/marker')).stdout).toBe('changed\n');
    expect(readFileSync(join(DIR, 'hosts/lab-1/layer/root/marker'), 'utf8')).toBe('disk of lab-1\n');
  });

  it('lab down of the booted clone leaves nothing; then the snapshot can be removed', async () => {
    await labDown(b);
    expect(await leftovers(instanceIdFor(b))).toEqual([]);
    const rm = await ops(['lab', 'snapshot', 'rm', NAME], { cwd: b });
    expect(rm.code, rm.stderr).toBe(0);
    expect(existsSync(DIR)).toBe(false);
    const list = await ops(['lab', 'snapshot', 'list'], { cwd: b });
    expect(list.stdout).not.toContain(NAME);
  });
});
