/**
 * Taking over a margarita host (src/release/takeover.ts): what ops reads of supervisor's files and
 * the checkout, and the scripts it runs — their parts that can run here run with sh (the whole
 * takeover runs on lab hosts in test/hosts/takeover.test.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pillarSchema } from '../../src/pillar/schema.js';
import { commitFacts, finalizeScript, handBackScript, parseTakeover, stopSupervisedWorkers, takeOverWeb, type Takeover } from '../../src/release/takeover.js';
import { RESTART_IF_NEEDED } from '../../src/roles/db.js';
import { factBatch } from '../../src/states/facts.js';
import { KINDS } from '../../src/states/kinds/index.js';

const C = 'a'.repeat(40);
const P = { project: 'demo' };
const margarita = [
  'file /etc/supervisor/conf.d/demo-gunicorn.conf',
  'program demo-server',
  'command /var/www/demo/source/dotenv.sh /var/www/demo/env/bin/gunicorn demo.wsgi:application --bind=0.0.0.0:8000 --workers=3',
  'file /etc/supervisor/conf.d/demo-celery-default.conf',
  'program demo-celery-default',
  'command /var/www/demo/source/dotenv.sh /var/www/demo/env/bin/celery -A demo worker -Q default',
  `commit ${C}`,
  'salt',
].join('\n');

const syntaxOk = (script: string) => spawnSync('sh', ['-n', '-c', script], { encoding: 'utf8' });

describe('what ops reads of a margarita host', () => {
  it("supervisor's programs of the app by kind, the checkout's commit, salt-minion", () => {
    expect(parseTakeover(margarita, P)).toEqual({
      programs: [
        { name: 'demo-server', kind: 'web', file: '/etc/supervisor/conf.d/demo-gunicorn.conf' },
        { name: 'demo-celery-default', kind: 'worker', file: '/etc/supervisor/conf.d/demo-celery-default.conf' },
      ],
      commit: C,
      salt: true,
    });
    expect(parseTakeover('', P)).toBeUndefined();
    expect(parseTakeover(`commit ${C}`, P)).toBeUndefined(); // a checkout alone is nothing to take over
  });

  it('a name, a file or a commit that is not what supervisor or git write is dropped', () => {
    const t = parseTakeover(
      [
        'file /etc/supervisor/conf.d/x.conf',
        'program a;rm -rf /',
        "program b$(touch /tmp/x)",
        'command gunicorn',
        'file /etc/supervisor/conf.d/../../passwd.conf',
        'program c',
        'command gunicorn',
        'file /etc/supervisor/conf.d/y.conf',
        'program sidecar',
        'command /var/www/demo/source/bin/metrics-exporter',
        'commit ref: refs/heads/main',
      ].join('\n'),
      P,
    );
    expect(t).toEqual({ programs: [{ name: 'sidecar', kind: 'other', file: '/etc/supervisor/conf.d/y.conf' }], commit: undefined, salt: false });
  });
});

describe('which of supervisor\'s programs are the app\'s', () => {
  const kinds = (commands: string[]) =>
    (parseTakeover(commands.flatMap((c, i) => [`program p${i}`, `command ${c}`]).reduce((a, l) => `${a}${l}\n`, 'file /etc/supervisor/conf.d/demo.conf\n'), P) as Takeover).programs.map((p) => p.kind);
  it('by the program its command runs, from the app\'s directory', () => {
    expect(
      kinds([
        '/var/www/demo/env/bin/python -m gunicorn demo.wsgi --bind 0.0.0.0:8000',
        '/var/www/demo/env/bin/uwsgi --ini /var/www/demo/uwsgi.ini',
        '/var/www/demo/env/bin/celery -A demo beat',
        '/usr/bin/tail -F /var/www/demo/log/gunicorn.log', // a log shipper that names gunicorn
        '/var/www/demo/env/bin/celery -A demo flower',
        '/var/www/demo/env/bin/celery-exporter --broker amqp://',
        '/var/www/other/env/bin/gunicorn other.wsgi --bind 0.0.0.0:9000', // another site's, in the same file
      ]),
    ).toEqual(['web', 'web', 'worker', 'other', 'other', 'other', 'other']);
  });
});

describe("the checkout's commit, read by the shell ops runs (here with sh, as root)", () => {
  const B = 'b'.repeat(40);
  /** A checkout's .git made by `make` in a fresh folder, its commit as commitFacts reads it, and how long that took. */
  const read = (make: (git: string, dir: string) => void, owner?: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'ops-commit-'));
    chmodSync(dir, 0o755);
    const git = join(dir, 'source/.git');
    mkdirSync(join(git, 'refs/heads'), { recursive: true });
    make(git, dir);
    if (owner) execFileSync('chown', ['-R', owner, join(dir, 'source')]);
    const started = Date.now();
    const out = spawnSync('sh', ['-c', commitFacts(git)], { encoding: 'utf8', timeout: 30_000 });
    const ms = Date.now() - started;
    rmSync(dir, { recursive: true, force: true });
    return { commit: parseTakeover(`${out.stdout}salt\n`, P)?.commit, ms };
  };
  const root = process.getuid?.() === 0;

  it('a loose ref, a packed one, a detached HEAD', () => {
    expect(read((g) => (writeFileSync(join(g, 'HEAD'), 'ref: refs/heads/main\n'), writeFileSync(join(g, 'refs/heads/main'), `${C}\n`))).commit).toBe(C);
    expect(read((g) => (writeFileSync(join(g, 'HEAD'), 'ref: refs/heads/main\n'), writeFileSync(join(g, 'packed-refs'), `# pack-refs with: peeled\n${B} refs/heads/other\n${C} refs/heads/main\n`))).commit).toBe(C);
    expect(read((g) => writeFileSync(join(g, 'HEAD'), `${B}\n`)).commit).toBe(B);
  });

  it.skipIf(!root)('never a file outside .git, a FIFO or a link out of it; read as the checkout\'s owner', () => {
    // a root-only file whose first line is 40 hex digits, outside the checkout
    const secret = join(mkdtempSync(join(tmpdir(), 'ops-secret-')), 'secret');
    writeFileSync(secret, `${B}\n`, { mode: 0o600 });
    const head = (g: string) => writeFileSync(join(g, 'HEAD'), 'ref: refs/heads/main\n');
    expect(read((g) => (head(g), symlinkSync(secret, join(g, 'refs/heads/main')))).commit).toBeUndefined();
    expect(read((g) => symlinkSync(secret, join(g, 'HEAD'))).commit).toBeUndefined();
    expect(read((g, dir) => (mkdirSync(join(dir, 'elsewhere')), writeFileSync(join(dir, 'elsewhere/HEAD'), `${B}\n`), rmSync(g, { recursive: true }), symlinkSync(join(dir, 'elsewhere'), g))).commit).toBeUndefined();
    // a FIFO where packed-refs would be: nothing read, no wait
    const fifo = read((g) => (head(g), execFileSync('mkfifo', [join(g, 'packed-refs')])));
    expect(fifo.commit).toBeUndefined();
    expect(fifo.ms).toBeLessThan(10_000);
    // owned by another user: read as that user, who cannot read the root-only file even through a link inside
    expect(read((g) => (head(g), writeFileSync(join(g, 'refs/heads/main'), `${C}\n`)), 'nobody').commit).toBe(C);
    expect(read((g) => (head(g), symlinkSync(secret, join(g, 'packed-refs'))), 'nobody').commit).toBeUndefined();
  });
});

describe("the takeover's scripts", () => {
  const pillar = pillarSchema.parse({ project: 'demo', app: { port: 8000 } });
  const t = parseTakeover(margarita, P) as Takeover;

  it('are shell text sh accepts (switch, hand back, finish; PostgreSQL reload-or-restart)', () => {
    const lines = [...takeOverWeb(pillar, t.programs, 'systemctl restart demo-web.service'), ...stopSupervisedWorkers(t.programs)];
    for (const script of [lines.join('\n'), handBackScript(pillar, t), finalizeScript(t).script, RESTART_IF_NEEDED]) {
      const r = syntaxOk(script);
      expect(r.status, `${r.stderr}\n${script}`).toBe(0);
    }
    expect(lines.join('\n')).toContain('supervisorctl stop demo-server');
    expect(lines.join('\n')).toContain('supervisorctl stop demo-celery-default');
  });

  it("finishing renames supervisor's files of the app, keeps one that also runs something ops does not, and stops salt-minion", () => {
    const withSidecar: Takeover = { ...t, programs: [...t.programs, { name: 'sidecar', kind: 'other', file: '/etc/supervisor/conf.d/demo-celery-default.conf' }] };
    const f = finalizeScript(withSidecar);
    expect(f.disabled.map((p) => p.name)).toEqual(['demo-server']);
    // the app program of the kept file is named (supervisor would start it again)
    expect(f.kept.map((p) => p.name)).toEqual(['demo-celery-default']);
    expect(f.script).toContain('mv -f -- /etc/supervisor/conf.d/demo-gunicorn.conf /etc/supervisor/conf.d/demo-gunicorn.conf.taken-over-by-ops');
    expect(f.script).not.toContain('demo-celery-default.conf.taken-over-by-ops');
    expect(f.script).toContain('systemctl disable --now --quiet salt-minion.service');
    expect(finalizeScript({ programs: [], salt: false }).script).toBe('set -e');
  });

  it('waits for a listener on the port, read from /proc (run here with sh)', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const onPort = pillarSchema.parse({ project: 'demo', app: { port } });
    // the last line of handing back waits for the listener, then removes `current` (here: a path that is not there)
    const wait = handBackScript(onPort, { programs: [{ name: 'w', kind: 'web', file: '/etc/supervisor/conf.d/w.conf' }], salt: false }).split('\n').find((l) => l.startsWith('i=0;'));
    expect(wait).toBeDefined();
    expect(execFileSync('sh', ['-c', `${wait}; echo listening`], { encoding: 'utf8' })).toBe('listening\n');
    server.close();
    const closed = spawnSync('sh', ['-c', (wait as string).replace('-gt 240', '-gt 2')], { encoding: 'utf8' });
    expect(closed.status).toBe(5);
  });
});

describe('a symlink state with a file in its place', () => {
  it('moves the file aside (kept, never over one kept before), then links — run here with sh', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ops-displace-'));
    const path = join(dir, 'demo.conf');
    const kept = join(dir, 'demo.conf.before-ops');
    const apply = (params: object) => {
      const batch = factBatch([{ id: 's', kind: 'symlink', params }]);
      const plan = KINDS.symlink?.plan(params as never, batch.parse(execFileSync('sh', ['-c', batch.script]).toString())[0] ?? { out: '', code: -1 });
      for (const st of plan?.steps ?? []) if ('run' in st) execFileSync(st.run.argv?.[0] ?? '', st.run.argv?.slice(1) ?? []);
      return plan;
    };
    writeFileSync(path, 'margarita site\n');
    expect(apply({ path, target: '/etc/nginx/sites-available/demo.conf' })?.status).toBe('unknown'); // without displace: left alone
    expect(readFileSync(path, 'utf8')).toBe('margarita site\n');
    const params = { path, target: '/etc/nginx/sites-available/demo.conf', displace: kept };
    expect(apply(params)?.summary).toBe(`${path} (a file) moved to ${kept}, → /etc/nginx/sites-available/demo.conf`);
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path)).toBe('/etc/nginx/sites-available/demo.conf');
    expect(readFileSync(kept, 'utf8')).toBe('margarita site\n');
    expect(apply(params)?.status).toBe('ok');
    // a second file there later: the first one kept stays, the new one beside it
    execFileSync('rm', [path]);
    writeFileSync(path, 'another\n');
    apply(params);
    expect(readFileSync(kept, 'utf8')).toBe('another\n');
    expect(existsSync(`${kept}.~1~`) && readFileSync(`${kept}.~1~`, 'utf8')).toBe('margarita site\n');
  });
});
