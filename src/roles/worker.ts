/** `worker`: the Celery worker (and scheduler) of the app, from the same release and environment as the web app. */
import type { State } from '../states/types.js';
import { shellLine } from '../ssh/quote.js';
import { appExecStart, appPaths, appUnits, appUser, pythonOf, WITH_ENV } from './app.js';
import { text, type RoleContext, type RoleParts } from './context.js';
import { appBase, retiredUnits } from './web.js';

export function worker(ctx: RoleContext): RoleParts {
  const shared = appBase(ctx);
  const p = appPaths(ctx);
  const units = appUnits(ctx);
  // a Procfile app's processes come from the release pipeline
  if (ctx.pillar.app.type === 'procfile') return { states: [...shared.states, ...retiredUnits([units.worker, units.beat])], handlers: shared.handlers };
  const celery = `exec ${shellLine([WITH_ENV, p.envFile])} ${pythonOf(p.current)} -m celery ${shellLine(['--workdir', p.current, '-A', ctx.pillar.worker.app ?? ctx.project])}`;
  const base = { project: ctx.project, paths: p, user: appUser(ctx) };
  const workerVars = { ...base, exec_start: appExecStart(`${celery} worker ${shellLine(['--loglevel', 'INFO', '--concurrency', String(ctx.pillar.worker.concurrency), '--hostname', `${ctx.project}@%h`])}`) };
  const beatVars = { ...base, exec_start: appExecStart(`${celery} beat ${shellLine(['--loglevel', 'INFO', '--schedule', `/var/lib/${ctx.project}-beat/schedule`])}`) };
  const states: State[] = [
    ...shared.states,
    { id: 'pkg:celery', kind: 'pkg', params: { names: ['python3-celery'] } },
    { id: `unit:${units.worker}`, kind: 'unit', params: { name: units.worker, content: text(ctx.tpl.render('worker/celery-worker.service.njk', workerVars)) }, notify: ['handler:worker-restart'] },
    { id: `service:${units.worker}`, kind: 'service', params: { name: units.worker, enabled: true, running: true, whenExists: p.current }, requires: [`unit:${units.worker}`] },
  ];
  if (ctx.pillar.worker.beat) {
    states.push(
      { id: `unit:${units.beat}`, kind: 'unit', params: { name: units.beat, content: text(ctx.tpl.render('worker/celery-beat.service.njk', beatVars)) }, notify: ['handler:worker-restart'] },
      { id: `service:${units.beat}`, kind: 'service', params: { name: units.beat, enabled: true, running: true, whenExists: p.current }, requires: [`unit:${units.beat}`] },
    );
  }
  return {
    states,
    handlers: [...(shared.handlers ?? []), { id: 'handler:worker-restart', describe: `restart ${units.worker}${ctx.pillar.worker.beat ? ` and ${units.beat}` : ''} where running (Celery's warm shutdown: running tasks finish)`, run: { line: `for u in ${units.worker} ${units.beat}; do systemctl is-active --quiet "$u" && systemctl restart "$u"; done; true` } }],
  };
}
