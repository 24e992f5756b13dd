/**
 * Secrets that outlive the master, on real lab hosts booted converged from the run's `demo`
 * snapshot (lab-1 master, lab-2 db,queue,cache, lab-3 web,worker, lab-4 balancer) and real GnuPG
 * 2.2 on this machine holding the recovery keys: recovery keys are added and removed by a rekey on
 * the master, `ops secrets audit` flags what misses one; then the master's machine is destroyed,
 * a new one at its address is made the master with `--recover` — the values read through GnuPG's
 * session keys, never on disk — and `ops deploy` works again with no secret typed in.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { convergedLab, DEMO } from '../support/converged.js';
import { curlDemo, publishDemoApp } from '../support/demo-app.js';
import { filesContaining } from '../support/files.js';
import { gnupgHome, gpgIn as gpg, person } from '../support/gnupg.js';
import { labDown, requireRoot, type LabHostRow } from '../support/lab.js';
import { ops, tempRepo, type RunResult } from '../support/ops.js';

let repo: string;
let hosts: LabHostRow[];
const addr = (name: string) => hosts.find((h) => h.name === name)?.address ?? '';
const canary = `recovery-canary-${Date.now()}-'"$ü`;
const fpr: Record<string, string> = {};

let alice = '';
let bob = '';
let nobody = '';
const aliceFile = () => join(repo, 'alice.asc');
const bobFile = () => join(repo, 'bob.gpg');
const pillarFile = () => join(repo, '.ops/pillar/lab.yml');
const pubFile = () => join(repo, '.ops/pillar/keys/lab.asc');
const recoveryDir = () => join(repo, '.ops/pillar/keys/lab.recovery');

/** The armored message of one secret as the pillar file holds it. */
function ciphertext(name: string): string {
  const doc = parse(readFileSync(pillarFile(), 'utf8')) as { secrets: Record<string, string> };
  return doc.secrets[name] ?? '';
}

/** Every encrypted value of the environment file, by name. */
function ciphertexts(): Record<string, string> {
  return (parse(readFileSync(pillarFile(), 'utf8')) as { secrets: Record<string, string> }).secrets;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The command lines of every process on this machine, sampled until `stop()`; a hit on `needle` is kept. */
function watchProcesses(needle: string): { stop: () => Promise<string[]> } {
  const hits: string[] = [];
  let going = true;
  const loop = (async () => {
    while (going) {
      for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
        try {
          const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
          if (argv.includes(needle)) hits.push(argv);
        } catch {
          // gone meanwhile
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      going = false;
      await loop;
      return hits;
    },
  };
}

const audit = (): Promise<RunResult> => ops(['--json', 'secrets', 'audit', 'lab'], { cwd: repo });
const events = (r: RunResult) => r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

beforeAll(async () => {
  requireRoot();
  expect(execFileSync('gpg', ['--version']).toString()).toMatch(/^gpg \(GnuPG\) 2\.2\./);
  repo = tempRepo();
  hosts = await convergedLab(repo, DEMO);
  alice = person('alice', 'ed25519', 'cv25519', aliceFile(), true).home;
  const b = person('bob', 'rsa3072', 'rsa3072', bobFile(), false);
  bob = b.home;
  fpr.bob = b.fingerprint;
  nobody = gnupgHome();
  // the demo app's repository is fetched with the environment's deploy key: one more value to recover
  expect((await ops(['deploy-key', 'lab', '--write'], { cwd: repo })).code).toBe(0);
  const w = await ops(['encrypt', 'lab', 'RECOVERY_CANARY', '--write'], { cwd: repo, input: canary });
  expect(w.code, w.stderr).toBe(0);
});

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('recovery recipients', () => {
  it('audit: every value to the master key alone is fine; a recovery key listed but not used is flagged (exit 1)', async () => {
    const ok = await audit();
    expect(ok.code, ok.stderr).toBe(0);
    expect(events(ok).find((e) => e.type === 'secret' && e.name === 'RECOVERY_CANARY')).toMatchObject({ to: ['master'], ok: true });
    execFileSync('mkdir', ['-p', recoveryDir()]);
    writeFileSync(join(recoveryDir(), 'alice.asc'), readFileSync(aliceFile()));
    try {
      const flagged = await audit();
      expect(flagged.code).toBe(1);
      expect(events(flagged).find((e) => e.type === 'secret' && e.name === 'RECOVERY_CANARY')).toMatchObject({ missing: ['alice.asc'], ok: false });
      expect(flagged.stderr).toMatch(/flagged: re-encrypt them to the recipients listed now with `ops rekey lab --keep-key`/);
    } finally {
      execFileSync('rm', ['-rf', recoveryDir()]);
    }
  });

  it('rekey --add-recipient (an ed25519 armored key, an RSA binary one): re-encrypted on the master, the master key kept; GnuPG opens each value with one recovery key alone', async () => {
    const before = readFileSync(pubFile(), 'utf8');
    const r = await ops(['rekey', 'lab', '--add-recipient', aliceFile(), '--add-recipient', bobFile()], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/added recovery key alice\.asc/);
    expect(r.stderr).toMatch(/lab-1: re-encrypted \d+ value\(s\) in .* to 3 key\(s\)/);
    expect(readFileSync(pubFile(), 'utf8')).toBe(before);
    expect(readdirSync(recoveryDir()).sort()).toEqual(['alice.asc', 'bob.asc']);
    const a = await audit();
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(events(a).find((e) => e.type === 'secret' && e.name === 'RECOVERY_CANARY')).toMatchObject({ to: ['master', 'alice.asc', 'bob.asc'], ok: true });
    for (const home of [alice, bob]) {
      const d = gpg(home, ['--decrypt'], ciphertext('RECOVERY_CANARY'));
      expect(d.code, d.err).toBe(0);
      expect(d.out.toString()).toBe(canary);
    }
    expect(gpg(nobody, ['--decrypt'], ciphertext('RECOVERY_CANARY')).code).not.toBe(0);
    // the same again changes nothing it need not
    const again = await ops(['rekey', 'lab', '--add-recipient', aliceFile()], { cwd: repo });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/already a recovery key \(alice\.asc\)/);
    expect((await ops(['decrypt', 'lab', 'RECOVERY_CANARY'], { cwd: repo })).stdout).toBe(canary);
  });

  it('rekey --remove-recipient: the key file goes and the values are no longer to it', async () => {
    const r = await ops(['rekey', 'lab', '--remove-recipient', fpr.bob ?? ''], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(recoveryDir())).toEqual(['alice.asc']);
    for (const [name, armored] of Object.entries(ciphertexts())) {
      expect(gpg(bob, ['--decrypt'], armored).code, `bob still opens ${name}`).not.toBe(0);
      expect(gpg(alice, ['--decrypt'], armored).code, `alice cannot open ${name}`).toBe(0);
    }
    expect(gpg(alice, ['--decrypt'], ciphertext('RECOVERY_CANARY')).out.toString()).toBe(canary);
    expect((await audit()).code).toBe(0);
    const unknown = await ops(['rekey', 'lab', '--remove-recipient', fpr.bob ?? ''], { cwd: repo });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/is not a recovery key of 'lab'/);
  });
});

describe('losing the master', () => {
  it('the master machine destroyed and a new one at its address: deploy says the master has lost its state', async () => {
    expect((await ops(['lab', 'destroy', 'lab-1'], { cwd: repo })).code).toBe(0);
    const up = await ops(['lab', 'up', '--hosts', '4'], { cwd: repo });
    expect(up.code, up.stderr).toBe(0);
    const d = await ops(['deploy', 'lab'], { cwd: repo });
    expect(d.code).toBe(1);
    expect(d.stderr).toMatch(/lab-1: the master has lost its state: no Node\.js, no key for 'lab'/);
    expect(d.stderr).toMatch(/ops setup-master lab -H \S+ --recover/);
  });

  it('without a recovery key GnuPG can use: every value is named as lost and nothing changes (no terminal, no --yes: exit 2)', async () => {
    const before = readFileSync(pillarFile(), 'utf8');
    const r = await ops(['setup-master', 'lab', '-H', addr('lab-1'), '--recover'], { cwd: repo, env: { GNUPGHOME: nobody } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/RECOVERY_CANARY cannot be read with this key \(GnuPG holds no secret key for /);
    expect(r.stderr).toMatch(/value\(s\) cannot be recovered; go on without them/);
    expect(readFileSync(pillarFile(), 'utf8')).toBe(before);
  });

  it('setup-master --recover with the recovery key in GnuPG: a new key on the new master, every value re-encrypted, minions told; deploy works again', async () => {
    const oldPub = readFileSync(pubFile(), 'utf8');
    const oldMasterSsh = readFileSync(join(repo, '.ops/pillar/keys/lab.master.pub'), 'utf8').trim();
    const watch = watchProcesses(canary);
    const r = await ops(['setup-master', 'lab', '-H', addr('lab-1'), '--recover'], { cwd: repo, env: { GNUPGHOME: alice } });
    expect(await watch.stop(), 'a process had the value in its command line').toEqual([]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/re-encrypted \d+ value\(s\) to lab-1's new key [0-9A-F]{40} and 1 recovery key/);
    for (const m of ['lab-2', 'lab-3', 'lab-4']) {
      expect(r.stderr).toContain(`${m}: now answers to lab-1`);
      // the dead master's key no longer logs in as root there; the new one does
      const keys = await ops(['run', 'lab', '--host', m, '--', 'cat /root/.ssh/authorized_keys'], { cwd: repo });
      expect(keys.stdout.split('\n')).not.toContain(oldMasterSsh);
      expect(keys.stdout.split('\n')).toContain(readFileSync(join(repo, '.ops/pillar/keys/lab.master.pub'), 'utf8').trim());
    }
    expect(existsSync(join(repo, '.ops/pillar/keys/lab.master.pub.replaced')), 'kept until every minion is told').toBe(false);
    expect(r.stdout + r.stderr).not.toContain(canary);
    expect(readFileSync(pubFile(), 'utf8')).not.toBe(oldPub);
    expect(filesContaining(repo, canary)).toEqual([]);
    expect((await audit()).code).toBe(0);
    expect(gpg(alice, ['--decrypt'], ciphertext('RECOVERY_CANARY')).out.toString()).toBe(canary);
    const dec = await ops(['decrypt', 'lab', 'RECOVERY_CANARY'], { cwd: repo });
    expect(dec.stdout).toBe(canary);
    // the app's repository was served from the old master: publish it again, then deploy
    await publishDemoApp((args) => ops(args, { cwd: repo }));
    const d = await ops(['deploy', 'lab'], { cwd: repo });
    expect(d.code, d.stderr + d.stdout.slice(-3000)).toBe(0);
    expect((await curlDemo(addr('lab-4'), '/')).code).toBe('200');
    // on the new master: its own key opens the values in GnuPG too, and no file holds a plaintext value
    const onMaster = await ops(
      ['run', 'lab', '--host', 'lab-1', '--', 'apt-get install -y -q gnupg >/dev/null 2>&1; export GNUPGHOME=$(mktemp -d); gpg --batch -q --import /etc/ops/keys/lab.key 2>/dev/null; gpg --batch -q -d 2>/dev/null | sha256sum; rm -rf "$GNUPGHOME"'],
      { cwd: repo, input: ciphertext('RECOVERY_CANARY') },
    );
    expect(onMaster.stdout.split(' ')[0], onMaster.stderr).toBe(sha256(canary));
    const grep = await ops(['run', 'lab', '--host', 'lab-1', '--', 'grep -rlF -- "$(base64 -d)" /etc /root /var/lib/ops /tmp /var/tmp 2>/dev/null; true'], { cwd: repo, input: Buffer.from(canary).toString('base64') });
    expect(grep.stdout.trim()).toBe('');
  });

  it('run again, it finds the work done and changes nothing in the pillar', async () => {
    const before = readFileSync(pillarFile(), 'utf8');
    const r = await ops(['setup-master', 'lab', '-H', addr('lab-1'), '--recover'], { cwd: repo, env: { GNUPGHOME: alice } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/already holds the environment key/);
    expect(readFileSync(pillarFile(), 'utf8')).toBe(before);
    expect(existsSync(join(repo, '.ops/pillar/keys/lab.master.pub'))).toBe(true);
  });
});
