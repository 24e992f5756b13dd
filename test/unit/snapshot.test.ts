// The pure parts of lab snapshots: which .ops/ files belong to an env, how they are put back (what
// differs is moved aside, never lost), and when a snapshot is refused. No lab, no root.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { baseImageId } from '../../src/lab/base-image.js';
import { checkSnapshotName } from '../../src/lab/names.js';
import { envStateFiles, restoreEnvFiles, snapshotProblem, type SnapshotHost, type SnapshotManifest } from '../../src/lab/snapshot.js';
import { repoAt } from '../../src/repo.js';
import { tempDir } from '../support/ops.js';

function put(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

function manifest(over: Partial<SnapshotManifest> = {}): SnapshotManifest {
  return { version: 1, name: 'm', created: '2026-12-01T00:00:00Z', ops: 'ops 1 (bundle a)', subnet: '10.200.0', envs: ['lab'], hosts: [], files: [], source: '/r', ...over };
}

describe('lab snapshot files', () => {
  it("names the env's overlay pillar and keys, not another env's whose name starts the same", () => {
    const repo = repoAt(tempDir());
    for (const f of ['pillar/lab.yml', 'pillar/labx.yml', 'pillar/keys/lab.asc', 'pillar/keys/lab.master.pub', 'pillar/keys/labx.asc', 'keys/lab.key', 'known_hosts', 'lab/state.json']) put(join(repo.stateDir, f), f);
    expect(envStateFiles(repo, 'lab')).toEqual(['keys/lab.key', 'pillar/keys/lab.asc', 'pillar/keys/lab.master.pub', 'pillar/lab.yml']);
  });

  it('puts the snapshot files back; files of the env that differ or that it lacks are moved aside, the same ones stay', () => {
    const repo = repoAt(tempDir());
    const from = tempDir();
    put(join(from, 'repo/pillar/lab.yml'), 'servers from the snapshot\n');
    put(join(from, 'repo/pillar/keys/lab.asc'), 'same key\n');
    put(join(repo.stateDir, 'pillar/lab.yml'), 'an older overlay\n');
    put(join(repo.stateDir, 'pillar/keys/lab.asc'), 'same key\n');
    put(join(repo.stateDir, 'pillar/keys/lab.deploy.pub'), 'a deploy key the snapshot does not have\n');
    put(join(repo.stateDir, 'pillar/staging.yml'), 'another env: untouched\n');
    const aside = restoreEnvFiles(repo, manifest({ files: ['pillar/keys/lab.asc', 'pillar/lab.yml'] }), ['lab'], from);
    expect(readFileSync(join(repo.stateDir, 'pillar/lab.yml'), 'utf8')).toBe('servers from the snapshot\n');
    expect(readFileSync(join(repo.stateDir, 'pillar/keys/lab.asc'), 'utf8')).toBe('same key\n');
    expect(existsSync(join(repo.stateDir, 'pillar/keys/lab.deploy.pub'))).toBe(false);
    expect(readFileSync(join(repo.stateDir, 'pillar/staging.yml'), 'utf8')).toBe('another env: untouched\n');
    expect(aside).toMatch(/\.ops\/replaced\/\d{8}T\d{6}-m$/);
    expect(readFileSync(join(aside ?? '', 'pillar/lab.yml'), 'utf8')).toBe('an older overlay\n');
    expect(readFileSync(join(aside ?? '', 'pillar/keys/lab.deploy.pub'), 'utf8')).toMatch(/deploy key/);
    expect(existsSync(join(aside ?? '', 'pillar/keys/lab.asc'))).toBe(false);
    // nothing differs the second time: nothing is moved
    expect(restoreEnvFiles(repo, manifest({ files: ['pillar/keys/lab.asc', 'pillar/lab.yml'] }), ['lab'], from)).toBeUndefined();
  });
});

describe('when a snapshot is refused', () => {
  const base = tempDir();
  put(join(base, 'etc/os-release'), 'ID=debian\n');
  put(join(base, 'var/lib/dpkg/status'), 'Package: systemd\nVersion: 252\n');
  const id = baseImageId(base);
  const layer = tempDir();
  const current = { ops: 'ops 1 (bundle a)', baseDirOf: (release: string) => (release === 'debian-13' ? base : '/nowhere') };
  const host = (over: Partial<SnapshotHost> = {}): SnapshotHost => ({ env: 'lab', name: 'lab-1', slot: 10, address: '10.200.0.10', hostKey: 'ssh-ed25519 AAAA', layers: [layer], release: 'debian-13', base: { dir: base, id }, ...over });
  const ok = manifest({ hosts: [host()] });

  it('is usable when ops, the base image and every layer are as they were', () => {
    expect(snapshotProblem(ok, current)).toBeUndefined();
  });

  it('names another ops, another base recipe, a base rebuilt with other packages, a missing layer', () => {
    expect(snapshotProblem({ ...ok, ops: 'ops 0 (bundle b)' }, current)).toBe('it was made with ops 0 (bundle b); this is ops 1 (bundle a)');
    expect(snapshotProblem(manifest({ hosts: [host({ base: { dir: '/elsewhere', id } })] }), current)).toBe(`lab-1 was made on the base image /elsewhere; this ops uses ${base}`);
    expect(snapshotProblem(manifest({ hosts: [host({ base: { dir: base, id: `${id}0` } })] }), current)).toMatch(/^its base image was rebuilt since \(made on .*0, now /);
    expect(snapshotProblem(manifest({ hosts: [host({ layers: [join(layer, 'nope')] })] }), current)).toMatch(/^the layer .*nope of lab-1 is missing/);
  });

  it('the base id follows the packages in it', () => {
    put(join(base, 'var/lib/dpkg/status'), 'Package: systemd\nVersion: 253\n');
    expect(baseImageId(base)).not.toBe(id);
    expect(snapshotProblem(ok, current)).toMatch(/rebuilt since/);
  });

  it('refuses names that cannot be a folder or an overlay option', () => {
    for (const bad of ['', 'A', '-x', 'a,b', 'a:b', 'a/b', 'a b', '..', 'x..y', 'a'.repeat(64)]) expect(() => checkSnapshotName(bad), bad).toThrow(/not usable/);
    for (const good of ['demo', 't-1a2b3c4d-demo', 'v1.2_x']) expect(() => checkSnapshotName(good)).not.toThrow();
  });
});
