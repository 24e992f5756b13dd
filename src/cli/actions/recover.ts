/**
 * `ops setup-master ENV -H NEW --recover`: a new master in place of one that is gone. Every value
 * is read first, in memory, with one recovery key (a file, or the operator's GnuPG); then the new
 * host becomes the master with a key of its own, the pillar is re-encrypted to it and the recovery
 * keys, the inventory and pins follow, and each minion is told its new master. Run again, it
 * finishes what an interrupted run left.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { MasterKeys } from '../../converge/master-key.js';
import { readHostFacts } from '../../converge/hostfacts.js';
import { openSession } from '../../core/connect.js';
import { selectTargets } from '../../core/targets.js';
import { errorMessage, OperationError, UsageError } from '../../errors.js';
import { writeFilesAtomic } from '../../fsutil.js';
import { findEncrypted } from '../../pillar/encrypted.js';
import type { LoadedPillar } from '../../pillar/load.js';
import { supportedRelease } from '../../platform/releases.js';
import { ensureBundle, ensureNode, REMOTE_OPS } from '../../provision/bundle.js';
import { inventoryFile, isLab, keysDir, recordServer } from '../../provision/inventory.js';
import { pinFile } from '../../repo.js';
import { secretName } from '../../secrets/envsecrets.js';
import { loadEnvPrivateKey } from '../../secrets/keyfiles.js';
import { readPublicKey } from '../../secrets/pgp.js';
import { loadRecipients } from '../../secrets/recipients.js';
import { recoveryDecryptor, type LostValue } from '../../secrets/recover.js';
import { envSources, reencryptEnvironment } from '../../secrets/vault.js';
import { HostKeyError } from '../../ssh/connection.js';
import { unpinHost } from '../../ssh/knownhosts.js';
import { shellLine } from '../../ssh/quote.js';
import type { Target } from '../../ssh/target.js';
import { confirm } from '../../ui/prompt.js';
import { intOption } from '../command.js';
import type { Context } from '../context.js';
import { capture, firstContact, nameOption, writeMinionFile } from './provision.js';

/**
 * Authorizes the new master's key on a minion's root account and takes the replaced masters' keys
 * off it: stdin is the new key's line, then one line per key to remove.
 */
const REAUTHORIZE =
  'set -e; umask 077; mkdir -p /root/.ssh; f=/root/.ssh/authorized_keys; touch "$f"; read -r new; cat > "$f.ops-old"; ' +
  '{ grep -vxF -f "$f.ops-old" "$f" || true; } > "$f.ops-new"; rm -f "$f.ops-old"; grep -qxF -e "$new" "$f.ops-new" || printf \'%s\\n\' "$new" >> "$f.ops-new"; mv -f "$f.ops-new" "$f"';

export async function recoverMaster(ctx: Context, pillar: LoadedPillar, opts: Record<string, unknown>, address: string): Promise<number> {
  const env = pillar.env;
  const old = Object.entries(pillar.data.servers).find(([, s]) => s.roles.includes('master'));
  if (!old) throw new UsageError(`environment '${env}' has no master to replace`, `set one up: ops setup-master ${env} -H ${address}`);
  const [oldName, oldServer] = old;
  const other = Object.entries(pillar.data.servers).find(([n, s]) => n !== oldName && (s.address === address || n === address));
  if (other) throw new UsageError(`${address} is ${other[0]} of '${env}', not a new machine`, `a recovered master takes ${oldName}'s place: give the address of the machine that replaces it`);
  const recipients = await loadRecipients(ctx.repo, env);
  const masterPubFile = join(keysDir(ctx.repo, pillar), `${env}.master.pub`);
  // the SSH keys of masters replaced by a recovery whose minions are not all told yet
  const replacedFile = join(keysDir(ctx.repo, pillar), `${env}.master.pub.replaced`);
  const lines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '') : []);
  const given = nameOption(opts);
  if (given !== undefined && given !== oldName) throw new UsageError(`--recover keeps the master's name (${oldName}); --name ${given} would leave two masters`, 'rename it afterwards in the inventory if you must');

  // 1. Every value, read with the recovery key before anything changes anywhere.
  const key = typeof opts.key === 'string' ? await loadEnvPrivateKey(ctx.repo, env, opts.key) : undefined;
  ctx.out.info(`reading the values of '${env}' with ${key ? `the key in ${opts.key as string}` : 'your GnuPG (its agent or card does the decrypting)'}`);
  const lost: LostValue[] = [];
  const decrypt = recoveryDecryptor(key, secretName, lost);
  const plain = new Map<string, Buffer | undefined>();
  const id = (file: string, path: readonly (string | number)[]) => `${file}\0${JSON.stringify(path)}`;
  let total = 0;
  for (const src of envSources(pillar, ctx.repo.overlayDir)) {
    for (const leaf of findEncrypted(src.value)) {
      total++;
      plain.set(id(src.display, leaf.path), await decrypt(leaf, src.display));
    }
  }
  for (const l of lost) {
    ctx.out.warn(`${l.file}: ${l.name} cannot be read with this key (${l.why})`);
    ctx.out.event('lost', { env, file: l.file, name: l.name, why: l.why });
  }
  if (lost.length > 0) {
    await confirm(`${lost.length} of ${total} value(s) cannot be recovered; go on without them (they stay as they are until entered again)?`, { yes: opts.yes === true });
  }

  // 2. The new machine, as the master, with a key of its own.
  const port = intOption(opts.port, '--port', 1, 65535) ?? (address === oldServer.address ? oldServer.port : 22);
  const name = oldName;
  const target: Target = { name, address, port, user: String(opts.user ?? 'root') };
  const contact = () => firstContact(ctx, pillar, target, opts);
  // a new machine at the old master's address shows another host key: that pin, and only it, goes
  const { session, conn } = await contact().catch(async (e: unknown) => {
    if (!(e instanceof HostKeyError) || e.verdict.reason !== 'changed' || address !== oldServer.address || isLab(pillar)) throw e;
    unpinHost(pinFile(ctx.repo, false), address, port);
    ctx.out.info(`${oldName}: the old master's host key is no longer pinned (${address})`);
    return contact();
  });
  let keys: MasterKeys;
  try {
    supportedRelease(name, await readHostFacts(conn), true);
    ctx.out.info(`${name}: Node.js ${await ensureNode(conn, (l) => ctx.out.info(l))}`);
    ctx.out.info(`${name}: ops bundle ${(await ensureBundle(conn)) === 'installed' ? 'installed' : 'already current'}`);
    const r = await capture(conn, shellLine([REMOTE_OPS, '__master-key', env, pillar.data.project]));
    if (r.code !== 0) throw new OperationError(`${name}: making the environment key failed: ${r.err.trim().split('\n').slice(-2).join(' ')}`);
    keys = JSON.parse(r.out) as MasterKeys;
  } finally {
    await session.closeAll();
  }

  // 3. The pillar re-encrypted to the new key and the recovery keys, with the new public keys: all files or none.
  const already = keys.pgpFingerprint === recipients.env.fingerprint;
  const newSsh = keys.sshPublic.trim();
  const replaced = [...new Set([...lines(replacedFile), ...lines(masterPubFile)])].filter((k) => k !== newSsh);
  const keyFiles = [
    { path: masterPubFile, text: `${newSsh}\n`, mode: 0o644 },
    ...(replaced.length > 0 ? [{ path: replacedFile, text: `${replaced.join('\n')}\n`, mode: 0o644 }] : []),
  ];
  let count = 0;
  if (already) {
    ctx.out.info(`${name}: already holds the environment key ${keys.pgpFingerprint}: the values are encrypted to it; only the inventory and the minions are brought in line`);
  } else {
    const newKey = await readPublicKey(Buffer.from(keys.pgpPublic), `${name}'s key`);
    const files = await reencryptEnvironment(pillar, ctx.repo.overlayDir, async (leaf, file) => plain.get(id(file, leaf.path)), [newKey, ...recipients.recovery.map((r) => r.key)]);
    count = files.reduce((n, f) => n + f.count, 0);
    writeFilesAtomic([
      ...files,
      { path: recipients.env.path, text: `${keys.pgpPublic.trimEnd()}\n`, mode: 0o644 },
      ...keyFiles,
    ]);
    ctx.out.info(`re-encrypted ${count} value(s) to ${name}'s new key ${keys.pgpFingerprint} and ${recipients.recovery.length} recovery key(s)`);
  }
  for (const v of plain.values()) v?.fill(0);
  if (already) writeFilesAtomic(keyFiles);
  const recorded = recordServer(inventoryFile(ctx.repo, pillar), { name, address, port, roles: ['master'] });
  if (recorded !== oldName) ctx.out.warn(`the inventory keeps ${oldName} (${oldServer.address}) too: remove its record if that machine is gone for good`);

  // 4. Each minion: the new master's SSH key instead of the old one, and its address.
  const minions = selectTargets(pillar, { user: typeof opts.user === 'string' ? opts.user : undefined }).filter((t) => t.name !== oldName && t.name !== recorded);
  const minionSession = openSession({
    repo: ctx.repo,
    identities: (opts.identity as string[] | undefined) ?? [],
    connectTimeoutMs: (intOption(opts.connectTimeout, '--connect-timeout', 1, 600) ?? 10) * 1000,
  });
  const failed: string[] = [];
  try {
    await Promise.all(
      minions.map(async (t) => {
        try {
          const c = await minionSession.connect(t);
          const a = await capture(c, REAUTHORIZE, Buffer.from([newSsh, ...replaced].map((k) => `${k}\n`).join('')));
          if (a.code !== 0) throw new OperationError(a.err.trim() || `exit ${a.code}`);
          await writeMinionFile(c, { environment: env, name: t.name, roles: pillar.data.servers[t.name]?.roles ?? [], master: address });
          ctx.out.info(`${t.name}: now answers to ${name} (${address})`);
          ctx.out.event('minion', { host: t.name, ok: true });
        } catch (e) {
          failed.push(t.name);
          ctx.out.error(`${t.name}: not told of the new master: ${errorMessage(e)}`);
          ctx.out.event('minion', { host: t.name, ok: false, error: errorMessage(e) });
        }
      }),
    );
  } finally {
    await minionSession.closeAll();
  }

  const recovered = { env, master: recorded, address, fingerprint: keys.pgpFingerprint, values: count, lost: lost.map((l) => l.name), minions_failed: failed };
  for (const l of lost) ctx.out.info(`enter ${l.name} again: ops encrypt ${env} ${l.name} --write`);
  if (failed.length === 0) rmSync(replacedFile, { force: true });
  if (failed.length > 0) {
    ctx.out.event('recovered', recovered);
    ctx.out.error(`${failed.length} minion(s) still answer to the old master: ${failed.join(', ')}; run the same command again once they are reachable`);
    return 1;
  }
  ctx.out.result(`master of '${env}': ${recorded} (${address}), key ${keys.pgpFingerprint}${lost.length > 0 ? `; ${lost.length} value(s) to enter again` : ''} — deploy with: ops deploy ${env}`, 'recovered', recovered);
  return 0;
}
