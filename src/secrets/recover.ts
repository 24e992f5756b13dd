/**
 * Reading an environment's values with one recovery key, when its master key is gone: the key as
 * a file, or the operator's GnuPG (which hands over each message's session key, never the key).
 * Plaintext stays in memory; a value the key cannot open is recorded as lost, not guessed at.
 */
import type { EncryptedLeaf } from '../pillar/encrypted.js';
import { redactor } from '../ui/redact.js';
import { gpgSessionKey } from './gnupg.js';
import { decryptArmored, decryptFailure, decryptWithSessionKey, type PrivateKey } from './pgp.js';
import type { Decryptor } from './vault.js';

export interface LostValue {
  file: string;
  name: string;
  why: string;
}

/** A decryptor over one recovery key (`key`, else GnuPG) that records what it cannot open in `lost`. */
export function recoveryDecryptor(key: PrivateKey | undefined, nameOf: (path: EncryptedLeaf['path']) => string, lost: LostValue[]): Decryptor {
  return async (leaf, file) => {
    const lose = (why: string) => {
      lost.push({ file, name: nameOf(leaf.path), why });
      return undefined;
    };
    let data: Buffer;
    if (key) {
      try {
        data = Buffer.from(await decryptArmored(key, leaf.armored));
      } catch (e) {
        return lose(decryptFailure(e));
      }
    } else {
      const answer = await gpgSessionKey(leaf.armored);
      if (!answer.ok) return lose(answer.why);
      try {
        data = Buffer.from(await decryptWithSessionKey(leaf.armored, answer.sessionKey));
      } catch (e) {
        return lose(decryptFailure(e));
      } finally {
        answer.sessionKey.data.fill(0);
      }
    }
    redactor.add(data.toString('utf8'));
    return data;
  };
}
