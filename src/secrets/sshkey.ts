/**
 * ed25519 SSH keypairs made in memory and encoded in OpenSSH's own formats
 * (authorized_keys line; unencrypted "openssh-key-v1" private key).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** An SSH wire-format string (uint32 length, bytes). */
export function sshString(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export interface SshKeyPair {
  publicLine: string;
  privatePem: string;
}

export function generateEd25519(comment: string): SshKeyPair {
  if (/[\r\n]/.test(comment)) throw new Error('an SSH key comment is one line');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pubRaw = Buffer.from(String(publicKey.export({ format: 'jwk' }).x), 'base64url');
  const seed = Buffer.from(String(privateKey.export({ format: 'jwk' }).d), 'base64url');
  const pubBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pubRaw)]);
  const check = randomBytes(4);
  let inner = Buffer.concat([
    check,
    check,
    sshString('ssh-ed25519'),
    sshString(pubRaw),
    sshString(Buffer.concat([seed, pubRaw])),
    sshString(comment),
  ]);
  const pad: number[] = [];
  for (let i = 1; (inner.length + pad.length) % 8 !== 0; i++) pad.push(i);
  inner = Buffer.concat([inner, Buffer.from(pad)]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    u32(1),
    sshString(pubBlob),
    sshString(inner),
  ]);
  const b64 = body.toString('base64').replace(/.{1,70}/g, '$&\n');
  seed.fill(0);
  return {
    publicLine: `ssh-ed25519 ${pubBlob.toString('base64')} ${comment}`,
    privatePem: `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}-----END OPENSSH PRIVATE KEY-----\n`,
  };
}
