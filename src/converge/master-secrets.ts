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
import { loadEnvPublicKey } from '../secrets/keyfiles.js';
import { armorPublic, fingerprintOf, generateKeyPair, readPrivateKey, readPublicKey, type PrivateKey, type PublicKey } from '../secrets/pgp.js';
import { decryptLeaf, reencryptEnvironment } from '../secrets/vault.js';
import { readStdin } from '../ui/prompt.js';
import { unpack } from '../util/tar.js';
import { MASTER_KEYS, MASTER_WORK, masterKeyFile } from './paths.js';

const nextKeyFile = (env: string) => `${masterKeyFile(env)}.next`;

/**
 * The environment's keys on this master: the current one first, then one prepared by a rekey that
 * was not committed (the pillar may already be encrypted to it), then retired ones.
 */
export async function masterKeys(env: string): Promise<PrivateKey[]> {
  const current = masterKeyFile(env);
  // a commit stopped between its two renames: the prepared key is the one to make current
  if (!existsSync(current) && existsSync(nextKeyFile(env))) renameSync(nextKeyFile(env), current);
  if (!existsSync(current)) throw new UsageError(`this master holds no key for environment '${env}' (${current})`, `run \`ops setup-master ${env} -H <this host>\``);
  const retired = existsSync(MASTER_KEYS) ? readdirSync(MASTER_KEYS).filter((n) => n.startsWith(`${env}.key.retired-`)).sort().reverse() : [];
  const next = existsSync(nextKeyFile(env)) ? [nextKeyFile(env)] : [];
  const keys: PrivateKey[] = [];
  for (const f of [current, ...next, ...retired.map((n) => join(MASTER_KEYS, n))]) keys.push(await readPrivateKey(readFileSync(f), f, async () => undefined));
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

/** The recovery keys the operator sent with the snapshot (`.rekey/recipients/*.asc`): these and no others. */
async function sentRecipients(dir: string): Promise<PublicKey[]> {
  const at = join(dir, '.rekey', 'recipients');
  if (!existsSync(at)) return [];
  const names = readdirSync(at).filter((n) => n.endsWith('.asc')).sort();
  return Promise.all(names.map((n) => readPublicKey(readFileSync(join(at, n)), `recovery key ${n}`)));
}

export interface RekeyPlan {
  files: { path: string; text: string; count: number }[];
  /** Only when a new environment key was made (or one prepared before is used). */
  publicKey?: string;
  fingerprint?: string;
}

/**
 * Re-encrypts every value of the snapshot to this master's key — a new one unless `keepKey` — and
 * the recovery keys sent. A key prepared by an interrupted rekey is used again rather than replaced,
 * so a pillar already written with it stays readable whatever happens next.
 */
export async function rekeyPrepare(env: string, project: string, keepKey = false): Promise<RekeyPlan> {
  return withSnapshot(env, async (dir, loaded) => {
    const keys = await masterKeys(env);
    const recovery = await sentRecipients(dir);
    let target: PublicKey;
    let made: { publicKey: string; fingerprint: string } | undefined;
    if (keepKey) {
      // the key the repo names now: the current one, or one prepared by a rotation the repo already took
      const named = (await loadEnvPublicKey(repoAt(dir), env)).key;
      const held = keys.find((k) => fingerprintOf(k) === fingerprintOf(named));
      if (!held) throw new UsageError(`the repo names key ${fingerprintOf(named)} for '${env}', which this master does not hold`, `rotate to a key it holds: ops rekey ${env}`);
      target = held.toPublic();
      if (existsSync(nextKeyFile(env)) && held === keys[1]) made = { publicKey: armorPublic(target), fingerprint: fingerprintOf(held) };
    } else if (existsSync(nextKeyFile(env))) {
      const next = await readPrivateKey(readFileSync(nextKeyFile(env)), nextKeyFile(env), async () => undefined);
      target = next.toPublic();
      made = { publicKey: armorPublic(target), fingerprint: fingerprintOf(next) };
    } else {
      const pair = await generateKeyPair({ name: `${project} ${env}`, email: `ops+${env}@${project}.invalid` });
      writeNewFile(nextKeyFile(env), pair.privateArmored, 0o600);
      target = await readPublicKey(Buffer.from(pair.publicArmored), 'new key');
      made = { publicKey: pair.publicArmored, fingerprint: pair.fingerprint };
    }
    const files = await reencryptEnvironment(loaded, repoAt(dir).overlayDir, keys, [target, ...recovery]);
    return { files: files.map((f) => ({ path: relative(dir, f.path), text: f.text, count: f.count })), ...made };
  });
}

/**
 * Makes the prepared key current; the old one stays (retired) so nothing encrypted to it is lost.
 * Run again after it was done (the reply was lost), it finds the key current and does nothing.
 */
export async function rekeyCommit(env: string, fingerprint: string): Promise<void> {
  const next = nextKeyFile(env);
  if (!existsSync(next)) {
    const [current] = await masterKeys(env);
    if (current && fingerprintOf(current) === fingerprint) return;
    throw new UsageError(`no prepared key for '${env}' on this master`, `run \`ops rekey ${env}\` again`);
  }
  const key = await readPrivateKey(readFileSync(next), next, async () => undefined);
  if (fingerprintOf(key) !== fingerprint) throw new UsageError(`the prepared key is ${fingerprintOf(key)}, not ${fingerprint}`, `run \`ops rekey ${env}\` again`);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  renameSync(masterKeyFile(env), `${masterKeyFile(env)}.retired-${stamp}`);
  renameSync(next, masterKeyFile(env));
}
