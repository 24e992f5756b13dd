/**
 * PostgreSQL client programs as argv data: run as the `postgres` superuser on the db host
 * (peer authentication, no password anywhere), or as the operator locally.
 */
import { UsageError } from '../errors.js';

/** Compression: a pg_dump level 0–9, or undefined for pg_dump's own default. */
export type Level = number | undefined;

/** `pg_dump` in custom format to stdout. */
export function pgDumpArgv(db: string, level: Level): string[] {
  return ['pg_dump', '-Fc', ...(level === undefined ? [] : [`-Z${level}`]), '--no-password', '-d', db];
}

/**
 * `pg_restore` from stdin into an existing (new, empty) database. Owners and grants of the source
 * are left out: the target's role gets everything afterwards (ownershipSql). Stops at the first
 * error, so a broken stream fails the copy instead of leaving a partial database that looks fine.
 */
export function pgRestoreArgv(db: string): string[] {
  return ['pg_restore', '--no-owner', '--no-privileges', '--exit-on-error', '--no-password', '-d', db];
}

/** psql reading SQL from stdin, stopping at the first error, printing bare rows. */
export function psqlArgv(db = 'postgres', file?: string): string[] {
  return ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', '-F', '\t', '--no-password', '-d', db, ...(file ? ['-f', file] : [])];
}

/** Parses `--compress`: auto (measure the link), or a level 0–9. */
export function parseCompress(value: unknown): 'auto' | number {
  if (value === undefined || value === 'auto') return 'auto';
  const s = String(value);
  if (/^[0-9]$/.test(s)) return Number(s);
  throw new UsageError(`--compress takes auto or a level from 0 to 9, got '${s}'`);
}

/**
 * The level for a link of `mbPerSec` (the slower of the legs the dump crosses). pg_dump's default
 * (zlib 6) produces roughly 20–40 MB/s of input per core on mixed data, and level 1 several times
 * that: on a link faster than what compression keeps up with, compressing only costs time.
 */
export function levelForLink(mbPerSec: number): Level {
  if (mbPerSec >= 80) return 0;
  if (mbPerSec >= 15) return 1;
  return undefined;
}
