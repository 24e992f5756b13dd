/**
 * `queue`: RabbitMQ from the distro, AMQP listening on localhost and the host's private address,
 * the vhost and user `<project>_<env>` (BROKER_PASSWORD) with full rights on that vhost, the
 * `guest` user removed, reachable by the app hosts only.
 */
import { UsageError } from '../errors.js';
import type { State } from '../states/types.js';
import { clientsOfServices, PORTS, serviceName } from './app.js';
import { text, type RoleContext, type RoleParts } from './context.js';

export const RABBITMQ_CONF = '/etc/rabbitmq/rabbitmq.conf';

export function queue(ctx: RoleContext): RoleParts {
  const password = ctx.pillar.secrets.BROKER_PASSWORD;
  if (!password) throw new UsageError(`the queue role of ${ctx.host.name} needs secrets.BROKER_PASSWORD in the pillar of '${ctx.env}'`, `create it: ops encrypt ${ctx.env} BROKER_PASSWORD --generate --write`);
  const name = serviceName(ctx);
  const states: State[] = [
    { id: 'pkg:rabbitmq-server', kind: 'pkg', params: { names: ['rabbitmq-server'] } },
    {
      id: `file:${RABBITMQ_CONF}`,
      kind: 'file',
      // The package makes /etc/rabbitmq its own; the file stays readable by the broker either way.
      params: { path: RABBITMQ_CONF, content: text(ctx.tpl.render('queue/rabbitmq.conf.njk', { address: ctx.host.privateAddress, port: PORTS.queue })), mode: 0o644, owner: 'rabbitmq', group: 'rabbitmq' },
      requires: ['pkg:rabbitmq-server'],
      notify: ['handler:rabbitmq-restart'],
    },
    { id: 'service:rabbitmq-server', kind: 'service', params: { name: 'rabbitmq-server', enabled: true, running: true }, requires: ['pkg:rabbitmq-server'] },
    { id: `rabbitmq:${name}`, kind: 'rabbitmq_access', params: { vhost: name, user: name, password }, requires: ['service:rabbitmq-server'] },
  ];
  return {
    states,
    handlers: [{ id: 'handler:rabbitmq-restart', run: { argv: ['systemctl', 'restart', 'rabbitmq-server'] } }],
    firewall: [{ port: PORTS.queue, proto: 'tcp', from: clientsOfServices(ctx), comment: 'rabbitmq, from app hosts' }],
  };
}
