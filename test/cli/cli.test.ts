import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ops, tempDir, tempRepo } from '../support/ops.js';

const COMMANDS = [
  'deploy', 'encrypt', 'decrypt', 'keygen', 'rekey', 'generate-secret', 'deploy-key', 'setup-master', 'setup-minion',
  'add-role', 'run', 'ssh', 'prod-db-to-staging', 'reset-local-db', 'db', 'manage-run', 'manage-shell', 'releases',
  'rollback', 'lab', 'pillar',
];

describe('ops --help', () => {
  it('lists every command with a one-line description', async () => {
    const r = await ops(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b.*\\S`, 'm'));
  });

  it('shows real examples in each command\'s --help', async () => {
    const results = await Promise.all(COMMANDS.map((c) => ops([c, '--help'])));
    results.forEach((r, i) => {
      expect(r.code, COMMANDS[i]).toBe(0);
      if (COMMANDS[i] === 'db' || COMMANDS[i] === 'lab' || COMMANDS[i] === 'pillar') expect(r.stdout).toMatch(/Commands:/);
      expect(r.stdout, COMMANDS[i]).toMatch(new RegExp(`Examples:\\n(  .*\\n)*  \\$ ops ${COMMANDS[i]}`));
    });
  });
});

describe('usage errors', () => {
  it('an unknown command or option exits 2', async () => {
    expect((await ops(['deplyo'])).code).toBe(2);
    expect((await ops(['encrypt', '--bogus'])).code).toBe(2);
  });

  it('release commands refuse bad input with one line and exit 2, before any connection', async () => {
    const noArgs = await ops(['manage-run', 'lab']);
    expect(noArgs.code).toBe(2);
    expect(noArgs.stderr).toMatch(/no management command given/);
    const noMaster = await ops(['releases', 'lab'], { cwd: tempRepo() }); // the lab has no servers until `ops lab up`
    expect(noMaster.code).toBe(2);
    expect(noMaster.stderr).toMatch(/has no master/);
  });

  it('deploy chooses hosts with --role or --host (--only is a deprecated alias), checked before any connection', async () => {
    const cases: [string[], RegExp][] = [
      [['--role', 'nope'], /unknown role 'nope'/],
      [['--host', 'zz'], /unknown host 'zz' in environment 'production'\n  hint: hosts: prod-master/],
      [['--role', 'web', '--host', 'prod-web-1'], /choose the hosts one way: --role or --host/],
      [['--only', 'zz'], /note: --only is deprecated: use --role ROLE or --host NAME\nerror: --only zz: no host of 'production' has that name or role/],
    ];
    const results = await Promise.all(cases.map(([flags]) => ops(['deploy', 'production', ...flags])));
    results.forEach((r, i) => {
      expect(r.code, cases[i]![0].join(' ')).toBe(2);
      expect(r.stderr).toMatch(cases[i]![1]);
    });
    const help = await ops(['deploy', '--help']);
    expect(help.stdout).toMatch(/--role <role> +only hosts with this role\n +--host <name> +only this host\n/);
    expect(help.stdout).not.toContain('--only');
  });

  it('outside an ops repo: one clear line, exit 2, no stack trace', async () => {
    const r = await ops(['pillar', 'show'], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: no ops repo found/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('finds the repo root from a sub-folder, or from --root / OPS_ROOT', async () => {
    const repo = tempRepo();
    expect((await ops(['pillar', 'show', 'staging'], { cwd: join(repo, 'pillar') })).code).toBe(0);
    expect((await ops(['--root', repo, 'pillar', 'show', 'staging'], { cwd: tempDir() })).code).toBe(0);
    expect((await ops(['pillar', 'show', 'staging'], { cwd: tempDir(), env: { OPS_ROOT: repo } })).code).toBe(0);
  });
});

describe('environment resolution', () => {
  const envOf = async (args: string[], env: Record<string, string> = {}, cwd?: string) => {
    const r = await ops(['pillar', 'show', ...args, '--json'], { env, cwd });
    return r.code === 0 ? (JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { env: string }).env : r;
  };

  it('takes a positional env, then -e, then OPS_ENV, then default_environment', async () => {
    expect(await envOf(['staging'], { OPS_ENV: 'production' })).toBe('staging');
    expect(await envOf(['-e', 'production'], { OPS_ENV: 'staging' })).toBe('production');
    expect(await envOf([], { OPS_ENV: 'staging' })).toBe('staging');
    expect(await envOf([])).toBe('lab');
  });

  it('a positional env that disagrees with -e is an error (exit 2)', async () => {
    const r = await ops(['pillar', 'show', 'staging', '-e', 'production']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/disagree/);
  });

  it('with no environment at all, the error lists the environments', async () => {
    const repo = tempRepo();
    writeFileSync(join(repo, 'pillar', 'project.yml'), 'project: demo\n');
    const r = await ops(['pillar', 'show'], { cwd: repo });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no environment given/);
    expect(r.stderr).toMatch(/environments: lab, production, staging/);
  });

  it('an unknown environment names where it came from and lists the real ones', async () => {
    const r = await ops(['pillar', 'show', '-e', 'prod']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown environment 'prod' \(from -e\)/);
    expect(r.stderr).toMatch(/lab, production, staging/);
  });
});

describe('ops pillar', () => {
  it('show masks every encrypted value', async () => {
    const repo = tempRepo();
    writeFileSync(
      join(repo, 'pillar', 'staging.yml'),
      'domain: s\nenv:\n  TOKEN: |-\n    -----BEGIN PGP MESSAGE-----\n    abc\n    -----END PGP MESSAGE-----\nsecrets:\n  K: |-\n    -----BEGIN PGP MESSAGE-----\n    def\n    -----END PGP MESSAGE-----\n',
    );
    const r = await ops(['pillar', 'show', 'staging'], { cwd: repo });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/TOKEN: <encrypted>/);
    expect(r.stdout).toMatch(/K: <encrypted>/);
    expect(r.stdout).not.toMatch(/BEGIN PGP/);
  });

  it('schema prints JSON Schema', async () => {
    const r = await ops(['pillar', 'schema']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { properties: object };
    expect(Object.keys(s.properties)).toContain('servers');
  });

  it('an invalid pillar is one line with file:line:col, exit 2', async () => {
    const repo = tempRepo();
    writeFileSync(join(repo, 'pillar', 'staging.yml'), 'servers:\n  web1:\n    address: 10.0.0.1\n    roles: [web, webb]\n');
    const r = await ops(['pillar', 'validate', 'staging'], { cwd: repo });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(
      "error: pillar/staging.yml:4:18: servers.web1.roles[1]: unknown role 'webb' (valid: master, web, worker, balancer, db, queue, cache)",
    );
  });
});
