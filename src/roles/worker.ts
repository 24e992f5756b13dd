/** `worker`: the Celery worker (and scheduler) of the app, from the same release and environment as the web app. */
import type { State } from '../states/types.js';
import { appPaths, appUnits, appUser, pythonOf, WITH_ENV } from './app.js';
import { text, type RoleContext, type RoleParts } from './context.js';
import { appBase } from './web.js';

export function worker(ctx: RoleContext): RoleParts {
  const shared = appBase(ctx);
  const p = appPaths(ctx);
  const units = appUnits(ctx);
  const vars = { project: ctx.project, paths: p, user: appUser(ctx), with_env: WITH_ENV, python: pythonOf(p.current, true), app: ctx.pillar.worker.app ?? ctx.project, concurrency: ctx.pillar.worker.concurrency };
  const states: State[] = [
    ...shared.states,
    { id: 'pkg:celery', kind: 'pkg', params: { names: ['python3-celery'] } },
    { id: `unit:${units.worker}`, kind: 'unit', params: { name: units.worker, content: text(ctx.tpl.render('worker/celery-worker.service.njk', vars)) }, notify: ['handler:worker-restart'] },
    { id: `service:${units.worker}`, kind: 'service', params: { name: units.worker, enabled: true, running: true, whenExists: p.current }, requires: [`unit:${units.worker}`] },
  ];
  if (ctx.pillar.worker.beat) {
    states.push(
      { id: `unit:${units.beat}`, kind: 'unit', params: { name: units.beat, content: text(ctx.tpl.render('worker/celery-beat.service.njk', vars)) }, notify: ['handler:worker-restart'] },
      { id: `service:${units.beat}`, kind: 'service', params: { name: units.beat, enabled: true, running: true, whenExists: p.current }, requires: [`unit:${units.beat}`] },
    );
  }
  return {
    states,
    handlers: [...(shared.handlers ?? []), { id: 'handler:worker-restart', run: { line: `for u in ${units.worker} ${units.beat}; do systemctl is-active --quiet "$u" && systemctl restart "$u"; done; true` } }],
  };
}
