/** What the secret commands do (loaded only when one of them runs). */
import { connectMasterFor } from './ssh.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { stringify } from 'yaml';
import { UsageError } from '../../errors.js';
import { writeFileAtomic, writeFilesAtomic, writeNewFile } from '../../fsutil.js';
import { EditError, setEntries } from '../../pillar/edit.js';
import { findEncrypted } from '../../pillar/encrypted.js';
import { listEnvironments } from '../../pillar/files.js';
import { isEnvironmentName } from '../../pillar/forms.js';
import { loadPillar } from '../../pillar/load.js';
import { displayPath, parsePillarText, PillarError } from '../../pillar/source.js';
import { ensureStateDir } from '../../repo.js';
import { defaultPrivateKeyPath, loadEnvPrivateKey, publicKeyPath } from '../../secrets/keyfiles.js';
import { readTextOrEmpty, secretName, secretsFile } from '../../secrets/envsecrets.js';
import { armorPublic, generateKeyPair, readPublicKey } from '../../secrets/pgp.js';
import { alphabetOption, DEFAULT_SECRET_LENGTH, generateSecret } from '../../secrets/random.js';
import { generateEd25519 } from '../../secrets/sshkey.js';
import { auditEnvironment, decryptLeaf, encryptValue, reencryptEnvironment, type Reencrypted } from '../../secrets/vault.js';
import { loadRecipients, readRecipientKey, recoveryDir, type Recipient } from '../../secrets/recipients.js';
import type { TarEntry } from '../../util/tar.js';
import { hasMaster, runOnMaster } from '../../converge/master-conn.js';
import { snapshot } from '../../converge/snapshot.js';
import type { LoadedPillar } from '../../pillar/load.js';
import { isInteractive, keyPassphrase, readHidden, readStdin } from '../../ui/prompt.js';
import { redactor } from '../../ui/redact.js';
import { intOption, type Handler } from '../command.js';
import type { Context } from '../context.js';

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

function snippet(entries: ReadonlyArray<readonly [string, string]>): string {
  return entries
    .map(
      ([k, armored]) =>
        `${JSON.stringify(k)}: |-\n${armored
          .split('\n')
          .map((l) => (l ? `  ${l}` : ''))
          .join('\n')}\n`,
    )
    .join('');
}

/** Reads the value for KEY without it touching argv: a hidden prompt (twice) or stdin. */
async function askValue(key: string, stdinTaken: { used: boolean }): Promise<Buffer> {
  if (isInteractive()) {
    const a = await readHidden(`value for ${key}: `);
    const b = await readHidden(`again: `);
    if (a !== b) throw new UsageError(`the two values for ${key} differ; nothing was encrypted`);
    if (a === '') throw new UsageError(`empty value for ${key}; nothing was encrypted`);
    return Buffer.from(a, 'utf8');
  }
  if (stdinTaken.used) throw new UsageError(`only one KEY can read its value from stdin`, 'give the others as KEY=value or use --generate');
  stdinTaken.used = true;
  const data = await readStdin();
  // A trailing newline from `echo`/heredocs is not part of the secret.
  return data.length > 0 && data[data.length - 1] === 0x0a ? data.subarray(0, data[data.length - 2] === 0x0d ? -2 : -1) : data;
}

async function writeSecrets(ctx: Context, env: string, entries: ReadonlyArray<readonly [string, string]>): Promise<string> {
  const file = secretsFile(ctx.repo, env);
  const display = displayPath(file, ctx.repo.root);
  const text = readTextOrEmpty(file, ctx.repo.root);
  // the file as it is must be a valid pillar file (syntax, aliases, size): else say where, write nothing
  parsePillarText(text, file, display);
  let edited: string;
  try {
    edited = setEntries(text, 'secrets', entries);
  } catch (e) {
    if (e instanceof EditError) throw new PillarError(e.pos ? { file: display, ...e.pos } : display, undefined, e.message);
    throw e;
  }
  parsePillarText(edited, file, display);
  writeFileAtomic(file, edited);
  return displayPath(file, ctx.repo.root);
}

export const encrypt: Handler = async (ctx, args, opts) => {
  const { env, rest } = ctx.resolveEnv(args);
  // `ops encrypt stagin KEY=value`: a typo for an environment must not write into the default one
  const [first, ...others] = rest;
  const positional = rest.length === args.length - 1;
  if (!positional && first !== undefined && !first.includes('=') && isEnvironmentName(first) && others.some((a) => a.includes('='))) {
    throw new UsageError(`'${first}' is not an environment (environments: ${listEnvironments(ctx.repo).join(', ')})`, `to encrypt a secret named ${first}, name the environment first: ops encrypt ${env} ${first} …`);
  }
  const { keys: key } = await loadRecipients(ctx.repo, env);
  const generate = opts.generate === undefined ? undefined : (intOption(opts.generate, '--generate', 8, 4096) ?? DEFAULT_SECRET_LENGTH);
  const alphabet = alphabetOption(opts.alphabet);
  if (typeof opts.file === 'string') {
    const file = opts.file;
    const data = file === '-' ? await readStdin() : readFileOrFail(file);
    const armored = await encryptValue(key, data);
    if (rest.length > 1) throw new UsageError('--file takes at most one KEY (the secret the file becomes)');
    const name = rest[0];
    if (name !== undefined) {
      if (!KEY_RE.test(name)) throw new UsageError(`'${name}' is not a valid secret name`);
      if (opts.write) {
        const where = await writeSecrets(ctx, env, [[name, armored]]);
        ctx.out.info(`wrote ${name} (from ${file}) to ${where}`);
        ctx.out.event('encrypted', { env, name, file: where, ciphertext: armored });
      } else ctx.out.result(snippet([[name, armored]]), 'encrypted', { env, name, file: null, ciphertext: armored });
      return;
    }
    const output = typeof opts.output === 'string' ? opts.output : file === '-' ? '-' : `${file}.asc`;
    if (output === '-') ctx.out.result(armored, 'encrypted', { env, name: null, file: null, ciphertext: armored });
    else {
      writeFileAtomic(output, `${armored}\n`, 0o644);
      ctx.out.info(`wrote ${output} (encrypted to ${env}); delete the plaintext ${file} when you no longer need it`);
      ctx.out.event('encrypted', { env, name: null, file: output, ciphertext: armored });
    }
    return;
  }
  if (rest.length === 0) throw new UsageError('nothing to encrypt', 'give KEY=value, KEY (asks / reads stdin), KEY --generate, or --file PATH');
  const stdinTaken = { used: false };
  const entries: [string, string][] = [];
  const seen = new Set<string>();
  for (const arg of rest) {
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    if (!KEY_RE.test(name)) throw new UsageError(`'${name}' is not a valid secret name (letters, digits, _; not starting with a digit)`);
    if (seen.has(name)) throw new UsageError(`${name} is given twice`);
    seen.add(name);
    let value: Buffer;
    if (eq >= 0 && arg.slice(eq + 1) !== '-') {
      if (generate !== undefined) throw new UsageError(`--generate makes the value itself; give ${name} without =value`);
      value = Buffer.from(arg.slice(eq + 1), 'utf8');
    } else if (generate !== undefined) value = Buffer.from(generateSecret(generate, alphabet), 'utf8');
    else value = await askValue(name, stdinTaken);
    redactor.add(value.toString('utf8'));
    entries.push([name, await encryptValue(key, value)]);
    value.fill(0);
  }
  let where: string | null = null;
  if (opts.write) {
    where = await writeSecrets(ctx, env, entries);
    ctx.out.info(`wrote ${entries.map(([k]) => k).join(', ')} to ${where} (secrets)`);
  } else ctx.out.result(snippet(entries), null);
  for (const [name, armored] of entries) ctx.out.event('encrypted', { env, name, file: where, ciphertext: armored });
};

export const decrypt: Handler = async (ctx, args, opts) => {
  const { env, rest } = ctx.resolveEnv(args);
  const pillar = loadPillar(ctx.repo, env);
  const leaves = pillar.sources.flatMap((src) => findEncrypted(src.value).map((leaf) => ({ leaf, src })));
  // Later files override earlier ones: keep the winning value for each path.
  const byName = new Map<string, (typeof leaves)[number]>();
  for (const l of leaves) byName.set(secretName(l.leaf.path), l);
  const wanted = rest.length > 0 ? rest : [...byName.keys()];
  for (const w of wanted) {
    if (!byName.has(w)) {
      throw new UsageError(`environment '${env}' has no encrypted value '${w}'`, `encrypted values: ${[...byName.keys()].join(', ') || 'none'}`);
    }
  }
  if (wanted.length === 0) {
    ctx.out.info(`environment '${env}' has no encrypted values`);
    return;
  }
  const values: [string, Buffer][] = [];
  const keyGiven = typeof opts.key === 'string' || process.env.OPS_KEY_FILE !== undefined || existsSync(defaultPrivateKeyPath(ctx.repo, env));
  if (!keyGiven && hasMaster(pillar)) {
    // The key lives on the master: it decrypts there and sends back only what was asked for.
    const { session, conn } = await connectMasterFor(ctx, pillar, opts);
    try {
      const got = JSON.parse((await runOnMaster(conn, ['__decrypt', env, ...wanted], snapshot(ctx.repo))).toString('utf8')) as Record<string, string>;
      for (const name of wanted) values.push([name, Buffer.from(got[name] ?? '', 'base64')]);
    } finally {
      await session.closeAll();
    }
  } else {
    const key = await loadEnvPrivateKey(ctx.repo, env, typeof opts.key === 'string' ? opts.key : undefined);
    for (const name of wanted) {
      const l = byName.get(name);
      if (l) values.push([name, await decryptLeaf(key, l.leaf, l.src.display)]);
    }
  }
  // The operator asked for plaintext: this is the one output that is not redacted.
  const [only] = values;
  if (ctx.opts.json) {
    for (const [name, v] of values) ctx.out.revealed({ env, name }, v.toString('utf8'), () => undefined);
  } else if (values.length === 1 && rest.length === 1 && only) {
    process.stdout.write(only[1]);
    if (process.stdout.isTTY && only[1][only[1].length - 1] !== 0x0a) process.stdout.write('\n');
  } else {
    process.stdout.write(stringify(Object.fromEntries(values.map(([n, v]) => [n, v.toString('utf8')])), { lineWidth: 0 }));
  }
};

export const keygen: Handler = async (ctx, args, opts) => {
  const env = ctx.envOnly(args);
  const pubPath = publicKeyPath(ctx.repo, env);
  const privPath = typeof opts.privateKey === 'string' ? opts.privateKey : defaultPrivateKeyPath(ctx.repo, env);
  for (const p of [pubPath, privPath]) {
    if (existsSync(p)) throw new UsageError(`${displayPath(p, ctx.repo.root)} already exists; not replacing a key`, `rotate keys with \`ops rekey ${env}\``);
  }
  let passphrase: string | undefined;
  if (opts.passphrase) {
    passphrase = await keyPassphrase(`the new ${env} key`);
    if (!passphrase) throw new UsageError('--passphrase needs OPS_KEY_PASSPHRASE or a terminal to ask on');
  }
  const project = loadPillar(ctx.repo, env).data.project;
  const pair = await generateKeyPair({ name: `${project} ${env}`, email: `ops+${env}@${project}.invalid`, passphrase, type: opts.rsa ? 'rsa' : 'ecc' });
  if (typeof opts.privateKey !== 'string') ensureStateDir(ctx.repo, 'keys');
  writeNewFile(privPath, pair.privateArmored, 0o600);
  writeNewFile(pubPath, pair.publicArmored, 0o644);
  ctx.out.result(`${pair.fingerprint}`, 'key', { env, fingerprint: pair.fingerprint, public_key: displayPath(pubPath, ctx.repo.root) });
  ctx.out.info(`public key:  ${displayPath(pubPath, ctx.repo.root)} (commit it)`);
  ctx.out.info(`private key: ${displayPath(privPath, ctx.repo.root)} (0600; never commit it, keep a backup)`);
};

/** A change of the recovery keys asked by `rekey --add-recipient/--remove-recipient`. */
interface RecipientChange {
  /** The recovery keys after the change. */
  recovery: { label: string; armored: string; fingerprint: string }[];
  /** Files to write (added keys) and to remove (removed keys), once the values are re-encrypted. */
  write: { path: string; text: string }[];
  remove: string[];
  said: string[];
}

function fingerprintArg(v: string): string {
  const fp = v.replace(/\s+/g, '').toUpperCase().replace(/^0X/, '');
  if (!/^([0-9A-F]{16}|[0-9A-F]{40}|[0-9A-F]{64})$/.test(fp)) throw new UsageError(`--remove-recipient '${v}' is not a fingerprint (40 hex digits, as gpg --fingerprint shows it) or a long key id (16)`);
  return fp;
}

async function recipientChange(ctx: Context, env: string, opts: Record<string, unknown>): Promise<RecipientChange | undefined> {
  const adds = (opts.addRecipient as string[] | undefined) ?? [];
  const removes = ((opts.removeRecipient as string[] | undefined) ?? []).map(fingerprintArg);
  if (adds.length === 0 && removes.length === 0) return undefined;
  const current = await loadRecipients(ctx.repo, env);
  const dir = recoveryDir(ctx.repo, env);
  const keep: Recipient[] = [];
  const change: RecipientChange = { recovery: [], write: [], remove: [], said: [] };
  // a fingerprint, or the long id of the key or of one of its subkeys (what gpg -k shows)
  const names = (r: Recipient, fp: string) => r.fingerprint === fp || r.keyIds.includes(fp);
  for (const fp of removes) {
    if (names(current.env, fp)) throw new UsageError(`${fp} is the environment key itself`, `to replace it, run \`ops rekey ${env}\` without --remove-recipient`);
    const hits = current.recovery.filter((r) => names(r, fp));
    if (hits.length === 0) {
      throw new UsageError(`${fp} is not a recovery key of '${env}'`, `its recovery keys: ${current.recovery.map((r) => `${r.label} ${r.fingerprint}`).join(', ') || 'none'}`);
    }
    if (hits.length > 1) throw new UsageError(`${fp} names ${hits.length} recovery keys (${hits.map((r) => r.label).join(', ')})`, 'give the whole fingerprint');
  }
  for (const r of current.recovery) {
    if (removes.some((fp) => names(r, fp))) {
      change.remove.push(r.path);
      change.said.push(`removed recovery key ${r.label} (${r.fingerprint})`);
    } else keep.push(r);
  }
  for (const r of keep) change.recovery.push({ label: r.label, armored: armorPublic(r.key), fingerprint: r.fingerprint });
  for (const file of adds) {
    const key = await readRecipientKey(readFileOrFail(file), file);
    const fp = key.getFingerprint().toUpperCase();
    if (fp === current.env.fingerprint) throw new UsageError(`${file} is the environment key itself, not a recovery key`);
    const listed = change.recovery.find((r) => r.fingerprint === fp);
    if (listed) {
      change.said.push(`${file}: already a recovery key (${listed.label})`);
      continue;
    }
    const label = `${basename(file).replace(/\.(asc|gpg|pub|key)$/i, '').replace(/[^A-Za-z0-9_.@+-]/g, '_') || fp}.asc`;
    // the kept keys are in change.recovery already: a removed key's name is free for its successor
    if (change.recovery.some((r) => r.label === label)) {
      throw new UsageError(`${displayPath(join(dir, label), ctx.repo.root)} already holds another key`, 'give the file another name');
    }
    const armored = armorPublic(key);
    change.recovery.push({ label, armored, fingerprint: fp });
    change.write.push({ path: join(dir, label), text: `${armored.trimEnd()}\n` });
    change.said.push(`added recovery key ${label} (${fp})`);
  }
  return change;
}

export const rekey: Handler = async (ctx, args, opts) => {
  const env = ctx.envOnly(args);
  const pillar = loadPillar(ctx.repo, env);
  const change = await recipientChange(ctx, env, opts);
  const keyGiven = typeof opts.key === 'string' || process.env.OPS_KEY_FILE !== undefined || existsSync(defaultPrivateKeyPath(ctx.repo, env));
  if (!keyGiven && hasMaster(pillar)) {
    if (typeof opts.to === 'string')
      throw new UsageError('--to is for operator-held keys; the master makes the new key itself', `run \`ops rekey ${env}\` without --to`);
    return rekeyOnMaster(ctx, pillar, change, opts);
  }
  if (typeof opts.to !== 'string' && change === undefined && opts.keepKey !== true)
    throw new UsageError('rekey needs --to NEW_PUBLIC_KEY (or --add-recipient / --remove-recipient / --keep-key)', `make one with \`gpg --export --armor\` or \`ops keygen\` in another repo`);
  const current = await loadRecipients(ctx.repo, env);
  const newKey = typeof opts.to === 'string' ? await readRecipientKey(readFileOrFail(opts.to), opts.to) : current.env.key;
  const recovery = change ? await Promise.all(change.recovery.map((r) => readRecipientKey(Buffer.from(r.armored), r.label))) : current.recovery.map((r) => r.key);
  const oldKey = await loadEnvPrivateKey(ctx.repo, env, typeof opts.key === 'string' ? opts.key : undefined);
  const files = await reencryptEnvironment(pillar, ctx.repo.overlayDir, oldKey, [newKey, ...recovery]);
  const pubPath = current.env.path;
  writeRekeyed(files, change, typeof opts.to === 'string' ? { path: pubPath, text: `${armorPublic(newKey).trimEnd()}\n` } : undefined);
  const count = files.reduce((n, f) => n + f.count, 0);
  for (const l of change?.said ?? []) ctx.out.info(l);
  ctx.out.info(
    `re-encrypted ${count} value(s) in ${files.map((f) => f.display).join(', ') || 'no file'} to ${1 + recovery.length} key(s)${typeof opts.to === 'string' ? `; ${displayPath(pubPath, ctx.repo.root)} is now ${newKey.getFingerprint().toUpperCase()}` : ''}`,
  );
  ctx.out.event('rekeyed', { env, on_master: false, values: count, files: files.map((f) => f.display), fingerprint: newKey.getFingerprint().toUpperCase(), keys: 1 + recovery.length });
};

/** The re-encrypted files, the recovery keys added and the new public key, all or nothing; then the removed keys go. */
function writeRekeyed(files: readonly { path: string; text: string }[], change: RecipientChange | undefined, pub: { path: string; text: string } | undefined): void {
  writeFilesAtomic([...files, ...(change?.write ?? []).map((w) => ({ ...w, mode: 0o644 })), ...(pub ? [{ ...pub, mode: 0o644 }] : [])]);
  // a key file written anew under the name of one removed (a person's new key) stays
  for (const p of change?.remove ?? []) if (!(change?.write ?? []).some((w) => w.path === p)) rmSync(p, { force: true });
}

/** The recovery keys a master re-encrypts to, sent with the snapshot (it uses these and no others). */
export function recipientEntries(recovery: readonly { armored: string }[]): TarEntry[] {
  return recovery.map((r, i) => ({ path: `.rekey/recipients/${String(i).padStart(3, '0')}.asc`, data: Buffer.from(r.armored), mode: 0o600 }));
}

/**
 * Rekey for a master-held key: the master re-encrypts every value (to a new key it makes, unless
 * only recovery keys change) and the recovery keys; the repo is written all at once; then the
 * master makes the new key current. Run again after an interruption, it finishes the job.
 */
async function rekeyOnMaster(ctx: Context, pillar: LoadedPillar, change: RecipientChange | undefined, opts: Record<string, unknown>): Promise<void> {
  const current = await loadRecipients(ctx.repo, pillar.env);
  const recovery = change?.recovery ?? current.recovery.map((r) => ({ armored: armorPublic(r.key) }));
  const rotate = change === undefined && opts.keepKey !== true;
  const { session, conn } = await connectMasterFor(ctx, pillar, opts);
  try {
    const args = ['__rekey', 'prepare', pillar.env, pillar.data.project, ...(rotate ? [] : ['--keep-key'])];
    const plan = JSON.parse((await runOnMaster(conn, args, snapshot(ctx.repo, recipientEntries(recovery)))).toString('utf8')) as {
      files: { path: string; text: string; count: number }[];
      publicKey?: string;
      fingerprint?: string;
    };
    const files: Pick<Reencrypted, 'path' | 'text'>[] = plan.files.map((f) => ({ path: join(ctx.repo.root, f.path), text: f.text }));
    writeRekeyed(files, change, plan.publicKey ? { path: current.env.path, text: `${plan.publicKey.trimEnd()}\n` } : undefined);
    if (plan.fingerprint) await runOnMaster(conn, ['__rekey', 'commit', pillar.env, plan.fingerprint]);
    const count = plan.files.reduce((n, f) => n + f.count, 0);
    for (const l of change?.said ?? []) ctx.out.info(l);
    const where = plan.files.map((f) => f.path).join(', ') || 'no file';
    ctx.out.info(
      plan.fingerprint
        ? `${conn.target.name}: new key ${plan.fingerprint} made on the master; re-encrypted ${count} value(s) in ${where} to ${1 + recovery.length} key(s); the old key is kept there, retired`
        : `${conn.target.name}: re-encrypted ${count} value(s) in ${where} to ${1 + recovery.length} key(s) (the master key ${current.env.fingerprint} and ${recovery.length} recovery key(s))`,
    );
    ctx.out.event('rekeyed', { env: pillar.env, on_master: true, values: count, files: plan.files.map((f) => f.path), fingerprint: plan.fingerprint ?? current.env.fingerprint, keys: 1 + recovery.length });
  } finally {
    await session.closeAll();
  }
}

/** `ops secrets audit [env]`: who each value is encrypted to, against the recipients listed now. */
export const secretsAudit: Handler = async (ctx, args) => {
  const env = ctx.envOnly(args);
  const pillar = loadPillar(ctx.repo, env);
  const recipients = await loadRecipients(ctx.repo, env);
  const rows = await auditEnvironment(pillar, ctx.repo.overlayDir, recipients, secretName);
  const all = [recipients.env, ...recipients.recovery];
  ctx.out.info(`recipients of '${env}': ${all.map((r) => `${r.label} ${r.fingerprint}`).join(', ')}`);
  let flagged = 0;
  for (const r of rows) {
    const bad = r.missing.length > 0 || r.unknown.length > 0;
    if (bad) flagged++;
    const notes = [...(r.missing.length > 0 ? [`not to ${r.missing.join(', ')}`] : []), ...(r.unknown.length > 0 ? [`to a key not listed: ${r.unknown.join(', ')}`] : [])];
    ctx.out.result(`${bad ? ctx.out.c.red('✗') : ctx.out.c.green('✓')} ${r.name} (${r.file}): ${r.to.join(', ') || 'no current recipient'}${notes.length > 0 ? ` — ${notes.join('; ')}` : ''}`, 'secret', { env, name: r.name, file: r.file, to: r.to, missing: r.missing, unknown: r.unknown, ok: !bad });
  }
  ctx.out.event('audit', { env, values: rows.length, flagged, recipients: all.map((r) => ({ label: r.label, fingerprint: r.fingerprint })) });
  if (rows.length === 0) ctx.out.info(`environment '${env}' has no encrypted values`);
  else ctx.out.info(flagged === 0 ? `${rows.length} value(s), each encrypted to every recipient` : `${flagged} of ${rows.length} value(s) flagged: re-encrypt them to the recipients listed now with \`ops rekey ${env} --keep-key\``);
  return flagged === 0 ? 0 : 1;
};

export const deployKey: Handler = async (ctx, args, opts) => {
  const env = ctx.envOnly(args);
  const {
    keys: key,
    env: { path: envKeyPath },
  } = await loadRecipients(ctx.repo, env);
  const pillar = loadPillar(ctx.repo, env);
  const pubPath = join(envKeyPath.startsWith(ctx.repo.overlayDir) ? join(ctx.repo.overlayDir, 'keys') : join(ctx.repo.pillarDir, 'keys'), `${env}.deploy.pub`);
  if (!opts.force && (existsSync(pubPath) || (opts.write && pillar.data.secrets.deploy_key !== undefined))) {
    throw new UsageError(`environment '${env}' already has a deploy key`, 'pass --force to replace it (then update the key on your git host)');
  }
  const pair = generateEd25519(`${pillar.data.project}-${env}-deploy`);
  redactor.add(pair.privatePem);
  const armored = await encryptValue(key, pair.privatePem);
  let where: string | null = null;
  if (opts.write) {
    where = await writeSecrets(ctx, env, [['deploy_key', armored]]);
    ctx.out.info(`wrote deploy_key to ${where} (secrets)`);
  } else ctx.out.result(snippet([['deploy_key', armored]]), null);
  writeFileAtomic(pubPath, `${pair.publicLine}\n`, 0o644);
  ctx.out.event('encrypted', { env, name: 'deploy_key', file: where, ciphertext: armored, public_key: displayPath(pubPath, ctx.repo.root), public_line: pair.publicLine });
  ctx.out.info(`public key: ${displayPath(pubPath, ctx.repo.root)} — add it to your git host's deploy keys (read-only):`);
  ctx.out.info(pair.publicLine);
};

function readFileOrFail(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}
