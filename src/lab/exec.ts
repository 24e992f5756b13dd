/** Runs the external tools the lab needs (ip, mount, ssh-keygen, debootstrap…) with argv arrays, never a shell. */
import { runLocal, runLocalOk, type LocalResult } from '../util/proc.js';

const SBIN = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** PATH with the sbin folders added: `ip`, `debootstrap` and `mount` live there and sudo/su may drop them. */
export function toolEnv(): NodeJS.ProcessEnv {
  const have = (process.env.PATH ?? '').split(':').filter(Boolean);
  const path = [...have, ...SBIN.filter((d) => !have.includes(d))].join(':');
  return { ...process.env, PATH: path, LC_ALL: 'C' };
}

export type { LocalResult as RunResult } from '../util/proc.js';

export interface RunOptions {
  /** milliseconds; default 2 minutes */
  timeout?: number;
  input?: string;
}

/** Runs a tool (with the sbin folders in PATH) and returns its exit code and output; fails when it cannot run to its end. */
export function tryRun(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<LocalResult> {
  return runLocal(cmd, args, { env: toolEnv(), timeoutMs: opts.timeout, input: opts.input });
}

/** Runs a tool and throws an OperationError with the end of its output when it fails. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return runLocalOk(cmd, args, { env: toolEnv(), timeoutMs: opts.timeout, input: opts.input });
}
