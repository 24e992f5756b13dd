/**
 * Names of the databases a copy goes through: `<db>_incoming_<stamp>` while it is restored,
 * `<db>_before_<stamp>` for the one it replaced (the newest few are kept, for undo-copy).
 * PostgreSQL identifiers hold at most 63 bytes, so the names are checked up front.
 */
import { UsageError } from '../errors.js';

export const KEEP_BEFORE = 3;
const MAX_IDENTIFIER = 63;

/** UTC time as 20261122T130734 (sorts as text in time order). */
export function stamp(d: Date = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase();
}

function checked(name: string): string {
  if (Buffer.byteLength(name) > MAX_IDENTIFIER) {
    throw new UsageError(`database name '${name}' is longer than PostgreSQL's ${MAX_IDENTIFIER} bytes`, 'use a shorter project or environment name');
  }
  return name;
}

export function incomingName(db: string, ts: string): string {
  return checked(`${db}_incoming_${ts}`);
}

export function beforeName(db: string, ts: string): string {
  return checked(`${db}_before_${ts}`);
}

const kept = (db: string, kind: 'before' | 'incoming') => new RegExp(`^${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_${kind}_\\d{8}t\\d{6}$`);

/** The `<db>_before_*` names among `names`, newest first. */
export function beforeNames(db: string, names: readonly string[]): string[] {
  const re = kept(db, 'before');
  return names.filter((n) => re.test(n)).sort().reverse();
}

/** `<db>_incoming_*` names: restores that never finished (a run killed hard, a host that went away). */
export function incomingNames(db: string, names: readonly string[]): string[] {
  const re = kept(db, 'incoming');
  return names.filter((n) => re.test(n)).sort();
}

/** The `<db>_before_*` databases beyond the newest `keep`. */
export function toPrune(db: string, names: readonly string[], keep = KEEP_BEFORE): string[] {
  return beforeNames(db, names).slice(keep);
}
