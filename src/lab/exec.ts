/** Runs the external tools the lab needs (ip, mount, ssh-keygen, debootstrap…) with argv arrays, never a shell. */
import { execFile } from 'node:child_process';
import { OperationError } from '../errors.js';

const SBIN = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** PATH with the sbin folders added: `ip`, `debootstrap` and `mount` live there and sudo/su may drop them. */
export function toolEnv(): NodeJS.ProcessEnv {
  const have = (process.env.PATH ?? '').split(':').filter(Boolean);
  const path = [...have, ...SBIN.filter((d) => !have.includes(d))].join(':');
  return { ...process.env, PATH: path, LC_ALL: 'C' };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** milliseconds; default 2 minutes */
  timeout?: number;
  input?: string;
}

/** Runs a tool and returns its exit code and output; fails only when the tool cannot be started. */
export function tryRun(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      [...args],
      { env: toolEnv(), timeout: opts.timeout ?? 120_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
          reject(new OperationError(`cannot run ${cmd}: ${err.message}`));
          return;
        }
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs a tool and throws an OperationError with its stderr when it fails. */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await tryRun(cmd, args, opts);
  if (r.code !== 0) {
    const detail = (r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n');
    throw new OperationError(`${cmd} ${args.join(' ')} failed (exit ${r.code})${detail ? `: ${detail}` : ''}`);
  }
  return r.stdout;
}
