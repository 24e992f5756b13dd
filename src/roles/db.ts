/**
 * `db`: PostgreSQL from the distro, the role and database `<project>_<env>` with the pillar's
 * DB_PASSWORD (handed to PostgreSQL as a SCRAM verifier, never as the password), reachable only
 * from the app hosts — by the firewall and by pg_hba.conf alike.
 */
import { UsageError } from '../errors.js';
import { supportedRelease } from '../platform/releases.js';
import { pgHbaAddress } from './escape.js';
import type { State } from '../states/types.js';
import { clientsOfServices, PORTS, serviceName } from './app.js';
import { text, type Host, type HostFacts, type RoleContext, type RoleParts } from './context.js';

/**
 * The cluster ops manages: the one on PostgreSQL's port (a host upgraded in place from Debian 12
 * keeps serving from its 15 cluster, and the new release's empty cluster on the next port is left
 * alone, until the operator runs pg_upgradecluster, which moves the port with the data), else the
 * newest existing one, else the one the release's package will make.
 */
export function postgresVersion(facts: HostFacts, host = 'the db host'): string {
  const clusters = [...facts.postgresClusters].sort((a, b) => Number(b.version) - Number(a.version));
  return (clusters.find((c) => c.port === PORTS.db) ?? clusters[0])?.version ?? supportedRelease(host, facts).postgres;
}

/**
 * The configuration is reloaded first; PostgreSQL restarts (dropping every connection) only when a
 * setting it read needs one (`pg_settings.pending_restart`, a second after the reload) — or when it
 * cannot be asked, or was not running. A server that already listens on every address (`'*'`, as margarita's configuration had it) keeps running
 * when listen_addresses is the only such setting: it serves the addresses ops names already, and
 * the firewall and pg_hba.conf admit only the app hosts; it narrows at its next restart.
 */
export const RESTART_IF_NEEDED = `systemctl reload postgresql 2>/dev/null || { systemctl restart postgresql; exit $?; }
sleep 1
sql() { runuser -u postgres -- psql -XAtq -p ${PORTS.db} -c "$1" 2>/dev/null; }
pending=$(sql "select coalesce(string_agg(name, ',' order by name), '') from pg_settings where pending_restart") || { systemctl restart postgresql; exit $?; }
[ -z "$pending" ] && exit 0
[ "$pending" = listen_addresses ] && [ "$(sql 'show listen_addresses')" = '*' ] && { echo "PostgreSQL listens on every address already: no restart for listen_addresses"; exit 0; }
systemctl restart postgresql`;

/** A pg_hba.conf address field admitting exactly one host. */
export function hbaAddress(h: Host): string {
  return pgHbaAddress(h.privateAddress);
}

export function db(ctx: RoleContext): RoleParts {
  const password = ctx.pillar.secrets.DB_PASSWORD;
  if (!password)
    throw new UsageError(
      `the db role of ${ctx.host.name} needs secrets.DB_PASSWORD in the pillar of '${ctx.env}'`,
      `create it: ops encrypt ${ctx.env} DB_PASSWORD --generate --write`,
    );
  const name = serviceName(ctx);
  const v = postgresVersion(ctx.facts, ctx.host.name);
  const etc = `/etc/postgresql/${v}/main`;
  const clients = clientsOfServices(ctx);
  const conf = `${etc}/conf.d/ops.conf`;
  const hba = `${etc}/pg_hba.conf`;
  const states: State[] = [
    { id: 'pkg:postgresql', kind: 'pkg', params: { names: ['postgresql'] } },
    {
      id: `file:${conf}`,
      kind: 'file',
      params: {
        path: conf,
        content: text(ctx.tpl.render('db/postgresql.conf.njk', { address: ctx.host.privateAddress, port: PORTS.db })),
        mode: 0o644,
        owner: 'postgres',
        group: 'postgres',
      },
      requires: ['pkg:postgresql'],
      notify: ['handler:postgresql-restart'],
    },
    {
      id: `block:${hba}`,
      kind: 'block',
      params: {
        path: hba,
        marker: `${name} app hosts`,
        content: ctx.tpl.render('db/pg_hba.njk', {
          clients: clients.map((h) => ({ name: h.name, address: hbaAddress(h), privateAddress: h.privateAddress })),
          database: name,
          role: name,
        }),
      },
      requires: ['pkg:postgresql'],
      notify: ['handler:postgresql-reload'],
    },
    { id: 'service:postgresql', kind: 'service', params: { name: 'postgresql', enabled: true, running: true }, requires: ['pkg:postgresql'] },
    { id: `pg_role:${name}`, kind: 'pg_role', params: { name, password }, requires: ['service:postgresql'] },
    { id: `pg_db:${name}`, kind: 'pg_db', params: { name, owner: name }, requires: [`pg_role:${name}`] },
  ];
  return {
    states,
    handlers: [
      // listen_addresses takes a restart; pg_hba.conf a reload. Both go through postgresql.service,
      // which Debian's postgresql@<version>-<cluster> units follow.
      { id: 'handler:postgresql-restart', describe: 'restart PostgreSQL when a changed setting needs it (connections are dropped), else reload it', run: { argv: ['sh', '-c', RESTART_IF_NEEDED] } },
      { id: 'handler:postgresql-reload', describe: 'reload PostgreSQL (pg_hba.conf)', run: { argv: ['systemctl', 'reload', 'postgresql'] } },
    ],
    firewall: [{ port: PORTS.db, proto: 'tcp', from: clients, comment: 'postgresql, from app hosts' }],
  };
}
