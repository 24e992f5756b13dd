/** People with OpenPGP keys in GnuPG homes of their own (real GnuPG 2.2), for recovery-key tests. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';

const homes: string[] = [];
afterAll(() => {
  // gpg starts an agent per home folder; do not leave them behind.
  for (const h of homes.splice(0)) spawnSync('gpgconf', ['--homedir', h, '--kill', 'all']);
});

/** An empty GnuPG home (killed agents at the end of the file). */
export function gnupgHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'ops-gnupg-'));
  execFileSync('chmod', ['700', home]);
  homes.push(home);
  return home;
}

/** gpg in `home`, no passphrase, no pinentry. */
export function gpgIn(home: string, args: string[], input?: string | Buffer): { code: number | null; out: Buffer; err: string } {
  const r = spawnSync('gpg', ['--homedir', home, '--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { input });
  return { code: r.status, out: r.stdout, err: r.stderr.toString() };
}

export interface Person {
  home: string;
  fingerprint: string;
  /** key id of the encryption subkey (what a message names) */
  subkeyId: string;
}

/** `name`'s key (an `algo` primary, a `sub` encryption subkey) in a home of its own; its public half written to `file`. */
export function person(name: string, algo: string, sub: string, file: string, armor: boolean): Person {
  const home = gnupgHome();
  const uid = `${name} <${name}@ops.test>`;
  expect(gpgIn(home, ['--quick-gen-key', uid, algo, 'sign,cert', 'never']).code).toBe(0);
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(gpgIn(home, ['--list-keys', '--with-colons', uid]).out.toString())?.[1] ?? '';
  expect(gpgIn(home, ['--quick-add-key', fingerprint, sub, 'encr', 'never']).code).toBe(0);
  const subkeyId = /^sub:[^:]*:[^:]*:[^:]*:([0-9A-F]{16}):/m.exec(gpgIn(home, ['--list-keys', '--with-colons', uid]).out.toString())?.[1] ?? '';
  writeFileSync(file, gpgIn(home, ['--export', ...(armor ? ['--armor'] : []), fingerprint]).out);
  return { home, fingerprint, subkeyId };
}
