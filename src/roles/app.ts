/**
 * Conventions every app-related role shares: the app user and paths (the seed's
 * /var/www/<project>/ layout), names of the database and broker objects, the services' addresses,
 * and the one environment file all app processes read.
 */
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';
import { quote } from '../ssh/quote.js';
import { systemdExec } from './escape.js';
import { appHosts, hostsWith, type Host, type RoleContext } from './context.js';

/** Secrets that are never part of the app's environment: they only reach the checkout or balancers. */
export const RESERVED_SECRETS = ['deploy_key', 'ssl_cert', 'ssl_key'] as const;

export const PORTS = { db: 5432, queue: 5672, memcached: 11211, redis: 6379 } as const;

export function appUser(ctx: { project: string }): string {
  return ctx.project;
}

export function appPaths(ctx: { project: string }) {
  const root = `/var/www/${ctx.project}`;
  return {
    root,
    releases: `${root}/releases`,
    current: `${root}/current`,
    shared: `${root}/shared`,
    envFile: `${root}/shared/env`,
    log: `${root}/log`,
    public: `${root}/public`,
    static: `${root}/public/static`,
    media: `${root}/public/media`,
    ssl: `${root}/ssl`,
    /** A Procfile app's template units on this host, kept by the release pipeline. */
    processes: `${root}/processes.list`,
  };
}

/** `<project>_<env>`: the database, its role, the broker vhost and user. */
export function serviceName(ctx: { project: string; env: string }): string {
  return `${ctx.project}_${ctx.env}`.replace(/[^a-z0-9_]/g, '_');
}

/** The first host with the role (services are single hosts in ops's model). */
export function serviceHost(ctx: RoleContext, role: 'db' | 'cache' | 'queue'): Host | undefined {
  return hostsWith(ctx, role)[0];
}

export function cachePort(ctx: RoleContext): number {
  return ctx.pillar.cache.backend === 'redis' ? PORTS.redis : PORTS.memcached;
}

/** Hosts allowed to reach the data services: the app hosts. */
export function clientsOfServices(ctx: RoleContext): Host[] {
  return appHosts(ctx);
}

/**
 * The app's environment on this host: service addresses and URLs from the inventory, then pillar
 * `env:` (which overrides them), then the app's secrets — never deploy_key, ssl_cert, ssl_key —
 * then `env_aliases` (another name for a variable set here, e.g. CELERY_BROKER_URL: AMQP_URL).
 */
export function appEnvironment(ctx: RoleContext): Record<string, string> {
  const name = serviceName(ctx);
  const db = serviceHost(ctx, 'db');
  const cache = serviceHost(ctx, 'cache');
  const queue = serviceHost(ctx, 'queue');
  const vars: Record<string, string> = { OPS_ENVIRONMENT: ctx.env, OPS_PROJECT: ctx.project };
  if (ctx.pillar.domain) vars.DOMAIN = ctx.pillar.domain;
  if (db) Object.assign(vars, { DB_NAME: name, DB_USER: name, DB_HOST: db.privateAddress, DB_PORT: String(PORTS.db) });
  if (cache) vars.CACHE_HOST = `${cache.privateAddress}:${cachePort(ctx)}`;
  if (queue) Object.assign(vars, { BROKER_HOST: `${queue.privateAddress}:${PORTS.queue}`, BROKER_VHOST: name, BROKER_USER: name });
  Object.assign(vars, serviceUrls(ctx));
  for (const [k, v] of Object.entries(ctx.pillar.env)) vars[k] = String(v);
  for (const [k, v] of Object.entries(ctx.pillar.secrets)) if (!(RESERVED_SECRETS as readonly string[]).includes(k)) vars[k] = v;
  for (const [alias, of] of Object.entries(ctx.pillar.env_aliases)) {
    const v = vars[of];
    if (v === undefined) throw new UsageError(`env_aliases.${alias}: the app's environment has no ${of} on ${ctx.host.name}`, `names it has: ${Object.keys(vars).sort().join(', ')}`);
    vars[alias] = v;
  }
  return vars;
}

/** A URL's host part: an IPv6 address in brackets. */
function urlHost(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address;
}

/**
 * The services as the URLs Heroku-style apps read (DATABASE_URL, AMQP_URL, REDIS_URL), built from
 * the inventory and the secrets; user, password and database percent-encoded. They hold the
 * passwords, so they live only in the environment file (and the redactor knows the encoded form).
 */
export function serviceUrls(ctx: RoleContext): Record<string, string> {
  const name = serviceName(ctx);
  const e = encodeURIComponent;
  const urls: Record<string, string> = {};
  const db = serviceHost(ctx, 'db');
  const dbPassword = ctx.pillar.secrets.DB_PASSWORD;
  if (db && dbPassword !== undefined) urls.DATABASE_URL = `postgres://${e(name)}:${e(dbPassword)}@${urlHost(db.privateAddress)}:${PORTS.db}/${e(name)}`;
  const queue = serviceHost(ctx, 'queue');
  const brokerPassword = ctx.pillar.secrets.BROKER_PASSWORD;
  if (queue && brokerPassword !== undefined) urls.AMQP_URL = `amqp://${e(name)}:${e(brokerPassword)}@${urlHost(queue.privateAddress)}:${PORTS.queue}/${e(name)}`;
  const cache = serviceHost(ctx, 'cache');
  if (cache && ctx.pillar.cache.backend === 'redis') urls.REDIS_URL = `redis://${urlHost(cache.privateAddress)}:${PORTS.redis}/0`;
  return urls;
}

/**
 * The environment file: `export NAME='value'` lines, quoted by ops's one quoting function, so any
 * value (quotes, $, \, newlines, unicode) survives; app server, workers and manage-run all read
 * it through /usr/local/lib/ops/with-env.
 */
export function renderEnvFile(vars: Record<string, string>): string {
  const lines = Object.entries(vars)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `export ${k}=${quote(v)}`);
  return `# Managed by ops: the app's environment (read by with-env). Do not edit.\n${lines.join('\n')}\n`;
}

export const WITH_ENV = '/usr/local/lib/ops/with-env';

export const WITH_ENV_SCRIPT = `#!/bin/sh
# Managed by ops. Usage: with-env FILE COMMAND [ARG...]
# Runs COMMAND with the variables of FILE (written by ops, export NAME='value' lines) exported.
set -e
f=$1
shift
. "$f"
exec "$@"
`;

/** systemd units of the app. */
export function appUnits(ctx: { project: string }) {
  return { web: `${ctx.project}-web.service`, worker: `${ctx.project}-worker.service`, beat: `${ctx.project}-beat.service` };
}

/**
 * Graceful reload of gunicorn (HUP) that returns once the old workers are gone and new ones
 * serve; new workers read the app's environment again (web/gunicorn.conf.py). A restart when
 * `ops_restart` is 1 (the interpreter changed) or the unit does not run.
 */
export function gracefulReload(unit: string, workers: number): string {
  return `u=${unit}
if [ "\${ops_restart:-0}" = 1 ] || ! systemctl is-active --quiet "$u"; then systemctl enable --quiet "$u"; systemctl restart "$u"; sleep 1; systemctl is-active --quiet "$u"; exit $?; fi
m=$(systemctl show -p MainPID --value "$u")
old=$(cat /proc/$m/task/$m/children 2>/dev/null || true)
systemctl reload "$u"
i=0
while [ $i -lt 90 ]; do
  sleep 0.5; i=$((i+1))
  systemctl is-active --quiet "$u" || { echo "$u stopped after the reload" >&2; exit 3; }
  now=" $(cat /proc/$m/task/$m/children 2>/dev/null || true) "
  left=0; for p in $old; do case "$now" in *" $p "*) left=1;; esac; done
  [ $left = 0 ] && [ $(echo $now | wc -w) -ge ${workers} ] && exit 0
done
echo "$u: old workers still running 45 s after the reload" >&2; exit 4`;
}

/** The port a web unit serves on: app.port for the app's web unit, a Procfile web instance's own. */
export function webUnitPort(pillar: { project: string; app: { port: number } }, unit: string): number | undefined {
  if (unit === appUnits(pillar).web) return pillar.app.port;
  const m = /^(.+)-web@([0-9]+)\.service$/.exec(unit);
  return m && m[1] === pillar.project && Number(m[2]) > 0 ? pillar.app.port + Number(m[2]) - 1 : undefined;
}

/**
 * Shell text printing the app's active units on a host, one per line: the app units of its type
 * and the running instances of a Procfile app's processes (its template units in processes.list).
 */
export function activeAppUnits(ctx: { project: string }): string {
  const units = appUnits(ctx);
  return `{ for u in ${units.web} ${units.worker} ${units.beat}; do systemctl is-active --quiet "$u" && echo "$u"; done; for t in $(cat ${quote(appPaths(ctx).processes)} 2>/dev/null); do systemctl list-units --plain --no-legend --state=active "\${t%@.service}@*.service" | awk '{print $1}'; done; true; }`;
}

/**
 * The Python an app command runs with (shell text): the release's virtualenv when it has one, else
 * the system's. Used by units, releases and manage-run alike.
 */
export function pythonOf(release: string): string {
  const venv = quote(`${release}/venv/bin/python`);
  return `$(test -x ${venv} && echo ${venv} || echo /usr/bin/python3)`;
}

/**
 * A systemd `ExecStart=` that runs `command` (shell text ops composed of quoted words, plus the
 * app's own start command where it has one) with the app's environment: `/bin/sh -c …`, the whole
 * script one systemd word.
 */
export function appExecStart(script: string): string {
  return systemdExec(['/bin/sh', '-c', script]);
}
