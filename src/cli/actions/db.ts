/**
 * What the database commands do (loaded only when one of them runs): copy between environments,
 * backup to the operator's disk, restore from it, undo a copy, reset the local database. Every
 * check of the input happens before the first connection.
 */
import { runLocalOk } from '../../util/proc.js';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Handler } from '../command.js';
import type { Context } from '../context.js';
import { errorMessage, OperationError, UsageError } from '../../errors.js';
import { loadPillar, type LoadedPillar } from '../../pillar/load.js';
import { serviceName } from '../../roles/app.js';
import { openSession } from './ssh.js';
import type { Connection } from '../../ssh/connection.js';
import { hostsWithRoles, selectTargets } from '../../core/targets.js';
import { hasTaskHooks, runHooks } from '../../release/hooks.js';
import type { HookPoint } from '../../pillar/schema.js';
import { DeployPrinter } from '../../ui/deploy.js';
import type { SshSession } from '../../ssh/session.js';
import type { Target } from '../../ssh/target.js';
import { humanBytes, ByteProgress } from '../../ui/progress.js';
import { confirm, Interrupted, isInteractive, readLine } from '../../ui/prompt.js';
import { listEnvironments } from '../../pillar/files.js';
import { AppControl } from '../../db/app.js';
import { DirectPull, type PullSource } from '../../db/direct.js';
import { measureLink } from '../../db/link.js';
import { localMedia, remoteMedia } from '../../db/media.js';
import { beforeName, beforeNames, stamp } from '../../db/names.js';
import { levelForLink, parseCompress, pgDumpArgv, type Level } from '../../db/pg.js';
import { localPg, remotePg, type PgHost } from '../../db/pghost.js';
import { listDatabases, relayInto, replaceDatabase, swapIn, type LiveDb } from '../../db/replace.js';
import { describeSql } from '../../db/sql.js';
import { fileSink, fileSource, relay } from '../../db/stream.js';

/** An environment's database: its db host, name and protection. */
interface EnvDb {
  env: string;
  pillar: LoadedPillar;
  host: Target;
  db: string;
  protected: boolean;
}

function envDb(ctx: Context, env: string, user: string | undefined): EnvDb {
  if (!ctx.isEnvironment(env)) throw new UsageError(`unknown environment '${env}'`, `environments: ${listEnvironments(ctx.repo).join(', ') || 'none'}`);
  const pillar = loadPillar(ctx.repo, env);
  if (!Object.values(pillar.data.servers).some((s) => s.roles.includes('db'))) {
    throw new UsageError(`environment '${env}' has no db host`, `give a server the db role: ops add-role ${env} db -H HOST`);
  }
  const [host] = selectTargets(pillar, { role: 'db', user });
  if (!host) throw new UsageError(`environment '${env}' has no db host`);
  // An encrypted `protected` value counts as protected: never fail open.
  return { env, pillar, host, db: serviceName({ project: pillar.data.project, env }), protected: pillar.data.protected !== false };
}

/**
 * A protected target needs --allow-protected-target, and the database's name (from --confirm,
 * or typed at the prompt). Returns whether the name was given already.
 */
function guardTarget(t: EnvDb, opts: Record<string, unknown>): boolean {
  const named = opts.confirm as string | undefined;
  if (!t.protected) return false;
  if (opts.allowProtectedTarget !== true) {
    throw new UsageError(`environment '${t.env}' is protected: ops will not replace its database ${t.db}`, `if you really mean it: --allow-protected-target --confirm ${t.db}`);
  }
  if (named !== undefined && named !== t.db) throw new UsageError(`--confirm ${named} does not name the database to replace (${t.db})`);
  return named !== undefined;
}

/** Shows the plan and asks (y/N; for a protected target the database's name must be typed). */
async function proceed(ctx: Context, lines: string[], t: EnvDb, named: boolean, yes: boolean): Promise<void> {
  for (const l of lines) ctx.out.info(l);
  if (!t.protected) return confirm('proceed?', { yes });
  if (named) return;
  if (!isInteractive()) throw new UsageError(`replacing the protected database ${t.db}: no terminal to ask on`, `pass --confirm ${t.db}`);
  const typed = (await readLine(`${t.env} is protected; type the name of the database to replace (${t.db}): `)).trim();
  if (typed !== t.db) throw new OperationError('declined (the name did not match)');
}

async function sizeOf(pg: PgHost, db: string): Promise<{ size?: number; encoding?: string }> {
  const [row] = await pg.sql(describeSql(db));
  return row ? { size: Number(row[0]), encoding: row[1] } : {};
}

/** The major version of the PostgreSQL server (15, 17, …). */
async function serverMajor(pg: PgHost): Promise<number> {
  const [row] = await pg.sql("select current_setting('server_version_num')::int / 10000");
  const n = Number(row?.[0]);
  if (!Number.isInteger(n) || n <= 0) throw new OperationError(`cannot read the PostgreSQL version on ${pg.name === 'local' ? 'this machine' : pg.name}: is its server running?`);
  return n;
}

/** The major version of this machine's pg_restore (Debian's wrapper picks it as it will for the restore). */
async function localRestoreMajor(): Promise<number> {
  try {
    const m = /\(PostgreSQL\) (\d+)/.exec(await runLocalOk('pg_restore', ['--version'], { timeoutMs: 10_000 }));
    if (m) return Number(m[1]);
  } catch {
    // not installed: the restore names it
  }
  return Number.POSITIVE_INFINITY;
}

/** A dump of a newer PostgreSQL does not restore into an older one: refused before anything is touched. */
function refuseNewerIntoOlder(source: string, srcMajor: number, target: string, dstMajor: number, hint: string): void {
  if (srcMajor <= dstMajor) return;
  throw new UsageError(`${source} runs PostgreSQL ${srcMajor} and ${target} PostgreSQL ${dstMajor}: a dump of a newer PostgreSQL does not restore into an older one`, `${hint}; nothing was changed`);
}

const sized = (s: { size?: number }) => (s.size === undefined ? 'does not exist yet' : humanBytes(s.size));

function needWeb(e: EnvDb): void {
  if (!Object.values(e.pillar.data.servers).some((s) => s.roles.includes('web'))) {
    throw new UsageError(`--with-media: environment '${e.env}' has no web host (media lives on web hosts)`);
  }
}

function checkReadable(path: string, flag: string): string {
  const p = resolve(path);
  try {
    accessSync(p, constants.R_OK);
    if (!statSync(p).isFile()) throw new Error('not a file');
  } catch {
    throw new UsageError(`${flag}: cannot read ${path}`);
  }
  return p;
}

function checkWritable(path: string, flag: string): string {
  const p = resolve(path);
  if (existsSync(p)) throw new UsageError(`${flag}: ${path} exists already`, 'ops does not overwrite a file; give a new name');
  if (!existsSync(dirname(p))) throw new UsageError(`${flag}: the folder ${dirname(path)} does not exist`);
  return p;
}

async function checkTaskHooks(ctx: Context, pillar: LoadedPillar, points: HookPoint[]): Promise<void> {
  if (hasTaskHooks(pillar.data, points)) await (await import('./task.js')).checkTaskHooks(ctx, pillar, points);
}

/** The target environment's hooks of a database copy, run from this machine. */
function dbHooks(ctx: Context, pillar: LoadedPillar, session: SshSession, opts: Record<string, unknown>): (point: HookPoint) => Promise<void> {
  const printer = new DeployPrinter(ctx.out);
  return async (point) => {
    await runHooks(point, {
      pillar: pillar.data,
      hosts: hostsWithRoles(pillar, { user: opts.user as string | undefined }),
      session,
      event: (type, data) => printer.handle({ type, ...data }),
      task: async (name, at) => (await import('./task.js')).runTaskHook(ctx, pillar.env, name, at, opts),
    });
  };
}

/** SIGINT aborts the stream (and what follows the swap finishes first); the session closes at the end. */
async function withSession<T>(ctx: Context, pillar: LoadedPillar, opts: Record<string, unknown>, fn: (session: SshSession, signal: AbortSignal) => Promise<T>): Promise<T> {
  const session = openSession(ctx, pillar, opts);
  const abort = new AbortController();
  const onInt = () => {
    // A second interrupt does not wait for the clean-up (the next copy drops what is left).
    if (abort.signal.aborted) process.exit(130);
    ctx.out.warn('interrupted: stopping the stream and cleaning up (a swap already under way finishes first; interrupt again to quit now)');
    abort.abort();
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onInt);
  try {
    const r = await fn(session, abort.signal);
    if (abort.signal.aborted) throw new Interrupted();
    return r;
  } finally {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onInt);
    await session.closeAll();
  }
}

/** --compress: the level given, or (auto) the one that fits the link `measure` reports in MB/s. */
async function chooseLevel(ctx: Context, value: 'auto' | number, measure: () => Promise<number>): Promise<Level> {
  if (value !== 'auto') return value;
  const mbps = await measure();
  const level = levelForLink(mbps);
  ctx.out.info(`link: ${mbps.toFixed(0)} MB/s → pg_dump ${level === undefined ? 'default compression' : `-Z${level}`}`);
  ctx.out.event('compression', { link_mb_per_s: Math.round(mbps), level: level ?? 'default' });
  return level;
}

/** The source db host as the target sees it (its private address when it has one), with its pinned keys. */
function pullSource(src: EnvDb, session: SshSession): PullSource {
  const server = src.pillar.data.servers[src.host.name];
  return {
    name: src.host.name,
    address: server?.private_address ?? src.host.address,
    port: src.host.port,
    user: src.host.user,
    hostKeys: session.knownHosts.lookup(src.host.address, src.host.port),
  };
}

/** `ops db copy FROM TO` and `ops prod-db-to-staging`. */
async function copyBetween(ctx: Context, from: string, to: string, opts: Record<string, unknown>): Promise<number> {
  const user = opts.user as string | undefined;
  const src = envDb(ctx, from, user);
  const dst = envDb(ctx, to, user);
  if (from === to || (src.host.address === dst.host.address && src.db === dst.db)) throw new UsageError(`source and target are the same database (${src.db} on ${src.host.name})`);
  const named = guardTarget(dst, opts);
  const compress = parseCompress(opts.compress);
  const sanitize = typeof opts.sanitize === 'string' ? checkReadable(opts.sanitize, '--sanitize') : undefined;
  const dumpPath = typeof opts.keepDump === 'string' ? checkWritable(opts.keepDump, '--keep-dump') : undefined;
  const direct = opts.direct === true;
  if (direct && dumpPath) throw new UsageError('--keep-dump needs the stream to pass through ops: it cannot go with --direct', 'drop --direct to keep the dump, or make a backup with ops db backup');
  if (opts.withMedia === true) {
    needWeb(src);
    needWeb(dst);
  }
  await checkTaskHooks(ctx, dst.pillar, ['before_db_swap', 'after_db_copy']);
  return withSession(ctx, dst.pillar, opts, async (session, signal) => {
    const [srcConn, dstConn] = await Promise.all([session.connect(src.host), session.connect(dst.host)]);
    const srcPg = remotePg(srcConn);
    const dstPg = remotePg(dstConn);
    const app = AppControl.of(session, dst.pillar, user);
    const [srcInfo, dstInfo, running, srcMajor, dstMajor] = await Promise.all([sizeOf(srcPg, src.db), sizeOf(dstPg, dst.db), app.running(), serverMajor(srcPg), serverMajor(dstPg)]);
    refuseNewerIntoOlder(`${src.host.name} (${src.env})`, srcMajor, `${dst.host.name} (${dst.env})`, dstMajor, `upgrade ${dst.env}'s db host to PostgreSQL ${srcMajor} or later first (see README: PostgreSQL across releases)`);
    if (srcInfo.size === undefined) throw new OperationError(`${src.host.name}: there is no database ${src.db}`);
    await proceed(
      ctx,
      [
        `copy   ${src.db} on ${src.host.name} (${src.env}, ${sized(srcInfo)})`,
        `into   ${dst.db} on ${dst.host.name} (${dst.env}, ${sized(dstInfo)})${dstInfo.size === undefined ? '' : `, kept as ${dst.db}_before_<time>`}`,
        `app    ${running.size === 0 ? 'no app units running' : [...running].map(([h, u]) => `${h}: ${u.join(' ')}`).join('; ')} (stopped only for the swap)`,
      ],
      dst,
      named,
      opts.yes === true,
    );
    const pull = direct ? await DirectPull.open(ctx.out, session, dst.host, srcConn, pullSource(src, session)) : undefined;
    const level = await chooseLevel(ctx, compress, () => (pull ? pull.probe() : measureLink({ from: srcConn, to: dstConn })));
    const dump = dumpPath ? fileSink(dumpPath) : undefined;
    const live: LiveDb = { pg: dstPg, db: dst.db, owner: dst.db, app, env: dst.env };
    const hooks = dbHooks(ctx, dst.pillar, session, opts);
    try {
      const r = await replaceDatabase(ctx.out, live, {
        load: pull ? pull.loader(pgDumpArgv(src.db, level)) : relayInto(dstPg, () => srcPg.start(pgDumpArgv(src.db, level), 'pg_dump'), dump ? [dump] : []),
        label: pull ? `${dst.host.name} ← ${src.host.name} (direct)` : `${src.host.name} → ${dst.host.name}`,
        encoding: srcInfo.encoding,
        sanitize,
        signal,
        side: opts.withMedia === true ? remoteMedia(ctx.out, session, src.pillar, dst.pillar, user, stamp()) : undefined,
        beforeSwap: () => hooks('before_db_swap'),
      });
      dump?.commit();
      if (dump) ctx.out.info(`dump kept in ${dumpPath}`);
      ctx.out.result(`copied ${src.env} → ${dst.env}: ${dst.db} on ${dst.host.name} replaced${r.keptAs ? ` (previous: ${r.keptAs})` : ''}`, 'db_done', { action: 'copy', from: src.env, env: dst.env, database: dst.db, host: dst.host.name, kept: r.keptAs ?? null });
      try {
        await hooks('after_db_copy');
      } catch (e) {
        ctx.out.error(`${errorMessage(e)} (the copy itself is done)`);
        return 1;
      }
      return 0;
    } catch (e) {
      dump?.discard();
      throw e;
    }
  });
}

export const copy: Handler = async (ctx, args, opts) => {
  const [from, to, extra] = args;
  if (!from || !to) throw new UsageError('name the source and the target environment', 'e.g. ops db copy production staging');
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  return copyBetween(ctx, from, to, opts);
};

export const prodDbToStaging: Handler = async (ctx, args, opts) => {
  if (args.length > 0) throw new UsageError(`unexpected argument '${args[0]}'`, 'ops prod-db-to-staging takes no environment; use ops db copy FROM TO for others');
  return copyBetween(ctx, 'production', 'staging', opts);
};

/** `ops db backup [env] [--to PATH]`: custom format, streamed to a 0600 file that gets its name when complete. */
export const backup: Handler = async (ctx, args, opts) => {
  const env = ctx.envOnly(args);
  const src = envDb(ctx, env, opts.user as string | undefined);
  const path = checkWritable(typeof opts.to === 'string' ? opts.to : `${src.db}-${stamp()}.dump`, '--to');
  const compress = parseCompress(opts.compress);
  return withSession(ctx, src.pillar, opts, async (session, signal) => {
    const conn = await session.connect(src.host);
    const pg = remotePg(conn);
    const info = await sizeOf(pg, src.db);
    if (info.size === undefined) throw new OperationError(`${src.host.name}: there is no database ${src.db}`);
    ctx.out.info(`backup of ${src.db} on ${src.host.name} (${env}, ${sized(info)}) to ${path}`);
    const level = compress === 'auto' ? undefined : compress;
    const sink = fileSink(path);
    const progress = new ByteProgress(ctx.out, `${src.host.name} → ${path}`);
    try {
      const bytes = await relay(await pg.start(pgDumpArgv(src.db, level), 'pg_dump'), sink, { onBytes: (n) => progress.update(n), signal });
      sink.commit();
      ctx.out.event('stream', { what: 'backup', bytes, seconds: progress.seconds });
      ctx.out.result(`backup written: ${path} (${progress.finish()})`, 'db_done', { action: 'backup', env, database: src.db, host: src.host.name, file: path });
      return 0;
    } catch (e) {
      progress.finish();
      sink.discard();
      throw signal.aborted ? new Interrupted() : e;
    }
  });
};

/** `ops db restore [env] FILE`: the same new-database-then-swap as a copy. */
export const restore: Handler = async (ctx, args, opts) => {
  const { env, rest } = ctx.resolveEnv(args);
  const [file, extra] = rest;
  if (!file) throw new UsageError('which backup file?', 'e.g. ops db restore staging prod.dump');
  if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
  const user = opts.user as string | undefined;
  const dst = envDb(ctx, env, user);
  const named = guardTarget(dst, opts);
  const path = checkReadable(file, 'backup file');
  const sanitize = typeof opts.sanitize === 'string' ? checkReadable(opts.sanitize, '--sanitize') : undefined;
  await checkTaskHooks(ctx, dst.pillar, ['before_db_swap']);
  return withSession(ctx, dst.pillar, opts, async (session, signal) => {
    const conn = await session.connect(dst.host);
    const pg = remotePg(conn);
    const app = AppControl.of(session, dst.pillar, user);
    const info = await sizeOf(pg, dst.db);
    await proceed(ctx, [`restore ${file} (${humanBytes(statSync(path).size)})`, `into    ${dst.db} on ${dst.host.name} (${env}, ${sized(info)})`], dst, named, opts.yes === true);
    const r = await replaceDatabase(ctx.out, { pg, db: dst.db, owner: dst.db, app, env }, { load: relayInto(pg, async () => fileSource(path)), label: `${file} → ${dst.host.name}`, sanitize, signal, beforeSwap: () => dbHooks(ctx, dst.pillar, session, opts)('before_db_swap') });
    ctx.out.result(`restored ${file} into ${dst.db} on ${dst.host.name}${r.keptAs ? ` (previous: ${r.keptAs})` : ''}`, 'db_done', { action: 'restore', env, database: dst.db, host: dst.host.name, file, kept: r.keptAs ?? null });
    return 0;
  });
};

/** `ops db undo-copy [env]`: the newest `<db>_before_*` becomes live again; the replaced one is kept the same way. */
export const undoCopy: Handler = async (ctx, args, opts) => {
  const env = ctx.envOnly(args);
  const user = opts.user as string | undefined;
  const dst = envDb(ctx, env, user);
  const named = guardTarget(dst, opts);
  return withSession(ctx, dst.pillar, opts, async (session) => {
    const conn = await session.connect(dst.host);
    const pg = remotePg(conn);
    const names = await listDatabases(pg);
    const [previous] = beforeNames(dst.db, names);
    if (!previous) throw new OperationError(`${dst.host.name}: there is no ${dst.db}_before_* database to go back to`);
    const app = AppControl.of(session, dst.pillar, user);
    const keepAs = names.includes(dst.db) ? beforeName(dst.db, stamp()) : undefined;
    await proceed(ctx, [`make ${previous} live again as ${dst.db} on ${dst.host.name} (${env})`, keepAs ? `keep the current ${dst.db} as ${keepAs}` : `${dst.db} does not exist`], dst, named, opts.yes === true);
    // Keep all copies here: undoing must not drop the one it might be asked to come back to.
    await swapIn(ctx.out, { pg, db: dst.db, owner: dst.db, app, env }, previous, keepAs, Number.MAX_SAFE_INTEGER);
    ctx.out.result(`${dst.db} on ${dst.host.name} is ${previous} again${keepAs ? ` (the replaced one: ${keepAs})` : ''}`, 'db_done', { action: 'undo-copy', env, database: dst.db, host: dst.host.name, kept: keepAs ?? null });
    return 0;
  });
};

/** `ops reset-local-db [env]`: the env's database into the operator's PostgreSQL (and media into a folder). */
export const resetLocalDb: Handler = async (ctx, args, opts) => {
  const env = ctx.envOnly(args);
  const src = envDb(ctx, env, opts.user as string | undefined);
  const local = typeof opts.localDb === 'string' ? opts.localDb : src.pillar.data.project;
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(local)) throw new UsageError(`--local-db: '${local}' is not a plain database name (letters, digits, _)`);
  const compress = parseCompress(opts.compress);
  const mediaDir = typeof opts.withMedia === 'string' ? opts.withMedia : undefined;
  if (mediaDir !== undefined) {
    needWeb(src);
    if (!existsSync(dirname(resolve(mediaDir)))) throw new UsageError(`--with-media: the folder ${dirname(mediaDir)} does not exist`);
  }
  return withSession(ctx, src.pillar, opts, async (session, signal) => {
    const conn = await session.connect(src.host);
    const srcPg = remotePg(conn);
    const pg = localPg();
    const [info, mine, srcMajor, localMajor] = await Promise.all([sizeOf(srcPg, src.db), sizeOf(pg, local), serverMajor(srcPg), serverMajor(pg)]);
    refuseNewerIntoOlder(`${src.host.name} (${env})`, srcMajor, 'this machine', Math.min(localMajor, await localRestoreMajor()), `install PostgreSQL ${srcMajor} or later here (server and client)`);
    if (info.size === undefined) throw new OperationError(`${src.host.name}: there is no database ${src.db}`);
    await confirm(`replace your local database ${local} (${sized(mine)}) with ${src.db} from ${src.host.name} (${sized(info)})?`, { yes: opts.yes === true });
    const level = await chooseLevel(ctx, compress, () => measureLink({ from: conn }));
    const r = await replaceDatabase(ctx.out, { pg, db: local }, {
      load: relayInto(pg, () => srcPg.start(pgDumpArgv(src.db, level), 'pg_dump')),
      label: `${src.host.name} → ${local}`,
      encoding: info.encoding,
      signal,
      side: mediaDir !== undefined ? localMedia(ctx.out, session, src.pillar, opts.user as string | undefined, mediaDir, stamp()) : undefined,
    });
    ctx.out.result(`local database ${local} is now a copy of ${src.db} (${env})${r.keptAs ? `; previous: ${r.keptAs}` : ''}`, 'db_done', { action: 'copy', from: env, env: 'local', database: local, host: null, kept: r.keptAs ?? null });
    return 0;
  });
};
