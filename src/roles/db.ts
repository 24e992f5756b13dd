/**
 * `db`: PostgreSQL from the distro, the role and database `<project>_<env>` with the pillar's
 * DB_PASSWORD (handed to PostgreSQL as a SCRAM verifier, never as the password), reachable only
 * from the app hosts — by the firewall and by pg_hba.conf alike.
 */
import { UsageError } from '../errors.js';
import type { State } from '../states/types.js';
import { clientsOfServices, PORTS, serviceName } from './app.js';
import { text, type HostFacts, type RoleContext, type RoleParts } from './context.js';

const DISTRO_POSTGRES: Record<string, string> = { 'debian/12': '15', 'debian/13': '17', 'ubuntu/22.04': '14', 'ubuntu/24.04': '16' };

export function postgresVersion(facts: HostFacts): string {
  const existing = [...facts.postgresClusters].sort((a, b) => Number(b) - Number(a))[0];
  return existing ?? DISTRO_POSTGRES[`${facts.osId}/${facts.osVersion}`] ?? '15';
}

export function db(ctx: RoleContext): RoleParts {
  const password = ctx.pillar.secrets.DB_PASSWORD;
  if (!password) throw new UsageError(`the db role needs secrets.DB_PASSWORD in pillar/${ctx.env}.yml`, `ops encrypt ${ctx.env} DB_PASSWORD --generate 32 --write`);
  const name = serviceName(ctx);
  const v = postgresVersion(ctx.facts);
  const etc = `/etc/postgresql/${v}/main`;
  const clients = clientsOfServices(ctx);
  const states: State[] = [
    { id: 'pkg:postgresql', kind: 'pkg', params: { names: ['postgresql'] } },
    { id: `file:${etc}/conf.d/ops.conf`, kind: 'file', params: { path: `${etc}/conf.d/ops.conf`, content: text(ctx.tpl.render('db/postgresql.conf.njk', {})), mode: 0o644, owner: 'postgres', group: 'postgres' }, requires: ['pkg:postgresql'], notify: ['handler:postgresql-restart'] },
    {
      id: `block:${etc}/pg_hba.conf`,
      kind: 'block',
      params: { path: `${etc}/pg_hba.conf`, marker: `${ctx.project} app hosts`, content: ctx.tpl.render('db/pg_hba.njk', { clients, database: name, role: name }) },
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
      { id: 'handler:postgresql-restart', run: { argv: ['systemctl', 'restart', 'postgresql'] } },
      { id: 'handler:postgresql-reload', run: { argv: ['systemctl', 'reload', 'postgresql'] } },
    ],
    firewall: [{ port: PORTS.db, proto: 'tcp', from: clients, comment: 'postgresql, from app hosts' }],
  };
}
