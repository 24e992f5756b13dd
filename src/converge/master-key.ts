/**
 * `ops __master-key` (runs on the master, as root): the environment's OpenPGP keypair, made here
 * and never leaving the host, and the master's SSH key for reaching minions. Re-running never
 * replaces a key; it prints the public halves as JSON.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { UsageError } from '../errors.js';
import { checkEnvironmentName } from '../pillar/forms.js';
import { writeNewFile } from '../fsutil.js';
import { generateKeyPair, readPrivateKey, fingerprintOf, armorPublic } from '../secrets/pgp.js';
import { generateEd25519 } from '../secrets/sshkey.js';
import { MASTER_DIR, MASTER_SSH_KEY, masterKeyFile } from './paths.js';

export interface MasterKeys {
  pgpPublic: string;
  pgpFingerprint: string;
  pgpCreated: boolean;
  /** the key was taken from Salt's GnuPG home on this host (--adopt-salt) */
  pgpAdopted?: boolean;
  /** what --remove-salt removed (null: nothing of Salt's was left) */
  saltRemoved?: string | null;
  sshPublic: string;
}

export interface MasterKeyOptions {
  /** the fingerprint of the repo's public key for the environment: the key this master must hold (none is made) */
  expect?: string;
  /** take that key from Salt's GnuPG home when ops's store has none */
  adoptSalt?: boolean;
  /** remove Salt's GnuPG home once ops's key store holds every key in it */
  removeSalt?: boolean;
}

export async function ensureMasterKeys(env: string, project: string, opts: MasterKeyOptions = {}): Promise<MasterKeys> {
  checkEnvironmentName(env);
  mkdirSync(MASTER_DIR, { recursive: true, mode: 0o700 });
  chmodSync(MASTER_DIR, 0o700);
  const keyFile = masterKeyFile(env);
  let pgpPublic: string;
  let pgpFingerprint: string;
  let pgpCreated = false;
  let pgpAdopted = false;
  if (existsSync(keyFile)) {
    const key = await readPrivateKey(readFileSync(keyFile), keyFile, async () => undefined);
    pgpPublic = armorPublic(key.toPublic());
    pgpFingerprint = fingerprintOf(key);
    if (opts.adoptSalt && opts.expect && pgpFingerprint !== opts.expect.toUpperCase()) {
      throw new UsageError(`this master already holds a key of its own for '${env}' (${pgpFingerprint}), not the one the repo's public key names (${opts.expect.toUpperCase()}); nothing was changed`, 'adopting replaces no key: check you named the right master');
    }
  } else if (opts.adoptSalt && opts.expect) {
    const { saltPrivateKey } = await import('./salt-key.js');
    const key = await saltPrivateKey(env, opts.expect);
    mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
    writeNewFile(keyFile, key.armor(), 0o600);
    pgpPublic = armorPublic(key.toPublic());
    pgpFingerprint = fingerprintOf(key);
    pgpAdopted = true;
  } else if (opts.expect) {
    throw new UsageError(
      `this host holds no key for '${env}', and the repo's public key for it (${opts.expect.toUpperCase()}) is held elsewhere; nothing was made`,
      `a Salt master holds it in /etc/salt/gpgkeys: add --adopt-salt; if the master that held it is gone: --recover; if no value is encrypted to it, remove the repo's public key and run again`,
    );
  } else {
    const pair = await generateKeyPair({ name: `${project} ${env}`, email: `ops+${env}@${project}.invalid` });
    mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 });
    writeNewFile(keyFile, pair.privateArmored, 0o600);
    pgpPublic = pair.publicArmored;
    pgpFingerprint = pair.fingerprint;
    pgpCreated = true;
  }
  if (!existsSync(MASTER_SSH_KEY)) {
    const pair = generateEd25519(`ops-master@${hostname()}`);
    mkdirSync(dirname(MASTER_SSH_KEY), { recursive: true, mode: 0o700 });
    writeNewFile(MASTER_SSH_KEY, pair.privatePem, 0o600);
    writeFileSync(`${MASTER_SSH_KEY}.pub`, `${pair.publicLine}\n`, { mode: 0o644 });
  }
  const sshPublic = readFileSync(`${MASTER_SSH_KEY}.pub`, 'utf8').trim();
  authorizeRootKey(sshPublic);
  const saltRemoved = opts.removeSalt ? (await (await import('./salt-key.js')).removeSaltKeys()).removed : undefined;
  return { pgpPublic: pgpPublic.trimEnd(), pgpFingerprint, pgpCreated, ...(opts.adoptSalt ? { pgpAdopted } : {}), ...(saltRemoved !== undefined ? { saltRemoved } : {}), sshPublic };
}

/** The master reaches itself like any minion: its own key in root's authorized_keys. */
export function authorizeRootKey(line: string): void {
  const file = '/root/.ssh/authorized_keys';
  mkdirSync('/root/.ssh', { recursive: true, mode: 0o700 });
  const have = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const blob = line.split(/\s+/)[1];
  if (blob && have.split('\n').some((l) => l.split(/\s+/).includes(blob))) return;
  writeFileSync(file, `${have}${have && !have.endsWith('\n') ? '\n' : ''}${line}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}
