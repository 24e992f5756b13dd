/**
 * Shared plumbing for command definitions: the action wrapper (builds the Context, turns the
 * handler's return into an exit code) and help examples.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
// (the Context, and the pillar and YAML code it reads with, load when a command runs: not for --help or --version)
import type { Context, GlobalOptions } from './context.js';

export type Handler = (ctx: Context, args: string[], opts: Record<string, unknown>) => Promise<number | void>;

/** Exit code the running command asked for; read by the entry point. */
export const exitState = { code: 0 };

export function action(handler: Handler) {
  return async (...raw: unknown[]): Promise<void> => {
    const cmd = raw[raw.length - 1] as Command;
    const globals = cmd.optsWithGlobals() as GlobalOptions & Record<string, unknown>;
    const { Context } = await import('./context.js');
    const ctx = new Context(globals);
    const args = cmd.args.filter((a): a is string => typeof a === 'string');
    const code = await handler(ctx, args, cmd.opts());
    exitState.code = typeof code === 'number' ? code : 0;
  };
}

export function examples(cmd: Command, lines: string[]): Command {
  const body = lines.map((l) => (l.startsWith('#') ? `  ${l}` : `  $ ${l}`)).join('\n');
  return cmd.addHelpText('after', `\nExamples:\n${body}\n`);
}

/** A command whose capability is not built yet: says so, exits 2, never pretends. */
export function notImplemented(name: string): Handler {
  return async () => {
    throw new UsageError(`ops ${name} is not implemented yet`, 'see `ops --help` for the commands that work today');
  };
}

/** Parses a positive integer option, or fails with a usage error naming the flag. */
export function intOption(value: unknown, flag: string, min = 1, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined || value === true) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} takes a whole number from ${min} to ${max}, got '${String(value)}'`);
  }
  return n;
}

/** A handler that lives in a module loaded only when its command runs (keeps start-up fast). */
export function lazy<M extends Record<string, unknown>>(load: () => Promise<M>, name: keyof M & string): Handler {
  return async (ctx, args, opts) => {
    const mod = await load();
    const fn = mod[name] as Handler;
    return fn(ctx, args, opts);
  };
}
