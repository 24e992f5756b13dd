/**
 * Running a task: its definition, a context on the core, an exit code. A task that declares
 * secrets runs here on the master (`ops __task`): the operator sends the repo snapshot with the
 * compiled task module and its parsed arguments; the master decrypts the pillar (which registers
 * every secret value for redaction), reaches the hosts as converges do, and reports NDJSON events.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, isOpsError, OperationError, UsageError } from '../errors.js';
import { maskEncrypted } from '../pillar/encrypted.js';
import type { LoadedPillar } from '../pillar/load.js';
import { knownHostsFiles, repoAt } from '../repo.js';
import { inventoryHosts } from '../roles/context.js';
import { decryptPillar } from '../secrets/vault.js';
import { loadCredentials } from '../ssh/identities.js';
import { KnownHosts } from '../ssh/knownhosts.js';
import { SshSession } from '../ssh/session.js';
import type { Output } from '../ui/output.js';
import { MASTER_SSH_KEY } from '../converge/paths.js';
import { decryptNamed, masterKeys, withSnapshot } from '../converge/master-secrets.js';
import { taskContext, type TaskHostInfo, type TaskRuntime } from './context.js';
import { taskModule } from './define.js';
import { terminalIO } from './io.js';
import { redactor } from '../ui/redact.js';
import { watchInterrupts } from '../release/interrupts.js';
import { evaluateTask } from './load.js';
import type { ArgValues, OptionValues, TaskDefinition } from './types.js';

/** What the operator's ops sends with a task that runs on the master. */
export interface TaskRequest {
  display: string;
  role?: string;
  host?: string;
  yes: boolean;
  parallel: number;
  args: ArgValues;
  options: OptionValues;
  hook?: { point: string };
}

export const TASK_MODULE_PATH = '.task/task.mjs';
export const TASK_REQUEST_PATH = '.task/request.json';

/** The pillar a task may read: everything but the values of secrets. */
export function publicPillar(loaded: LoadedPillar): Readonly<Record<string, unknown>> {
  const data = maskEncrypted(structuredClone(loaded.data)) as Record<string, unknown>;
  return data;
}

/** The hosts of `servers` narrowed by the command line's --role/--host (a name or role no host has is a usage error). */
export function narrowHosts<T extends TaskHostInfo>(hosts: readonly T[], env: string, sel: { role?: string; host?: string }): T[] {
  let chosen = [...hosts];
  if (sel.role !== undefined) {
    chosen = chosen.filter((h) => h.roles.includes(sel.role as string));
    if (chosen.length === 0) throw new UsageError(`no host of '${env}' has the role '${sel.role}'`);
  }
  if (sel.host !== undefined) {
    chosen = chosen.filter((h) => h.target.name === sel.host || h.target.address === sel.host);
    if (chosen.length === 0) throw new UsageError(`no host '${sel.host}' in '${env}'`);
  }
  return chosen;
}

/** Runs a task's function; its number is the exit code, nothing means 0. */
export async function runDefinition(def: TaskDefinition, rt: TaskRuntime): Promise<number> {
  rt.io.event('task_start', { task: def.name, env: rt.env, where: rt.where, hosts: rt.hosts.map((h) => h.target.name) });
  const started = Date.now();
  let code: unknown;
  try {
    code = await def.run(taskContext(rt, def.name));
  } catch (e) {
    // ops's own errors keep their exit code (2 for usage); anything else the task threw is one line, exit 1.
    if (isOpsError(e)) throw e;
    const first = errorMessage(e).split('\n').find((l) => l.trim()) ?? 'failed';
    throw new OperationError(`task ${def.name}: ${first.trim()}`);
  }
  if (code !== undefined && (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code > 255)) {
    throw new OperationError(`task ${def.name} returned ${JSON.stringify(code) ?? String(code)}: a task returns nothing or an exit code from 0 to 255`);
  }
  const exit = typeof code === 'number' ? code : 0;
  rt.io.event('task_done', { task: def.name, exit_code: exit, duration_ms: Date.now() - started });
  return exit;
}

/** `ops __task ENV` on the master. */
/**
 * Everything the task's own code writes (console.log, process.stdout) passes the redactor too: on
 * the master every secret value of the environment is known to it.
 */
function redactProcessOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) =>
      write(typeof chunk === 'string' || Buffer.isBuffer(chunk) ? redactor.redact(chunk.toString()) : chunk, ...rest)) as typeof stream.write;
  }
}

export async function taskOnMaster(out: Output, env: string): Promise<number> {
  redactProcessOutput();
  return withSnapshot(env, async (dir, loaded) => {
    const req = JSON.parse(readFileSync(join(dir, TASK_REQUEST_PATH), 'utf8')) as TaskRequest;
    const { $ } = await import('zx');
    const def = await evaluateTask(readFileSync(join(dir, TASK_MODULE_PATH), 'utf8'), req.display, taskModule($));
    const keys = await masterKeys(env);
    const pillar = await decryptPillar(keys, loaded);
    const declared = def.secrets ?? [];
    const values = declared.length > 0 ? await decryptNamed(keys, loaded, declared) : new Map<string, Buffer>();
    const all: TaskHostInfo[] = inventoryHosts(pillar).map((h) => ({ target: { name: h.name, address: h.privateAddress, port: h.port, user: 'root' }, roles: h.roles }));
    const hosts = narrowHosts(all, env, req);
    const session = new SshSession({ knownHosts: KnownHosts.load(knownHostsFiles(repoAt(dir))), credentials: loadCredentials([MASTER_SSH_KEY]), connectTimeoutMs: 10_000 });
    // The operator gone (or a signal): the task's connections close, so it stops at its next step.
    const watch = watchInterrupts();
    watch.signal.addEventListener('abort', () => void session.closeAll());
    try {
      return await runDefinition(def, {
        env,
        project: pillar.project,
        manageCommand: pillar.app.manage_command,
        where: 'master',
        pillar: publicPillar(loaded),
        hosts,
        session,
        io: terminalIO(out, hosts.map((h) => h.target.name)),
        yes: req.yes,
        parallel: req.parallel,
        args: req.args,
        options: req.options,
        declared,
        secrets: new Map([...values].map(([n, v]) => [n, v.toString('utf8')])),
        $,
        hook: req.hook,
      });
    } finally {
      watch.stop();
      await session.closeAll();
    }
  });
}
