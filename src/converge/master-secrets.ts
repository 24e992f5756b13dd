/**
 * Secret operations that run on the master, where the environment's private key lives:
 * `ops __decrypt` (for `ops decrypt` without --key) and `ops __rekey prepare|commit` (for
 * `ops rekey` without --key). The operator sends the repo snapshot on stdin, as for a deploy.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { UsageError } from '../errors.js';
import { writeNewFile } from '../fsutil.js';
import { findEncrypted } from '../pillar/encrypted.js';
import { loadPillar, type LoadedPillar } from '../pillar/load.js';
import { repoAt } from '../repo.js';
import { secretName } from '../secrets/envsecrets.js';
import { fingerprintOf, generateKeyPair, readPrivateKey, readPublicKey, type PrivateKey } from '../secrets/pgp.js';
import { decryptLeaf, reencryptEnvironment } from '../secrets/vault.js';
import { readStdin } from '../ui/prompt.js';
import { unpack } from '../util/tar.js';
import { MASTER_KEYS, MASTER_WORK, masterKeyFile } from './paths.js';

/** The environment's keys on this master: the current one first, then retired ones (after a rekey). */
export async function masterKeys(env: string): Promise<PrivateKey[]> {
  const current = masterKeyFile(env);
  if (!existsSync(current)) throw new UsageError(`this master holds no key for environment '${env}' (${current})`, `run \`ops setup-master ${env} -H <this host>\``);
  const retired = existsSync(MASTER_KEYS) ? readdirSync(MASTER_KEYS).filter((n) => n.startsWith(`${env}.key.retired-`)).sort().reverse() : [];
  const keys: PrivateKey[] = [];
  for (const f of [current, ...retired.map((n) => join(MASTER_KEYS, n))]) keys.push(await readPrivateKey(readFileSync(f), f, async () => undefined));
  return keys;
}

/** Runs `fn` on the repo snapshot read from stdin (or `given`), in a private temp folder removed afterwards. */
export async function withSnapshot<T>(env: string, fn: (dir: string, loaded: LoadedPillar) => Promise<T>, given?: Buffer): Promise<T> {
  const archive = given ?? (await readStdin());
  mkdirSync(join(MASTER_WORK, env), { recursive: true, mode: 0o700 });
  const dir = mkdtempSync(join(MASTER_WORK, env, 'run-'));
  try {
    for (const e of unpack(archive)) {
      mkdirSync(dirname(join(dir, e.path)), { recursive: true });
      writeFileSync(join(dir, e.path), e.data, { mode: 0o600 });
    }
    return await fn(dir, loadPillar(repoAt(dir), env));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The named encrypted values of a loaded pillar (all of them when `names` is empty), decrypted. */
export async function decryptNamed(keys: PrivateKey[], loaded: LoadedPillar, names: readonly string[]): Promise<Map<string, Buffer>> {
  const byName = new Map<string, { leaf: ReturnType<typeof findEncrypted>[number]; file: string }>();
  for (const src of loaded.sources) for (const leaf of findEncrypted(src.value)) byName.set(secretName(leaf.path), { leaf, file: src.display });
  const wanted = names.length > 0 ? names : [...byName.keys()];
  const out = new Map<string, Buffer>();
  for (const n of wanted) {
    const hit = byName.get(n);
    if (!hit) throw new UsageError(`environment '${loaded.env}' has no encrypted value '${n}'`, `encrypted values: ${[...byName.keys()].join(', ') || 'none'}`);
    out.set(n, await decryptLeaf(keys, hit.leaf, hit.file));
  }
  return out;
}

export async function decryptOnMaster(env: string, names: string[]): Promise<Record<string, string>> {
  return withSnapshot(env, async (_dir, loaded) => {
    const values = await decryptNamed(await masterKeys(env), loaded, names);
    return Object.fromEntries([...values].map(([n, v]) => [n, v.toString('base64')]));
  });
}

const nextKeyFile = (env: string) => `${masterKeyFile(env)}.next`;

export async function rekeyPrepare(env: string, project: string): Promise<{ files: { path: string; text: string; count: number }[]; publicKey: string; fingerprint: string }> {
  return withSnapshot(env, async (dir, loaded) => {
    const keys = await masterKeys(env);
    const pair = await generateKeyPair({ name: `${project} ${env}`, email: `ops+${env}@${project}.invalid` });
    const files = await reencryptEnvironment(loaded, repoAt(dir).overlayDir, keys, await readPublicKey(Buffer.from(pair.publicArmored), 'new key'));
    rmSync(nextKeyFile(env), { force: true });
    writeNewFile(nextKeyFile(env), pair.privateArmored, 0o600);
    return { files: files.map((f) => ({ path: relative(dir, f.path), text: f.text, count: f.count })), publicKey: pair.publicArmored, fingerprint: pair.fingerprint };
  });
}

/** Makes the prepared key current; the old one stays (retired) so nothing encrypted to it is lost. */
export async function rekeyCommit(env: string, fingerprint: string): Promise<void> {
  const next = nextKeyFile(env);
  if (!existsSync(next)) throw new UsageError(`no prepared key for '${env}' on this master`);
  const key = await readPrivateKey(readFileSync(next), next, async () => undefined);
  if (fingerprintOf(key) !== fingerprint) throw new UsageError(`the prepared key is ${fingerprintOf(key)}, not ${fingerprint}; run ops rekey again`);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  renameSync(masterKeyFile(env), `${masterKeyFile(env)}.retired-${stamp}`);
  renameSync(next, masterKeyFile(env));
}
