/** `cache`: memcached (or Redis) listening where the app hosts reach it, and only for them. */
import type { State } from '../states/types.js';
import { cachePort, clientsOfServices } from './app.js';
import { text, type RoleContext, type RoleParts } from './context.js';

export function cache(ctx: RoleContext): RoleParts {
  const clients = clientsOfServices(ctx);
  const port = cachePort(ctx);
  const firewall = [{ port, proto: 'tcp' as const, from: clients, comment: `${ctx.pillar.cache.backend}, from app hosts` }];
  if (ctx.pillar.cache.backend === 'redis') {
    const conf = '/etc/redis/redis.conf';
    const states: State[] = [
      { id: 'pkg:redis-server', kind: 'pkg', params: { names: ['redis-server'] } },
      { id: `line:${conf}:bind`, kind: 'line', params: { path: conf, line: `bind 127.0.0.1 -::1 ${ctx.host.privateAddress}`, match: '^bind ' }, requires: ['pkg:redis-server'], notify: ['handler:cache-restart'] },
      // Reached only from the app hosts (firewall); no password, as with memcached.
      { id: `line:${conf}:protected-mode`, kind: 'line', params: { path: conf, line: 'protected-mode no', match: '^protected-mode ' }, requires: ['pkg:redis-server'], notify: ['handler:cache-restart'] },
      { id: 'service:redis-server', kind: 'service', params: { name: 'redis-server', enabled: true, running: true }, requires: ['pkg:redis-server'] },
    ];
    return { states, handlers: [{ id: 'handler:cache-restart', run: { argv: ['systemctl', 'restart', 'redis-server'] } }], firewall };
  }
  const states: State[] = [
    { id: 'pkg:memcached', kind: 'pkg', params: { names: ['memcached'] } },
    {
      id: 'file:/etc/memcached.conf',
      kind: 'file',
      params: { path: '/etc/memcached.conf', content: text(ctx.tpl.render('cache/memcached.conf.njk', { port, address: ctx.host.privateAddress, memory_mb: 64 })), mode: 0o644 },
      requires: ['pkg:memcached'],
      notify: ['handler:cache-restart'],
    },
    { id: 'service:memcached', kind: 'service', params: { name: 'memcached', enabled: true, running: true }, requires: ['pkg:memcached'] },
  ];
  return { states, handlers: [{ id: 'handler:cache-restart', run: { argv: ['systemctl', 'restart', 'memcached'] } }], firewall };
}
