/**
 * The one way ops runs a program on this machine (the lab's tools, git, tar, pg_restore, OpenSSH,
 * psql and tar of a database copy): argv, never a shell, on execa. A program that times out, is
 * killed by a signal or prints past the limit is named as such, with the end of its output in one
 * format; a program ops started for a command's work ends when ops ends (execa's cleanup). The
 * lab's machines and its apt proxy are started detached on purpose (they outlive the command that
 * starts them) and do not come through here.
 */
import { execa, type ResultPromise } from 'execa';
import { OperationError } from '../errors.js';
import { humanBytes } from '../ui/progress.js';
import { redactor } from '../ui/redact.js';

export interface LocalOptions {
  /** milliseconds; default 2 minutes (0: no limit) */
  timeoutMs?: number;
  input?: string | Buffer;
  /** the whole environment of the program (default: ops's own) */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** bytes of stdout and of stderr each kept at most; default 64 MiB */
  maxBytes?: number;
}

export interface LocalResult<T = string> {
  code: number;
  stdout: T;
  stderr: string;
}

const MiB = 1024 * 1024;

/**
 * The end of what a program said (stderr, else stdout) as every error quotes it: its last three
 * lines that are not empty, on one line (` | ` between them), redacted.
 */
export function outputTail(r: { stderr?: string; stdout?: unknown }): string {
  const text = (r.stderr ?? '').trim() || (typeof r.stdout === 'string' ? r.stdout.trim() : '');
  return redactor
    .tail(text, 2000)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-3)
    .join(' | ');
}

const withTail = (what: string, tail: string) => (tail ? `${what}: ${tail}` : what);

type Raw = { failed: boolean; exitCode?: number; signal?: string; timedOut: boolean; isMaxBuffer: boolean; code?: string; stdout: unknown; stderr: unknown; originalMessage?: string };

function judge<T>(cmd: string, opts: LocalOptions, r: Raw, stdout: T): LocalResult<T> {
  const stderr = typeof r.stderr === 'string' ? r.stderr : '';
  const tail = outputTail({ stderr });
  if (r.code !== undefined && r.exitCode === undefined && !r.timedOut) {
    const why = r.code === 'ENOENT' ? 'not installed (not found in PATH)' : (r.originalMessage ?? r.code);
    throw new OperationError(`cannot run ${cmd}: ${why}`);
  }
  if (r.timedOut) throw new OperationError(withTail(`${cmd} did not finish within ${Number(((opts.timeoutMs ?? 120_000) / 1000).toFixed(1))} s and was stopped`, tail));
  if (r.isMaxBuffer) throw new OperationError(`${cmd} printed more than ${humanBytes(opts.maxBytes ?? 64 * MiB)} and was stopped`);
  if (r.signal !== undefined) throw new OperationError(withTail(`${cmd} was killed by ${r.signal}`, tail));
  return { code: r.exitCode ?? 0, stdout, stderr };
}

function start(cmd: string, args: readonly string[], opts: LocalOptions, encoding: 'utf8' | 'buffer'): ResultPromise<{ reject: false }> {
  return execa(cmd, [...args], {
    reject: false,
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: opts.maxBytes ?? 64 * MiB,
    input: opts.input,
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    extendEnv: false,
    stripFinalNewline: false,
    encoding,
  }) as ResultPromise<{ reject: false }>;
}

/**
 * Runs a program to its end; its exit code is the caller's to judge. An OperationError when it
 * could not run to its end: not started, timed out, killed by a signal, printed past the limit.
 */
export async function runLocal(cmd: string, args: readonly string[], opts: LocalOptions = {}): Promise<LocalResult> {
  const r = (await start(cmd, args, opts, 'utf8')) as unknown as Raw;
  return judge(cmd, opts, r, typeof r.stdout === 'string' ? r.stdout : '');
}

/** `runLocal` with stdout as bytes (an archive). */
export async function runLocalBytes(cmd: string, args: readonly string[], opts: LocalOptions = {}): Promise<LocalResult<Buffer>> {
  const r = (await start(cmd, args, opts, 'buffer')) as unknown as Raw;
  const stderr = r.stderr instanceof Uint8Array ? Buffer.from(r.stderr).toString('utf8') : '';
  return judge(cmd, opts, { ...r, stderr }, r.stdout instanceof Uint8Array ? Buffer.from(r.stdout) : Buffer.alloc(0));
}

/** A command line as errors name it (never a secret: ops puts none in argv), cut at 200 characters. */
function named(cmd: string, args: readonly string[]): string {
  const line = [cmd, ...args].join(' ');
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

function failedText(cmd: string, args: readonly string[], r: LocalResult<unknown>): string {
  return withTail(`${named(cmd, args)} failed (exit ${r.code})`, outputTail(r));
}

/** `runLocal`, and an exit code other than 0 is an OperationError with the end of its output. */
export async function runLocalOk(cmd: string, args: readonly string[], opts: LocalOptions = {}): Promise<string> {
  const r = await runLocal(cmd, args, opts);
  if (r.code !== 0) throw new OperationError(failedText(cmd, args, r));
  return r.stdout;
}

/** `runLocalOk` with stdout as bytes. */
/**
 * A program whose stdin and stdout are streams of ops's (a copy's local psql or tar): nothing is
 * kept in memory, no time limit; stderr is the caller's to read. The child process itself.
 */
export function startLocal(cmd: string, args: readonly string[], opts: { stdout?: boolean } = {}) {
  return execa(cmd, [...args], { reject: false, buffer: false, stdin: 'pipe', stdout: opts.stdout === false ? 'ignore' : 'pipe', stderr: 'pipe' });
}

/**
 * A program that takes over the terminal (OpenSSH's shell): stdin, stdout and stderr are ops's,
 * no time limit. Its exit code; 130 when Ctrl-C ended it; an OperationError when it cannot start.
 */
export async function runInteractive(cmd: string, args: readonly string[]): Promise<number> {
  const r = (await execa(cmd, [...args], { reject: false, stdio: 'inherit' })) as unknown as Raw;
  if (r.code !== undefined && r.exitCode === undefined) throw new OperationError(`cannot run ${cmd}: ${r.code === 'ENOENT' ? 'not installed (not found in PATH)' : (r.originalMessage ?? r.code)}`);
  return r.exitCode ?? (r.signal === 'SIGINT' ? 130 : 1);
}

export async function runLocalBytesOk(cmd: string, args: readonly string[], opts: LocalOptions = {}): Promise<Buffer> {
  const r = await runLocalBytes(cmd, args, opts);
  if (r.code !== 0) throw new OperationError(failedText(cmd, args, r));
  return r.stdout;
}
