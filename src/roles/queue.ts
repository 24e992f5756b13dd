/** `queue`: RabbitMQ with the vhost and user `<project>_<env>` (BROKER_PASSWORD), guest removed, reachable by the app hosts only. */
import { UsageError } from '../errors.js';
import { clientsOfServices, PORTS, serviceName } from './app.js';
import type { RoleContext, RoleParts } from './context.js';

export function queue(ctx: RoleContext): RoleParts {
  const password = ctx.pillar.secrets.BROKER_PASSWORD;
  if (!password) throw new UsageError(`the queue role needs secrets.BROKER_PASSWORD in pillar/${ctx.env}.yml`, `ops encrypt ${ctx.env} BROKER_PASSWORD --generate 32 --write`);
  const name = serviceName(ctx);
  return {
    states: [
      { id: 'pkg:rabbitmq-server', kind: 'pkg', params: { names: ['rabbitmq-server'] } },
      { id: 'service:rabbitmq-server', kind: 'service', params: { name: 'rabbitmq-server', enabled: true, running: true }, requires: ['pkg:rabbitmq-server'] },
      { id: `rabbitmq:${name}`, kind: 'rabbitmq_access', params: { vhost: name, user: name, password }, requires: ['service:rabbitmq-server'] },
    ],
    firewall: [{ port: PORTS.queue, proto: 'tcp', from: clientsOfServices(ctx), comment: 'rabbitmq, from app hosts' }],
  };
}
