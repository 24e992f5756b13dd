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

/**
 * Restarts the broker unless it started after its config last changed (as on a first install,
 * where the package starts it with the config already in place): a RabbitMQ restart takes seconds.
 */
const RESTART_UNLESS_CURRENT = [
  `started=$(systemctl show -P ActiveEnterTimestamp rabbitmq-server)`,
  `if [ -n "$started" ] && [ "$(date -d "$started" +%s)" -gt "$(stat -c %Y ${RABBITMQ_CONF})" ]; then echo 'rabbitmq-server started after its config changed: no restart'; else systemctl restart rabbitmq-server; fi`,
].join('; ');

export function queue(ctx: RoleContext): RoleParts {
  const password = ctx.pillar.secrets.BROKER_PASSWORD;
  if (!password)
    throw new UsageError(
      `the queue role of ${ctx.host.name} needs secrets.BROKER_PASSWORD in the pillar of '${ctx.env}'`,
      `create it: ops encrypt ${ctx.env} BROKER_PASSWORD --generate --write`,
    );
  const name = serviceName(ctx);
  const states: State[] = [
    // The config is in place before the package starts the broker, so it never listens elsewhere.
    // (The package makes /etc/rabbitmq its own, so only its existence is ensured here.)
    {
      id: 'cmd:/etc/rabbitmq',
      kind: 'cmd',
      params: { run: { argv: ['mkdir', '-p', '/etc/rabbitmq'] }, creates: '/etc/rabbitmq', describe: 'mkdir /etc/rabbitmq' },
    },
    {
      id: `file:${RABBITMQ_CONF}`,
      kind: 'file',
      params: {
        path: RABBITMQ_CONF,
        content: text(ctx.tpl.render('queue/rabbitmq.conf.njk', { address: ctx.host.privateAddress, port: PORTS.queue })),
        mode: 0o644,
      },
      requires: ['cmd:/etc/rabbitmq'],
      notify: ['handler:rabbitmq-restart'],
    },
    { id: 'pkg:rabbitmq-server', kind: 'pkg', params: { names: ['rabbitmq-server'] }, requires: [`file:${RABBITMQ_CONF}`] },
    { id: 'service:rabbitmq-server', kind: 'service', params: { name: 'rabbitmq-server', enabled: true, running: true }, requires: ['pkg:rabbitmq-server'] },
    { id: `rabbitmq:${name}`, kind: 'rabbitmq_access', params: { vhost: name, user: name, password }, requires: ['service:rabbitmq-server'] },
  ];
  return {
    states,
    handlers: [{ id: 'handler:rabbitmq-restart', describe: 'restart RabbitMQ unless it runs the current configuration', run: { line: RESTART_UNLESS_CURRENT } }],
    firewall: [{ port: PORTS.queue, proto: 'tcp', from: clientsOfServices(ctx), comment: 'rabbitmq, from app hosts' }],
  };
}
