/**
 * Reading from the operator: hidden input, confirmations, stdin. Without a terminal nothing
 * waits for input; the error names the flag or variable that answers instead.
 */
import { OperationError, OpsError, UsageError } from '../errors.js';

export function isInteractive(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

export class Interrupted extends OpsError {
  constructor() {
    super('interrupted', 130);
  }
}

/** Reads a line from the terminal without echoing it. */
export function readHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.reject(new UsageError('no terminal to ask on'));
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = '';
    const wasRaw = stdin.isRaw;
    stdin.setRawMode(true);
    stdin.resume();
    const done = (err?: Error) => {
      stdin.setRawMode(wasRaw);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new Interrupted());
        if (ch === '\u0004') return done();
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** Everything on stdin (when it is not a terminal). */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

/** Reads one line from the terminal (echoed). */
export function readLine(question: string): Promise<string> {
  process.stderr.write(question);
  return new Promise((resolve) => {
    let buf = '';
    const onData = (b: Buffer) => {
      buf += b.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        process.stdin.removeListener('data', onData);
        process.stdin.pause();
        resolve(buf.slice(0, nl).replace(/\r$/, ''));
      }
    };
    process.stdin.resume();
    process.stdin.on('data', onData);
  });
}

/**
 * Asks a yes/no question. `--yes` answers it; without a terminal it is an error naming `flag`.
 * A "no" is a declined operation (exit 1).
 */
export async function confirm(question: string, opts: { yes?: boolean; flag?: string }): Promise<void> {
  if (opts.yes) return;
  const flag = opts.flag ?? '--yes';
  if (!isInteractive()) throw new UsageError(`${question.replace(/\?$/, '')}: no terminal to ask on`, `pass ${flag} to answer yes`);
  const answer = (await readLine(`${question} [y/N] `)).trim().toLowerCase();
  if (answer !== 'y' && answer !== 'yes') throw new OperationError('declined');
}

/** A passphrase from OPS_KEY_PASSPHRASE, else asked on the terminal, else undefined. */
export async function keyPassphrase(what: string): Promise<string | undefined> {
  const env = process.env.OPS_KEY_PASSPHRASE;
  if (env !== undefined) return env;
  if (!isInteractive()) return undefined;
  return readHidden(`passphrase for ${what}: `);
}
