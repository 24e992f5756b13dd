/**
 * A Caktus-template `conf/` made as the template's fabfile made it: each environment's key from
 * the batch of conf/keys/gpg.tmpl (RSA 2048, `<env>_salt_key`, no expiry; `%no-protection` added
 * because GnuPG 2 asks for a passphrase in batch mode where GnuPG 1 did not), its public half
 * exported armored as conf/<env>.pub.gpg, and secrets encrypted with `gpg -aer <env>_salt_key`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { gnupgHome, gpgIn } from './gnupg.js';

export interface SeedEnv {
  /** GnuPG home holding the environment's private key (as /etc/salt/gpgkeys did). */
  home: string;
  /** the private key, armored (what a Salt master held) */
  privateKey: string;
  /** `gpg -aer <env>_salt_key` of a value */
  encrypt(value: string): string;
}

/** The environment's key in a GnuPG home of its own, made by the template's batch; its public half in conf/<env>.pub.gpg. */
export function seedKey(conf: string, env: string): SeedEnv {
  const home = gnupgHome();
  const batch = ['%echo Generating a default key', 'Key-Type: RSA', 'Key-Length: 2048', 'Subkey-Type: RSA', `Name-Real: ${env}_salt_key`, `Name-Email: ${env}@salt.example.com`, 'Expire-Date: 0', '%no-protection', '%commit', ''].join('\n');
  const made = gpgIn(home, ['--gen-key'], batch);
  expect(made.code, made.err).toBe(0);
  writeFileSync(join(conf, `${env}.pub.gpg`), gpgIn(home, ['--export', '--armor', `${env}_salt_key`]).out);
  const privateKey = gpgIn(home, ['--export-secret-keys', '--armor', `${env}_salt_key`]).out.toString();
  const encrypt = (value: string) => {
    const r = gpgIn(home, ['--trust-model', 'always', '-aer', `${env}_salt_key`], value);
    expect(r.code, r.err).toBe(0);
    return r.out.toString();
  };
  return { home, privateKey, encrypt };
}

/** A YAML block scalar of an armored message, as the template's docs paste it under a key. */
export function block(armored: string, indent: string): string {
  return `|-\n${armored.trimEnd().split('\n').map((l) => `${indent}${l}`).join('\n')}`;
}

/** conf/pillar/<file>, written. */
export function pillarFile(conf: string, file: string, text: string): void {
  mkdirSync(join(conf, 'pillar'), { recursive: true });
  writeFileSync(join(conf, 'pillar', file), text);
}
