/**
 * A project's hooks (`hooks:` in the pillar): at each point of a deploy or a database copy, tasks
 * (run on the operator's machine) and shell lines (run on the hosts of a role, as the app user, in
 * the release directory, with the app's environment). A hook that fails raises a HookError naming
 * the point, the hook and the host; what that means for the deploy is the caller's to decide.
 */
import type { EmitEvent } from '../ui/events.js';
import { errorMessage, OperationError } from '../errors.js';
import type { HookPoint, Pillar } from '../pillar/schema.js';
import { HOOK_POINTS } from '../pillar/schema.js';
import { appPaths } from '../roles/app.js';
import { captureExec, renderCommand } from '../ssh/command.js';
import { shellLine } from '../ssh/quote.js';
import { mapLimit, type SshSession } from '../ssh/session.js';
import type { Target } from '../ssh/target.js';
import { redactor } from '../ui/redact.js';
import { appShellLine } from './manage.js';

export type Hook = { task: string } | { run: string; role: string };

export { HOOK_POINTS };
/** The points of a deploy, in order. */
export const DEPLOY_POINTS: readonly HookPoint[] = ['before_deploy', 'after_converge', 'before_switch', 'after_release', 'after_rollback'];

export class HookError extends OperationError {}

export function hooksAt(pillar: Pick<Pillar, 'hooks'>, point: HookPoint): Hook[] {
  const v = pillar.hooks[point];
  return (Array.isArray(v) ? v : v ? [v] : []) as Hook[];
}

export function hasTaskHooks(pillar: Pick<Pillar, 'hooks'>, points: readonly HookPoint[] = HOOK_POINTS): boolean {
  return points.some((p) => hooksAt(pillar, p).some((h) => 'task' in h));
}

export function describeHook(h: Hook): string {
  return 'task' in h ? `task ${h.task}` : `\`${h.run}\` on ${h.role}`;
}

export interface HookHost {
  target: Target;
  roles: readonly string[];
}

export interface HookRun {
  pillar: Pick<Pillar, 'hooks' | 'project'>;
  hosts: readonly HookHost[];
  session: SshSession;
  /** The release the shell lines run in (default: the current one). */
  dir?: string;
  /** Runs a task hook on the operator's machine; it throws when the task fails. */
  task: (name: string, point: HookPoint) => Promise<void>;
  event: EmitEvent;
}

/** Runs the hooks of `point`, in order; the first that fails stops the rest. */
export async function runHooks(point: HookPoint, run: HookRun): Promise<number> {
  const hooks = hooksAt(run.pillar, point);
  for (const hook of hooks) {
    const what = describeHook(hook);
    const started = Date.now();
    run.event('hook', { point, hook: what, status: 'start' });
    if ('task' in hook) {
      try {
        await run.task(hook.task, point);
      } catch (e) {
        run.event('hook', { point, hook: what, status: 'failed', error: errorMessage(e), duration_ms: Date.now() - started });
        throw new HookError(`hook ${point} (${what}) failed: ${errorMessage(e)}`);
      }
      run.event('hook', { point, hook: what, status: 'ok', duration_ms: Date.now() - started });
      continue;
    }
    const on = run.hosts.filter((h) => h.roles.includes(hook.role));
    if (on.length === 0) {
      run.event('hook', { point, hook: what, status: 'skipped', reason: `no host has the role ${hook.role}` });
      continue;
    }
    const dir = run.dir ?? appPaths(run.pillar).current;
    const failures: string[] = [];
    await mapLimit(on, 32, async (h) => {
      const conn = await run.session.connect(h.target);
      const asRoot = (line: string) => renderCommand({ line }, { sudo: true }, { loginUser: conn.user });
      // Before the first release there is no directory to run in: said, not failed.
      if ((await captureExec(conn, asRoot(shellLine(['test', '-d', dir])))).code !== 0) {
        run.event('hook', { point, hook: what, host: h.target.name, status: 'skipped', reason: `${dir} does not exist yet` });
        return;
      }
      const r = await captureExec(conn, asRoot(appShellLine(run.pillar, hook.run, dir)));
      const out = r.out.toString('utf8');
      const tail = redactor.tail(`${out}${r.err}`.trim(), 800);
      if (r.code !== 0) {
        failures.push(`${h.target.name}: exit ${r.code ?? r.signal ?? 'none'}${tail ? `: ${tail}` : ''}`);
        run.event('hook', { point, hook: what, host: h.target.name, status: 'failed', exit_code: r.code, output: tail, duration_ms: Date.now() - started });
      } else run.event('hook', { point, hook: what, host: h.target.name, status: 'ok', output: tail, duration_ms: Date.now() - started });
    });
    if (failures.length > 0) throw new HookError(`hook ${point} (${what}) failed on ${failures.join('; ')}`);
  }
  return hooks.length;
}
