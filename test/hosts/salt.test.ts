/**
 * Moving off the Caktus template's Salt master, on a real lab host (Debian 13, bare): the host is
 * prepared as the template's `setup_master` left a Salt master — GnuPG installed, the
 * environment's key (made by the batch of the template's conf/keys/gpg.tmpl on this machine) in
 * /etc/salt/gpgkeys, Salt's own configuration beside it — and the repo holds what `ops import
 * salt` writes: the public key as pillar/keys/<env>.pub.gpg and a value encrypted with
 * `gpg -aer <env>_salt_key`. Salt itself is not in Debian's registry; only its files are laid out.
 */
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { filesContaining } from '../support/files.js';
import { labDown, labHosts, labUp, requireRoot } from '../support/lab.js';
import { ops, tempDir, tempRepo } from '../support/ops.js';
import { seedKey, type SeedEnv } from '../support/salt-seed.js';

let repo: string;
let address = '';
let seed: SeedEnv;
let stranger: SeedEnv;
const canary = `salt-canary-${Date.now()}-'"$ü`;
const overlay = () => join(repo, '.ops/pillar/lab.yml');

/** A command on the lab host as root (lab up authorized this machine's lab key). */
async function onHost(line: string, input?: string): Promise<string> {
  const r = await ops(['run', 'lab', '--host', 'lab-1', '--', line], { cwd: repo, ...(input === undefined ? {} : { input }) });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return r.stdout;
}

/** Salt's files on the host: every path under /etc/salt with its checksum (directories by name). */
const saltTree = () => onHost('cd /etc/salt && find . \\( -type f -exec sha256sum {} + \\) -o \\( -type d -print \\) | sort');

/** A private key into Salt's GnuPG home as the template's setup_master put it there. */
const intoSaltHome = (key: SeedEnv) =>
  onHost('set -e; install -d -m 700 /etc/salt/gpgkeys; gpg --homedir /etc/salt/gpgkeys --batch --import 2>&1; gpgconf --homedir /etc/salt/gpgkeys --kill all', key.privateKey);

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  await labUp(repo, 'lab', 1);
  address = (await labHosts(repo)).find((h) => h.name === 'lab-1')?.address ?? '';
  const conf = tempDir();
  seed = seedKey(conf, 'lab');
  stranger = seedKey(tempDir(), 'lab');
  mkdirSync(join(repo, 'pillar/keys'), { recursive: true });
  writeFileSync(join(repo, 'pillar/keys/lab.pub.gpg'), readFileSync(join(conf, 'lab.pub.gpg')));
  const doc = parse(readFileSync(overlay(), 'utf8')) as Record<string, unknown>;
  writeFileSync(overlay(), stringify({ ...doc, secrets: { DB_PASSWORD: seed.encrypt(canary) } }));
  await onHost('set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null; apt-get install -y -q gnupg >/dev/null; install -d /etc/salt/master.d; printf "file_roots:\\n  base:\\n    - /srv/salt\\n" > /etc/salt/master; echo "gpg_keydir: /etc/salt/gpgkeys" > /etc/salt/master.d/gpg.conf');
}, 600_000);

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe("a Salt master's environment key", () => {
  it('is refused when Salt holds no key of pillar/keys/<env>.pub.gpg: nothing is made or changed on the master', async () => {
    await intoSaltHome(stranger);
    const before = await saltTree();
    const r = await ops(['setup-master', 'lab', '-H', address, '--adopt-salt'], { cwd: repo });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/lab-1: Salt's key store \(\/etc\/salt\/gpgkeys\) holds no private key for the environment's public key [0-9A-F]{40}: it holds [0-9A-F]{40} \(lab_salt_key <lab@salt\.example\.com>\)/);
    expect(await onHost('ls -A /etc/ops/keys 2>/dev/null; true')).toBe('');
    expect(await saltTree()).toBe(before);
    // without --adopt-salt, a master that does not hold the repo's key makes none of its own either
    const plain = await ops(['setup-master', 'lab', '-H', address], { cwd: repo });
    expect(plain.code, plain.stderr).toBe(2);
    expect(plain.stderr).toMatch(/holds no key for 'lab', and the repo's public key for it \([0-9A-F]{40}\) is held elsewhere; nothing was made/);
    expect(plain.stderr).toContain('add --adopt-salt');
    expect(await onHost('ls -A /etc/ops/keys 2>/dev/null; true')).toBe('');
  });

  it("--adopt-salt takes the key into ops's store on the master, Salt's files untouched, and the old ciphertext decrypts there", async () => {
    await intoSaltHome(seed);
    const before = await saltTree();
    const r = await ops(['setup-master', 'lab', '-H', address, '--adopt-salt'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/lab-1: environment key [0-9A-F]{40} taken from Salt's key store into ops's, on the master \(it never left it\); Salt's files stay until --remove-salt/);
    expect(await saltTree()).toBe(before);
    expect(await onHost('stat -c "%a %U" /etc/ops/keys/lab.key; ls -A /etc/ops')).toMatch(/^600 root\n(?!.*salt-gnupg)/s);
    // the public key stays the one from Salt's conf/, byte for byte; no second one is written
    expect(readFileSync(join(repo, 'pillar/keys/lab.pub.gpg'), 'utf8')).toMatch(/BEGIN PGP PUBLIC KEY BLOCK/);
    expect(filesContaining(repo, 'PRIVATE KEY BLOCK')).toEqual([]);
    const d = await ops(['decrypt', 'lab', 'DB_PASSWORD'], { cwd: repo });
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toBe(canary);
    // running it again keeps the key
    const again = await ops(['setup-master', 'lab', '-H', address, '--adopt-salt'], { cwd: repo });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/environment key [0-9A-F]{40} already there, kept/);
  });

  it("--remove-salt removes Salt's key store, and nothing else, once every key in it is ops's", async () => {
    const before = (await saltTree()).split('\n').filter((l) => !l.includes('./gpgkeys'));
    // the stranger's key is in Salt's store too, and ops does not hold it: nothing is removed
    const refused = await ops(['setup-master', 'lab', '-H', address, '--remove-salt'], { cwd: repo });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/holds a private key ops does not: [0-9A-F]{40} \(lab_salt_key <lab@salt\.example\.com>\); nothing was removed/);
    expect(await onHost('test -d /etc/salt/gpgkeys && echo kept')).toBe('kept\n');
    const strangerFpr = /([0-9A-F]{40}) \(lab_salt_key/.exec(refused.stderr)?.[1] ?? 'none';
    await onHost(`gpg --homedir /etc/salt/gpgkeys --batch --yes --delete-secret-and-public-keys ${strangerFpr} 2>&1; gpgconf --homedir /etc/salt/gpgkeys --kill all`);
    const r = await ops(['setup-master', 'lab', '-H', address, '--remove-salt'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("lab-1: removed Salt's key store /etc/salt/gpgkeys (every key in it is in ops's); nothing else of Salt's was touched");
    expect((await saltTree()).split('\n')).toEqual(before);
    expect(await onHost('test -e /etc/salt/gpgkeys || echo gone')).toBe('gone\n');
    expect((await ops(['decrypt', 'lab', 'DB_PASSWORD'], { cwd: repo })).stdout).toBe(canary);
    const again = await ops(['setup-master', 'lab', '-H', address, '--remove-salt'], { cwd: repo });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('no Salt key store left to remove');
  });
});
