/**
 * The byte pipes of database operations. A `Proc` is one end: a remote command (its SSH channel),
 * a local process, or a file. `relay` pipes one's output into another's input with backpressure
 * (a slow reader slows the writer; the dump is never held in memory), counting bytes, and fails
 * as soon as either end does — killing the other, so nothing waits on a dead peer.
 */
import { createReadStream, createWriteStream, renameSync, rmSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { outputTail, startLocal } from '../util/proc.js';
import { OperationError } from '../errors.js';
import type { Connection } from '../ssh/connection.js';

export interface Proc {
  /** Where messages name it, e.g. `pg_dump on production-2`. */
  readonly what: string;
  readonly stdout?: Readable;
  readonly stdin?: Writable;
  /** Exit status 0, or rejected with what went wrong (with the end of its stderr). */
  readonly done: Promise<void>;
  /** Stops it now (its `done` then rejects unless it had already finished). */
  kill(): void;
}

const TAIL = 2000;

function tailOf(s: string): string {
  const t = outputTail({ stderr: s });
  return t === '' ? '' : `: ${t}`;
}

export interface RemoteProcOptions {
  /** Sees each line of stderr (split on CR and LF); true keeps it out of the error message. */
  onStderrLine?: (line: string) => boolean;
  /** The error for a non-zero exit, given the end of stderr (default: `what failed (exit N): …`). */
  failure?: (code: number | null, signal: string | undefined, stderrTail: string) => Error;
}

/** A remote command line, started on `conn`. */
export async function remoteProc(conn: Connection, line: string, what: string, opts: RemoteProcOptions = {}): Promise<Proc> {
  const { channel, done } = await conn.start(line);
  let err = '';
  let partial = '';
  // a window of whole lines, several times what is shown: redacted whole, then cut (redactor.tail)
  const keep = (text: string) => {
    err += text;
    if (err.length > 8 * TAIL) err = err.slice(err.indexOf('\n', err.length - 4 * TAIL) + 1);
  };
  channel.stderr.on('data', (b: Buffer) => {
    const see = opts.onStderrLine;
    if (!see) return keep(b.toString('utf8'));
    const lines = (partial + b.toString('utf8')).split(/[\r\n]/);
    partial = lines.pop() ?? '';
    for (const l of lines) if (l !== '' && !see(l)) keep(`${l}\n`);
  });
  let killed = false;
  const finished = done.then(
    (r) => {
      if (partial !== '' && !opts.onStderrLine?.(partial)) keep(partial);
      if (killed) throw new OperationError(`${what}: stopped`);
      if (r.code !== 0) {
        if (opts.failure) throw opts.failure(r.code, r.signal, tailOf(err).replace(/^: /, ''));
        throw new OperationError(`${what} failed (${r.code === null ? `signal ${r.signal ?? 'unknown'}` : `exit ${r.code}`})${tailOf(err)}`);
      }
    },
    (e: Error) => {
      throw new OperationError(`${what}: ${e.message}`);
    },
  );
  finished.catch(() => undefined);
  return {
    what,
    stdout: channel,
    stdin: channel,
    done: finished,
    kill() {
      killed = true;
      // A signal for the remote process where sshd honours it, and the channel closed either way.
      try {
        channel.signal('KILL');
      } catch {
        // not supported by every server
      }
      channel.destroy();
    },
  };
}

/** A local process (argv, no shell). */
export function localProc(argv: readonly string[], what: string, opts: { stdout?: boolean } = {}): Proc {
  const [cmd = '', ...args] = argv;
  const child = startLocal(cmd, args, opts);
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString('utf8');
    if (err.length > 8 * TAIL) err = err.slice(err.indexOf('\n', err.length - 4 * TAIL) + 1);
  });
  let killed = false;
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (e) => reject(new OperationError(`${what}: cannot start ${cmd}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (killed) reject(new OperationError(`${what}: stopped`));
      else if (code !== 0) reject(new OperationError(`${what} failed (${code === null ? `signal ${signal}` : `exit ${code}`})${tailOf(err)}`));
      else resolve();
    });
  });
  done.catch(() => undefined);
  child.stdin?.on('error', () => undefined); // EPIPE when it exits early: reported through `done`
  return {
    what,
    stdout: child.stdout ?? undefined,
    stdin: child.stdin ?? undefined,
    done,
    kill() {
      killed = true;
      child.kill('SIGKILL');
    },
  };
}

/** A file read from the start. */
export function fileSource(path: string): Proc {
  const stream = createReadStream(path);
  const done = new Promise<void>((resolve, reject) => {
    stream.on('end', () => resolve());
    stream.on('error', (e) => reject(new OperationError(`cannot read ${path}: ${e.message}`)));
    stream.on('close', () => reject(new OperationError(`reading ${path}: stopped`)));
  });
  done.catch(() => undefined);
  return { what: `reading ${path}`, stdout: stream, done, kill: () => stream.destroy() };
}

/**
 * A file written under a temporary name (mode 0600 from the start) that takes its real name only
 * by `commit()` after everything went well; `discard()` removes it.
 */
export interface FileSink extends Proc {
  commit(): void;
  discard(): void;
}

export function fileSink(path: string): FileSink {
  const tmp = `${path}.partial-${process.pid}`;
  const stream = createWriteStream(tmp, { mode: 0o600, flags: 'wx' });
  let killed = false;
  const done = new Promise<void>((resolve, reject) => {
    stream.on('finish', () => (killed ? reject(new OperationError(`writing ${path}: stopped`)) : resolve()));
    stream.on('error', (e) => reject(new OperationError(`cannot write ${tmp}: ${e.message}`)));
    stream.on('close', () => reject(new OperationError(`writing ${path}: stopped`)));
  });
  done.catch(() => undefined);
  return {
    what: `writing ${path}`,
    stdin: stream,
    done,
    kill() {
      killed = true;
      stream.destroy();
    },
    commit: () => renameSync(tmp, path),
    discard: () => rmSync(tmp, { force: true }),
  };
}

export interface RelayOptions {
  /** More ends that get the same bytes (e.g. --keep-dump). */
  tee?: Proc[];
  onBytes?: (total: number) => void;
  /** Aborts the relay (SIGINT): every end is killed. */
  signal?: AbortSignal;
}

/** Pipes `from` into `to` (and the tees) until both ends finish; returns the bytes relayed. */
export async function relay(from: Proc, to: Proc, opts: RelayOptions = {}): Promise<number> {
  const out = from.stdout;
  const sinks = [to, ...(opts.tee ?? [])];
  if (!out) throw new Error(`${from.what} has no output`);
  let total = 0;
  out.on('data', (b: Buffer) => {
    total += b.length;
    opts.onBytes?.(total);
  });
  // The source reads nothing; the sinks' own output (if any) is drained so they can finish.
  from.stdin?.end();
  // A sink may stop reading before the source has ended (tar -x stops at its end-of-archive
  // blocks, and its stdin is closed when it exits): the pipe then unpipes and pauses the source,
  // whose 'end' (and so an SSH channel's 'close', its `done`) would never come. When no sink
  // reads any more, what is left of the source is read and dropped.
  let piped = sinks.length;
  for (const s of sinks) {
    if (!s.stdin) throw new Error(`${s.what} takes no input`);
    s.stdin.on('error', () => undefined);
    s.stdin.once('unpipe', () => {
      if (--piped === 0) out.resume();
    });
    out.pipe(s.stdin);
    s.stdout?.resume();
  }
  const all = [from, ...sinks];
  const killAll = () => {
    for (const p of all) p.kill();
  };
  const onAbort = () => killAll();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) killAll(); // an interrupt while the ends were starting
  try {
    // The first end to fail stops the others; its error is the one reported.
    await new Promise<void>((resolve, reject) => {
      let left = all.length;
      let failed = false;
      for (const p of all) {
        p.done.then(
          () => {
            if (--left === 0 && !failed) resolve();
          },
          (e: unknown) => {
            if (failed) return;
            failed = true;
            killAll();
            reject(e);
          },
        );
      }
    });
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return total;
}
