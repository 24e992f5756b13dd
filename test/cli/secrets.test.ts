import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { filesContaining } from '../support/files.js';
import { ops, tempDir, tempRepo } from '../support/ops.js';

async function repoWithKey(): Promise<string> {
  const repo = tempRepo();
  const r = await ops(['keygen', 'lab'], { cwd: repo });
  expect(r.code, r.stderr).toBe(0);
  return repo;
}

const TRICKY = [
  `it's "quoted" and 'single'`,
  'dollar $HOME ${PATH} `backtick` \\ backslash \\n not-a-newline',
  'multi\nline\n\nvalue with trailing spaces   ',
  'unicode: ünïcödé ✓ 日本語 🙂',
  '# starts like a comment: and has {braces} [brackets] & *stars',
];

describe('ops keygen', () => {
  it('writes the public key to pillar/keys and a 0600 private key outside pillar/, and refuses to overwrite', async () => {
    const repo = tempRepo();
    const r = await ops(['keygen', 'lab'], { cwd: repo });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^[0-9A-F]{40}$/);
    expect(readFileSync(join(repo, 'pillar/keys/lab.asc'), 'utf8')).toMatch(/BEGIN PGP PUBLIC KEY BLOCK/);
    expect(statSync(join(repo, '.ops/keys/lab.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(repo, '.ops/.gitignore'), 'utf8')).toMatch(/^\*$/m);
    const again = await ops(['keygen', 'lab'], { cwd: repo });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; not replacing a key/);
  });
});

describe('ops encrypt / decrypt', () => {
  let repo: string;
  beforeAll(async () => {
    repo = await repoWithKey();
  });

  it('round-trips awkward values byte for byte through --write and decrypt', async () => {
    for (const [i, value] of TRICKY.entries()) {
      const w = await ops(['encrypt', 'lab', `K${i}=-`, '--write'], { cwd: repo, input: `${value}\n` });
      expect(w.code, w.stderr).toBe(0);
    }
    for (const [i, value] of TRICKY.entries()) {
      const d = await ops(['decrypt', 'lab', `K${i}`], { cwd: repo });
      expect(d.code, d.stderr).toBe(0);
      expect(d.stdout).toBe(value);
    }
    const all = await ops(['decrypt', 'lab'], { cwd: repo });
    expect(parse(all.stdout)).toMatchObject(Object.fromEntries(TRICKY.map((v, i) => [`K${i}`, v])));
  });

  it('round-trips a 1 MiB value', async () => {
    const big = Buffer.alloc(1024 * 1024, 'x').fill('ünï$"\'\\\n', 0, 200).toString('utf8').slice(0, 1024 * 1024 - 2) + 'END';
    const w = await ops(['encrypt', 'lab', 'BIG', '--write'], { cwd: repo, input: big });
    expect(w.code, w.stderr).toBe(0);
    const d = await ops(['decrypt', 'lab', 'BIG'], { cwd: repo });
    expect(d.stdout.length).toBe(big.length);
    expect(d.stdout === big).toBe(true);
  });

  it('prints a snippet ready for secrets: without --write, and accepts KEY=value in argv', async () => {
    const r = await ops(['encrypt', 'lab', 'A=one', 'B=two'], { cwd: repo });
    expect(r.code).toBe(0);
    const snippet = parse(r.stdout) as Record<string, string>;
    expect(Object.keys(snippet)).toEqual(['A', 'B']);
    expect(r.stdout).toMatch(/^"A": \|-\n  -----BEGIN PGP MESSAGE-----/);
    expect(r.stdout).not.toMatch(/one|two/);
  });

  it('--generate makes a random value that never appears in any output', async () => {
    const r = await ops(['encrypt', 'lab', 'GEN', '--generate', '64', '--write'], { cwd: repo });
    expect(r.code).toBe(0);
    const d = await ops(['decrypt', 'lab', 'GEN'], { cwd: repo });
    expect(d.stdout).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(r.stdout + r.stderr).not.toContain(d.stdout);
  });

  it('leaves no plaintext on disk: not in the repo, not in temp files', async () => {
    const tmp = tempDir();
    const secret = `canary-${Date.now()}-plaintext`;
    const r = await ops(['encrypt', 'lab', 'CANARY', '--write'], { cwd: repo, input: secret, env: { TMPDIR: tmp } });
    expect(r.code).toBe(0);
    expect(filesContaining(repo, secret)).toEqual([]);
    expect(filesContaining(tmp, secret)).toEqual([]);
  });

  it('--write keeps every comment and untouched line of the pillar file', async () => {
    const file = join(repo, 'pillar/lab.yml');
    const before = readFileSync(file, 'utf8');
    const r = await ops(['encrypt', 'lab', 'K0=replaced', 'NEWONE=x', '--write'], { cwd: repo });
    expect(r.code).toBe(0);
    const after = readFileSync(file, 'utf8');
    for (const line of before.split('\n').filter((l) => l.startsWith('#') || /^[a-z]/.test(l))) expect(after).toContain(line);
    const d = await ops(['decrypt', 'lab', 'K0'], { cwd: repo });
    expect(d.stdout).toBe('replaced');
  });

  it('refuses bad input with one clear line (exit 2)', async () => {
    const cases: [string[], RegExp, string?][] = [
      [['encrypt', 'lab', '1BAD=x'], /not a valid secret name/],
      [['encrypt', 'lab'], /nothing to encrypt/],
      [['encrypt', 'lab', 'A', 'B'], /only one KEY can read its value from stdin/, 'x'],
      [['encrypt', 'lab', 'A=x', '--generate'], /--generate makes the value itself/],
      [['encrypt', 'staging', 'A=x'], /environment 'staging' has no public key/],
      [['decrypt', 'lab', 'NOPE'], /has no encrypted value 'NOPE'/],
      [['decrypt', 'lab', '--key', '/nonexistent'], /key file \/nonexistent does not exist/],
    ];
    for (const [args, re, input] of cases) {
      const r = await ops(args, { cwd: repo, input });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('--file writes PATH.asc, prints with -o -, or becomes a secret', async () => {
    const dir = tempDir();
    const f = join(dir, 'staging.priv');
    writeFileSync(f, Buffer.from([0, 1, 2, 255, 10, 13]));
    expect((await ops(['encrypt', 'lab', '--file', f], { cwd: repo })).code).toBe(0);
    expect(readFileSync(`${f}.asc`, 'utf8')).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    const printed = await ops(['encrypt', 'lab', '--file', f, '-o', '-'], { cwd: repo });
    expect(printed.stdout).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    expect((await ops(['encrypt', 'lab', 'FILESECRET', '--file', f, '--write'], { cwd: repo })).code).toBe(0);
    const d = await ops(['decrypt', 'lab', 'FILESECRET'], { cwd: repo });
    expect(Buffer.from(d.stdout, 'latin1').length).toBeGreaterThan(0);
  });
});

describe('decryption fails closed', () => {
  it('a value encrypted to another key stops with exit 2 naming the key; ciphertext is never passed on', async () => {
    const repo = await repoWithKey();
    const other = await repoWithKey();
    const foreign = await ops(['encrypt', 'lab', 'FOREIGN=nope'], { cwd: other });
    expect((await ops(['encrypt', 'lab', 'GOOD=yes', '--write'], { cwd: repo })).code).toBe(0);
    writeFileSync(join(repo, 'pillar/lab.yml'), readFileSync(join(repo, 'pillar/lab.yml'), 'utf8') + foreign.stdout.replace(/^"FOREIGN"/, '  "FOREIGN"').replace(/\n  /g, '\n    '));
    const all = await ops(['decrypt', 'lab'], { cwd: repo });
    expect(all.code).toBe(2);
    expect(all.stderr).toMatch(/pillar\/lab\.yml: secrets\.FOREIGN does not decrypt with key [0-9A-F]{40}/);
    expect(all.stdout).toBe('');
    const good = await ops(['decrypt', 'lab', 'GOOD'], { cwd: repo });
    expect(good.stdout).toBe('yes');
  });

  it('a corrupted block is an error, not a pass-through', async () => {
    const repo = await repoWithKey();
    expect((await ops(['encrypt', 'lab', 'X=value', '--write'], { cwd: repo })).code).toBe(0);
    const file = join(repo, 'pillar/lab.yml');
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n');
    const i = lines.findIndex((l) => l.includes('BEGIN PGP MESSAGE')) + 3;
    lines[i] = (lines[i] ?? '').replace(/[A-Za-z]/, (c) => (c === 'A' ? 'B' : 'A'));
    writeFileSync(file, lines.join('\n'));
    const r = await ops(['decrypt', 'lab', 'X'], { cwd: repo });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/secrets\.X does not decrypt/);
    expect(r.stdout).toBe('');
  });
});

describe('ops rekey', () => {
  it('re-encrypts every value to the new key and replaces the public key', async () => {
    const repo = await repoWithKey();
    const next = await repoWithKey();
    for (const kv of ['A=alpha', 'B=beta']) expect((await ops(['encrypt', 'lab', kv, '--write'], { cwd: repo })).code).toBe(0);
    const r = await ops(['rekey', 'lab', '--to', join(next, 'pillar/keys/lab.asc')], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/re-encrypted 2 value\(s\)/);
    const withNew = await ops(['decrypt', 'lab', '--key', join(next, '.ops/keys/lab.key')], { cwd: repo });
    expect(parse(withNew.stdout)).toEqual({ A: 'alpha', B: 'beta' });
    const withOld = await ops(['decrypt', 'lab', 'A'], { cwd: repo });
    expect(withOld.code).toBe(2);
    expect(readFileSync(join(repo, 'pillar/keys/lab.asc'), 'utf8')).toBe(readFileSync(join(next, 'pillar/keys/lab.asc'), 'utf8').trimEnd() + '\n');
  });

  it('is atomic: one value that does not decrypt leaves the pillar and the key unchanged', async () => {
    const repo = await repoWithKey();
    const next = await repoWithKey();
    expect((await ops(['encrypt', 'lab', 'A=alpha', '--write'], { cwd: repo })).code).toBe(0);
    const foreign = await ops(['encrypt', 'lab', 'Z=zeta'], { cwd: next });
    const file = join(repo, 'pillar/lab.yml');
    writeFileSync(file, readFileSync(file, 'utf8') + foreign.stdout.replace(/^"Z"/, '  "Z"').replace(/\n  /g, '\n    '));
    const before = readFileSync(file);
    const keyBefore = readFileSync(join(repo, 'pillar/keys/lab.asc'));
    const r = await ops(['rekey', 'lab', '--to', join(next, 'pillar/keys/lab.asc')], { cwd: repo });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/secrets\.Z does not decrypt/);
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(readFileSync(join(repo, 'pillar/keys/lab.asc')).equals(keyBefore)).toBe(true);
    expect(readdirSync(join(repo, 'pillar')).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

describe('ops generate-secret', () => {
  it('prints a random alphanumeric secret, 50 long by default', async () => {
    const a = await ops(['generate-secret']);
    const b = await ops(['generate-secret', '--length', '64', '--alphabet', 'hex']);
    expect(a.stdout).toMatch(/^[A-Za-z0-9]{50}\n$/);
    expect(b.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect((await ops(['generate-secret', '--length', '0'])).code).toBe(2);
  });
});

describe('ops deploy-key', () => {
  it('writes the public key, puts the private key only encrypted into secrets, and it is a working key pair', async () => {
    const repo = await repoWithKey();
    const r = await ops(['deploy-key', 'lab', '--write'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    const pub = readFileSync(join(repo, 'pillar/keys/lab.deploy.pub'), 'utf8').trim();
    expect(pub).toMatch(/^ssh-ed25519 \S+ demo-lab-deploy$/);
    expect(filesContaining(repo, 'OPENSSH PRIVATE KEY')).toEqual([]);
    const d = await ops(['decrypt', 'lab', 'deploy_key'], { cwd: repo });
    expect(d.stdout).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    // The test (not ops) writes the key to a private temp file so ssh-keygen can check it.
    const dir = mkdtempSync(join(tmpdir(), 'ops-dk-'));
    writeFileSync(join(dir, 'k'), d.stdout, { mode: 0o600 });
    const derived = execFileSync('ssh-keygen', ['-y', '-f', join(dir, 'k')]).toString().trim();
    rmSync(dir, { recursive: true });
    expect(pub.startsWith(derived.split(' ').slice(0, 2).join(' '))).toBe(true);
    const again = await ops(['deploy-key', 'lab', '--write'], { cwd: repo });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already has a deploy key/);
    expect(existsSync(join(repo, 'pillar/keys/lab.deploy.pub'))).toBe(true);
  });
});
