/**
 * Who an environment's secrets are encrypted to: its key (made on the master, or held by the
 * operator) and every recovery key listed for it — public keys of people, held offline or on a
 * smartcard, in `keys/<env>.recovery/*.asc` (or .gpg) next to the environment's public key.
 * Each value is one OpenPGP message that any one of these keys decrypts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { printable } from '../pillar/forms.js';
import { displayPath } from '../pillar/source.js';
import type { Repo } from '../repo.js';
import { loadEnvPublicKey, publicKeyCandidates } from './keyfiles.js';
import { fingerprintOf, keyIdsOf, readPublicKey, type PublicKey } from './pgp.js';

export interface Recipient {
  /** `master` for the environment key, else the recovery key's file name. */
  label: string;
  key: PublicKey;
  fingerprint: string;
  /** Key ids of the key and its subkeys, as messages name them. */
  keyIds: string[];
  path: string;
}

export interface Recipients {
  env: Recipient;
  recovery: Recipient[];
  /** Every key, the environment's first: what a value is encrypted to. */
  keys: PublicKey[];
}

const KEY_FILE = /\.(asc|gpg)$/;

/** Where the environment's recovery keys are listed: beside its public key. */
export function recoveryDir(repo: Repo, env: string): string {
  const found = publicKeyCandidates(repo, env).find((p) => existsSync(p));
  const keys = found === undefined || found === join(repo.pillarDir, `${env}.pub.gpg`) ? join(repo.pillarDir, 'keys') : dirname(found);
  return join(keys, `${env}.recovery`);
}

/** A public key that can take encrypted values (an encryption subkey that is valid now). */
export async function readRecipientKey(bytes: Uint8Array, shown: string): Promise<PublicKey> {
  const key = await readPublicKey(bytes, shown);
  try {
    await key.getEncryptionKey();
  } catch {
    throw new UsageError(`${shown} has no usable encryption key (sign-only, expired or revoked)`, 'export a key with an encryption subkey (gpg --export --armor FINGERPRINT)');
  }
  return key;
}

function recipientOf(label: string, key: PublicKey, path: string): Recipient {
  return { label, key, fingerprint: fingerprintOf(key), keyIds: keyIdsOf(key), path };
}

/** The recovery keys in `dir` (none when it does not exist), in file-name order. */
export async function readRecoveryKeys(repo: Repo, dir: string): Promise<Recipient[]> {
  if (!existsSync(dir)) return [];
  const out: Recipient[] = [];
  for (const name of readdirSync(dir).filter((n) => KEY_FILE.test(n)).sort()) {
    const path = join(dir, name);
    out.push(recipientOf(printable(name), await readRecipientKey(readFileSync(path), displayPath(path, repo.root)), path));
  }
  const seen = new Map<string, string>();
  for (const r of out) {
    const other = seen.get(r.fingerprint);
    if (other !== undefined) throw new UsageError(`${displayPath(dir, repo.root)}: ${other} and ${r.label} are the same key (${r.fingerprint})`, 'remove one of them');
    seen.set(r.fingerprint, r.label);
  }
  return out;
}

export async function loadRecipients(repo: Repo, env: string): Promise<Recipients> {
  const { key, path } = await loadEnvPublicKey(repo, env);
  const main = recipientOf('master', key, path);
  const recovery = await readRecoveryKeys(repo, recoveryDir(repo, env));
  const same = recovery.find((r) => r.fingerprint === main.fingerprint);
  if (same) throw new UsageError(`${displayPath(same.path, repo.root)} is the environment key itself, not a recovery key`, 'remove it from the recovery keys');
  return { env: main, recovery, keys: [key, ...recovery.map((r) => r.key)] };
}
