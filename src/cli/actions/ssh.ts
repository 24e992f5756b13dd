/** What `ops run` and `ops ssh` do (loaded only when one of them runs). */
import { existsSync } from 'node:fs';
import { intOption, type Handler } from '../command.js';
import type { Context } from '../context.js';
import { errorMessage, UsageError } from '../../errors.js';
import { loadPillar, type LoadedPillar } from '../../pillar/load.js';
import { HostPrinter } from '../../ui/hosts.js';
import { runAdhoc } from '../../ssh/adhoc.js';
import { selectTargets } from '../../core/targets.js';
import { quote } from '../../ssh/quote.js';
import type { SshSession } from '../../ssh/session.js';
import { openSession as openCoreSession, operatorCredentials, type ConnectRequest } from '../../core/connect.js';
import { connectMaster } from '../../converge/master-conn.js';
import { knownHostsFiles, labKeyFile } from '../../repo.js';
import type { Target } from '../../ssh/target.js';

/**
 * Positional arguments before `--`, and the words after it (never taken as an environment).
 * Without `--`, every argument counts as positional.
 */
export function splitWords(args: readonly string[]): { before: string[]; words: string[]; dashed: boolean } {
  const raw = process.argv;
  const dd = raw.indexOf('--');
  if (dd < 0) return { before: [...args], words: [], dashed: false };
  const words = raw.slice(dd + 1);
  return { before: args.slice(0, Math.max(0, args.length - words.length)), words, dashed: true };
}

/** The connection flags of a command (-i, --connect-timeout, --accept-new) as the core takes them. */
export function connectRequest(ctx: Context, pillar: LoadedPillar, opts: Record<string, unknown>): ConnectRequest {
  const seconds = intOption(opts.connectTimeout, '--connect-timeout', 1, 600) ?? 10;
  return {
    repo: ctx.repo,
    identities: (opts.identity as string[] | undefined) ?? [],
    connectTimeoutMs: seconds * 1000,
    acceptNew: opts.acceptNew === true,
    lab: pillar.data.lab === true,
  };
}

export function openSession(ctx: Context, pillar: LoadedPillar, opts: Record<string, unknown>): SshSession {
  return openCoreSession(connectRequest(ctx, pillar, opts));
}

/** The master's connection for a command, with its flags; "bundle updated" is shown. */
export function connectMasterFor(ctx: Context, pillar: LoadedPillar, opts: Record<string, unknown>) {
  return connectMaster({ ...connectRequest(ctx, pillar, opts), pillar, user: opts.user as string | undefined, onInfo: (l) => ctx.out.info(l) });
}

export const run: Handler = async (ctx, args, opts) => {
  const split = splitWords(args);
  const { env, rest } = ctx.resolveEnv(split.before);
  if (split.dashed && rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}' before --`, 'usage: ops run [env] [--role R | --host H] -- <command line>');
  const line = (split.dashed ? split.words : rest).join(' ');
  if (line.trim() === '') throw new UsageError('no command given', "put the command after --, e.g. ops run lab -- 'uptime'");
  if (opts.role !== undefined && opts.host !== undefined) throw new UsageError('give --role or --host, not both');
  const pillar = loadPillar(ctx.repo, env);
  const targets = selectTargets(pillar, { role: opts.role as string | undefined, host: opts.host as string | undefined, user: opts.user as string | undefined });
  const parallel = intOption(opts.parallel, '--parallel', 1, 1000) ?? 32;
  const session = openSession(ctx, pillar, opts);
  const printer = new HostPrinter(ctx.out, targets.map((t) => t.name), opts.prefix !== false && targets.length > 1);
  const started = Date.now();
  const onInt = () => {
    void session.closeAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onInt);
  try {
    // With one host, stdin goes to the command, as with ssh (not from a terminal: nothing would end it).
    const forward = targets.length === 1 && !process.stdin.isTTY;
    const results = await runAdhoc(targets, session, printer, { line, sudo: opts.sudo === true, parallel, stdin: forward ? process.stdin : undefined });
    if (forward) process.stdin.destroy();
    if (targets.length > 1 || ctx.opts.json) printer.summary(results, Date.now() - started);
    const [only] = results;
    if (results.length === 1 && only) {
      if (only.exitCode !== undefined && only.exitCode !== null) return only.exitCode;
      return 1;
    }
    return results.every((r) => r.status === 'ok') ? 0 : 1;
  } finally {
    process.removeListener('SIGINT', onInt);
    await session.closeAll();
  }
};

function pickTarget(pillar: LoadedPillar, wanted: string, user: string | undefined): Target {
  const servers = pillar.data.servers;
  const byHost = Object.entries(servers).some(([n, s]) => n === wanted || s.address === wanted);
  const targets = byHost ? selectTargets(pillar, { host: wanted, user }) : selectTargets(pillar, { role: wanted, user });
  const [first] = targets;
  if (!first) throw new UsageError(`no host '${wanted}'`);
  return first;
}

function sshArgs(t: Target, files: string[], identities: string[]): string[] {
  const base = ['-o', `UserKnownHostsFile=${files.map((f) => f.replace(/ /g, '\\ ')).join(' ')}`, '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'StrictHostKeyChecking=yes'];
  for (const i of identities) base.push('-i', i);
  const out = [...base, '-p', String(t.port), '-l', t.user];
  if (t.via) {
    // OpenSSH expands %-tokens in a ProxyCommand and runs it through a shell: every word of ours is
    // quoted and its % doubled; %h and %p are the target's (checked) address and port.
    const jump = ['ssh', ...sshArgs(t.via, files, identities), '-W', '%h:%p', '--', t.via.address];
    out.push('-o', `ProxyCommand=${jump.map((w) => (w === '%h:%p' ? w : quote(w).replace(/%/g, '%%'))).join(' ')}`);
  }
  return out;
}

/** The OpenSSH argv for `target`: options, then `--`, then the (checked) address, then the command as one word. */
export function opensshArgv(target: Target, knownHosts: string[], identities: string[], extra: string[], command: string | undefined): string[] {
  return [...sshArgs(target, knownHosts, identities), ...extra, '--', target.address, ...(command !== undefined ? [command] : [])];
}

/** An interactive command refuses --json (exit 2), saying what gives events instead. */
export function notJson(ctx: Context, command: string, instead: string): void {
  if (ctx.opts.json) throw new UsageError(`ops ${command} is interactive: it has no --json output`, instead);
}

export const ssh: Handler = async (ctx, args, opts) => {
  notJson(ctx, 'ssh', "for a command's output as events: ops --json run ENV --host HOST -- COMMAND");
  const split = splitWords(args);
  const { env, rest } = ctx.resolveEnv(split.before);
  const wanted = rest[0];
  const words = split.dashed ? split.words : rest.slice(1);
  if (!wanted) throw new UsageError('which host? give a host name, address or role', 'e.g. ops ssh lab lab-1');
  const pillar = loadPillar(ctx.repo, env);
  const target = pickTarget(pillar, wanted, opts.user as string | undefined);
  return interactive(ctx, pillar, target, words.length > 0 ? words.join(' ') : undefined, opts);
};

/**
 * OpenSSH to `target` with the repo's pinned host keys (and the jump through the master when the
 * pillar says so): a login shell, or `command` in a terminal (PTY: window size, Ctrl-C, exit status).
 */
export async function interactive(ctx: Context, pillar: LoadedPillar, target: Target, command: string | undefined, opts: Record<string, unknown>): Promise<number> {
  const identities = [...((opts.identity as string[] | undefined) ?? [])];
  operatorCredentials(ctx.repo, identities); // validates -i files (exit 2 on an unreadable one)
  const labKey = labKeyFile(ctx.repo);
  if (pillar.data.lab && existsSync(labKey)) identities.push(labKey);
  if (opts.acceptNew) {
    // Pin through ops's own handshake first; OpenSSH then sees a known host.
    const session = openSession(ctx, pillar, opts);
    try {
      await session.connect(target);
    } finally {
      await session.closeAll();
    }
  }
  const tty = command === undefined || process.stdin.isTTY ? ['-t'] : [];
  const argv = opensshArgv(target, knownHostsFiles(ctx.repo).filter(existsSync), identities, tty, command);
  ctx.out.info(`connecting to ${target.name} (${target.user}@${target.address})`);
  // loaded here: the commands that share this module (decrypt, generate-secret…) start without execa
  const { runInteractive } = await import('../../util/proc.js');
  return runInteractive('ssh', argv).catch((e: unknown) => {
    throw new UsageError(errorMessage(e), 'install openssh-client');
  });
}
