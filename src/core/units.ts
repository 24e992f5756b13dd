/**
 * The systemd units behind a host's roles, by the names operators use (`web`, `worker`, a Procfile
 * type, `nginx`, `postgres`, …): what `ops logs --unit` and `ops status` look at. Procfile
 * processes are template instances, named by glob (`<project>-worker@*.service`).
 */
import { UsageError } from '../errors.js';
import { PROCESS_TYPE_RE } from '../pillar/forms.js';
import type { Pillar } from '../pillar/schema.js';
import { appUnits } from '../roles/app.js';
import { renewalUnits } from '../tls/paths.js';

/** A unit name or glob as journalctl -u takes it. */
const UNIT_RE = /^[A-Za-z0-9@_.:*\\-]+\.(?:service|timer|socket|target|mount|slice|scope)$/;

/** Services of the data roles, by their usual names. */
function serviceUnits(pillar: Pillar, env: string): Record<string, string[]> {
  return {
    nginx: ['nginx.service'],
    postgres: ['postgresql@*.service'],
    postgresql: ['postgresql@*.service'],
    rabbitmq: ['rabbitmq-server.service'],
    redis: ['redis-server.service'],
    memcached: ['memcached.service'],
    cache: [pillar.cache.backend === 'redis' ? 'redis-server.service' : 'memcached.service'],
    ssh: ['ssh.service'],
    cron: ['cron.service'],
    acme: [renewalUnits(env).service],
  };
}

/** The units of an app process name: web, worker, beat, or (Procfile apps) any process type. */
function appProcessUnits(pillar: Pillar, name: string): string[] | undefined {
  const project = pillar.project;
  if (pillar.app.type === 'procfile') return PROCESS_TYPE_RE.test(name) ? [`${project}-${name}@*.service`] : undefined;
  const units = appUnits(pillar);
  if (name === 'web') return [units.web];
  if (name === 'worker') return [units.worker];
  if (name === 'beat') return [units.beat];
  return undefined;
}

/** The units `--unit NAME` means; a unit name (`foo.service`) is taken as it is. */
export function unitsNamed(pillar: Pillar, env: string, name: string): string[] {
  const service = serviceUnits(pillar, env)[name];
  if (service) return service;
  const app = appProcessUnits(pillar, name);
  if (app) return app;
  if (UNIT_RE.test(name)) return [name];
  const names = ['web', ...(pillar.app.type === 'procfile' ? ['<Procfile type>'] : ['worker', 'beat']), ...Object.keys(serviceUnits(pillar, env))];
  throw new UsageError(`no unit '${name}'`, `give one of ${names.join(', ')}, or a unit name such as nginx.service`);
}

/** The app's units on a host with these roles (web and worker hosts). */
export function appUnitsFor(pillar: Pillar, roles: readonly string[]): string[] {
  const app = roles.includes('web') || roles.includes('worker');
  if (!app) return [];
  if (pillar.app.type === 'procfile') return [`${pillar.project}-*@*.service`];
  const units = appUnits(pillar);
  return [...(roles.includes('web') ? [units.web] : []), ...(roles.includes('worker') ? [units.worker, units.beat] : [])];
}

/** The units a host's roles run: its app processes and services (what `ops logs` shows by default). */
export function roleUnits(pillar: Pillar, env: string, roles: readonly string[]): string[] {
  const s = serviceUnits(pillar, env);
  const units = [...appUnitsFor(pillar, roles)];
  if (roles.includes('balancer')) units.push(...(s.nginx ?? []));
  if (roles.includes('db') || roles.includes('db-master')) units.push(...(s.postgres ?? []));
  if (roles.includes('queue')) units.push(...(s.rabbitmq ?? []));
  if (roles.includes('cache')) units.push(...(s.cache ?? []));
  if (roles.includes('master') || roles.includes('salt-master')) units.push(...(s.acme ?? []));
  return [...new Set(units)];
}
