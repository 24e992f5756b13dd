/**
 * The journal of an environment's hosts: journalctl's JSON output read over SSH (as root, through
 * sudo for an admin), one event per entry, merged in time order across hosts — or followed, each
 * host reconnecting after its cursor when its connection drops.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, UsageError } from '../errors.js';
import { renderCommand } from '../ssh/command.js';
import { mapLimit, type SshSession } from '../ssh/session.js';
import type { Target } from '../ssh/target.js';
import { LineSplitter } from '../ui/hosts.js';

export interface LogEntry {
  host: string;
  unit: string;
  /** microseconds since the epoch (the journal's own clock of the host) */
  micros: number;
  message: string;
  priority?: number;
}

export interface LogsRequest {
  /** Each host with the units to read there ([] = the whole journal). */
  hosts: { target: Target; units: string[] }[];
  follow: boolean;
  /** journalctl --since value (already checked by `sinceArg`) */
  since?: string;
  grep?: string;
  /** entries per host before following (or in all) */
  lines: number;
}

/** `--since`: a span back from now (30min, 2h, 1d, 1w) or a date/time journalctl reads. */
export function sinceArg(v: string): string {
  if (/^[1-9][0-9]{0,5}(?:s|min|h|d|w)$/.test(v)) return `-${v}`;
  if (/^(?:today|yesterday|\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?)$/.test(v)) return v.replace('T', ' ');
  throw new UsageError(`--since takes a span back from now (30min, 2h, 1d, 1w) or a date (2026-12-01, '2026-12-01 14:00'), got '${v}'`);
}

/** The journalctl command line for one host; every value is one word after its option's `=`. */
export function journalArgv(units: readonly string[], req: Pick<LogsRequest, 'follow' | 'since' | 'grep' | 'lines'>, cursor?: string): string[] {
  const argv = ['journalctl', '--no-pager', '--quiet', '--output=json', '--output-fields=MESSAGE,_SYSTEMD_UNIT,UNIT,SYSLOG_IDENTIFIER,PRIORITY'];
  for (const u of units) argv.push(`--unit=${u}`);
  if (cursor) argv.push(`--after-cursor=${cursor}`);
  else {
    if (req.since) argv.push(`--since=${req.since}`);
    argv.push(`--lines=${req.lines}`);
  }
  if (req.grep !== undefined) argv.push(`--grep=${req.grep}`);
  if (req.follow) argv.push('--follow');
  return argv;
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return Buffer.from(v as number[]).toString('utf8');
  return v === undefined || v === null ? '' : String(v);
}

/** One line of journalctl's JSON output, or undefined when it is not one. */
export function parseEntry(host: string, line: string): { entry: LogEntry; cursor: string } | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const micros = Number(o.__REALTIME_TIMESTAMP);
  if (!Number.isFinite(micros)) return undefined;
  // systemd's own lines about a unit (Started …, Stopped …) come from init.scope and name the unit in UNIT
  const own = text(o._SYSTEMD_UNIT);
  const unit = (own === 'init.scope' && text(o.UNIT)) || own || text(o.SYSLOG_IDENTIFIER) || 'kernel';
  const priority = o.PRIORITY === undefined ? undefined : Number(text(o.PRIORITY));
  return { entry: { host, unit, micros, message: text(o.MESSAGE), priority }, cursor: text(o.__CURSOR) };
}

/** journalctl's refusal of a unit pattern that matches nothing in this host's journal. */
function nothingHere(err: string): boolean {
  return /Failed to add filter for units: No data available/.test(err);
}

export interface LogsOutcome {
  /** hosts that could not be read, with why */
  failed: { host: string; error: string }[];
}

/**
 * Reads the journals: without `follow`, every host's last entries, merged in time order, then
 * returns; with it, entries as they come until `signal` aborts, a host whose connection drops
 * reconnecting (after 2 s, then every 5 s) and going on after the last entry it showed.
 */
export async function readLogs(session: SshSession, req: LogsRequest, emit: (e: LogEntry) => void, signal: AbortSignal, note: (host: string, message: string) => void): Promise<LogsOutcome> {
  const failed: { host: string; error: string }[] = [];
  const command = (t: Target, units: string[], cursor?: string) => renderCommand({ argv: journalArgv(units, req, cursor) }, { sudo: true }, { loginUser: t.user });
  if (!req.follow) {
    const all: LogEntry[] = [];
    await mapLimit(req.hosts, 32, async ({ target, units }) => {
      try {
        const conn = await session.connect(target);
        let err = '';
        const split = new LineSplitter((l) => {
          const p = parseEntry(target.name, l);
          if (p) all.push(p.entry);
        });
        const r = await conn.exec(command(target, units), { onStdout: (b) => split.push(b), onStderr: (b) => (err += b.toString('utf8')) });
        // journalctl exits 1 when --grep matched nothing, or no unit of a pattern has entries here
        if (r.code !== 0 && !nothingHere(err) && !(r.code === 1 && req.grep !== undefined && err.trim() === '')) failed.push({ host: target.name, error: err.trim().split('\n').slice(-2).join(' ') || `journalctl exited ${r.code ?? r.signal}` });
      } catch (e) {
        failed.push({ host: target.name, error: errorMessage(e) });
      }
    });
    all.sort((a, b) => a.micros - b.micros || a.host.localeCompare(b.host));
    for (const e of all) emit(e);
    return { failed };
  }
  await Promise.all(
    req.hosts.map(async ({ target, units }) => {
      let cursor: string | undefined;
      let lost = false;
      while (!signal.aborted) {
        try {
          const conn = await session.connect(target);
          if (lost) note(target.name, 'connected again');
          lost = false;
          const split = new LineSplitter((l) => {
            const p = parseEntry(target.name, l);
            if (!p) return;
            cursor = p.cursor || cursor;
            emit(p.entry);
          });
          let err = '';
          const r = await conn.exec(command(target, units, cursor), { onStdout: (b) => split.push(b), onStderr: (b) => (err += b.toString('utf8')) });
          if (signal.aborted) break;
          if (nothingHere(err)) {
            // no entries of these units here yet: look again in a while (a process may start)
            await sleep(5000, undefined, { signal }).catch(() => undefined);
            continue;
          }
          if (r.code !== null && r.code !== 0 && err.trim() !== '') {
            failed.push({ host: target.name, error: err.trim().split('\n').slice(-2).join(' ') });
            return;
          }
          throw new Error('the connection ended');
        } catch (e) {
          if (signal.aborted) break;
          if (!lost) note(target.name, `${errorMessage(e)}; reconnecting`);
          const wait = lost ? 5000 : 2000;
          lost = true;
          await sleep(wait, undefined, { signal }).catch(() => undefined);
        }
      }
    }),
  );
  return { failed };
}
