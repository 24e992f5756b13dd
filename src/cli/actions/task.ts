/** What `ops task` does on the operator's side: find, compile, parse the words, run here or on the master. */
import { CommanderError } from 'commander';
import { execMasterEvents, masterFailure } from '../../converge/master-conn.js';
import { snapshot } from '../../converge/snapshot.js';
import { hostsWithRoles } from '../../core/targets.js';
import { errorMessage, OperationError, UsageError } from '../../errors.js';
import { loadPillar } from '../../pillar/load.js';
import { taskModule } from '../../tasks/define.js';
import { terminalIO } from '../../tasks/io.js';
import { compileTask, evaluateTask, taskFiles, type TaskFile } from '../../tasks/load.js';
import { narrowHosts, publicPillar, runDefinition, TASK_MODULE_PATH, TASK_REQUEST_PATH, type TaskRequest } from '../../tasks/run.js';
import type { TaskDefinition } from '../../tasks/types.js';
import { HostPrinter } from '../../ui/hosts.js';
import { intOption } from '../command.js';
import type { Context } from '../context.js';
import { builtinNames, taskCommand } from '../task.js';
import { hooksAt } from '../../release/hooks.js';
import type { HookPoint } from '../../pillar/schema.js';
import type { LoadedPillar } from '../../pillar/load.js';
import { connectMasterFor, openSession } from './ssh.js';

async function load(ctx: Context, file: TaskFile): Promise<{ def: TaskDefinition; code: string }> {
  const { $ } = await import('zx');
  const code = await compileTask(ctx.repo, file);
  const def = await evaluateTask(code, file.display, taskModule($));
  if (def.name !== file.name) throw new UsageError(`${file.display}:1:1: the file defines task '${def.name}'; a task file is named after its task (tasks/${def.name}.ts)`);
  return { def, code };
}

/**
 * Before a deploy (or its dry run) and a database copy: every task its hooks name exists,
 * compiles, is not a built-in command's name and needs no argument — or nothing starts (exit 2).
 */
export async function checkTaskHooks(ctx: Context, pillar: LoadedPillar, points: readonly HookPoint[]): Promise<void> {
  const names = new Set(points.flatMap((p) => hooksAt(pillar.data, p).flatMap((h) => ('task' in h ? [h.task] : []))));
  if (names.size === 0) return;
  const files = taskFiles(ctx.repo);
  for (const name of names) {
    const where = `hooks: task ${name}`;
    if (builtinNames().has(name)) throw new UsageError(`${where}: '${name}' is a built-in ops command, not a task`);
    const file = files.find((f) => f.name === name);
    if (!file) throw new UsageError(`${where}: there is no tasks/${name}.ts`, files.length ? `tasks: ${files.map((f) => f.name).join(', ')}` : 'this repo has no tasks/ folder with task files');
    const { def } = await load(ctx, file);
    const needs = (def.args ?? []).filter((a) => a.required && a.default === undefined).map((a) => a.name);
    const must = Object.entries(def.options ?? {}).filter(([, o]) => o.required && o.default === undefined).map(([n]) => `--${n}`);
    if (needs.length + must.length > 0) throw new UsageError(`${where}: the task needs ${[...needs, ...must].join(', ')}, and a hook runs it with none`, 'give them defaults, or run the task by hand');
  }
}

export async function listTasks(ctx: Context, help: boolean): Promise<number> {
  const files = taskFiles(ctx.repo);
  if (files.length === 0) {
    ctx.out.info('no tasks: this repo has no tasks/ folder with task files (see README, "Tasks and hooks")');
    return 0;
  }
  let code = 0;
  const rows: string[][] = [];
  for (const f of files) {
    try {
      if (builtinNames().has(f.name)) throw new UsageError(`${f.display}:1:1: '${f.name}' is a built-in ops command: rename the task`);
      const { def } = await load(ctx, f);
      rows.push([def.name, def.description + (def.secrets?.length ? ' (on the master)' : '')]);
      ctx.out.event('task', { name: def.name, description: def.description, file: f.display, on_master: Boolean(def.secrets?.length), args: [...(def.args ?? [])], options: def.options ?? {} });
    } catch (e) {
      ctx.out.error(errorMessage(e));
      code = 2;
    }
  }
  if (!ctx.opts.json) {
    const w = Math.max(...rows.map((r) => r[0]?.length ?? 0));
    if (help) ctx.out.result('\nTasks of this repo:', null);
    for (const [n, d] of rows) ctx.out.result(`${help ? '  ' : ''}${(n ?? '').padEnd(w)}  ${d}`, null);
  }
  return code;
}

/**
 * A task hook of a deploy or database copy, on this machine: the task with no words (its defaults;
 * one that needs an argument cannot be a hook), on every host of the environment.
 */
export async function runTaskHook(ctx: Context, env: string, name: string, point: string, opts: Record<string, unknown>): Promise<void> {
  const connection = ['user', 'identity', 'connectTimeout', 'acceptNew'].flatMap((k) => (opts[k] === undefined ? [] : [[k, opts[k]] as const]));
  const code = await runTask(ctx, name, [env], builtinNames(), { point, connection: Object.fromEntries(connection) });
  if (code !== 0) throw new OperationError(`task ${name} exited ${code}`);
}

export async function runTask(ctx: Context, name: string, words: string[], builtins: ReadonlySet<string>, asHook?: { point: string; connection: Record<string, unknown> }): Promise<number> {
  if (builtins.has(name)) throw new UsageError(`'${name}' is a built-in ops command, not a task`, `rename tasks/${name}.ts (a task may not take a built-in command's name)`);
  const files = taskFiles(ctx.repo);
  const file = files.find((f) => f.name === name);
  if (!file) throw new UsageError(`no task '${name}'`, files.length ? `tasks: ${files.map((f) => f.name).join(', ')}` : 'this repo has no tasks/ folder with task files');
  const { def, code } = await load(ctx, file);
  const cmd = taskCommand(def);
  // The environment, when the first word names one; the rest is the task's.
  const envWord = words[0] !== undefined && !words[0].startsWith('-') && ctx.isEnvironment(words[0]) ? words[0] : undefined;
  try {
    cmd.parse(envWord ? words.slice(1) : words, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' || e.code === 'commander.help' ? 0 : 2;
    throw e;
  }
  const env = ctx.resolveEnv(envWord ? [envWord] : []).env;
  const opts = { ...(cmd.opts() as Record<string, unknown>), ...asHook?.connection };
  const args: Record<string, string | string[] | undefined> = {};
  (def.args ?? []).forEach((a, i) => (args[a.name] = cmd.processedArgs[i] as string | string[] | undefined));
  const options: Record<string, string | number | boolean | undefined> = {};
  for (const k of Object.keys(def.options ?? {})) options[k] = opts[k.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())] as string | number | boolean | undefined;
  const parallel = intOption(opts.parallel, '--parallel', 1, 1000) ?? 32;
  const sel = { role: opts.role as string | undefined, host: opts.host as string | undefined };
  const pillar = loadPillar(ctx.repo, env);

  if (def.secrets?.length) {
    const req: TaskRequest = { display: file.display, ...sel, yes: opts.yes === true, parallel, args, options, hook: asHook ? { point: asHook.point } : undefined };
    return onMaster(ctx, pillar, opts, code, req, asHook !== undefined);
  }
  // A task that reaches no host runs in an environment without servers too.
  const hosts = narrowHosts(hostsWithRoles(pillar, { user: opts.user as string | undefined }), env, sel);
  const session = openSession(ctx, pillar, opts);
  // As a hook, the command it runs in handles Ctrl-C (a db copy cleans up first).
  const onInt = () => void session.closeAll().finally(() => process.exit(130));
  if (!asHook) process.once('SIGINT', onInt);
  try {
    const { $ } = await import('zx');
    return await runDefinition(def, {
      env,
      project: pillar.data.project,
      manageCommand: pillar.data.app.manage_command,
      where: 'operator',
      pillar: publicPillar(pillar),
      hosts,
      session,
      io: terminalIO(ctx.out, hosts.map((h) => h.target.name)),
      yes: opts.yes === true,
      parallel,
      args,
      options,
      declared: [],
      secrets: new Map(),
      $,
      hook: asHook ? { point: asHook.point } : undefined,
    });
  } finally {
    process.removeListener('SIGINT', onInt);
    await session.closeAll();
  }
}

/** Sends the compiled task to the master with the repo snapshot, and shows its events here. */
async function onMaster(ctx: Context, pillar: ReturnType<typeof loadPillar>, opts: Record<string, unknown>, code: string, req: TaskRequest, asHook: boolean): Promise<number> {
  const { session, conn } = await connectMasterFor(ctx, pillar, opts);
  ctx.out.info(`${conn.target.name}: running task on the master (it reads secrets)`);
  const printer = new HostPrinter(ctx.out, Object.keys(pillar.data.servers), true);
  const onEvent = (e: Record<string, unknown>) => {
    if (ctx.opts.json) return ctx.out.relay(e);
    const { type, time: _time, ...data } = e;
    if (type === 'output') printer.line(String(data.host), data.stream === 'stdout' ? 'stdout' : 'stderr', String(data.line));
    else if (type === 'log') (data.level === 'warning' ? ctx.out.warn(String(data.message)) : ctx.out.info(String(data.message)));
    else if (type === 'result') ctx.out.result(String(data.message), null);
  };
  const onInt = () => void session.closeAll().finally(() => process.exit(130));
  if (!asHook) process.once('SIGINT', onInt);
  try {
    const stdin = snapshot(ctx.repo, [
      { path: TASK_MODULE_PATH, data: Buffer.from(code), mode: 0o600 },
      { path: TASK_REQUEST_PATH, data: Buffer.from(JSON.stringify(req)), mode: 0o600 },
    ]);
    let r;
    try {
      r = await execMasterEvents(conn, ['--json', '__task', pillar.env], { stdin, onEvent, onText: (line) => ctx.out.info(`${conn.target.name} | ${line}`) });
    } catch (e) {
      throw new OperationError(`lost the master during the task: ${errorMessage(e)}`);
    }
    // The master's own error (a secret it cannot decrypt, a bad task) is one line on its stderr.
    if (r.code !== 0 && r.stderr.trim()) throw masterFailure(conn, r.code, r.stderr);
    return r.code ?? 1;
  } finally {
    process.removeListener('SIGINT', onInt);
    await session.closeAll();
  }
}
