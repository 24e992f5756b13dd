/**
 * The context a task's `run` gets, built on the same core the built-in commands use: targets
 * chosen from the inventory, one SSH session (pinned host keys), ops's quoting, the management
 * command line, the prompt rules, and output that is host-prefixed, redacted and NDJSON with --json.
 */
import type { EmitEvent } from '../ui/events.js';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, renameSync, rmSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorMessage, OperationError, UsageError } from '../errors.js';
import { manageLine } from '../release/manage.js';
import { renderCommand } from '../ssh/command.js';
import type { Connection } from '../ssh/connection.js';
import { quote, shellLine } from '../ssh/quote.js';
import { mapLimit, type SshSession } from '../ssh/session.js';
import type { Target } from '../ssh/target.js';
import { confirm } from '../ui/prompt.js';
import { redactor } from '../ui/redact.js';
import type { ArgValues, HostSelection, OptionValues, PutOptions, RunOptions, RunResult, TaskContext, TaskHost } from './types.js';

/** Where a task's words go: the operator's terminal, or NDJSON events relayed from the master. */
export interface TaskIO {
  info(message: string): void;
  warn(message: string): void;
  result(message: string): void;
  event: EmitEvent;
  /** Bytes a host's command printed. */
  output(host: string, stream: 'stdout' | 'stderr', chunk: Buffer): void;
  /** End of a command's output on a host (a last line without a newline is printed). */
  flush(host: string): void;
}

export interface TaskHostInfo {
  target: Target;
  roles: readonly string[];
}

export interface TaskRuntime {
  env: string;
  project: string;
  manageCommand: string;
  where: 'operator' | 'master';
  pillar: Readonly<Record<string, unknown>>;
  /** The hosts the task may reach (already narrowed by --role/--host). */
  hosts: readonly TaskHostInfo[];
  session: SshSession;
  io: TaskIO;
  yes: boolean;
  parallel: number;
  args: ArgValues;
  options: OptionValues;
  /** Declared secret names, and their values where the task runs on the master. */
  declared: readonly string[];
  secrets: ReadonlyMap<string, string>;
  $: TaskContext['$'];
  hook?: { point: string };
}

/** A command of a task that exited non-zero (with `check`, the default). */
export class TaskCommandError extends OperationError {}

function commandText(command: string | readonly string[]): string {
  return typeof command === 'string' ? command : shellLine(command);
}

function short(line: string): string {
  const one = line.replace(/\s+/g, ' ').trim();
  return one.length > 80 ? `${one.slice(0, 77)}...` : one;
}

class Host implements TaskHost {
  readonly name: string;
  readonly address: string;
  readonly roles: readonly string[];

  constructor(
    private readonly rt: TaskRuntime,
    private readonly info: TaskHostInfo,
  ) {
    this.name = info.target.name;
    this.address = info.target.address;
    this.roles = info.roles;
  }

  private connect(): Promise<Connection> {
    return this.rt.session.connect(this.info.target);
  }

  private async exec(line: string, shown: string, opts: RunOptions = {}): Promise<RunResult> {
    const conn = await this.connect();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const sink = opts.stdout;
    let sinkError: unknown;
    const { channel, done } = await conn.start(line);
    if (sink) {
      // Backpressure end to end (a dump to a slow disk is not held in memory); a failing file stops the command.
      sink.once('error', (e) => {
        sinkError = e;
        channel.destroy();
      });
      channel.pipe(sink, { end: false });
    } else {
      channel.on('data', (b: Buffer) => {
        out.push(b);
        if (!opts.quiet) this.rt.io.output(this.name, 'stdout', b);
      });
    }
    channel.stderr.on('data', (b: Buffer) => {
      err.push(b);
      if (!opts.quiet) this.rt.io.output(this.name, 'stderr', b);
    });
    const stdin = opts.stdin;
    if (stdin === undefined) channel.end();
    else if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) channel.end(stdin);
    else {
      stdin.pipe(channel);
      channel.once('close', () => stdin.unpipe(channel));
    }
    const r = await done;
    this.rt.io.flush(this.name);
    if (sink) {
      channel.unpipe(sink);
      if (!sinkError) {
        await new Promise<void>((resolve) => {
          sink.once('finish', () => resolve());
          sink.once('error', (e) => {
            sinkError = e;
            resolve();
          });
          sink.end();
        });
      }
      if (sinkError) throw new OperationError(`${this.name}: writing the output of \`${short(shown)}\` failed: ${errorMessage(sinkError)}`);
    }
    const code = r.code ?? 255;
    const result: RunResult = { code, ok: code === 0, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
    if (code !== 0 && opts.check !== false) {
      const tail = redactor.tail(result.stderr.trim(), 600);
      throw new TaskCommandError(`${this.name}: \`${short(shown)}\` exited ${r.code ?? `on signal ${r.signal ?? '?'}`}${tail && opts.quiet ? `: ${tail}` : ''}`);
    }
    return result;
  }

  async run(command: string | readonly string[], opts?: RunOptions): Promise<RunResult> {
    const line = commandText(command);
    return this.exec(line, line, opts);
  }

  async sudo(command: string | readonly string[], opts?: RunOptions): Promise<RunResult> {
    const line = commandText(command);
    const conn = await this.connect();
    return this.exec(renderCommand({ line }, { sudo: true }, { loginUser: conn.user }), line, opts);
  }

  async manage(args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    const conn = await this.connect();
    const line = manageLine({ project: this.rt.project, manageCommand: this.rt.manageCommand }, args);
    return this.exec(renderCommand({ line }, { sudo: true }, { loginUser: conn.user }), `${this.rt.manageCommand} ${shellLine(args)}`, opts);
  }

  async put(source: string | Buffer | Readable, remotePath: string, opts: PutOptions = {}): Promise<void> {
    if (!remotePath.startsWith('/') || remotePath.endsWith('/')) throw new UsageError(`put: the remote path must be an absolute file path, got '${remotePath}'`);
    const mode = opts.mode ?? 0o644;
    const conn = await this.connect();
    const asRoot = opts.owner !== undefined || conn.user !== 'root';
    // Always through a temporary file, then one rename: a failure never leaves a half-written file
    // at the path (or a truncated old one), and the temporary file goes in every case.
    const dir = remotePath.slice(0, remotePath.lastIndexOf('/')) || '/';
    const staged = asRoot
      ? (await this.run(['mktemp', '/tmp/.ops-put.XXXXXXXX'], { quiet: true })).stdout.trim()
      : `${dir}/.ops-put.${randomBytes(6).toString('hex')}`;
    const sftp = await conn.sftp();
    const gone = () => new Promise<void>((resolve) => sftp.unlink(staged, () => resolve()));
    try {
      try {
        const input = typeof source === 'string' ? createReadStream(source) : Buffer.isBuffer(source) ? Readable.from([source]) : source;
        await pipeline(input, sftp.createWriteStream(staged, { mode: asRoot ? 0o600 : mode }));
        if (!asRoot) {
          await new Promise<void>((resolve, reject) => sftp.chmod(staged, mode, (e) => (e ? reject(e) : resolve())));
          await new Promise<void>((resolve, reject) => sftp.ext_openssh_rename(staged, remotePath, (e) => (e ? reject(e) : resolve())));
        }
      } catch (e) {
        await gone();
        throw new OperationError(`${this.name}: put ${remotePath} failed: ${errorMessage(e)}`);
      }
    } finally {
      sftp.end();
    }
    if (asRoot) {
      const owner = opts.owner ?? 'root';
      const next = `${remotePath}.ops-put.${randomBytes(6).toString('hex')}`;
      const octal = mode.toString(8).padStart(4, '0');
      const line = `set -e; g=$(id -gn -- ${quote(owner)}); install -o ${quote(owner)} -g "$g" -m ${octal} -- ${quote(staged)} ${quote(next)} && mv -f -T -- ${quote(next)} ${quote(remotePath)} || { rm -f -- ${quote(next)}; exit 1; }`;
      try {
        await this.sudo(line, { quiet: true });
      } finally {
        await this.sudo(['rm', '-f', '--', staged], { quiet: true, check: false });
      }
    }
  }

  async get(remotePath: string, dest: string | Writable): Promise<number> {
    const conn = await this.connect();
    const sftp = await conn.sftp();
    let bytes = 0;
    // A local file is complete or absent: written beside its name, renamed at the end.
    const partial = typeof dest === 'string' ? `${dest}.partial` : undefined;
    try {
      const input = sftp.createReadStream(remotePath);
      input.on('data', (b: Buffer) => (bytes += b.length));
      await pipeline(input, partial ? createWriteStream(partial, { mode: 0o600 }) : (dest as Writable));
      if (partial) renameSync(partial, dest as string);
    } catch (e) {
      if (partial) rmSync(partial, { force: true });
      throw new OperationError(`${this.name}: get ${remotePath} failed: ${errorMessage(e)}`);
    } finally {
      sftp.end();
    }
    return bytes;
  }

  log(message: string): void {
    this.rt.io.output(this.name, 'stderr', Buffer.from(`${message}\n`));
    this.rt.io.flush(this.name);
  }
}

export function taskContext(rt: TaskRuntime, task: string): TaskContext {
  const all = rt.hosts.map((h) => new Host(rt, h));
  return {
    env: rt.env,
    project: rt.project,
    where: rt.where,
    pillar: rt.pillar,
    args: rt.args,
    options: rt.options,
    yes: rt.yes,
    hook: rt.hook,
    hosts(sel: HostSelection = {}) {
      let chosen = all;
      if (sel.role !== undefined) chosen = chosen.filter((h) => h.roles.includes(sel.role as string));
      if (sel.host !== undefined) chosen = chosen.filter((h) => h.name === sel.host || h.address === sel.host);
      return chosen;
    },
    async each(hosts, fn, opts = {}) {
      const failed: string[] = [];
      const results = await mapLimit(hosts, opts.parallel ?? rt.parallel, async (h) => {
        try {
          return await fn(h);
        } catch (e) {
          failed.push(h.name);
          rt.io.event('host_done', { host: h.name, status: 'failed', error: errorMessage(e) });
          rt.io.output(h.name, 'stderr', Buffer.from(`error: ${errorMessage(e).replace(new RegExp(`^${h.name}: `), '')}\n`));
          rt.io.flush(h.name);
          return undefined;
        }
      });
      if (failed.length > 0) throw new OperationError(`failed on ${failed.length} of ${hosts.length} host(s): ${failed.join(', ')}`);
      return results as Awaited<ReturnType<typeof fn>>[];
    },
    confirm: (question) => confirm(question, { yes: rt.yes }),
    secret(name) {
      if (!rt.declared.includes(name)) throw new UsageError(`the task reads secret '${name}' but does not declare it`, `add it to the task's secrets: [...]`);
      const v = rt.secrets.get(name);
      if (v === undefined) throw new UsageError(`environment '${rt.env}' has no encrypted value '${name}'`);
      return v;
    },
    $: rt.$,
    quote,
    info: (m) => rt.io.info(m),
    warn: (m) => rt.io.warn(m),
    result: (m) => rt.io.result(m),
    // a task's own events are kept apart from ops's: one type, the task's name for it a field
    event: (name, data = {}) => rt.io.event('task_event', { task, name, data }),
  };
}
