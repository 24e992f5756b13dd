/**
 * The task API: what a file in an ops repo's `tasks/` folder exports and what its `run` function
 * gets. These declarations are shipped as `types/ops.d.ts` (a task imports them as `ops`) and the
 * implementation in src/tasks/ is checked against them, so the two cannot drift apart.
 */
import type { Readable, Writable } from 'node:stream';

/** A positional argument of a task, in order. */
export interface TaskArg {
  name: string;
  description?: string;
  /** Without a value on the command line (and no default), the task does not run: exit 2 with its usage. */
  required?: boolean;
  default?: string;
  /** Takes every remaining word (last argument only). */
  variadic?: boolean;
  choices?: readonly string[];
}

/** An option of a task: `--<name> VALUE` (or a flag for booleans). */
export interface TaskOption {
  type: 'string' | 'number' | 'boolean';
  description?: string;
  default?: string | number | boolean;
  /** One letter: `-x`. */
  short?: string;
  choices?: readonly string[];
  required?: boolean;
}

export type ArgValues = Readonly<Record<string, string | string[] | undefined>>;
export type OptionValues = Readonly<Record<string, string | number | boolean | undefined>>;

export interface TaskDefinition {
  /** What `ops task NAME` calls it: lower-case letters, digits and dashes; not a built-in command. */
  name: string;
  /** One line, shown by `ops task`. */
  description: string;
  args?: readonly TaskArg[];
  options?: Readonly<Record<string, TaskOption>>;
  /**
   * Secret names (as `ops decrypt` knows them) the task reads with `t.secret()`. A task that
   * declares any runs on the environment's master, where the key is; its output streams back.
   */
  secrets?: readonly string[];
  /** The task's work. A number is its exit code; throwing fails it (exit 1; a usage error exits 2). */
  run(t: TaskContext): Promise<void | number> | void | number;
}

export interface RunOptions {
  /** Throw when the command exits non-zero (default true); with false, look at `code`. */
  check?: boolean;
  /** Do not print the command's output (it is still returned). */
  quiet?: boolean;
  /** Bytes for the command's stdin. */
  stdin?: string | Buffer | Readable;
  /** Send the command's stdout here (raw bytes, not printed, not kept) — e.g. a dump to a file. */
  stdout?: Writable;
}

export interface RunResult {
  code: number;
  ok: boolean;
  /** What the command printed (empty when `stdout` was a stream). */
  stdout: string;
  stderr: string;
}

export interface PutOptions {
  /** File mode of the written file (default 0644). */
  mode?: number;
  /** Write it as root (through a private temporary file and `install`), owned by this user. */
  owner?: string;
}

/** One host of the environment, reached over SSH with the repo's pinned host keys. */
export interface TaskHost {
  readonly name: string;
  readonly address: string;
  readonly roles: readonly string[];
  /** A command line through the login shell (a string), or argv words each quoted (an array). */
  run(command: string | readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** The same, as root. */
  sudo(command: string | readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** The app's management command (Django's manage.py, or app.manage_command) as the app user. */
  manage(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Writes a file on the host over SFTP. */
  put(source: string | Buffer | Readable, remotePath: string, opts?: PutOptions): Promise<void>;
  /** Reads a file of the host over SFTP into a local path or a stream; returns its size in bytes. */
  get(remotePath: string, dest: string | Writable): Promise<number>;
  /** A line of output prefixed with this host's name. */
  log(message: string): void;
}

export interface HostSelection {
  role?: string;
  host?: string;
}

/** What a task's `run` gets. */
export interface TaskContext {
  readonly env: string;
  readonly project: string;
  /** Where the task runs: on the operator's machine, or on the master (a task that declares secrets). */
  readonly where: 'operator' | 'master';
  /** The environment's pillar without its secrets (encrypted values read `<encrypted>`). */
  readonly pillar: Readonly<Record<string, unknown>>;
  readonly args: ArgValues;
  readonly options: OptionValues;
  /** --yes was given. */
  readonly yes: boolean;
  /** Set when the task runs as a hook (`hooks:` in the pillar): the point of the deploy or copy. */
  readonly hook?: { readonly point: string };
  /** The environment's hosts: all, or by role or name; `--role`/`--host` of the command line narrow it first. */
  hosts(selection?: HostSelection): TaskHost[];
  /** Runs `fn` on each host, at most `parallel` at once (default --parallel, 32); every host runs even when one fails. */
  each<R>(hosts: readonly TaskHost[], fn: (host: TaskHost) => Promise<R>, opts?: { parallel?: number }): Promise<R[]>;
  /** Asks yes/no on the terminal; --yes answers yes; without a terminal and --yes it stops (exit 2). */
  confirm(question: string): Promise<void>;
  /** A declared secret's value (only on the master; never printed: output is redacted). */
  secret(name: string): string;
  /** zx's `$` for commands on this machine (interpolated values are quoted by zx). */
  readonly $: typeof import('zx').$;
  /** The one shell quoting function of ops: a word for a POSIX shell. */
  quote(word: string): string;
  info(message: string): void;
  warn(message: string): void;
  /** The task's result text (stdout; stderr with --json). */
  result(message: string): void;
  /**
   * An event of the task's own: with --json, `{"type":"task_event","task","name","data"}`
   * (never one of ops's own types).
   */
  event(name: string, data?: Record<string, unknown>): void;
}
