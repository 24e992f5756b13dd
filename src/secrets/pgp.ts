/**
 * OpenPGP primitives, restricted to what GnuPG 2.2 reads and writes: v4 keys, SEIPD v1 (MDC),
 * no AEAD. Secrets stay in memory; nothing here touches the disk.
 */
import * as openpgp from 'openpgp';
import { UsageError } from '../errors.js';

const PGP_CONFIG: openpgp.PartialConfig = {
  aeadProtect: false,
  v6Keys: false,
  showVersion: false,
  showComment: false,
};

export type PublicKey = openpgp.PublicKey;
export type PrivateKey = openpgp.PrivateKey;

function looksArmored(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.subarray(0, 200)).toString('latin1');
  return head.includes('-----BEGIN PGP');
}

/** Reads an armored or binary public key (a private key is accepted and its public part used). */
export async function readPublicKey(bytes: Uint8Array, source: string): Promise<PublicKey> {
  try {
    const key = looksArmored(bytes)
      ? await openpgp.readKey({ armoredKey: Buffer.from(bytes).toString('utf8'), config: PGP_CONFIG })
      : await openpgp.readKey({ binaryKey: bytes, config: PGP_CONFIG });
    return key.toPublic();
  } catch (e) {
    throw new UsageError(`${source} is not a readable OpenPGP public key: ${(e as Error).message}`);
  }
}

/** Reads an armored or binary private key and unlocks it with the passphrase when it is protected. */
export async function readPrivateKey(
  bytes: Uint8Array,
  source: string,
  passphrase: () => Promise<string | undefined>,
): Promise<PrivateKey> {
  let key: PrivateKey;
  try {
    key = looksArmored(bytes)
      ? await openpgp.readPrivateKey({ armoredKey: Buffer.from(bytes).toString('utf8'), config: PGP_CONFIG })
      : await openpgp.readPrivateKey({ binaryKey: bytes, config: PGP_CONFIG });
  } catch (e) {
    throw new UsageError(`${source} is not a readable OpenPGP private key: ${(e as Error).message}`);
  }
  if (key.isDecrypted()) return key;
  const pass = await passphrase();
  if (pass === undefined) {
    throw new UsageError(`${source} is protected by a passphrase`, 'set OPS_KEY_PASSPHRASE or run in a terminal to be asked');
  }
  try {
    return await openpgp.decryptKey({ privateKey: key, passphrase: pass, config: PGP_CONFIG });
  } catch {
    throw new UsageError(`wrong passphrase for ${source}`);
  }
}

/**
 * Encrypts bytes to the public keys: one message that any one of their private halves decrypts
 * (a session key encrypted to each); returns it armored (no Version/Comment headers).
 */
export async function encryptBytes(keys: PublicKey | readonly PublicKey[], data: Uint8Array): Promise<string> {
  const message = await openpgp.createMessage({ binary: data, format: 'binary' });
  const armored = await openpgp.encrypt({ message, encryptionKeys: Array.isArray(keys) ? [...keys] : (keys as PublicKey), format: 'armored', config: PGP_CONFIG });
  return String(armored).trimEnd();
}

/** The key ids (16 hex digits, upper case) an armored message's session key is encrypted to. */
export async function messageKeyIds(armored: string): Promise<string[]> {
  const message = await openpgp.readMessage({ armoredMessage: armored.trim(), config: PGP_CONFIG });
  return message.getEncryptionKeyIDs().map((id) => id.toHex().toUpperCase());
}

/** The key ids of a key and its subkeys (16 hex digits, upper case): what a message names. */
export function keyIdsOf(key: PublicKey | PrivateKey): string[] {
  return key.getKeyIDs().map((id) => id.toHex().toUpperCase());
}

/** A message's session key, as GnuPG's --show-session-key gives it (`ALGO:HEX`). */
export interface SessionKey {
  algorithm: number;
  data: Uint8Array;
}

/** Decrypts an armored message with its session key (no private key involved). */
export async function decryptWithSessionKey(armored: string, sk: SessionKey): Promise<Uint8Array> {
  const message = await openpgp.readMessage({ armoredMessage: armored.trim(), config: PGP_CONFIG });
  const algorithm = openpgp.enums.read(openpgp.enums.symmetric, sk.algorithm) as openpgp.enums.symmetricNames;
  const { data } = await openpgp.decrypt({ message, sessionKeys: { data: sk.data, algorithm }, format: 'binary', config: PGP_CONFIG });
  return data as Uint8Array;
}

/** Why a decryption failed, in OpenPGP.js's words without its prefix. */
export function decryptFailure(e: unknown): string {
  return (e as Error).message.replace(/^Error decrypting message: /, '');
}

/** Decrypts an armored message; throws a plain Error (callers name the value that failed). */
export async function decryptArmored(key: PrivateKey | PrivateKey[], armored: string): Promise<Uint8Array> {
  const message = await openpgp.readMessage({ armoredMessage: armored.trim(), config: PGP_CONFIG });
  const { data } = await openpgp.decrypt({ message, decryptionKeys: key, format: 'binary', config: PGP_CONFIG });
  return data as Uint8Array;
}

export interface GeneratedKey {
  publicArmored: string;
  privateArmored: string;
  fingerprint: string;
}

export async function generateKeyPair(opts: { name: string; email?: string; passphrase?: string; type?: 'ecc' | 'rsa' }): Promise<GeneratedKey> {
  const userID = opts.email ? { name: opts.name, email: opts.email } : { name: opts.name };
  const common = { userIDs: [userID], format: 'armored' as const, config: PGP_CONFIG, ...(opts.passphrase ? { passphrase: opts.passphrase } : {}) };
  const pair =
    opts.type === 'rsa'
      ? await openpgp.generateKey({ ...common, type: 'rsa', rsaBits: 3072 })
      : await openpgp.generateKey({ ...common, type: 'ecc', curve: 'curve25519Legacy' });
  const pub = await openpgp.readKey({ armoredKey: pair.publicKey });
  return { publicArmored: pair.publicKey, privateArmored: pair.privateKey, fingerprint: pub.getFingerprint().toUpperCase() };
}

export function fingerprintOf(key: PublicKey | PrivateKey): string {
  return key.getFingerprint().toUpperCase();
}

export function armorPublic(key: PublicKey): string {
  return key.armor(openpgp.config);
}
