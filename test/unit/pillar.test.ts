import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OpsError } from '../../src/errors.js';
import { loadPillar } from '../../src/pillar/load.js';
import { pillarJsonSchema } from '../../src/pillar/schema.js';
import { repoAt } from '../../src/repo.js';
import { repoWith } from '../support/files.js';

function errorOf(fn: () => unknown): OpsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof OpsError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

const project = 'project: demo\n';

describe('loadPillar', () => {
  it('loads the example environments of this repo', () => {
    const repo = repoAt(join(__dirname, '..', '..'));
    for (const env of ['lab', 'staging', 'production']) {
      const p = loadPillar(repo, env);
      expect(p.data.project).toBe('demo');
    }
    expect(loadPillar(repo, 'production').data.protected).toBe(true);
    expect(loadPillar(repo, 'staging').data.servers['staging-1']?.roles).toContain('web');
  });

  it('merges project, devs, env and the generated overlay, later files winning', () => {
    const repo = repoWith({
      'pillar/project.yml': `${project}env:\n  A: project\n  B: project\nhealthcheck:\n  path: /up\n`,
      'pillar/devs.yml': 'users:\n  alice:\n    keys: [ssh-ed25519 AAAA alice]\n',
      'pillar/stage.yml': 'env:\n  B: env\nservers:\n  s1: {address: 10.0.0.1, roles: [web]}\n',
      '.ops/pillar/stage.yml': 'servers:\n  s1: {address: 10.9.9.9, roles: [web, db-master]}\n  s2: {address: 10.9.9.8}\n',
    });
    const p = loadPillar(repo, 'stage');
    expect(p.data.env).toEqual({ A: 'project', B: 'env' });
    expect(p.data.healthcheck.path).toBe('/up');
    expect(p.data.users.alice?.sudo).toBe(true);
    expect(p.data.servers.s1).toMatchObject({ address: '10.9.9.9', port: 22, roles: ['web', 'db'] });
    expect(Object.keys(p.data.servers)).toEqual(['s1', 's2']);
    expect(p.data.protected).toBe(false);
  });

  it('protects an environment named production by default', () => {
    const repo = repoWith({ 'pillar/project.yml': project, 'pillar/production.yml': 'domain: x\n' });
    expect(loadPillar(repo, 'production').data.protected).toBe(true);
  });

  it('loads seed-style .sls files with a #!yaml|gpg first line', () => {
    const repo = repoWith({
      'pillar/project.yml': project,
      'pillar/staging.sls': '#!yaml|gpg\n\nenv:\n  FOO: bar\nsecrets:\n  SECRET_KEY: |-\n    -----BEGIN PGP MESSAGE-----\n    abc\n    -----END PGP MESSAGE-----\n',
    });
    const p = loadPillar(repo, 'staging');
    expect(p.data.env.FOO).toBe('bar');
    expect(p.data.secrets.SECRET_KEY).toContain('BEGIN PGP MESSAGE');
  });

  const cases: [string, Record<string, string>, RegExp][] = [
    ['YAML syntax', { 'pillar/e.yml': 'env:\n  A: [1, 2\n' }, /^pillar\/e\.yml:\d+:\d+: .*YAML syntax/],
    ['duplicate key', { 'pillar/e.yml': 'domain: a\ndomain: b\n' }, /^pillar\/e\.yml:2:1: .*duplicate key/],
    ['unknown role', { 'pillar/e.yml': 'servers:\n  w1:\n    address: 10.0.0.1\n    roles: [web, wbe]\n' }, /^pillar\/e\.yml:4:18: servers\.w1\.roles\[1\]: unknown role 'wbe' \(valid: master, web/],
    ['wrong type', { 'pillar/e.yml': 'servers:\n  w1:\n    address: 10.0.0.1\n    port: "22x"\n' }, /^pillar\/e\.yml:4:11: servers\.w1\.port: expected number, got string "22x"/],
    ['missing required key', { 'pillar/e.yml': 'servers:\n  w1:\n    port: 22\n' }, /^pillar\/e\.yml:3:5: servers\.w1\.address: required key is missing/],
    ['unknown key with a suggestion', { 'pillar/e.yml': 'domian: x\n' }, /^pillar\/e\.yml:1:1: domian: unknown key 'domian' \(did you mean 'domain'\?\)/],
    ['nested unknown key', { 'pillar/e.yml': 'servers:\n  w1:\n    address: a\n    rolez: [web]\n' }, /^pillar\/e\.yml:4:5: servers\.w1\.rolez: unknown key 'rolez' \(did you mean 'roles'\?\)/],
    ['two masters', { 'pillar/e.yml': 'servers:\n  a: {address: a, roles: [master]}\n  b: {address: b, roles: [salt-master]}\n' }, /servers: more than one server has the master role/],
  ];
  for (const [name, files, re] of cases) {
    it(`reports ${name} with file:line:col and the key path (exit 2)`, () => {
      const repo = repoWith({ 'pillar/project.yml': project, ...files });
      const e = errorOf(() => loadPillar(repo, 'e'));
      expect(e.exitCode).toBe(2);
      expect(e.message).toMatch(re);
      expect(e.message).not.toContain('\n');
    });
  }

  it('reports a missing project name in the environment it was loading', () => {
    const repo = repoWith({ 'pillar/project.yml': 'default_environment: e\n', 'pillar/e.yml': 'domain: x\n' });
    const e = errorOf(() => loadPillar(repo, 'e'));
    expect(e.message).toMatch(/^pillar\/e\.yml:1:1: project: required key is missing/);
    expect(e.hint).toContain('pillar/project.yml');
  });
});

describe('pillarJsonSchema', () => {
  it('describes every top-level key and the server shape', () => {
    const s = pillarJsonSchema() as { properties: Record<string, { description?: string }>; $schema?: string };
    for (const k of ['project', 'repo', 'app', 'releases', 'healthcheck', 'users', 'domain', 'protected', 'servers', 'env', 'secrets', 'http_auth']) {
      expect(s.properties).toHaveProperty(k);
    }
    expect(JSON.stringify(s.properties.servers)).toContain('"address"');
    expect(s.$schema).toMatch(/json-schema\.org/);
  });
});
