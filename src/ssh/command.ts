/**
 * Remote commands as data. Builders (states, releases, db) return `RemoteCommand`s; the
 * executor renders each with `renderCommand` — quoting happens only there, through `shellLine`.
 * Secrets never go into a command: they travel on stdin or by SFTP.
 */
import { shellLine } from './quote.js';

export type RemoteCommand =
  /** argv data, quoted by ops. */
  | { argv: readonly string[]; line?: undefined }
  /** A command line the operator typed (`ops run -- …`): run by the login shell as is, like ssh does. */
  | { line: string; argv?: undefined };

export interface ExecOptions {
  /** Run as another user through sudo (root when `true`). */
  sudo?: boolean | string;
  /** Working directory on the host. */
  cwd?: string;
  /** Non-secret environment variables (they are visible in the remote process list). */
  env?: Readonly<Record<string, string>>;
}

export interface RenderContext {
  /** The user the SSH connection is logged in as. */
  loginUser: string;
  /** A sudo password is sent as the first line of stdin. */
  sudoPassword?: boolean;
}

function inner(cmd: RemoteCommand, opts: ExecOptions): string {
  let line = cmd.line ?? shellLine(cmd.argv ?? []);
  if (opts.env && Object.keys(opts.env).length > 0) {
    const assigns = Object.entries(opts.env).map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid environment variable name '${k}'`);
      return `${k}=${v}`;
    });
    line = `${shellLine(['export', ...assigns])}; ${line}`;
  }
  if (opts.cwd) line = `cd ${shellLine([opts.cwd])} && ${line}`;
  return line;
}

/** The exact string sent in the SSH exec request. */
export function renderCommand(cmd: RemoteCommand, opts: ExecOptions, ctx: RenderContext): string {
  const target = opts.sudo === true ? 'root' : opts.sudo || undefined;
  const body = inner(cmd, opts);
  if (target === undefined || target === ctx.loginUser) {
    // No sudo needed; keep the user's line exactly as typed when there is nothing to add.
    return body;
  }
  if (ctx.loginUser === 'root') {
    // root switches user without sudo (which a minimal host may not have).
    return shellLine(['runuser', '-u', target, '--', 'sh', '-c', body]);
  }
  const sudo = ['sudo', ctx.sudoPassword ? '-S' : '-n', '-p', '', '-H', ...(target === 'root' ? [] : ['-u', target]), '--', 'sh', '-c', body];
  return shellLine(sudo);
}

/** Runs a command and collects its output (for commands whose output is small). */
export async function captureExec(
  io: { exec(command: string, io: { stdin?: Buffer; onStdout?: (b: Buffer) => void; onStderr?: (b: Buffer) => void }): Promise<{ code: number | null; signal?: string }> },
  command: string,
  stdin?: Buffer,
): Promise<{ code: number | null; signal?: string; out: Buffer; err: string }> {
  const out: Buffer[] = [];
  let err = '';
  const r = await io.exec(command, { stdin, onStdout: (b) => out.push(b), onStderr: (b) => (err += b.toString('utf8')) });
  return { code: r.code, signal: r.signal, out: Buffer.concat(out), err };
}
