/** Reaching an environment's master from the operator's machine, and running ops there. */
import { OperationError, UsageError } from '../errors.js';
import type { LoadedPillar } from '../pillar/load.js';
import { ensureBundle, READ_BUNDLE_ID, REMOTE_OPS } from '../provision/bundle.js';
import { captureExec, renderCommand } from '../ssh/command.js';
import { masterKeyFile } from './paths.js';
import type { Connection } from '../ssh/connection.js';
import { selectTargets } from '../core/targets.js';
import { shellLine } from '../ssh/quote.js';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import type { SshSession } from '../ssh/session.js';
import { openSession, type ConnectRequest } from '../core/connect.js';

export function masterOf(pillar: LoadedPillar): string {
  const name = Object.entries(pillar.data.servers).find(([, s]) => s.roles.includes('master'))?.[0];
  if (!name) throw new UsageError(`environment '${pillar.env}' has no master`, `make one with \`ops setup-master ${pillar.env} -H HOST\``);
  return name;
}

export function hasMaster(pillar: LoadedPillar): boolean {
  return Object.values(pillar.data.servers).some((s) => s.roles.includes('master'));
}

/** Opens the connection to the master with the operator's credentials; the bundle is brought up to date. */
export async function connectMaster(req: ConnectRequest & { pillar: LoadedPillar; user?: string; onInfo?: (line: string) => void }): Promise<{ session: SshSession; conn: Connection }> {
  const { pillar } = req;
  const [target] = selectTargets(pillar, { host: masterOf(pillar), user: req.user });
  if (!target) throw new UsageError(`no master in '${pillar.env}'`);
  const session = openSession({ ...req, acceptNew: false });
  try {
    const conn = await session.connect(target);
    const installed = await checkMasterState(conn, pillar.env);
    if ((await ensureBundle(conn, undefined, installed)) === 'installed') req.onInfo?.(`${conn.target.name}: ops bundle updated`);
    return { session, conn };
  } catch (e) {
    await session.closeAll();
    throw e;
  }
}

/**
 * A master that answers but has lost what made it one (a rebuilt or replaced machine at the
 * same address: no Node.js, no environment key) is said so, with the way back. Returns the id of
 * the bundle installed there, read in the same round trip.
 */
async function checkMasterState(conn: Connection, env: string): Promise<string | undefined> {
  // in the same round trip: the installed bundle's id (first line), for ensureBundle
  const key = masterKeyFile(env);
  const line = `{ ${READ_BUNDLE_ID}; echo; }; ${shellLine(['command', '-v', 'node'])} >/dev/null || echo no-node; ${shellLine(['test', '-s', key])} || ${shellLine(['test', '-s', `${key}.next`])} || echo no-key`;
  const r = await captureExec(conn, renderCommand({ line }, { sudo: true }, { loginUser: conn.user }));
  const [installed, ...said] = r.out.toString('utf8').split('\n');
  if (r.code !== 0) return undefined;
  const lost = [...(said.includes('no-node') ? ['no Node.js'] : []), ...(said.includes('no-key') ? [`no key for '${env}' (${key})`] : [])];
  if (lost.length === 0) return installed ?? '';
  throw new OperationError(
    `${conn.target.name}: the master has lost its state: ${lost.join(', ')}`,
    `if the machine was replaced, make it the master again with the recovery key: ops setup-master ${env} -H ${conn.target.address} --recover`,
  );
}

/** The remote command line for `ops <args>` on the master, as root. */
export function masterCommand(conn: Connection, args: string[]): string {
  return renderCommand({ line: shellLine([REMOTE_OPS, ...args]) }, { sudo: true }, { loginUser: conn.user });
}

/** Runs `ops <args>` on the master and collects its output; its one-line error becomes ours. */
export async function runOnMaster(conn: Connection, args: string[], stdin?: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  let err = '';
  const r = await conn.exec(masterCommand(conn, args), { stdin, onStdout: (b) => out.push(b), onStderr: (b) => (err += b.toString('utf8')) });
  if (r.code !== 0) throw masterFailure(conn, r.code, err);
  return Buffer.concat(out);
}

/** The master's one-line error (and hint) of a failed `ops` run there, as ours (exit 2 stays 2). */
export function masterFailure(conn: Connection, code: number | null, stderr: string): UsageError | OperationError {
  const lines = stderr.split('\n');
  const first = lines.find((l) => l.startsWith('error: '))?.slice(7) ?? (stderr.trim().split('\n').pop() || `exit ${code ?? 'none'}`);
  const hint = lines.find((l) => l.trim().startsWith('hint: '))?.trim().slice(6);
  const E = code === 2 ? UsageError : OperationError;
  return new E(`${conn.target.name}: ${first}`, hint);
}

/**
 * Runs `ops <args>` on the master and hands each NDJSON event of its stdout to `onEvent` (a line
 * that is not JSON to `onText`; blank heartbeat lines are skipped), whole lines only, characters
 * decoded whole. Resolves with the exit status and everything the master wrote on stderr.
 */
export async function execMasterEvents(
  conn: Connection,
  args: string[],
  io: { stdin: Buffer | Readable; onEvent: (e: Record<string, unknown>) => void; onText: (line: string) => void },
): Promise<{ code: number | null; stderr: string }> {
  const decoder = new StringDecoder('utf8');
  let buf = '';
  let stderr = '';
  const onLine = (line: string) => {
    if (!line.trim()) return;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      io.onText(line);
      return;
    }
    io.onEvent(e);
  };
  const r = await conn.exec(masterCommand(conn, args), {
    stdin: io.stdin,
    onStdout: (b) => {
      buf += decoder.write(b);
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      lines.forEach(onLine);
    },
    onStderr: (b) => (stderr += b.toString('utf8')),
  });
  onLine(buf + decoder.end());
  return { code: r.code, stderr };
}
