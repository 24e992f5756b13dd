/**
 * Replacing a live database safely: the data is restored into a new database first; only when
 * that (and the sanitize script, and the ownership fix) went well is the app stopped and the
 * names swapped in one transaction, the old database kept as `<db>_before_<stamp>`. A failure
 * (or an interrupt) before the swap drops the new database and leaves the live one and the app
 * as they were.
 */
import { readFileSync } from 'node:fs';
import { OperationError, errorMessage } from '../errors.js';
import type { Output } from '../ui/output.js';
import { ByteProgress } from '../ui/progress.js';
import { Interrupted } from '../ui/prompt.js';
import type { AppControl } from './app.js';
import type { SideCopy } from './media.js';
import { beforeName, incomingName, incomingNames, KEEP_BEFORE, stamp, toPrune } from './names.js';
import { pgRestoreArgv } from './pg.js';
import type { PgHost } from './pghost.js';
import { createSql, dropSql, LIST_DATABASES, ownershipSql, roleExistsSql, swapSql } from './sql.js';
import { relay, type Proc } from './stream.js';

export interface LiveDb {
  pg: PgHost;
  /** The live database's name. */
  db: string;
  /** The role that must own everything in it (the env's `<project>_<env>`); none locally. */
  owner?: string;
  app?: AppControl;
  /** The environment (named in the way back after a failure); none locally. */
  env?: string;
}

/** Fills the new, empty database `incoming` from a custom-format dump; returns the bytes moved. */
export type Loader = (incoming: string, onBytes: (total: number) => void, signal: AbortSignal) => Promise<number>;

/** The dump `source` streams, relayed through ops into pg_restore on `pg` (and into the tees). */
export function relayInto(pg: PgHost, source: () => Promise<Proc>, tee: Proc[] = []): Loader {
  return async (incoming, onBytes, signal) => {
    const src = await source();
    const dst = await pg.start(pgRestoreArgv(incoming), 'pg_restore').catch((e: unknown) => {
      src.kill();
      throw e;
    });
    return relay(src, dst, { tee, onBytes, signal });
  };
}

export interface ReplaceOptions {
  load: Loader;
  /** What the progress line calls the stream. */
  label: string;
  encoding?: string;
  sanitize?: string;
  signal: AbortSignal;
  keep?: number;
  /** Files copied along (--with-media): prepared before the swap, swapped with the database. */
  side?: SideCopy;
  /** Last step before the swap (the before_db_swap hooks): a failure drops the new database. */
  beforeSwap?: () => Promise<void>;
}

export async function listDatabases(pg: PgHost): Promise<string[]> {
  return (await pg.sql(LIST_DATABASES)).map((r) => r[0] ?? '');
}

/** Names `<db>_incoming_*` left by runs that could not clean up, dropped before a new one starts. */
async function dropLeftovers(out: Output, live: LiveDb, names: string[]): Promise<void> {
  for (const n of incomingNames(live.db, names)) {
    out.warn(`${live.pg.name}: dropping ${n}, left by an earlier run that did not finish`);
    await live.pg.sql(dropSql(n));
  }
}

export async function replaceDatabase(out: Output, live: LiveDb, opts: ReplaceOptions): Promise<{ bytes: number; keptAs?: string }> {
  const ts = stamp();
  const incoming = incomingName(live.db, ts);
  const keepAs = beforeName(live.db, ts);
  const names = await listDatabases(live.pg);
  await dropLeftovers(out, live, names);
  if (live.owner && (await live.pg.sql(roleExistsSql(live.owner))).length === 0) {
    throw new OperationError(`${live.pg.name}: there is no PostgreSQL role ${live.owner}`, 'converge the db role first: ops deploy <env>');
  }
  const sanitize = opts.sanitize === undefined ? undefined : readFileSync(opts.sanitize, 'utf8');
  const exists = names.includes(live.db);

  out.info(`${live.pg.name}: restoring into ${incoming}`);
  await live.pg.sql(createSql(incoming, { owner: live.owner, encoding: opts.encoding }));
  let bytes = 0;
  try {
    const progress = new ByteProgress(out, opts.label);
    bytes = await opts.load(incoming, (n) => progress.update(n), opts.signal);
    out.info(`${opts.label}: ${progress.finish()}`);
    out.event('stream', { what: opts.label, bytes, seconds: progress.seconds });
    if (opts.signal.aborted) throw new Interrupted();
    if (sanitize !== undefined) {
      out.info(`${live.pg.name}: running ${opts.sanitize} on ${incoming}`);
      await live.pg.sql(sanitize, incoming).catch((e: unknown) => {
        throw new OperationError(`--sanitize ${opts.sanitize}: ${errorMessage(e)}`);
      });
    }
    if (live.owner) await live.pg.sql(ownershipSql(live.owner), incoming);
    await opts.side?.prepare(opts.signal);
    if (opts.signal.aborted) throw new Interrupted();
    await opts.beforeSwap?.();
    if (opts.signal.aborted) throw new Interrupted();
  } catch (e) {
    await opts.side?.discard();
    await discard(out, live, incoming);
    throw opts.signal.aborted ? new Interrupted() : e;
  }
  return { bytes, keptAs: await swapIn(out, live, incoming, exists ? keepAs : undefined, opts.keep, opts.side) };
}

async function discard(out: Output, live: LiveDb, incoming: string): Promise<void> {
  try {
    await live.pg.sql(dropSql(incoming));
    out.info(`${live.pg.name}: dropped ${incoming}; ${live.db} and the app were not touched`);
  } catch (e) {
    out.error(`${live.pg.name}: could not drop ${incoming} (${errorMessage(e)}); the next copy drops it, ${live.db} was not touched`);
  }
}

/**
 * Stops the app, renames (live → keepAs, incoming → live) in one transaction, prunes old copies,
 * migrates, starts the app and checks its health. A failed swap drops `incoming` and restarts the
 * app on the untouched live database.
 */
export async function swapIn(out: Output, live: LiveDb, incoming: string, keepAs: string | undefined, keep = KEEP_BEFORE, side?: SideCopy): Promise<string | undefined> {
  try {
    await live.app?.stop();
    await live.pg.sql(swapSql(live.db, incoming, keepAs));
  } catch (e) {
    await side?.discard();
    await discard(out, live, incoming);
    await restart(out, live);
    throw e;
  }
  out.info(`${live.pg.name}: ${live.db} is the new database${keepAs ? `; the previous one is kept as ${keepAs}` : ''}`);
  out.event('swapped', { host: live.pg.name, database: live.db, kept: keepAs ?? null });
  for (const old of toPrune(live.db, await listDatabases(live.pg), keep)) {
    await live.pg.sql(dropSql(old));
    out.info(`${live.pg.name}: dropped ${old} (keeping the newest ${keep})`);
  }
  const undo = `the previous database is back with: ops db undo-copy ${live.env ?? '<env>'}`;
  let migrated: string | undefined;
  try {
    await side?.swap();
    migrated = await live.app?.migrate();
  } catch (e) {
    await restart(out, live);
    throw new OperationError(errorMessage(e), undo);
  }
  if (migrated) out.info(`${migrated}: done`);
  await restart(out, live);
  const health = await live.app?.health();
  if (health && !health.ok) throw new OperationError(`health check failed after the copy: ${health.detail}`, undo);
  if (health) out.info(`health check: ${health.detail}`);
  return keepAs;
}

async function restart(out: Output, live: LiveDb): Promise<void> {
  const failed = (await live.app?.start()) ?? [];
  for (const f of failed) out.error(f);
  if (failed.length > 0) throw new OperationError('the app did not start again', 'look at `systemctl status` on those hosts');
}
