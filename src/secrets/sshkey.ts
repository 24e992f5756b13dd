/**
 * ed25519 SSH keypairs made in memory (by ssh2) in OpenSSH's own formats (authorized_keys line;
 * unencrypted "openssh-key-v1" private key), and the SSH wire encoding's two primitives.
 */
import ssh2 from 'ssh2';

const { utils } = ssh2;

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

/** An ed25519 keypair, made by ssh2 (OpenSSH's unencrypted private key format, and its public line). */
export function generateEd25519(comment: string): SshKeyPair {
  if (/[\r\n]/.test(comment)) throw new Error('an SSH key comment is one line');
  const pair = utils.generateKeyPairSync('ed25519', { comment });
  return { publicLine: pair.public.trim(), privatePem: pair.private.endsWith('\n') ? pair.private : `${pair.private}\n` };
}
