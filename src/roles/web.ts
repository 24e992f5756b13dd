/**
 * `web`: the app user and the /var/www/<project>/ layout, the app's environment file (the one
 * place its secrets live on the host), the with-env launcher, the app's packages and its server
 * unit (gunicorn for Django, the project's start command otherwise), listening for balancers.
 * Releases (current/) come from the release pipeline; until the first one the unit waits.
 */
import { UsageError } from '../errors.js';
import type { Handler, State } from '../states/types.js';
import { quote, shellLine } from '../ssh/quote.js';
import { activeAppUnits, appEnvironment, appExecStart, gracefulReload, appPaths, appUnits, appUser, pythonOf, renderEnvFile, WITH_ENV, WITH_ENV_SCRIPT } from './app.js';
import { cronCommand } from './escape.js';
import { envPendingFile, webFirewallRange } from '../release/processes.js';
import { hostsWith, text, type RoleContext, type RoleParts } from './context.js';

/** What web and worker hosts share: user, layout, env file, launcher, packages, logrotate, cron. */
export function appBase(ctx: RoleContext): RoleParts {
  const p = appPaths(ctx);
  const user = appUser(ctx);
  const django = ctx.pillar.app.type === 'django';
  const packages = [...new Set([...(django ? ['python3', 'python3-venv', 'gunicorn'] : []), ...ctx.pillar.app.packages])];
  const states: State[] = [
    { id: 'user:app', kind: 'user', params: { name: user, system: true, home: p.root, shell: '/usr/sbin/nologin' } },
    { id: `dir:${p.root}`, kind: 'dir', params: { path: p.root, mode: 0o755, owner: 'root', group: 'root' }, requires: ['user:app'] },
    { id: `dir:${p.releases}`, kind: 'dir', params: { path: p.releases, mode: 0o755, owner: user, group: user } },
    { id: `dir:${p.shared}`, kind: 'dir', params: { path: p.shared, mode: 0o750, owner: 'root', group: user } },
    { id: `dir:${p.log}`, kind: 'dir', params: { path: p.log, mode: 0o750, owner: user, group: user } },
    { id: `dir:${p.public}`, kind: 'dir', params: { path: p.public, mode: 0o755, owner: 'root', group: 'root' } },
    { id: `dir:${p.static}`, kind: 'dir', params: { path: p.static, mode: 0o755, owner: user, group: user } },
    { id: `dir:${p.media}`, kind: 'dir', params: { path: p.media, mode: 0o755, owner: user, group: user } },
    { id: 'dir:/usr/local/lib/ops', kind: 'dir', params: { path: '/usr/local/lib/ops', mode: 0o755 } },
    { id: `file:${WITH_ENV}`, kind: 'file', params: { path: WITH_ENV, content: text(WITH_ENV_SCRIPT), mode: 0o755 } },
    {
      id: `file:${p.envFile}`,
      kind: 'file',
      params: { path: p.envFile, content: text(renderEnvFile({ STATIC_ROOT: p.static, MEDIA_ROOT: p.media, ...appEnvironment(ctx) })), mode: 0o640, owner: 'root', group: user },
      secret: true,
      notify: ['handler:app-restart'],
    },
    { id: `file:/etc/logrotate.d/${ctx.project}`, kind: 'file', params: { path: `/etc/logrotate.d/${ctx.project}`, content: text(ctx.tpl.render('web/logrotate.njk', { paths: p, user })), mode: 0o644 } },
  ];
  if (packages.length > 0) states.unshift({ id: 'pkg:app', kind: 'pkg', params: { names: packages } });
  const jobs = cronJobsFor(ctx);
  const cronFile = `/etc/cron.d/${ctx.project.replace(/[^a-z0-9_-]/g, '-')}`;
  if (jobs.length > 0) {
    // each job's command line, for cron: in the current release, with the app's environment, logged
    const lines = jobs.map((job) => ({
      ...job,
      line: cronCommand(`cd ${quote(p.current)} && ${shellLine([WITH_ENV, p.envFile, 'sh', '-c', job.command])} >> ${quote(`${p.log}/cron-${job.name}.log`)} 2>&1`),
    }));
    states.push({ id: `file:${cronFile}`, kind: 'file', params: { path: cronFile, content: text(ctx.tpl.render('web/cron.njk', { project: ctx.project, jobs: lines, paths: p, user })), mode: 0o644 } });
  } else states.push({ id: `absent:${cronFile}`, kind: 'absent', params: { path: cronFile } });
  // The environment is read at start: what runs starts again (nothing runs before the first
  // release). gunicorn re-reads it on a graceful reload, so a Django app drops no request; the
  // others restart (Celery's warm shutdown lets running tasks finish).
  // A Procfile app's web instances take over in the release step instead (a new set with the new
  // environment, each checked, then the old set stops).
  const web = appUnits(ctx).web;
  const procfile = ctx.pillar.app.type === 'procfile';
  const again = django
    ? `if [ "$u" = ${web} ]; then (\n${gracefulReload(web, ctx.pillar.app.workers)}\n) || exit 1; else systemctl restart "$u"; fi`
    : procfile
      ? `case "$u" in ${quote(`${ctx.project}-web@`)}*) ;; *) systemctl restart "$u" ;; esac`
      : 'systemctl restart "$u"';
  // a Procfile app's web processes take the new environment up in the release step (processes.ts)
  const pending = procfile ? `touch ${quote(envPendingFile(ctx.pillar))}; ` : '';
  const describe = django
    ? `the app's running units read the new environment: a graceful reload of ${web} (no request dropped), a restart of the others`
    : procfile
      ? "restart the app's running processes but web, whose instances take over with the new environment in the release step"
      : "restart the app's running units (they read the new environment)";
  const handlers: Handler[] = [{ id: 'handler:app-restart', describe, run: { line: `${pending}for u in $(${activeAppUnits(ctx)}); do ${again}; done; true` } }];
  return { states, handlers };
}

/** The pillar's cron jobs this host runs: those of its roles (only the first host of the role when `once`). */
export function cronJobsFor(ctx: RoleContext): { name: string; schedule: string; command: string }[] {
  return ctx.pillar.cron.filter((job) => {
    const holders = hostsWith(ctx, job.role);
    if (!holders.some((h) => h.name === ctx.host.name)) return false;
    return !job.once || holders[0]?.name === ctx.host.name;
  });
}

/**
 * A Procfile app runs no single app unit: the units of another app type are stopped and removed
 * (the release pipeline runs the Procfile's processes).
 */
export function retiredUnits(names: string[]): State[] {
  return names.flatMap((name): State[] => [
    { id: `service:${name}`, kind: 'service', params: { name, enabled: false, running: false } },
    { id: `absent:/etc/systemd/system/${name}`, kind: 'absent', params: { path: `/etc/systemd/system/${name}` }, requires: [`service:${name}`] },
  ]);
}

/** gunicorn's configuration (Django apps): it reads the app's environment. */
export function gunicornConf(ctx: { project: string }): string {
  return `${appPaths(ctx).shared}/gunicorn.conf.py`;
}

export function web(ctx: RoleContext): RoleParts {
  const shared = appBase(ctx);
  const p = appPaths(ctx);
  const user = appUser(ctx);
  const units = appUnits(ctx);
  const app = ctx.pillar.app;
  if (app.type === 'procfile') {
    const ports = webFirewallRange(ctx.pillar);
    return {
      states: [...shared.states, ...retiredUnits([units.web])],
      handlers: shared.handlers,
      firewall: [{ port: `${ports.first}-${ports.last}`, proto: 'tcp', from: hostsWith(ctx, 'balancer'), comment: 'web processes, from balancers' }],
    };
  }
  if (app.type === 'command' && !app.start_command) throw new UsageError(`app.type is command but pillar/project.yml has no app.start_command`);
  const withEnv = shellLine([WITH_ENV, p.envFile]);
  const unit =
    app.type === 'django'
      ? ctx.tpl.render('web/gunicorn.service.njk', {
          project: ctx.project,
          paths: p,
          user,
          port: app.port,
          workers: app.workers,
          // no with-env: the config reads the env file, at start and on every reload
          exec_start: appExecStart(
            `exec ${pythonOf(p.current)} -m gunicorn ${shellLine([
              '--config', gunicornConf(ctx), '--pythonpath', p.current, '--bind', `0.0.0.0:${app.port}`, '--workers', String(app.workers), '--graceful-timeout', '30',
              '--access-logfile', `${p.log}/access.log`, '--error-logfile', `${p.log}/error.log`, app.wsgi ?? `${ctx.project}.wsgi:application`,
            ])}`,
          ),
        })
      : ctx.tpl.render('web/command.service.njk', {
          project: ctx.project,
          paths: p,
          user,
          port: app.port,
          // the app's own start command (one line, by the schema), run by sh as on Heroku
          exec_start: appExecStart(`cd ${quote(p.current)} && exec ${withEnv} ${app.start_command ?? ''}`),
        });
  const conf: State[] =
    app.type === 'django'
      ? [{ id: `file:${gunicornConf(ctx)}`, kind: 'file', params: { path: gunicornConf(ctx), content: text(ctx.tpl.render('web/gunicorn.conf.py.njk', { env_file: p.envFile })), mode: 0o644 }, notify: ['handler:web-restart'] }]
      : [];
  return {
    states: [
      ...shared.states,
      ...conf,
      { id: `unit:${units.web}`, kind: 'unit', params: { name: units.web, content: text(unit) }, notify: ['handler:web-restart'] },
      { id: `service:${units.web}`, kind: 'service', params: { name: units.web, enabled: true, running: true, whenExists: p.current }, requires: [`unit:${units.web}`] },
    ],
    handlers: [...(shared.handlers ?? []), { id: 'handler:web-restart', describe: `restart ${units.web} where running`, run: { line: `systemctl is-active --quiet ${units.web} && systemctl restart ${units.web}; true` } }],
    firewall: [{ port: app.port, proto: 'tcp', from: hostsWith(ctx, 'balancer'), comment: 'app server, from balancers' }],
  };
}
