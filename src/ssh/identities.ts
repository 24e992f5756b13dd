/**
 * The credentials ops offers when it logs in: ssh-agent (SSH_AUTH_SOCK), key files given with
 * -i, the lab key (.ops/lab/id_ed25519), then ~/.ssh/id_{ed25519,ecdsa,rsa}.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { UsageError } from '../errors.js';

/** The key files ssh offers when none is named, in its order (in ~/.ssh). */
export const DEFAULT_KEY_NAMES = ['id_ed25519', 'id_ecdsa', 'id_rsa'] as const;

export interface Identity {
  source: string;
  /** Parsed once per run; every connection reuses it. */
  key: ssh2.ParsedKey;
}

export interface Credentials {
  agent?: string;
  identities: Identity[];
}

function parsePrivate(key: Buffer): ssh2.ParsedKey | Error {
  const parsed = ssh2.utils.parseKey(key);
  if (parsed instanceof Error) return parsed;
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  return first && first.isPrivateKey() ? first : new Error('not a private key');
}

/**
 * The keys a connection may offer: `explicit` files (an unreadable one is a usage error), then
 * `extraDefaults` and the user's ~/.ssh keys when present, and ssh-agent.
 */
export function loadCredentials(explicit: readonly string[] = [], extraDefaults: readonly string[] = []): Credentials {
  const identities: Identity[] = [];
  for (const file of explicit) {
    let key: Buffer;
    try {
      key = readFileSync(file);
    } catch (e) {
      throw new UsageError(`cannot read key file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    const parsed = parsePrivate(key);
    if (parsed instanceof Error) {
      throw new UsageError(`${file} is not a usable SSH private key (${parsed.message})`, 'pass an unencrypted OpenSSH/PEM private key, or load it into ssh-agent');
    }
    identities.push({ source: file, key: parsed });
  }
  const defaults = [
    ...extraDefaults,
    ...DEFAULT_KEY_NAMES.map((n) => join(homedir(), '.ssh', n)),
  ];
  for (const file of defaults) {
    if (!existsSync(file)) continue;
    try {
      const parsed = parsePrivate(readFileSync(file));
      if (!(parsed instanceof Error)) identities.push({ source: file, key: parsed });
    } catch {
      // an unreadable default key is simply not offered
    }
  }
  const agent = process.env.SSH_AUTH_SOCK && existsSync(process.env.SSH_AUTH_SOCK) ? process.env.SSH_AUTH_SOCK : undefined;
  return { agent, identities };
}
