/**
 * The data services on real lab hosts, booted converged from the run's `demo` snapshot: master
 * lab-1, db,queue,cache on lab-2, the app (web,worker) on lab-3, the balancer on lab-4. After `ops deploy lab`: the app host reaches PostgreSQL, RabbitMQ and the cache with
 * the pillar's secrets; the master (not an app host) reaches none of them; secrets appear in no
 * output, log or file where they do not belong; a second deploy changes nothing; a new
 * DB_PASSWORD changes exactly the password. Then the cache switches to Redis.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convergedLab, DEMO } from '../support/converged.js';
import { labDown, requireRoot, type LabHostRow } from '../support/lab.js';
import { ops, tempRepo, type RunResult } from '../support/ops.js';

const NAME = 'demo_lab';
const tag = randomBytes(6).toString('hex');
let dbPassword = `canary-db-${tag}`;
const brokerPassword = `canary-mq-${tag}`;
/** Every secret value this run has used: none may show up in ops's output. */
const secrets = [dbPassword, brokerPassword];

let repo: string;
let hosts: LabHostRow[];
const addr = (name: string) => hosts.find((h) => h.name === name)?.address ?? '';
const run = (host: string, line: string) => ops(['run', 'lab', '--host', host, '--', line], { cwd: repo });
const b64 = (s: string) => Buffer.from(s).toString('base64');

async function setSecret(key: string, value: string): Promise<void> {
  const r = await ops(['encrypt', 'lab', key, '--write'], { cwd: repo, input: value });
  expect(r.code, r.stderr).toBe(0);
}

function expectNoSecrets(r: RunResult): void {
  for (const s of secrets) {
    expect(r.stdout.includes(s), `a secret value in ops's stdout`).toBe(false);
    expect(r.stderr.includes(s), `a secret value in ops's stderr`).toBe(false);
  }
}

interface Event {
  type: string;
  host?: string;
  id?: string;
  status?: string;
  changed?: number;
  failed?: number;
  unreachable?: number;
}

async function deployJson(): Promise<{ r: RunResult; events: Event[]; summary: Event }> {
  const r = await ops(['--json', 'deploy', 'lab'], { cwd: repo });
  expectNoSecrets(r);
  const events = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Event);
  const summary = events.find((e) => e.type === 'summary') ?? { type: 'none' };
  return { r, events, summary };
}

const changedIds = (events: Event[], host: string) => events.filter((e) => e.type === 'state' && e.host === host && e.status === 'changed').map((e) => e.id);

/** `open`/`closed` for each TCP port of `target`, probed from `from` in parallel (3 s timeout each). */
async function probe(from: string, target: string, ports: number[]): Promise<Record<number, string>> {
  const line = `${ports.map((p) => `(timeout 3 bash -c '</dev/tcp/${target}/${p}' 2>/dev/null && echo ${p}=open || echo ${p}=closed) &`).join(' ')} wait`;
  const r = await run(from, line);
  const out: Record<number, string> = {};
  for (const m of r.stdout.matchAll(/(\d+)=(open|closed)/g)) out[Number(m[1])] = m[2] ?? '';
  return out;
}

/** psql over TCP from lab-3 to the db host; the password reaches psql through its environment. */
function psql(password: string, sql: string) {
  return run(
    'lab-3',
    `PGCONNECT_TIMEOUT=5 PGPASSWORD="$(echo ${b64(password)} | base64 -d)" psql -X -h ${addr('lab-2')} -U ${NAME} -d ${NAME} -At -c ${JSON.stringify(sql)}`,
  );
}

/**
 * An AMQP 0-9-1 login (PLAIN) and connection.open of a vhost, with the Python standard library:
 * prints `open-ok`, or why the broker refused.
 */
const AMQP_LOGIN = String.raw`
import os, socket, struct, sys
host, vhost = sys.argv[1], sys.argv[2].encode()
user, pw = os.environ['AMQP_USER'].encode(), os.environ['AMQP_PASSWORD'].encode()
s = socket.create_connection((host, 5672), timeout=5)
buf = b''
def send(cls, meth, args):
    p = struct.pack('>HH', cls, meth) + args
    s.sendall(struct.pack('>BHI', 1, 0, len(p)) + p + b'\xce')
def short(b): return struct.pack('>B', len(b)) + b
def long(b): return struct.pack('>I', len(b)) + b
def expect(cls, meth):
    global buf
    while len(buf) < 7 or len(buf) < 8 + struct.unpack('>I', buf[3:7])[0]:
        try:
            d = s.recv(65536)
        except OSError as e:
            d = b''
        if not d:
            print('closed by the broker'); sys.exit(1)
        buf += d
    size = struct.unpack('>I', buf[3:7])[0]
    p, buf = buf[7:7 + size], buf[8 + size:]
    c, m = struct.unpack('>HH', p[:4])
    if (c, m) == (10, 50):
        print('refused', struct.unpack('>H', p[4:6])[0], p[7:7 + p[6]].decode()); sys.exit(1)
    if (c, m) != (cls, meth):
        print('unexpected method', c, m); sys.exit(1)
    return p[4:]
s.sendall(b'AMQP\x00\x00\x09\x01')
expect(10, 10)
send(10, 11, struct.pack('>I', 0) + short(b'PLAIN') + long(b'\x00' + user + b'\x00' + pw) + short(b'en_US'))
channel_max, frame_max, _ = struct.unpack('>HIH', expect(10, 30)[:8])
send(10, 31, struct.pack('>HIH', channel_max, frame_max, 0))
send(10, 40, short(vhost) + short(b'') + b'\x00')
expect(10, 41)
print('open-ok')
`;

function amqpLogin(user: string, password: string, vhost: string) {
  return run('lab-3', `AMQP_USER=${user} AMQP_PASSWORD="$(echo ${b64(password)} | base64 -d)" python3 /tmp/amqp-login.py ${addr('lab-2')} ${vhost}`);
}

/** Where each host must never hold a secret in clear (lab-3's app env file, under /var/www, may). */
const PLACES: Record<string, string> = {
  'lab-1': '/etc /var/log /var/lib/ops /tmp /root',
  'lab-2': '/etc /var/log /var/lib/postgresql /var/lib/rabbitmq /tmp /root',
  'lab-3': '/etc /var/log /tmp /root',
};

/** `needle` in the host's journal (a count) and files (their names): `0` when there is none. */
async function traces(host: string, needle: string): Promise<string> {
  const r = await run(
    host,
    `n="$(echo ${b64(needle)} | base64 -d)"; journalctl --no-pager -o cat | grep -cF -- "$n"; grep -rlF -- "$n" ${PLACES[host]} 2>/dev/null; true`,
  );
  return r.stdout.trim();
}

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  hosts = await convergedLab(repo, DEMO);
  await setSecret('DB_PASSWORD', dbPassword);
  await setSecret('BROKER_PASSWORD', brokerPassword);
});

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('db, queue and cache on lab-2; the app on lab-3; the master on lab-1', () => {
  it('ops deploy lab converges every host, and prints no secret', async () => {
    const r = await ops(['deploy', 'lab', '-v'], { cwd: repo });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toMatch(/lab-2\s+succeeded \d+ \(changed \d+\), failed 0/);
    expect(r.stdout).toMatch(/lab-2\s+\|\s+changed\s+pg_role:demo_lab/);
    expect(r.stdout).toMatch(/lab-2\s+\|\s+changed\s+rabbitmq:demo_lab/);
    expectNoSecrets(r);
    // what the app host and the tests need: a PostgreSQL client and Python
    const tools = await run(
      'lab-3',
      'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql-client python3 >/dev/null 2>&1; command -v psql python3',
    );
    expect(tools.stdout.trim().split('\n'), tools.stderr).toHaveLength(2);
    expect((await run('lab-3', `echo ${b64(AMQP_LOGIN)} | base64 -d > /tmp/amqp-login.py`)).code).toBe(0);
  });

  it('the passwords reach no log, journal or file of the data host, nor a journal of the others', async () => {
    // the journals are there to search (and tell of the services that got the secrets)
    const journal = await run('lab-2', 'journalctl --no-pager -o cat | grep -cE "postgresql|rabbitmq"');
    expect(Number(journal.stdout.trim())).toBeGreaterThan(0);
    for (const s of [dbPassword, brokerPassword]) {
      for (const h of ['lab-1', 'lab-2', 'lab-3', 'lab-4']) expect(await traces(h, s), `${h}: journal or files`).toBe('0');
    }
    // PostgreSQL holds a SCRAM verifier, RabbitMQ a salted hash: never the password
    const verifier = await run('lab-2', `runuser -u postgres -- psql -X -At -c "select rolpassword from pg_authid where rolname = '${NAME}'"`);
    expect(verifier.stdout.trim()).toMatch(/^SCRAM-SHA-256\$4096:/);
  });

  it('the app host opens the database <project>_<env> over TCP with the pillar password; a wrong one is refused', async () => {
    const ok = await psql(dbPassword, 'select current_database(), current_user');
    expect(ok.stdout.trim(), ok.stderr).toBe(`${NAME}|${NAME}`);
    const bad = await psql(`${dbPassword}x`, 'select 1');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/password authentication failed/);
  });

  it('from the master the db port does not open, and pg_hba.conf has no rule for it', async () => {
    expect(await probe('lab-1', addr('lab-2'), [5432])).toEqual({ 5432: 'closed' });
    expect(await probe('lab-3', addr('lab-2'), [5432])).toEqual({ 5432: 'open' });
    const hba = (await run('lab-2', 'cat /etc/postgresql/17/main/pg_hba.conf')).stdout;
    const rules = hba.split('\n').filter((l) => /^host\s/.test(l) && !/\s(127\.0\.0\.1\/32|::1\/128)\s/.test(l));
    expect(rules).toEqual([`host ${NAME} ${NAME} ${addr('lab-3')}/32 scram-sha-256`]);
    expect(hba).not.toContain(addr('lab-1'));
    const listen = (await run('lab-2', `ss -Hltn 'sport = :5432'`)).stdout;
    expect(listen).toContain(`${addr('lab-2')}:5432`);
    expect(listen).not.toMatch(/0\.0\.0\.0:5432|\*:5432/);
  });

  it('RabbitMQ: the app host logs in to the vhost with the pillar password; wrong password and guest are refused', async () => {
    const ok = await amqpLogin(NAME, brokerPassword, NAME);
    expect(ok.stdout.trim(), ok.stderr).toBe('open-ok');
    const bad = await amqpLogin(NAME, `${brokerPassword}x`, NAME);
    expect(bad.stdout.trim()).not.toBe('open-ok');
    expect(bad.code).not.toBe(0);
    const guest = await amqpLogin('guest', 'guest', '/');
    expect(guest.stdout.trim()).not.toBe('open-ok');
    // on the broker itself: guest is gone, rights are full (the logins above are the password's proof:
    // `rabbitmqctl authenticate_user` would need the password on stdin, which RabbitMQ 4.0.5's CLI never reads)
    const users = await run('lab-2', 'rabbitmqctl -q -s list_users');
    expect(
      users.stdout
        .split('\n')
        .map((l) => l.split('\t')[0])
        .filter(Boolean),
    ).toEqual([NAME]);
    const perms = await run('lab-2', `rabbitmqctl -q -s list_permissions -p ${NAME}`);
    expect(perms.stdout.trim().split(/\s+/)).toEqual([NAME, '.*', '.*', '.*']);
  });

  it('RabbitMQ and memcached ports open for the app host only', async () => {
    expect(await probe('lab-1', addr('lab-2'), [5672, 11211])).toEqual({ 5672: 'closed', 11211: 'closed' });
    expect(await probe('lab-3', addr('lab-2'), [5672, 11211])).toEqual({ 5672: 'open', 11211: 'open' });
  });

  it('memcached answers `version` from the app host, not from the master', async () => {
    const ask = (h: string) =>
      run(h, `printf 'version\\r\\n' | timeout 3 bash -c 'exec 3<>/dev/tcp/${addr('lab-2')}/11211; cat >&3; head -n 1 <&3' 2>/dev/null; true`);
    expect((await ask('lab-3')).stdout).toMatch(/^VERSION \d+\.\d+/);
    expect((await ask('lab-1')).stdout.trim()).toBe('');
  });

  it('a second deploy reports 0 changed', async () => {
    const d = await deployJson();
    expect(d.r.code, d.r.stderr).toBe(0);
    expect(d.summary).toMatchObject({ type: 'summary', changed: 0, failed: 0, unreachable: 0 });
  });

  it('a new DB_PASSWORD changes exactly the password state, and the new password works (the old one not)', async () => {
    const old = dbPassword;
    dbPassword = `canary-db2-${randomBytes(6).toString('hex')}`;
    secrets.push(dbPassword);
    await setSecret('DB_PASSWORD', dbPassword);
    const d = await deployJson();
    expect(d.r.code, d.r.stderr).toBe(0);
    expect(changedIds(d.events, 'lab-2')).toEqual([`pg_role:${NAME}`]);
    expect(changedIds(d.events, 'lab-1')).toEqual([]);
    // the app host only gets the new value into its environment (and restarts the app)
    for (const id of changedIds(d.events, 'lab-3')) expect(id).toMatch(/^(file:\/var\/www\/demo\/shared\/env|handler:.*)$/);
    for (const h of ['lab-1', 'lab-2']) expect(await traces(h, dbPassword), h).toBe('0');
    expect((await psql(dbPassword, 'select current_user')).stdout.trim()).toBe(NAME);
    expect((await psql(old, 'select 1')).stderr).toMatch(/password authentication failed/);
    // the URLs of the app's environment carry the new password: a Heroku-style app connects with them
    const withEnv = '/usr/local/lib/ops/with-env /var/www/demo/shared/env python3 -c';
    const viaUrl = await run('lab-3', `${withEnv} 'import os, psycopg2; c = psycopg2.connect(os.environ["DATABASE_URL"]); k = c.cursor(); k.execute("select current_user"); print("db", k.fetchone()[0])'`);
    expect(viaUrl.stdout.trim(), viaUrl.stderr).toMatch(new RegExp(`(^|\\| )db ${NAME}$`));
    const amqp = await run('lab-3', `${withEnv} 'import os, kombu; c = kombu.Connection(os.environ["AMQP_URL"]); c.connect(); print("amqp", c.connected); c.release()'`);
    expect(amqp.stdout, amqp.stderr).toMatch(/amqp True/);
    expect(viaUrl.stdout + viaUrl.stderr + amqp.stdout + amqp.stderr).not.toContain(dbPassword);
    const again = await deployJson();
    expect(again.summary).toMatchObject({ changed: 0, failed: 0 });
  });

  it('cache: {backend: redis} replaces memcached with Redis, for the app host only', async () => {
    appendFileSync(join(repo, 'pillar/lab.yml'), '\ncache:\n  backend: redis\n');
    const d = await deployJson();
    expect(d.r.code, d.r.stderr).toBe(0);
    expect(changedIds(d.events, 'lab-2')).toEqual(expect.arrayContaining(['pkg:redis-server', 'service:memcached']));
    const ping = (h: string) =>
      run(h, `printf 'PING\\r\\n' | timeout 3 bash -c 'exec 3<>/dev/tcp/${addr('lab-2')}/6379; cat >&3; head -n 1 <&3' 2>/dev/null; true`);
    expect((await ping('lab-3')).stdout.trim()).toBe('+PONG');
    expect((await ping('lab-1')).stdout.trim()).toBe('');
    expect(await probe('lab-3', addr('lab-2'), [6379, 11211])).toEqual({ 6379: 'open', 11211: 'closed' });
    expect((await run('lab-2', 'systemctl is-active memcached; systemctl is-enabled memcached; true')).stdout.trim().split('\n')).toEqual([
      'inactive',
      'disabled',
    ]);
    expect((await run('lab-3', 'grep ^export\\ REDIS_URL= /var/www/demo/shared/env')).stdout.trim()).toMatch(new RegExp(`export REDIS_URL='?redis://${addr('lab-2')}:6379/0'?$`));
    expect((await run('lab-3', 'grep ^export\\ CACHE_HOST= /var/www/demo/shared/env')).stdout.trim()).toMatch(
      new RegExp(`^export CACHE_HOST='?${addr('lab-2')}:6379'?$`),
    );
    const again = await deployJson();
    expect(again.summary).toMatchObject({ changed: 0, failed: 0 });
  });
});
