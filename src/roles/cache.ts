/**
 * `cache`: memcached (the default) or Redis (`cache: {backend: redis}`), listening on localhost
 * and the host's private address, reachable by the app hosts only. The backend not chosen is
 * stopped if it is there (switching backends leaves no second cache running).
 */
import type { Handler, State } from '../states/types.js';
import { cachePort, clientsOfServices } from './app.js';
import { text, type FirewallRule, type RoleContext, type RoleParts } from './context.js';

export const REDIS_CONF = '/etc/redis/redis.conf';
export const MEMCACHED_CONF = '/etc/memcached.conf';
const MEMCACHED_MEMORY_MB = 64;

const stopped = (name: string): State => ({ id: `service:${name}`, kind: 'service', params: { name, enabled: false, running: false } });

function memcached(ctx: RoleContext, port: number): { states: State[]; handlers: Handler[] } {
  const content = text(ctx.tpl.render('cache/memcached.conf.njk', { port, address: ctx.host.privateAddress, memory_mb: MEMCACHED_MEMORY_MB }));
  return {
    states: [
      stopped('redis-server'),
      { id: 'pkg:memcached', kind: 'pkg', params: { names: ['memcached'] } },
      {
        id: `file:${MEMCACHED_CONF}`,
        kind: 'file',
        params: { path: MEMCACHED_CONF, content, mode: 0o644 },
        requires: ['pkg:memcached'],
        notify: ['handler:memcached-restart'],
      },
      { id: 'service:memcached', kind: 'service', params: { name: 'memcached', enabled: true, running: true }, requires: ['pkg:memcached'] },
    ],
    handlers: [{ id: 'handler:memcached-restart', describe: 'restart memcached (the cache starts empty)', run: { argv: ['systemctl', 'restart', 'memcached'] } }],
  };
}

function redis(ctx: RoleContext, port: number): { states: State[]; handlers: Handler[] } {
  const edit = (key: string, line: string): State => ({
    id: `line:${REDIS_CONF}:${key}`,
    kind: 'line',
    params: { path: REDIS_CONF, line, match: `^${key} ` },
    requires: ['pkg:redis-server'],
    notify: ['handler:redis-restart'],
  });
  return {
    states: [
      stopped('memcached'),
      { id: 'pkg:redis-server', kind: 'pkg', params: { names: ['redis-server'] } },
      edit('bind', `bind 127.0.0.1 -::1 ${ctx.host.privateAddress}`),
      edit('port', `port ${port}`),
      // No password (as with memcached): only the app hosts get through the firewall. Protected
      // mode would refuse them, since no password is set.
      edit('protected-mode', 'protected-mode no'),
      { id: 'service:redis-server', kind: 'service', params: { name: 'redis-server', enabled: true, running: true }, requires: ['pkg:redis-server'] },
    ],
    handlers: [{ id: 'handler:redis-restart', describe: 'restart Redis', run: { argv: ['systemctl', 'restart', 'redis-server'] } }],
  };
}

export function cache(ctx: RoleContext): RoleParts {
  const backend = ctx.pillar.cache.backend;
  const port = cachePort(ctx);
  const firewall: FirewallRule[] = [{ port, proto: 'tcp', from: clientsOfServices(ctx), comment: `${backend}, from app hosts` }];
  return { ...(backend === 'redis' ? redis(ctx, port) : memcached(ctx, port)), firewall };
}
