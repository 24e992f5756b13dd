/**
 * `ops run`: one command line on many hosts in parallel, streamed with host prefixes, with a
 * per-host result. A host that fails (refused, unreachable, dies mid-command) never stops the
 * others.
 */
import type { Readable } from 'node:stream';
import { errorMessage, OpsError, UsageError } from '../errors.js';
import type { HostPrinter, HostResult } from '../ui/hosts.js';
import { isInteractive, readHidden } from '../ui/prompt.js';
import { redactor } from '../ui/redact.js';
import { renderCommand } from './command.js';
import { HostKeyError, type Connection } from './connection.js';
import { mapLimit, type SshSession } from './session.js';
import type { Target } from './target.js';

export interface AdhocOptions {
  line: string;
  sudo: boolean;
  parallel: number;
  /** Forwarded to the command's stdin (one host only, as ssh does). */
  stdin?: Readable;
}

function failure(host: string, started: number, e: unknown): HostResult {
  const refused = e instanceof HostKeyError;
  return {
    host,
    status: refused ? 'failed' : 'unreachable',
    durationMs: Date.now() - started,
    error: errorMessage(e),
    hint: e instanceof OpsError ? e.hint : undefined,
  };
}

/** Whether sudo on this connection needs a password (checked without ever prompting remotely). */
async function sudoNeedsPassword(conn: Connection): Promise<boolean> {
  let err = '';
  const r = await conn.exec('sudo -n true', { onStderr: (b) => (err += b.toString()) });
  if (r.code === 0) return false;
  if (/password is required/i.test(err)) return true;
  throw new UsageError(`${conn.target.name}: sudo is not usable for ${conn.target.user}: ${err.trim() || `exit ${r.code}`}`);
}

export async function runAdhoc(targets: readonly Target[], session: SshSession, printer: HostPrinter, opts: AdhocOptions): Promise<HostResult[]> {
  let password: Promise<string> | undefined;
  const askPassword = (): Promise<string> => {
    password ??= (async () => {
      if (!isInteractive()) throw new UsageError('sudo needs a password and there is no terminal to ask on', 'allow passwordless sudo for this user, or run in a terminal');
      const p = await readHidden('sudo password (asked once, sent on stdin only): ');
      redactor.add(p);
      return p;
    })();
    return password;
  };
  return mapLimit(targets, opts.parallel, async (t) => {
    const started = Date.now();
    printer.start(t.name);
    let conn: Connection;
    try {
      conn = await session.connect(t);
    } catch (e) {
      const r = failure(t.name, started, e);
      printer.done(r);
      return r;
    }
    try {
      let stdin: string | Readable | undefined = opts.stdin;
      const useSudo = opts.sudo && t.user !== 'root';
      let sudoPassword = false;
      if (useSudo && (await sudoNeedsPassword(conn))) {
        stdin = `${await askPassword()}\n`;
        sudoPassword = true;
      }
      const command = renderCommand({ line: opts.line }, { sudo: opts.sudo }, { loginUser: t.user, sudoPassword });
      const res = await conn.exec(command, { stdin, onStdout: printer.sink(t.name, 'stdout'), onStderr: printer.sink(t.name, 'stderr') });
      const result: HostResult = {
        host: t.name,
        status: res.code === 0 ? 'ok' : 'failed',
        exitCode: res.code,
        signal: res.signal,
        durationMs: Date.now() - started,
        error: res.code === null && res.signal ? `killed by signal ${res.signal}` : undefined,
      };
      printer.done(result);
      return result;
    } catch (e) {
      if (e instanceof UsageError) throw e;
      const r = failure(t.name, started, e);
      printer.done(r);
      return r;
    }
  });
}
