import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OpsError } from '../../src/errors.js';
import { loadPillar } from '../../src/pillar/load.js';
import { repoAt } from '../../src/repo.js';
import { selectTargets } from '../../src/core/targets.js';

const prod = loadPillar(repoAt(join(__dirname, '..', '..')), 'production');

function err(fn: () => unknown): OpsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof OpsError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

describe('selectTargets', () => {
  it('selects by role, by name and by address, with the jump through the master', () => {
    expect(selectTargets(prod, { role: 'web', user: 'alice' }).map((t) => t.name)).toEqual(['prod-web-1', 'prod-web-2']);
    const [db] = selectTargets(prod, { host: '198.51.100.41', user: 'alice' });
    expect(db).toMatchObject({ name: 'prod-db-1', port: 22, user: 'alice', via: { name: 'prod-master', address: '198.51.100.10' } });
    expect(selectTargets(prod, { host: 'prod-master', user: 'bob' })[0]?.via).toBeUndefined();
    expect(selectTargets(prod, { role: 'db-master', user: 'x' }).map((t) => t.name)).toEqual(['prod-db-1']);
  });

  it('refuses a role no host has, an unknown role and an unknown host (exit 2)', () => {
    const root = mkdtempSync(join(tmpdir(), 'ops-inv-'));
    mkdirSync(join(root, 'pillar'));
    writeFileSync(join(root, 'pillar/project.yml'), 'project: t\n');
    writeFileSync(join(root, 'pillar/small.yml'), 'servers:\n  one: {address: 10.1.1.1, roles: [web]}\n');
    const small = loadPillar(repoAt(root), 'small');
    expect(err(() => selectTargets(small, { role: 'balancer' })).message).toBe("no host of environment 'small' has the role 'balancer'");
    expect(err(() => selectTargets(prod, { role: 'webz' })).message).toMatch(/^unknown role 'webz' \(valid: master, web/);
    const e = err(() => selectTargets(prod, { host: 'nope' }));
    expect(e.exitCode).toBe(2);
    expect(e.hint).toContain('prod-web-1 (198.51.100.21)');
  });
});
