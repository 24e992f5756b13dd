/**
 * `ops import salt`: a Caktus-template conf/ made as its fabfile made it (real GnuPG 2.2 keys from
 * the template's batch, secrets from `gpg -aer`), imported, validated, and each value decrypted
 * by ops with the old private key. The loader refuses the template's own files with one line.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ops, tempDir } from '../support/ops.js';
import { block, pillarFile, seedKey, type SeedEnv } from '../support/salt-seed.js';

const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHWxTv3dkiGkqxTQz2W2I7OsRK0Ymnx7k6wfcDBYGHsd ada@laptop';
const DSS = 'ssh-dss AAAAB3NzaC1kc3MAAACBAP/dCNcAJED+pBsEwH01E4NU2xrvoB6H5gXkvQ old@box';

/** The template's conf/ for staging and production, with the values each environment holds. */
function seedConf(): { conf: string; keys: Record<'staging' | 'production', SeedEnv>; values: Record<'staging' | 'production', Record<string, string>> } {
  const conf = join(tempDir(), 'conf');
  mkdirSync(conf, { recursive: true });
  const keys = { staging: seedKey(conf, 'staging'), production: seedKey(conf, 'production') };
  const values = {
    staging: { SECRET_KEY: 'st4ging-s3cret "quoted" $HOME', DB_PASSWORD: 'pw: with # and \\ and ü', deploy_key: '-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n', ssl_key: 'KEY PEM', ssl_cert: 'CERT PEM', reviewer: 'basic-auth pw' },
    production: { SECRET_KEY: 'prod-only' },
  };
  pillarFile(conf, 'project.sls', '# FIXME: Change to match project name\nproject_name: shop\n\npython_version: 3.4\n\nless_version: 2.1.0\n\npostgres_version: 9.3\n\nmargarita_version: move_states_to_margarita\n');
  pillarFile(conf, 'devs.sls', `users:\n  # the team\n  ada:\n    groups: [admin, login]\n    public_key:\n      - ${ED}\n      - ${DSS}\n  bob:\n    public_key:\n      - ${ED.replace('ada@laptop', 'bob@desk')}\n`);
  pillarFile(conf, 'top.sls', "base:\n  \"*\":\n    - project\n    - devs\n  'environment:local':\n    - match: grain\n    - local\n  'environment:staging':\n    - match: grain\n    - staging\n  'environment:production':\n    - match: grain\n    - production\n");
  pillarFile(conf, 'local.sls', 'environment: local\ndomain: dev.example.com\n');
  const s = keys.staging;
  const v = values.staging;
  pillarFile(
    conf,
    'staging.sls',
    [
      '#!yaml|gpg',
      '',
      'environment: staging',
      '',
      '# the staging site',
      'domain: staging.shop.example.com',
      '',
      'repo:',
      '  url: git@github.com:acme/shop.git',
      '  branch: develop',
      '',
      '# Addtional public environment variables to set for the project',
      'env:',
      '  FOO: BAR',
      '',
      'http_auth:',
      `  reviewer: ${block(s.encrypt(v.reviewer), '    ')}`,
      '',
      '# Private environment variables. Must be GPG encrypted.',
      'secrets:',
      `  "SECRET_KEY": ${block(s.encrypt(v.SECRET_KEY), '    ')}`,
      `  "DB_PASSWORD": ${block(s.encrypt(v.DB_PASSWORD), '    ')}`,
      '',
      '# Private deploy key. Must be GPG encrypted.',
      `github_deploy_key: ${block(s.encrypt(v.deploy_key), '  ')}`,
      '',
      "{% if 'balancer' in grains['roles'] %}",
      `ssl_key: ${block(s.encrypt(v.ssl_key), '  ')}`,
      '',
      `ssl_cert: ${block(s.encrypt(v.ssl_cert), '  ')}`,
      '{% endif %}',
      '',
    ].join('\n'),
  );
  pillarFile(conf, 'production.sls', `#!yaml|gpg\n\nenvironment: production\ndomain: shop.example.com\nrepo:\n  url: git@github.com:acme/shop.git\n  branch: master\nsecrets:\n  "SECRET_KEY": ${block(keys.production.encrypt(values.production.SECRET_KEY), '    ')}\n`);
  mkdirSync(join(conf, 'salt/project/web'), { recursive: true });
  writeFileSync(join(conf, 'salt/project/web/app.sls'), 'include: []\n');
  mkdirSync(join(conf, 'salt/project/reports'), { recursive: true });
  writeFileSync(join(conf, 'salt/project/reports/init.sls'), 'reports: {}\n');
  return { conf, keys, values };
}

describe('ops import salt', () => {
  it('imports the pillar, keeps every ciphertext, and ops decrypts each value with the old private key', async () => {
    const { conf, keys, values } = seedConf();
    const repo = tempDir();
    const before = parse(readFileSync(join(conf, 'pillar/staging.sls'), 'utf8').replace(/^\{%.*%\}$/gm, '')) as Record<string, Record<string, string>>;
    const r = await ops(['import', 'salt', conf, '--to', repo]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^imported production, staging into .*\/pillar \(7 files\)/);
    for (const said of [
      /project\.sls: python_version is not carried over: ops uses the target's Debian Python 3/,
      /project\.sls: margarita_version is not carried over/,
      /project\.sls: less_version is not carried over/,
      /project\.sls: postgres_version is not carried over/,
      /a key of ada is not carried over \(ssh-dss/,
      /local\.sls .* not carried over: `ops lab`/,
      /top\.sls: not carried over — ops gives each role its own states/,
      /conf\/salt\/project\/reports\/init\.sls: the project's own state, not carried over/,
      /staging\.sls: github_deploy_key → secrets\.deploy_key/,
      /staging\.sls: the \{% if 'balancer' in grains\['roles'\] %\} block is opened/,
    ])
      expect(r.stderr).toMatch(said);
    expect(r.stderr).not.toMatch(/web\/app\.sls/); // a template state is not the project's own
    // the keys, byte for byte; the ciphertexts, as they were
    expect(readFileSync(join(repo, 'pillar/keys/staging.pub.gpg'))).toEqual(readFileSync(join(conf, 'staging.pub.gpg')));
    const after = parse(readFileSync(join(repo, 'pillar/staging.yml'), 'utf8')) as Record<string, Record<string, string>>;
    expect(after.secrets?.SECRET_KEY).toBe(before.secrets?.SECRET_KEY);
    expect(after.secrets?.deploy_key).toBe(before.github_deploy_key as unknown as string);
    expect(after.secrets?.ssl_cert).toBe(before.ssl_cert as unknown as string);
    expect(after.http_auth?.reviewer).toBe(before.http_auth?.reviewer);
    expect(readFileSync(join(repo, 'pillar/staging.yml'), 'utf8')).toContain('# Private environment variables. Must be GPG encrypted.');
    expect(parse(readFileSync(join(repo, 'pillar/devs.yml'), 'utf8'))).toEqual({ users: { ada: { keys: [ED] }, bob: { keys: [ED.replace('ada@laptop', 'bob@desk')] } } });
    expect(parse(readFileSync(join(repo, 'pillar/project.yml'), 'utf8'))).toEqual({ project: 'shop', default_environment: 'staging' });
    const v = await ops(['pillar', 'validate'], { cwd: repo });
    expect(v.code, v.stderr).toBe(0);
    for (const env of ['staging', 'production'] as const) {
      const key = join(tempDir(), `${env}.key`);
      writeFileSync(key, keys[env].privateKey, { mode: 0o600 });
      for (const [name, value] of Object.entries(values[env])) {
        if (name === 'reviewer') continue; // http_auth's values are not secrets by name
        const d = await ops(['decrypt', env, name, '--key', key], { cwd: repo });
        expect(d.code, `${env} ${name}: ${d.stderr}`).toBe(0);
        expect(d.stdout, `${env} ${name}`).toBe(value);
      }
    }
  });

  it('never overwrites, writes nothing with --dry-run, and refuses Jinja it cannot carry over', async () => {
    const { conf } = seedConf();
    const repo = tempDir();
    const dry = await ops(['import', 'salt', conf, '--to', repo, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stderr).toContain('--- would write pillar/staging.yml');
    expect(() => readFileSync(join(repo, 'pillar/project.yml'))).toThrow();
    expect((await ops(['import', 'salt', conf, '--to', repo])).code).toBe(0);
    const written = readFileSync(join(repo, 'pillar/staging.yml'), 'utf8');
    const again = await ops(['import', 'salt', conf, '--to', repo]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exist in .*: ops import salt never overwrites a file/);
    expect(readFileSync(join(repo, 'pillar/staging.yml'), 'utf8')).toBe(written);
    writeFileSync(join(conf, 'pillar/production.sls'), "environment: production\n{% set x = 1 %}\ndomain: {{ x }}.example.com\n");
    const jinja = await ops(['import', 'salt', conf, '--to', tempDir()]);
    expect(jinja.code).toBe(2);
    expect(jinja.stderr).toMatch(/production\.sls:2: Jinja that ops cannot carry over: \{% set x = 1 %\}/);
  });

  it("ops refuses the template's own files with one line naming ops import salt", async () => {
    const { conf } = seedConf();
    const repo = tempDir();
    mkdirSync(join(repo, 'pillar'));
    for (const f of ['project.sls', 'devs.sls', 'staging.sls']) writeFileSync(join(repo, 'pillar', f), readFileSync(join(conf, 'pillar', f)));
    const r = await ops(['pillar', 'validate', 'staging'], { cwd: repo });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')[0]).toMatch(/^error: pillar\/project\.sls:2:1: a Salt-era pillar \(the template's `project_name:`\)/);
    expect(r.stderr).toContain('ops import salt conf --to .');
  });
});
