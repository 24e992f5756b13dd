/** What setup-master, setup-minion, add-role and deploy do (loaded only when one of them runs). */
import { DEFAULT_MESSAGE } from '../../core/maintenance.js';
import { connectMasterFor } from './ssh.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { stringify } from 'yaml';
import { intOption, type Handler } from '../command.js';
import type { Context } from '../context.js';
import { deployThroughMaster } from '../../converge/deploy.js';
import { DEPLOY_POINTS, hasTaskHooks } from '../../release/hooks.js';
import { masterOf } from '../../converge/master-conn.js';
import type { MasterKeys } from '../../converge/master-key.js';
import { errorMessage, OperationError, UsageError } from '../../errors.js';
import { writeFileAtomic } from '../../fsutil.js';
import { loadPillar, type LoadedPillar } from '../../pillar/load.js';
import { HOST_RULE, isHostOrAddress, printable, SERVER_NAME_RE } from '../../pillar/forms.js';
import { supportedRelease } from '../../platform/releases.js';
import { readHostFacts } from '../../converge/hostfacts.js';
import { BUILTIN_ROLES, ROLE_ALIASES } from '../../pillar/schema.js';
import { publicKeyCandidates } from '../../secrets/keyfiles.js';
import { fingerprintOf, readPublicKey } from '../../secrets/pgp.js';
import { captureExec, renderCommand } from '../../ssh/command.js';
import { HostKeyError, type Connection } from '../../ssh/connection.js';
import { operatorCredentials } from '../../core/connect.js';
import { localUser, selectTargets } from '../../core/targets.js';
import { KnownHosts } from '../../ssh/knownhosts.js';
import { shellLine } from '../../ssh/quote.js';
import { SshSession } from '../../ssh/session.js';
import { knownHostsFiles, pinFile } from '../../repo.js';
import type { Target } from '../../ssh/target.js';
import { ensureBundle, ensureNode, REMOTE_OPS } from '../../provision/bundle.js';
import { confirm, isInteractive } from '../../ui/prompt.js';
import { inventoryFile, isLab, keysDir, recordServer } from '../../provision/inventory.js';

function parseRoles(pillar: LoadedPillar, spec: string | undefined): string[] {
  if (!spec) throw new UsageError('which roles? give them comma-separated', `valid roles: ${[...BUILTIN_ROLES, ...Object.keys(pillar.data.roles)].join(', ')}`);
  const valid = new Set<string>([...BUILTIN_ROLES, ...Object.keys(pillar.data.roles)]);
  const roles = spec.split(',').map((r) => r.trim()).filter(Boolean);
  for (const r of roles) {
    if (!valid.has(ROLE_ALIASES[r] ?? r)) throw new UsageError(`unknown role '${r}'`, `valid roles: ${[...valid].join(', ')} (aliases: ${Object.keys(ROLE_ALIASES).join(', ')})`);
  }
  return [...new Set(roles.map((r) => ROLE_ALIASES[r] ?? r))];
}

export function hostOption(opts: Record<string, unknown>, cmd: string, pillar?: LoadedPillar): string {
  if (typeof opts.host !== 'string' || opts.host === '') throw new UsageError(`${cmd} needs the host: -H ADDRESS`);
  const known = pillar && serverNamed(pillar, opts.host);
  if (!known && !isHostOrAddress(opts.host)) throw new UsageError(`-H '${printable(opts.host)}' is not ${HOST_RULE}`);
  return opts.host;
}

export function nameOption(opts: Record<string, unknown>): string | undefined {
  if (opts.name === undefined) return undefined;
  const n = String(opts.name);
  if (!SERVER_NAME_RE.test(n)) throw new UsageError(`--name '${printable(n)}' is not a server name (letters, digits, _ . -, at most 63)`);
  return n;
}

/** A name another record already has (at another address) is never taken over: exit 2 naming both. */
function checkNameFree(pillar: LoadedPillar, name: string, address: string, where: string): void {
  const other = pillar.data.servers[name];
  if (other && other.address !== address) {
    throw new UsageError(
      `${where} '${name}' for ${address}, but '${name}' is already the record of ${other.address} in '${pillar.env}'`,
      `give this host a name of its own with --name, or remove the record of ${other.address} from the inventory first`,
    );
  }
}

export async function capture(conn: Connection, line: string, stdin?: Buffer): Promise<{ code: number | null; out: string; err: string }> {
  const r = await captureExec(conn, renderCommand({ line }, { sudo: true }, { loginUser: conn.user }), stdin);
  return { code: r.code, out: r.out.toString('utf8'), err: r.err };
}

/**
 * First contact with a host named on the command line. A pinned key is simply checked. An unknown
 * one is pinned only on an explicit act: `--fingerprint` (it must match), `--accept-new`, or a yes
 * on the terminal to the fingerprint shown; environments `ops lab up` made pin on their own.
 */
export async function firstContact(ctx: Context, pillar: LoadedPillar, target: Target, opts: Record<string, unknown>): Promise<{ session: SshSession; conn: Connection }> {
  let expect = typeof opts.fingerprint === 'string' ? opts.fingerprint : undefined;
  if (expect !== undefined && !/^SHA256:[A-Za-z0-9+/]{43}$/.test(expect)) throw new UsageError(`--fingerprint takes SHA256:… as ssh-keygen -l prints it, got '${expect}'`);
  const into = pinFile(ctx.repo, isLab(pillar));
  const shown = into.replace(`${ctx.repo.root}/`, '');
  const open = (pin: boolean) => {
    let pinned = false;
    const session = new SshSession({
      knownHosts: KnownHosts.load(knownHostsFiles(ctx.repo)),
      credentials: operatorCredentials(ctx.repo, (opts.identity as string[] | undefined) ?? []),
      connectTimeoutMs: (intOption(opts.connectTimeout, '--connect-timeout', 1, 600) ?? 10) * 1000,
      acceptNewInto: pin ? into : undefined,
      expectFingerprint: expect,
      onPin: (fp, type) => {
        pinned = true;
        ctx.out.info(`${target.name}: first contact — host key ${type} ${fp}${expect ? ' (as expected)' : ''}, pinned in ${shown}`);
      },
    });
    return { session, pinned: () => pinned };
  };
  const explicit = isLab(pillar) || expect !== undefined || opts.acceptNew === true;
  let attempt = open(explicit);
  try {
    const conn = await attempt.session.connect(target);
    if (!attempt.pinned()) ctx.out.info(`${target.name}: host key already pinned`);
    return { session: attempt.session, conn };
  } catch (e) {
    await attempt.session.closeAll();
    if (explicit || !(e instanceof HostKeyError) || e.verdict.reason !== 'unknown') throw e;
    const { type, fingerprint } = e.verdict;
    if (!isInteractive()) {
      throw new UsageError(
        `${target.name} (${target.address}:${target.port}): first contact — host key ${type} ${fingerprint} is not pinned, and there is no terminal to ask`,
        'check the fingerprint out of band, then pass --fingerprint ' + fingerprint + ' (or --accept-new to trust it as it is)',
      );
    }
    ctx.out.info(`${target.name} (${target.address}:${target.port}) is not known yet. Its host key is ${type} ${fingerprint}.`);
    await confirm(`Is that the fingerprint you expect? Pin it in ${shown}`, {});
    // the key the operator saw, and no other, is pinned
    expect = fingerprint;
    attempt = open(true);
    try {
      return { session: attempt.session, conn: await attempt.session.connect(target) };
    } catch (e2) {
      await attempt.session.closeAll();
      throw e2;
    }
  }
}

function serverNamed(pillar: LoadedPillar, address: string): string | undefined {
  return Object.entries(pillar.data.servers).find(([n, s]) => n === address || s.address === address)?.[0];
}

export const setupMaster: Handler = async (ctx, args, opts) => {
  const env = ctx.envOnly(args);
  const pillar = loadPillar(ctx.repo, env);
  const address = hostOption(opts, 'setup-master', pillar);
  if (opts.recover === true && (opts.adoptSalt === true || opts.removeSalt === true)) throw new UsageError('--recover makes a new key; --adopt-salt and --remove-salt are for a Salt master that is there');
  if (opts.recover === true) return (await import('./recover.js')).recoverMaster(ctx, pillar, opts, address);
  if (typeof opts.key === 'string') throw new UsageError('--key is for --recover (the recovery key that reads the values)');
  const existingMaster = Object.entries(pillar.data.servers).find(([, s]) => s.roles.includes('master'));
  const known = serverNamed(pillar, address);
  if (existingMaster && existingMaster[0] !== known && existingMaster[1].address !== address) {
    throw new UsageError(`environment '${env}' already has a master: ${existingMaster[0]} (${existingMaster[1].address})`, `an environment has one master; if that machine is gone, replace it: ops setup-master ${env} -H ${address} --recover`);
  }
  const name = nameOption(opts) ?? known ?? `${env}-master`;
  checkNameFree(pillar, name, pillar.data.servers[known ?? '']?.address ?? address, 'the master would be recorded as');
  const port = intOption(opts.port, '--port', 1, 65535) ?? pillar.data.servers[known ?? '']?.port ?? 22;
  const target: Target = { name, address: pillar.data.servers[known ?? '']?.address ?? address, port, user: String(opts.user ?? 'root') };
  // the repo's public key for the environment, by fingerprint: the key the master must hold
  const existingPath = publicKeyCandidates(ctx.repo, env).find((p) => existsSync(p));
  const existing = existingPath ? { path: existingPath, shown: existingPath.replace(`${ctx.repo.root}/`, ''), fingerprint: fingerprintOf(await readPublicKey(readFileSync(existingPath), existingPath.replace(`${ctx.repo.root}/`, ''))) } : undefined;
  if (opts.adoptSalt === true && !existing) {
    throw new UsageError(`--adopt-salt needs the environment's public key in the repo (pillar/keys/${env}.pub.gpg): there is none for '${env}'`, "ops import salt copies each conf/<env>.pub.gpg there; the master's key must match it");
  }
  const { session, conn } = await firstContact(ctx, pillar, target, opts);
  try {
    // a release ops does not support as a master is refused before anything changes on the host
    supportedRelease(name, await readHostFacts(conn), true);
    const node = await ensureNode(conn, (l) => ctx.out.info(l));
    ctx.out.info(`${name}: Node.js ${node}`);
    ctx.out.info(`${name}: ops bundle ${(await ensureBundle(conn)) === 'installed' ? 'installed' : 'already current'}`);
    const salt = [...(existing ? ['--expect', existing.fingerprint] : []), ...(opts.adoptSalt === true ? ['--adopt-salt'] : []), ...(opts.removeSalt === true ? ['--remove-salt'] : [])];
    const r = await capture(conn, shellLine([REMOTE_OPS, '__master-key', ...salt, '--', env, pillar.data.project]));
    if (r.code !== 0) {
      // the master's own one-line error (and hint) as it gave it: a refusal is exit 2 there and here
      const why = r.err.trim().split('\n').slice(-2).join(' ').replace(/^error: /, '');
      const doing = opts.adoptSalt === true ? "adopting Salt's key" : opts.removeSalt === true ? "removing Salt's keys" : 'making the environment key';
      throw r.code === 2 ? new UsageError(`${name}: ${why}`) : new OperationError(`${name}: ${doing} failed: ${why}`);
    }
    const keys = JSON.parse(r.out) as MasterKeys;
    const dir = keysDir(ctx.repo, pillar);
    const pubFile = join(dir, `${env}.asc`);
    if (existing && existing.fingerprint !== keys.pgpFingerprint) {
      throw new OperationError(
        `${existing.shown} is not the key ${name} holds (${keys.pgpFingerprint})`,
        `secrets encrypted to the old key would not decrypt on the master: re-encrypt them with \`ops rekey ${env} --key OLD --to <the master's public key>\`, or remove the old public key if there are none`,
      );
    }
    if (!existing) writeFileAtomic(pubFile, `${keys.pgpPublic}\n`, 0o644);
    if (keys.pgpAdopted) ctx.out.info(`${name}: environment key ${keys.pgpFingerprint} taken from Salt's key store into ops's, on the master (it never left it); Salt's files stay until --remove-salt`);
    if (keys.saltRemoved !== undefined) ctx.out.info(keys.saltRemoved ? `${name}: removed Salt's key store ${keys.saltRemoved} (every key in it is in ops's); nothing else of Salt's was touched` : `${name}: no Salt key store left to remove`);
    writeFileAtomic(join(dir, `${env}.master.pub`), `${keys.sshPublic}\n`, 0o644);
    const recorded = recordServer(inventoryFile(ctx.repo, pillar), { name, address: target.address, port, roles: ['master'] });
    if (!keys.pgpAdopted) ctx.out.info(`${name}: environment key ${keys.pgpFingerprint} ${keys.pgpCreated ? 'made on the master (its private half never leaves it)' : 'already there, kept'}`);
    const publicKey = existing?.shown ?? pubFile.replace(`${ctx.repo.root}/`, '');
    ctx.out.result(`master of '${env}': ${recorded} (${target.address}); public key ${publicKey}`, 'provisioned', { env, host: recorded, address: target.address, roles: ['master'], master: recorded, public_key: publicKey });
  } finally {
    await session.closeAll();
  }
};

function masterSshKey(ctx: Context, pillar: LoadedPillar): string {
  const file = join(keysDir(ctx.repo, pillar), `${pillar.env}.master.pub`);
  if (!existsSync(file)) throw new UsageError(`environment '${pillar.env}' has no master yet (no ${file.replace(`${ctx.repo.root}/`, '')})`, `run \`ops setup-master ${pillar.env} -H HOST\` first`);
  return readFileSync(file, 'utf8').trim();
}

export async function writeMinionFile(conn: Connection, data: Record<string, unknown>): Promise<void> {
  const r = await capture(conn, 'mkdir -p /etc/ops && chmod 755 /etc/ops && cat > /etc/ops/minion.yml.tmp && mv -f /etc/ops/minion.yml.tmp /etc/ops/minion.yml', Buffer.from(`# written by ops: this host's environment and roles\n${stringify(data)}`));
  if (r.code !== 0) throw new OperationError(`${conn.target.name}: writing /etc/ops/minion.yml failed: ${r.err.trim()}`);
}

export const setupMinion: Handler = async (ctx, args, opts) => {
  const { env, rest } = ctx.resolveEnv(args);
  if (rest.length > 1) throw new UsageError(`unexpected argument '${rest[1]}'`, 'usage: ops setup-minion [env] ROLE[,ROLE…] -H HOST');
  const pillar = loadPillar(ctx.repo, env);
  const roles = parseRoles(pillar, rest[0]);
  const address = hostOption(opts, 'setup-minion', pillar);
  const given = nameOption(opts);
  const masterKey = masterSshKey(ctx, pillar);
  const master = masterOf(pillar);
  const known = serverNamed(pillar, address);
  const port = intOption(opts.port, '--port', 1, 65535) ?? pillar.data.servers[known ?? '']?.port ?? 22;
  const target: Target = { name: given ?? known ?? address, address: pillar.data.servers[known ?? '']?.address ?? address, port, user: String(opts.user ?? 'root') };
  if (given) checkNameFree(pillar, given, target.address, '--name records the host as');
  const { session, conn } = await firstContact(ctx, pillar, target, opts);
  try {
    // --name, else the record that has this address, else the host's own short name (checked: it comes from the host)
    let name = target.name;
    if (!given && !known) {
      const reported = (await capture(conn, 'hostname -s')).out.trim();
      if (!SERVER_NAME_RE.test(reported)) {
        throw new UsageError(`${address} calls itself '${printable(reported)}', which is not a server name`, 'give it one with --name');
      }
      name = reported;
      checkNameFree(pillar, name, target.address, `${address} calls itself`);
    }
    supportedRelease(name, await readHostFacts(conn), roles.includes('master'));
    const auth = await capture(
      conn,
      'set -e; umask 077; mkdir -p /root/.ssh; touch /root/.ssh/authorized_keys; read -r key; grep -qxF "$key" /root/.ssh/authorized_keys || printf \'%s\\n\' "$key" >> /root/.ssh/authorized_keys',
      Buffer.from(`${masterKey}\n`),
    );
    if (auth.code !== 0) throw new OperationError(`${name}: authorizing the master's key failed: ${auth.err.trim()}`);
    const recorded = recordServer(inventoryFile(ctx.repo, pillar), { name, address: target.address, port, roles });
    const all = loadPillar(ctx.repo, env).data.servers[recorded]?.roles ?? roles;
    await writeMinionFile(conn, { environment: env, name: recorded, roles: all, master: pillar.data.servers[master]?.address });
    ctx.out.result(`minion '${recorded}' (${target.address}) of '${env}': ${all.join(', ')}; the master ${master} may now converge it — run \`ops deploy ${env}\``, 'provisioned', { env, host: recorded, address: target.address, roles: [...all], master });
  } finally {
    await session.closeAll();
  }
};

export const addRole: Handler = async (ctx, args, opts) => {
  const { env, rest } = ctx.resolveEnv(args);
  const pillar = loadPillar(ctx.repo, env);
  const [role] = parseRoles(pillar, rest[0]);
  const hostArg = hostOption(opts, 'add-role');
  const name = serverNamed(pillar, hostArg);
  if (!name || !role) throw new UsageError(`unknown host '${hostArg}' in environment '${env}'`, `set it up first with \`ops setup-minion ${env} ROLES -H ${hostArg}\``);
  const server = pillar.data.servers[name];
  if (server?.roles.includes(role)) throw new UsageError(`${name} already has the role '${role}'`);
  const [target] = selectTargets(pillar, { host: name, user: opts.user as string | undefined });
  if (!target) throw new UsageError(`unknown host '${hostArg}'`);
  const session = new SshSession({ knownHosts: KnownHosts.load(knownHostsFiles(ctx.repo)), credentials: operatorCredentials(ctx.repo, (opts.identity as string[] | undefined) ?? []) });
  try {
    const conn = await session.connect(target);
    recordServer(inventoryFile(ctx.repo, pillar), { name, address: server?.address ?? hostArg, port: server?.port ?? 22, roles: [role] });
    const roles = [...(server?.roles ?? []), role];
    await writeMinionFile(conn, { environment: env, name, roles, master: pillar.data.servers[masterOf(pillar)]?.address });
    ctx.out.result(`${name}: roles ${roles.join(', ')} — run \`ops deploy ${env}\` to converge it`, 'provisioned', { env, host: name, address: server?.address ?? hostArg, roles, master: masterOf(pillar) });
    ctx.out.info('note: there is no remove-role; removing a role from the pillar does not undo what it installed');
  } catch (e) {
    throw e instanceof UsageError || e instanceof OperationError ? e : new OperationError(`${name}: ${errorMessage(e)}`);
  } finally {
    await session.closeAll();
  }
};

export const deploy: Handler = async (ctx, args, opts) => {
  const env = ctx.envOnly(args);
  const pillar = loadPillar(ctx.repo, env);
  // A task a hook names is checked before anything starts (a typo must not surface after the switch).
  if (hasTaskHooks(pillar.data, DEPLOY_POINTS)) await (await import('./task.js')).checkTaskHooks(ctx, pillar, DEPLOY_POINTS);
  const maintenance = opts.maintenance === undefined ? undefined : opts.maintenance === true ? DEFAULT_MESSAGE : String(opts.maintenance);
  if (maintenance !== undefined) {
    if (maintenance.length > 2000 || /[\0\r\n]/.test(maintenance)) throw new UsageError('--maintenance takes a one-line message of at most 2000 characters');
    if (!Object.values(pillar.data.servers).some((s) => s.roles.includes('balancer'))) throw new UsageError(`'${env}' has no balancer: maintenance mode is the balancers' page`);
    if (opts.release === false) throw new UsageError('--maintenance is for a release: it does not go with --no-release');
  }
  const only = deployTarget(ctx, pillar, opts);
  const { session, conn } = await connectMasterFor(ctx, pillar, opts);
  const onInt = () => void session.closeAll().finally(() => process.exit(130));
  process.once('SIGINT', onInt);
  try {
    const waitLock = opts.waitLock === undefined ? undefined : opts.waitLock === true ? 600 : intOption(opts.waitLock, '--wait-lock', 0, 86400);
    return await deployThroughMaster(ctx.out, ctx.repo, pillar, conn, {
      dryRun: opts.dryRun === true,
      only,
      verbose: opts.verbose === true,
      branch: opts.branch as string | undefined,
      release: opts.release !== false,
      waitLock,
      forceUnlock: opts.forceUnlock === true,
      maintenance,
      by: `${localUser()}@${hostname()}`,
      runTaskHook: async (task, point) => (await import('./task.js')).runTaskHook(ctx, env, task, point, opts),
    });
  } finally {
    process.removeListener('SIGINT', onInt);
    await session.closeAll();
  }
};

/**
 * The hosts a deploy is limited to, as the master's converge takes them (one role or one host
 * name), checked here against the pillar so a typo stops before any connection.
 */
function deployTarget(ctx: Context, pillar: LoadedPillar, opts: Record<string, unknown>): string | undefined {
  const role = opts.role as string | undefined;
  const host = opts.host as string | undefined;
  const only = opts.only as string | undefined;
  if ([role, host, only].filter((v) => v !== undefined).length > 1) throw new UsageError('choose the hosts one way: --role or --host');
  if (only !== undefined) {
    ctx.out.info('  note: --only is deprecated: use --role ROLE or --host NAME');
    const servers = Object.entries(pillar.data.servers);
    if (!servers.some(([name, s]) => name === only || s.roles.includes(only))) {
      throw new UsageError(`--only ${only}: no host of '${pillar.env}' has that name or role`, `hosts: ${servers.map(([n, s]) => `${n} (${s.roles.join(',') || '-'})`).join(', ')}`);
    }
    return only;
  }
  if (role !== undefined) {
    selectTargets(pillar, { role });
    return ROLE_ALIASES[role] ?? role;
  }
  if (host !== undefined) return selectTargets(pillar, { host })[0]?.name;
  return undefined;
}
