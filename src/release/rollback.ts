/**
 * `ops __rollback` on the master: under the deploy lock, switches every web and worker host
 * back to an earlier release that all of them still hold, reloads gracefully and checks health.
 * With `--check` it only reports what it would do (target, current, migrations that later
 * releases applied) so the operator can be asked first.
 */
import type { EmitEvent } from '../ui/events.js';
import { join } from 'node:path';
import { OperationError, UsageError } from '../errors.js';
import type { LoadedPillar } from '../pillar/load.js';
import { knownHostsFiles, repoAt } from '../repo.js';
import { templates } from '../roles/templates.js';
import { hasRole, inventoryHosts } from '../roles/context.js';
import { decryptPillar } from '../secrets/vault.js';
import { loadCredentials } from '../ssh/identities.js';
import { KnownHosts } from '../ssh/knownhosts.js';
import { mapLimit, SshSession } from '../ssh/session.js';
import type { Output } from '../ui/output.js';
import { MASTER_SSH_KEY, MASTER_WORK } from '../converge/paths.js';
import { masterKeys, withSnapshot } from '../converge/master-secrets.js';
import { migrationsAfter, readHistory, writeHistory } from './history.js';
import { watchInterrupts } from './interrupts.js';
import { acquireLock } from './lock.js';
import { healthCheck, readState, switchTo } from './pipeline.js';

export interface RollbackRequest {
  env: string;
  to?: string;
  check: boolean;
  by: string;
}

export interface RollbackPlan {
  current?: string;
  target: string;
  migrations: { release: string; migration: string }[];
}

export function rollbackFromSnapshot(out: Output, req: RollbackRequest): Promise<number> {
  return withSnapshot(req.env, (dir, loaded) => rollback(out, dir, loaded, req));
}

async function rollback(out: Output, dir: string, loaded: LoadedPillar, req: RollbackRequest): Promise<number> {
  const pillar = await decryptPillar(await masterKeys(req.env), loaded);
  const hosts = inventoryHosts(pillar);
  const app = hosts.filter((h) => hasRole(h, 'web') || hasRole(h, 'worker'));
  if (app.length === 0) throw new UsageError(`'${req.env}' has no web or worker host`);
  const workDir = join(MASTER_WORK, req.env);
  const watch = watchInterrupts();
  const lock = req.check ? undefined : await acquireLock({ env: req.env, user: req.by, what: `rollback${req.to ? ` --to ${req.to}` : ''}` });
  const session = new SshSession({ knownHosts: KnownHosts.load(knownHostsFiles(repoAt(dir))), credentials: loadCredentials([MASTER_SSH_KEY]), connectTimeoutMs: 10_000 });
  try {
    const states = await mapLimit(app, 32, async (h) => readState(await session.connect({ name: h.name, address: h.privateAddress, port: h.port, user: 'root' }), h, pillar));
    const currents = [...new Set(states.map((s) => s.current))];
    const current = currents.length === 1 ? currents[0] : undefined;
    // Releases every app host holds, newest last.
    const common = (states[0]?.complete ?? []).filter((id) => states.every((s) => s.complete.includes(id)));
    let target: string | undefined;
    if (req.to) {
      const matches = common.filter((id) => id === req.to || id.startsWith(req.to as string));
      if (matches.length === 0) throw new UsageError(`no release '${req.to}' on every app host`, `releases there: ${common.join(', ') || 'none'}`);
      if (matches.length > 1) throw new UsageError(`'${req.to}' matches several releases: ${matches.join(', ')}`);
      target = matches[0];
    } else {
      const older = common.filter((id) => current === undefined || id < current);
      target = older[older.length - 1];
      if (!target) throw new UsageError('there is no earlier release to roll back to', `releases on the app hosts: ${common.join(', ') || 'none'}`);
    }
    if (target === undefined) throw new UsageError('no release to roll back to');
    if (target === current) throw new UsageError(`${target} is already the current release`);
    const history = readHistory(workDir);
    const plan: RollbackPlan = { current, target, migrations: migrationsAfter(history, target, current) };
    if (req.check) {
      process.stdout.write(`${JSON.stringify(plan)}\n`);
      return 0;
    }
    out.event('rollback_step', { step: 'switch', from: current ?? null, to: target });
    const sw = { pillar, tpl: templates(join(dir, 'templates')), event: ((type, data) => out.event(type, data)) satisfies EmitEvent };
    await mapLimit(states, 32, (s) => switchTo(s, target as string, sw));
    const health = await healthCheck({ pillar, hosts, event: (type, data) => out.event(type, data) }, states.filter((s) => hasRole(s.host, 'web')));
    history.rollbacks.push({ from: current, to: target, by: req.by, at: new Date().toISOString() });
    writeHistory(workDir, history);
    if (!health.ok) throw new OperationError(`switched to ${target}, but the health check fails: ${health.detail}`, 'see the app logs (ops run ENV --role web -- journalctl -u <project>-web)');
    out.event('rollback', { from: current ?? null, to: target, health: health.detail });
    return 0;
  } finally {
    await session.closeAll();
    lock?.release();
    watch.stop();
  }
}

/** Which release is live according to the history: the newest of successful releases and rollbacks. */
export function liveRelease(h: ReturnType<typeof readHistory>): string | undefined {
  const events = [
    ...h.releases.filter((r) => r.status === 'ok').map((r) => ({ at: r.at, id: r.id })),
    ...h.rollbacks.map((r) => ({ at: r.at, id: r.to })),
  ].sort((a, b) => a.at.localeCompare(b.at));
  return events[events.length - 1]?.id;
}
