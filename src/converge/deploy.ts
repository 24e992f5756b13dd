/**
 * `ops deploy` on the operator's machine: validates the pillar, brings the master's ops bundle
 * up to date, sends it the repo snapshot and has it converge the environment; the master's
 * events stream back and are shown here. The exit code is the master's.
 */
import { errorMessage, OperationError } from '../errors.js';
import type { LoadedPillar } from '../pillar/load.js';
import type { Repo } from '../repo.js';
import type { Connection } from '../ssh/connection.js';
import { DeployPrinter } from '../ui/deploy.js';
import type { Output } from '../ui/output.js';
import { execMasterEvents } from './master-conn.js';
import { snapshot } from './snapshot.js';
import { framedSnapshot } from './operator-channel.js';
import { DEPLOY_POINTS, describeHook, hasTaskHooks, hooksAt } from '../release/hooks.js';
import type { HookPoint } from '../pillar/schema.js';
import { PassThrough } from 'node:stream';

export interface DeployOptions {
  dryRun: boolean;
  only?: string;
  verbose?: boolean;
  branch?: string;
  release?: boolean;
  waitLock?: number;
  forceUnlock?: boolean;
  /** Maintenance mode around the release's migrations, with this message. */
  maintenance?: string;
  by?: string;
  /** Runs a task hook on this machine when the master asks (the pillar has task hooks). */
  runTaskHook?: (task: string, point: HookPoint) => Promise<void>;
}

/** The master's `__converge` arguments for these options. */
export function convergeArgs(env: string, o: DeployOptions): string[] {
  const a = ['--json', '__converge', env];
  if (o.dryRun) a.push('--dry-run');
  if (o.only) a.push('--only', o.only);
  if (o.branch) a.push('--branch', o.branch);
  if (o.release === false) a.push('--no-release');
  if (o.waitLock !== undefined) a.push('--wait-lock', String(o.waitLock));
  if (o.forceUnlock) a.push('--force-unlock');
  if (o.maintenance !== undefined) a.push('--maintenance', o.maintenance);
  if (o.by) a.push('--by', o.by);
  if (o.runTaskHook) a.push('--operator-channel');
  return a;
}

/** What `--dry-run` says of the hooks: each that a deploy would run, in order; none runs. */
export function listHooks(out: Output, pillar: LoadedPillar['data']): void {
  const planned = DEPLOY_POINTS.flatMap((point) => hooksAt(pillar, point).map((h) => ({ point, hook: describeHook(h) })));
  for (const p of planned) out.event('hook', { point: p.point, hook: p.hook, status: 'would-run' });
  if (out.json) return;
  if (planned.length === 0) out.info('hooks: none configured');
  else for (const p of planned) out.info(`hook ${p.point}: would run ${p.hook}${p.point === 'after_rollback' ? ' (only if the release is switched back)' : ''}`);
}

export async function deployThroughMaster(out: Output, repo: Repo, pillar: LoadedPillar, master: Connection, opts: DeployOptions): Promise<number> {
  const runTaskHook = !opts.dryRun && hasTaskHooks(pillar.data, DEPLOY_POINTS) ? opts.runTaskHook : undefined;
  const printer = new DeployPrinter(out, opts.verbose);
  if (opts.dryRun) listHooks(out, pillar.data);
  // With task hooks the snapshot is framed and stdin stays open for the answers (operator-channel.ts).
  const channel = runTaskHook ? new PassThrough() : undefined;
  // An answer after the master has gone is dropped; a hook still running is waited for before ops returns.
  const answer = (m: Record<string, unknown>) => {
    if (channel && !channel.writableEnded) channel.write(`${JSON.stringify(m)}\n`);
  };
  const inFlight: Promise<unknown>[] = [];
  const onEvent = (e: Record<string, unknown>) => {
    if (e.type === 'hook_request' && runTaskHook) {
      const id = e.id;
      inFlight.push(
        Promise.resolve()
          .then(() => runTaskHook(String(e.task), String(e.point) as HookPoint))
          .then(
            () => answer({ id, ok: true }),
            (x: unknown) => answer({ id, ok: false, error: errorMessage(x) }),
          ),
      );
      return;
    }
    printer.handle(e);
  };
  if (channel) channel.write(framedSnapshot(snapshot(repo)));
  let result;
  try {
    result = await execMasterEvents(master, convergeArgs(pillar.env, { ...opts, runTaskHook }), {
      stdin: channel ?? snapshot(repo),
      onEvent,
      onText: (line) => out.info(`${master.target.name} | ${line}`),
    });
  } catch (e) {
    throw new OperationError(`lost the master during the deploy: ${errorMessage(e)}`, 'run the deploy again; converging is idempotent');
  } finally {
    channel?.end();
    await Promise.allSettled(inFlight);
  }
  printer.summary(opts.dryRun);
  // The master's own error (bad pillar, a secret that does not decrypt) is one line on its stderr.
  for (const l of result.stderr.split('\n').filter((x) => x.trim())) out.info(`${master.target.name} | ${l}`);
  return result.code ?? 1;
}

/** What a converge would change on each host now, by host: the would-change states, or why it is not known. */
export type Drift = Map<string, { changes: string[]; error?: string }>;

/**
 * `ops status --drift`: a dry-run converge through the master (no release, no hook, nothing
 * changed), read as the states each host would change.
 */
export async function driftThroughMaster(repo: Repo, env: string, master: Connection): Promise<Drift> {
  const drift: Drift = new Map();
  const of = (host: string) => drift.get(host) ?? drift.set(host, { changes: [] }).get(host)!;
  const result = await execMasterEvents(master, convergeArgs(env, { dryRun: true, release: false }), {
    stdin: snapshot(repo),
    onEvent: (e) => {
      if (e.type === 'state' && e.status === 'would-change') of(String(e.host)).changes.push(String(e.id));
      else if (e.type === 'host_done') {
        const d = of(String(e.host));
        if (e.error) d.error = String(e.error);
      }
    },
    onText: () => undefined,
  });
  if (result.code !== 0 && drift.size === 0) throw new OperationError(`the master could not plan a converge: ${result.stderr.trim().split('\n').pop() ?? `exit ${result.code}`}`);
  return drift;
}
