/**
 * The data-service roles (db, cache, queue) rendered without hosts, and the RabbitMQ plan: which
 * hosts may reach what, secrets never in a command line, idempotent plans.
 */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { pillarSchema } from '../../src/pillar/schema.js';
import { cache } from '../../src/roles/cache.js';
import type { Host, HostFacts, RoleContext } from '../../src/roles/context.js';
import { parseClusters } from '../../src/converge/hostfacts.js';
import { db, hbaAddress, postgresVersion } from '../../src/roles/db.js';
import { renderHost } from '../../src/roles/index.js';
import { queue } from '../../src/roles/queue.js';
import { templates } from '../../src/roles/templates.js';
import { IMPORT_SCRIPT, rabbitAccess, rabbitHash, rabbitHashMatches, RABBIT_SHA256 } from '../../src/states/kinds/rabbitmq.js';
import type { State, Step } from '../../src/states/types.js';

const HOSTS: Host[] = [
  { name: 'm', address: '10.0.0.1', privateAddress: '10.0.0.1', port: 22, roles: ['master'] },
  { name: 'data', address: '192.0.2.2', privateAddress: '10.0.0.2', port: 22, roles: ['db', 'queue', 'cache'] },
  { name: 'app1', address: '192.0.2.3', privateAddress: '10.0.0.3', port: 22, roles: ['web'] },
  { name: 'app2', address: '192.0.2.4', privateAddress: '10.0.0.4', port: 22, roles: ['worker', 'balancer'] },
  { name: 'lb', address: '192.0.2.5', privateAddress: '10.0.0.5', port: 22, roles: ['balancer'] },
];
const FACTS: HostFacts = { osId: 'debian', osVersion: '12', postgresClusters: [] };
const SECRETS = { DB_PASSWORD: 'db-s3cret-value', BROKER_PASSWORD: 'mq-s3cret-value' };

function ctx(over: { secrets?: Record<string, string>; backend?: 'memcached' | 'redis'; facts?: Partial<HostFacts>; host?: string } = {}): RoleContext {
  const pillar = pillarSchema.parse({ project: 'demo', secrets: over.secrets ?? SECRETS, cache: { backend: over.backend ?? 'memcached' } });
  const host = HOSTS.find((h) => h.name === (over.host ?? 'data')) as Host;
  return { env: 'staging', project: 'demo', pillar, host, hosts: HOSTS, facts: { ...FACTS, ...over.facts }, tpl: templates(undefined) };
}

const byId = (states: State[], id: string) => {
  const s = states.find((x) => x.id === id);
  expect(s, `state ${id} in ${states.map((x) => x.id).join(', ')}`).toBeDefined();
  return s as State;
};
const params = <T>(s: State) => s.params as T;
const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
};
const commandText = (steps: Step[]) => steps.map((s) => ('run' in s ? (s.run.line ?? (s.run.argv ?? []).join(' ')) : `upload ${s.upload.path}`)).join('\n');

describe('db role', () => {
  it('picks the cluster: the one on port 5432, else the newest existing one, else the release’s PostgreSQL', () => {
    expect(postgresVersion({ osId: 'debian', osVersion: '12', postgresClusters: [] })).toBe('15');
    expect(postgresVersion({ osId: 'ubuntu', osVersion: '24.04', postgresClusters: [] })).toBe('16');
    const c = (version: string, port: number) => ({ version, port });
    expect(postgresVersion({ osId: 'debian', osVersion: '12', postgresClusters: [c('13', 5433), c('15', 5434)] })).toBe('15');
    expect(postgresVersion({ osId: 'ubuntu', osVersion: '24.04', postgresClusters: [c('9.6', 5433), c('14', 5434)] })).toBe('14');
    // upgraded in place from Debian 12: 15 keeps the port, 17's new empty cluster is left alone
    expect(postgresVersion({ osId: 'debian', osVersion: '13', postgresClusters: [c('15', 5432), c('17', 5433)] })).toBe('15');
    // after pg_upgradecluster 15 main: 17 has the port
    expect(postgresVersion({ osId: 'debian', osVersion: '13', postgresClusters: [c('15', 5433), c('17', 5432)] })).toBe('17');
    expect(parseClusters('15:5432,17:5433,')).toEqual([c('15', 5432), c('17', 5433)]);
    expect(parseClusters('')).toEqual([]);
    const parts = db(ctx({ facts: { osId: 'ubuntu', osVersion: '24.04' } }));
    byId(parts.states, 'block:/etc/postgresql/16/main/pg_hba.conf');
    byId(parts.states, 'file:/etc/postgresql/16/main/conf.d/ops.conf');
  });

  it('admits only the app hosts (web, worker) — in pg_hba.conf and in the firewall; never the master or a balancer', () => {
    const parts = db(ctx());
    const hba = params<{ content: string; path: string }>(byId(parts.states, 'block:/etc/postgresql/15/main/pg_hba.conf'));
    const rules = hba.content.split('\n').filter((l) => l.trim() !== '');
    expect(rules).toEqual(['host demo_staging demo_staging 10.0.0.3/32 scram-sha-256', 'host demo_staging demo_staging 10.0.0.4/32 scram-sha-256']);
    expect(parts.firewall).toHaveLength(1);
    const fw = parts.firewall?.[0];
    expect(fw?.port).toBe(5432);
    expect(fw?.from === 'any' ? 'any' : fw?.from.map((h) => h.name)).toEqual(['app1', 'app2']);
  });

  it('with no app hosts, admits nobody', () => {
    const c = ctx();
    const parts = db({ ...c, hosts: HOSTS.filter((h) => !h.name.startsWith('app')) });
    expect(params<{ content: string }>(byId(parts.states, 'block:/etc/postgresql/15/main/pg_hba.conf')).content.trim()).toBe('');
    expect(parts.firewall?.[0]?.from).toEqual([]);
  });

  it('listens on localhost and the private address; config changes restart, pg_hba changes reload', () => {
    const parts = db(ctx());
    const conf = byId(parts.states, 'file:/etc/postgresql/15/main/conf.d/ops.conf');
    expect(params<{ content: Buffer }>(conf).content.toString()).toMatch(/^listen_addresses = 'localhost,10\.0\.0\.2'$/m);
    expect(conf.notify).toEqual(['handler:postgresql-restart']);
    expect(byId(parts.states, 'block:/etc/postgresql/15/main/pg_hba.conf').notify).toEqual(['handler:postgresql-reload']);
  });

  it('role and database <project>_<env>, owned by the role, with the pillar password', () => {
    const parts = db(ctx());
    expect(params(byId(parts.states, 'pg_role:demo_staging'))).toEqual({ name: 'demo_staging', password: SECRETS.DB_PASSWORD });
    expect(params(byId(parts.states, 'pg_db:demo_staging'))).toEqual({ name: 'demo_staging', owner: 'demo_staging' });
  });

  it('hba addresses: /32 for IPv4, /128 for IPv6, a name in quotes (never a keyword such as all or samenet)', () => {
    const h = (a: string): Host => ({ name: 'x', address: a, privateAddress: a, port: 22, roles: [] });
    expect([hbaAddress(h('10.1.2.3')), hbaAddress(h('fd00::3')), hbaAddress(h('app.internal')), hbaAddress(h('samenet'))]).toEqual(['10.1.2.3/32', 'fd00::3/128', '"app.internal"', '"samenet"']);
  });

  it('a missing DB_PASSWORD stops rendering with the command that makes it', () => {
    const err = thrown(() => db(ctx({ secrets: { BROKER_PASSWORD: 'x' } })));
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toContain('DB_PASSWORD');
    expect((err as UsageError).hint).toContain('ops encrypt staging DB_PASSWORD --generate --write');
  });
});

describe('cache role', () => {
  it('memcached by default: listens on localhost and the private address, port open to app hosts only; Redis stopped', () => {
    const parts = cache(ctx());
    const conf = params<{ content: Buffer }>(byId(parts.states, 'file:/etc/memcached.conf')).content.toString();
    expect(conf).toMatch(/^-l 127\.0\.0\.1,10\.0\.0\.2$/m);
    expect(conf).toMatch(/^-p 11211$/m);
    expect(params(byId(parts.states, 'service:redis-server'))).toMatchObject({ running: false, enabled: false });
    const fw = parts.firewall?.[0];
    expect([fw?.port, fw?.from === 'any' ? 'any' : fw?.from.map((h) => h.name)]).toEqual([11211, ['app1', 'app2']]);
  });

  it('redis when chosen: bound to localhost and the private address, port 6379 for app hosts; memcached stopped', () => {
    const parts = cache(ctx({ backend: 'redis' }));
    expect(params<{ line: string }>(byId(parts.states, 'line:/etc/redis/redis.conf:bind')).line).toBe('bind 127.0.0.1 -::1 10.0.0.2');
    expect(params(byId(parts.states, 'service:memcached'))).toMatchObject({ running: false, enabled: false });
    expect(parts.states.some((s) => s.id === 'pkg:memcached')).toBe(false);
    const fw = parts.firewall?.[0];
    expect([fw?.port, fw?.from === 'any' ? 'any' : fw?.from.map((h) => h.name)]).toEqual([6379, ['app1', 'app2']]);
  });
});

describe('queue role', () => {
  it('vhost and user <project>_<env> with BROKER_PASSWORD; AMQP on localhost and the private address, for app hosts', () => {
    const parts = queue(ctx());
    expect(params(byId(parts.states, 'rabbitmq:demo_staging'))).toEqual({ vhost: 'demo_staging', user: 'demo_staging', password: SECRETS.BROKER_PASSWORD });
    const conf = params<{ content: Buffer }>(byId(parts.states, 'file:/etc/rabbitmq/rabbitmq.conf')).content.toString();
    expect(conf).toMatch(/^listeners\.tcp\.local = 127\.0\.0\.1:5672$/m);
    expect(conf).toMatch(/^listeners\.tcp\.private = 10\.0\.0\.2:5672$/m);
    expect(conf).not.toMatch(/listeners\.tcp\.default/);
    // in place before the package first starts the broker
    const ids = parts.states.map((s) => s.id);
    expect(ids.indexOf('file:/etc/rabbitmq/rabbitmq.conf')).toBeLessThan(ids.indexOf('pkg:rabbitmq-server'));
    expect(byId(parts.states, 'file:/etc/rabbitmq/rabbitmq.conf').notify).toEqual(['handler:rabbitmq-restart']);
    const fw = parts.firewall?.[0];
    expect([fw?.port, fw?.from === 'any' ? 'any' : fw?.from.map((h) => h.name)]).toEqual([5672, ['app1', 'app2']]);
  });

  it('a missing BROKER_PASSWORD stops rendering', () => {
    const err = thrown(() => queue(ctx({ secrets: { DB_PASSWORD: 'x' } })));
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).hint).toContain('ops encrypt staging BROKER_PASSWORD --generate --write');
  });

  it('renders on one host with db and cache: firewall rules for 5432, 11211 and 5672 from the app hosts only', () => {
    const rendered = renderHost({ ...ctx(), host: { ...(HOSTS[1] as Host) } });
    const nft = params<{ content: Buffer }>(byId(rendered.states, 'file:/etc/nftables.conf')).content.toString();
    for (const port of [5432, 11211, 5672]) expect(nft).toContain(`ip saddr { 10.0.0.3, 10.0.0.4 } tcp dport ${port} accept`);
    expect(nft).not.toMatch(/10\.0\.0\.1\b/);
    expect(nft).not.toMatch(/10\.0\.0\.5\b/);
  });
});

describe('RabbitMQ password hashes', () => {
  it('checks a hash made by RabbitMQ 3.10 (rabbitmqctl add_user vec vector-pw)', () => {
    const made = 'ajYS9yvYeXgHHtyq4k8z63vf4UbinCPT1kTzgxtKmwEys7mu';
    expect(rabbitHashMatches(made, 'vector-pw')).toBe(true);
    expect(rabbitHashMatches(made, 'vector-pw ')).toBe(false);
    expect(rabbitHashMatches(made, 'Vector-pw')).toBe(false);
    expect(rabbitHashMatches('not a hash', 'vector-pw')).toBe(false);
  });

  it('makes salted hashes it can check, different each time', () => {
    const a = rabbitHash('pässwörd \'"$');
    const b = rabbitHash('pässwörd \'"$');
    expect(a).not.toBe(b);
    expect(Buffer.from(a, 'base64')).toHaveLength(36);
    expect(rabbitHashMatches(a, 'pässwörd \'"$')).toBe(true);
    expect(rabbitHashMatches(b, 'pässwörd')).toBe(false);
    expect(rabbitHash('vector-pw', Buffer.from('6a3612f7', 'hex'))).toBe('ajYS9yvYeXgHHtyq4k8z63vf4UbinCPT1kTzgxtKmwEys7mu');
  });
});

describe('rabbitmq_access plan', () => {
  const p = { vhost: 'demo_staging', user: 'demo_staging', password: 'mq-s3cret-value' };
  const defs = (o: object) => ({ out: `${JSON.stringify({ rabbit_version: '3.10.8', users: [], vhosts: [], permissions: [], ...o })}\n`, code: 0 });
  const good = {
    vhosts: [{ name: '/' }, { name: 'demo_staging' }],
    users: [{ name: 'demo_staging', password_hash: rabbitHash('mq-s3cret-value'), hashing_algorithm: RABBIT_SHA256, tags: [] }],
    permissions: [{ user: 'demo_staging', vhost: 'demo_staging', configure: '.*', write: '.*', read: '.*' }],
  };

  it('fresh broker: one import from stdin through a private file (a hash, never the password) and guest removed', () => {
    const plan = rabbitAccess.plan(
      p,
      defs({
        vhosts: [{ name: '/' }],
        users: [{ name: 'guest', password_hash: rabbitHash('guest'), hashing_algorithm: RABBIT_SHA256, tags: ['administrator'] }],
        permissions: [],
      }),
    );
    expect(plan.status).toBe('change');
    expect(plan.steps).toHaveLength(2);
    const [imp, del] = plan.steps as [Step & { stdin?: Buffer }, Step];
    expect((imp as { run: { argv: string[] } }).run.argv).toEqual(['sh', '-c', IMPORT_SCRIPT]);
    expect(IMPORT_SCRIPT).toContain('rabbitmqctl -q import_definitions --format json "$d/definitions.json"');
    const body = JSON.parse((imp as { stdin: Buffer }).stdin.toString()) as { users: { password_hash: string }[]; vhosts: unknown[]; permissions: unknown[] };
    expect(body.vhosts).toEqual([{ name: 'demo_staging' }]);
    expect(body.permissions).toEqual([{ user: 'demo_staging', vhost: 'demo_staging', configure: '.*', write: '.*', read: '.*' }]);
    expect(rabbitHashMatches(body.users[0]?.password_hash ?? '', p.password)).toBe(true);
    expect(commandText([del])).toBe('rabbitmqctl -q delete_user guest');
    expect(JSON.stringify(plan)).not.toContain(p.password);
  });

  it('all in place: no change', () => {
    expect(rabbitAccess.plan(p, defs(good))).toMatchObject({ status: 'ok', steps: [] });
  });

  it('a changed password: only the user is imported again', () => {
    const plan = rabbitAccess.plan({ ...p, password: 'new-one' }, defs(good));
    expect(plan.summary).toBe('set password of demo_staging');
    const body = JSON.parse((plan.steps[0] as { stdin: Buffer }).stdin.toString()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['users']);
  });

  it('another hashing algorithm or narrower permissions are corrected', () => {
    const md5 = { ...good, users: [{ ...good.users[0], hashing_algorithm: 'rabbit_password_hashing_md5' }] };
    expect(rabbitAccess.plan(p, defs(md5)).summary).toBe('set password of demo_staging');
    const narrow = { ...good, permissions: [{ ...good.permissions[0], write: '^amq' }] };
    expect(rabbitAccess.plan(p, defs(narrow)).summary).toBe('grant demo_staging all on demo_staging');
  });

  it('a broker that does not answer is unknown, not ok', () => {
    expect(rabbitAccess.plan(p, { out: 'rabbit=down\n', code: 0 }).status).toBe('unknown');
    expect(rabbitAccess.plan(p, { out: 'garbage', code: 0 }).status).toBe('unknown');
  });

  it('reads every fact in one rabbitmqctl call', () => {
    expect(rabbitAccess.facts(p).match(/rabbitmqctl /g)).toHaveLength(2); // `command -v` and the export
    expect(rabbitAccess.facts(p)).not.toContain(p.password);
  });
});
