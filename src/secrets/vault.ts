/**
 * The secrets workflow on pillar data: encrypt values for an environment, decrypt every
 * encrypted value (failing closed), and re-encrypt in place for key rotation.
 */
import { UsageError } from '../errors.js';
import { findEncrypted, type EncryptedLeaf } from '../pillar/encrypted.js';
import { formatPath, type PillarSource } from '../pillar/source.js';
import { validatePillar, type LoadedPillar } from '../pillar/load.js';
import { replaceValues } from '../pillar/edit.js';
import { redactor } from '../ui/redact.js';
import { decryptArmored, decryptFailure, encryptBytes, fingerprintOf, messageKeyIds, type PrivateKey, type PublicKey } from './pgp.js';
import type { Recipients } from './recipients.js';

export interface DecryptedLeaf {
  path: EncryptedLeaf['path'];
  file: string;
  value: Buffer;
}

/** One message any one of `keys` decrypts (an environment's recipients: `Recipients.keys`). */
export async function encryptValue(keys: PublicKey | readonly PublicKey[], value: Buffer | string): Promise<string> {
  return encryptBytes(keys, typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
}

/**
 * Decrypts one value of a file, or throws naming it (a private key, or GnuPG through session
 * keys); `undefined` means the value cannot be read and is left as it is (recovery: a lost value).
 */
export type Decryptor = (leaf: EncryptedLeaf, file: string) => Promise<Buffer | undefined>;

export function keyDecryptor(key: PrivateKey | PrivateKey[]): Decryptor {
  return (leaf, file) => decryptLeaf(key, leaf, file);
}

/** The files of the environment's own (pillar/<env>.yml and the overlay): where its secrets are written. */
export function envSources(loaded: LoadedPillar, overlayDir: string): PillarSource[] {
  return loaded.sources.filter((s) => s.path === loaded.envFile || s.path.startsWith(overlayDir));
}

/** Decrypts one value; a failure names the key and the file and exits 2 (never passes ciphertext on). */
export async function decryptLeaf(key: PrivateKey | PrivateKey[], leaf: EncryptedLeaf, file: string): Promise<Buffer> {
  try {
    const data = Buffer.from(await decryptArmored(key, leaf.armored));
    redactor.add(data.toString('utf8'));
    return data;
  } catch (e) {
    const why = decryptFailure(e);
    throw new UsageError(
      `${file}: ${formatPath(leaf.path)} does not decrypt with key ${(Array.isArray(key) ? key : [key]).map(fingerprintOf).join(' or ')} (${why})`,
      'was it encrypted to this environment\'s current key? re-encrypt it with `ops encrypt --write`',
    );
  }
}

/** Every encrypted value of the given files, decrypted; stops at the first that fails. */
export async function decryptSources(key: PrivateKey | PrivateKey[], sources: readonly PillarSource[]): Promise<DecryptedLeaf[]> {
  const out: DecryptedLeaf[] = [];
  for (const src of sources) {
    for (const leaf of findEncrypted(src.value)) {
      out.push({ path: leaf.path, file: src.display, value: await decryptLeaf(key, leaf, src.display) });
    }
  }
  return out;
}

/**
 * The environment's pillar with every encrypted value replaced by its plaintext, validated
 * again. Fails closed: the first value that does not decrypt stops it, naming key and file.
 */
export async function decryptPillar(key: PrivateKey | PrivateKey[], loaded: LoadedPillar): Promise<LoadedPillar['data']> {
  // Which file each encrypted value came from (the last file defining a path wins the merge).
  const origin = new Map<string, string>();
  for (const src of loaded.sources) for (const leaf of findEncrypted(src.value)) origin.set(JSON.stringify(leaf.path), src.display);
  const plain = structuredClone(loaded.raw);
  for (const leaf of findEncrypted(loaded.raw)) {
    const file = origin.get(JSON.stringify(leaf.path)) ?? loaded.envFile;
    const value = (await decryptLeaf(key, leaf, file)).toString('utf8');
    let parent: Record<string | number, unknown> = plain;
    for (const seg of leaf.path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>;
    const last = leaf.path[leaf.path.length - 1];
    if (last !== undefined) parent[last] = value;
  }
  return validatePillar(plain, loaded.sources, loaded.envFile, loaded.env);
}

/** A file of the environment, re-encrypted to a new key (text only; nothing written yet). */
export interface Reencrypted {
  path: string;
  display: string;
  text: string;
  count: number;
}

/**
 * Re-encrypts every encrypted value of the environment's own files (pillar/<env>.yml and the
 * overlay) to `newKeys`. All values are decrypted before anything is returned, so a single value
 * that does not decrypt stops it with nothing changed.
 */
export async function reencryptEnvironment(loaded: LoadedPillar, overlayDir: string, from: PrivateKey | PrivateKey[] | Decryptor, newKeys: PublicKey | readonly PublicKey[]): Promise<Reencrypted[]> {
  const decrypt = typeof from === 'function' ? from : keyDecryptor(from);
  const out: Reencrypted[] = [];
  for (const src of envSources(loaded, overlayDir)) {
    const leaves = findEncrypted(src.value);
    if (leaves.length === 0) continue;
    const replacements = [];
    for (const leaf of leaves) {
      const plain = await decrypt(leaf, src.display);
      if (plain === undefined) continue;
      replacements.push({ path: leaf.path, value: await encryptValue(newKeys, plain) });
      plain.fill(0);
    }
    if (replacements.length === 0) continue;
    out.push({ path: src.path, display: src.display, text: replaceValues(src.text, replacements), count: replacements.length });
  }
  return out;
}

/** What one encrypted value is encrypted to, against the environment's recipients now. */
export interface AuditRow {
  name: string;
  file: string;
  /** Labels of the recipients it is encrypted to (`master`, a recovery key's file name). */
  to: string[];
  /** Current recipients it is not encrypted to. */
  missing: string[];
  /** Key ids it is encrypted to that belong to no current recipient (a removed or old key). */
  unknown: string[];
}

/** Reads the key ids of every value of the environment's own files; needs no private key. */
export async function auditEnvironment(loaded: LoadedPillar, overlayDir: string, recipients: Recipients, nameOf: (path: EncryptedLeaf['path']) => string): Promise<AuditRow[]> {
  const all = [recipients.env, ...recipients.recovery];
  const rows: AuditRow[] = [];
  for (const src of envSources(loaded, overlayDir)) {
    for (const leaf of findEncrypted(src.value)) {
      let ids: string[];
      try {
        ids = await messageKeyIds(leaf.armored);
      } catch (e) {
        throw new UsageError(`${src.display}: ${formatPath(leaf.path)} is not a readable OpenPGP message (${(e as Error).message})`);
      }
      const to = all.filter((r) => r.keyIds.some((k) => ids.includes(k)));
      rows.push({
        name: nameOf(leaf.path),
        file: src.display,
        to: to.map((r) => r.label),
        missing: all.filter((r) => !to.includes(r)).map((r) => r.label),
        unknown: ids.filter((k) => !all.some((r) => r.keyIds.includes(k))),
      });
    }
  }
  return rows;
}
