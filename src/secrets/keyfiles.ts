/**
 * Where an environment's keys live:
 *   public:  .ops/pillar/keys/<env>.asc (lab, generated) · pillar/keys/<env>.asc · pillar/keys/<env>.pub.gpg
 *            · pillar/<env>.pub.gpg (seed layout) — armored or binary
 *   private: --key FILE · OPS_KEY_FILE · .ops/keys/<env>.key (written by `ops keygen`, 0600)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { displayPath } from '../pillar/source.js';
import type { Repo } from '../repo.js';
import { keyPassphrase } from '../ui/prompt.js';
import { readPrivateKey, readPublicKey, type PrivateKey, type PublicKey } from './pgp.js';

export function publicKeyCandidates(repo: Repo, env: string): string[] {
  return [
    join(repo.overlayDir, 'keys', `${env}.asc`),
    join(repo.pillarDir, 'keys', `${env}.asc`),
    join(repo.pillarDir, 'keys', `${env}.pub.gpg`),
    join(repo.pillarDir, `${env}.pub.gpg`),
  ];
}

export function publicKeyPath(repo: Repo, env: string): string {
  return join(repo.pillarDir, 'keys', `${env}.asc`);
}

export function defaultPrivateKeyPath(repo: Repo, env: string): string {
  return join(repo.keysDir, `${env}.key`);
}

export async function loadEnvPublicKey(repo: Repo, env: string): Promise<{ key: PublicKey; path: string }> {
  for (const p of publicKeyCandidates(repo, env)) {
    if (existsSync(p)) {
      const shown = displayPath(p, repo.root);
      const key = await readPublicKey(readFileSync(p), shown);
      try {
        await key.getEncryptionKey();
      } catch {
        throw new UsageError(`${shown} has no usable encryption key (sign-only, expired or revoked)`, 'export a key with an encryption subkey');
      }
      return { key, path: p };
    }
  }
  throw new UsageError(
    `environment '${env}' has no public key (looked for pillar/keys/${env}.asc, pillar/keys/${env}.pub.gpg, pillar/${env}.pub.gpg)`,
    `create one with \`ops keygen ${env}\` (operator-held key) or \`ops setup-master ${env} -H HOST\` (key made on the master)`,
  );
}

/** The private key to decrypt with: --key, OPS_KEY_FILE, or the keygen default. */
export async function loadEnvPrivateKey(repo: Repo, env: string, explicit: string | undefined): Promise<PrivateKey> {
  const given = explicit ?? process.env.OPS_KEY_FILE;
  const path = given ?? defaultPrivateKeyPath(repo, env);
  if (!existsSync(path)) {
    if (given) throw new UsageError(`key file ${given} does not exist`);
    throw new UsageError(
      `no private key for environment '${env}' on this machine`,
      `pass --key FILE (or set OPS_KEY_FILE); real environments decrypt on their master`,
    );
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read key file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const shown = displayPath(path, repo.root);
  return readPrivateKey(bytes, shown, () => keyPassphrase(shown));
}
