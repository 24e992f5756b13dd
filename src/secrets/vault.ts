/**
 * The secrets workflow on pillar data: encrypt values for an environment, decrypt every
 * encrypted value (failing closed), and re-encrypt in place for key rotation.
 */
import { UsageError } from '../errors.js';
import { findEncrypted, type EncryptedLeaf } from '../pillar/encrypted.js';
import { formatPath, type PillarSource } from '../pillar/source.js';
import { redactor } from '../ui/redact.js';
import { decryptArmored, encryptBytes, fingerprintOf, type PrivateKey, type PublicKey } from './pgp.js';

export interface DecryptedLeaf {
  path: EncryptedLeaf['path'];
  file: string;
  value: Buffer;
}

export async function encryptValue(key: PublicKey, value: Buffer | string): Promise<string> {
  return encryptBytes(key, typeof value === 'string' ? Buffer.from(value, 'utf8') : value);
}

/** Decrypts one value; a failure names the key and the file and exits 2 (never passes ciphertext on). */
export async function decryptLeaf(key: PrivateKey, leaf: EncryptedLeaf, file: string): Promise<Buffer> {
  try {
    const data = Buffer.from(await decryptArmored(key, leaf.armored));
    redactor.add(data.toString('utf8'));
    return data;
  } catch (e) {
    const why = (e as Error).message.replace(/^Error decrypting message: /, '');
    throw new UsageError(
      `${file}: ${formatPath(leaf.path)} does not decrypt with key ${fingerprintOf(key)} (${why})`,
      'was it encrypted to this environment\'s current key? re-encrypt it with `ops encrypt --write`',
    );
  }
}

/** Every encrypted value of the given files, decrypted; stops at the first that fails. */
export async function decryptSources(key: PrivateKey, sources: readonly PillarSource[]): Promise<DecryptedLeaf[]> {
  const out: DecryptedLeaf[] = [];
  for (const src of sources) {
    for (const leaf of findEncrypted(src.value)) {
      out.push({ path: leaf.path, file: src.display, value: await decryptLeaf(key, leaf, src.display) });
    }
  }
  return out;
}
