/**
 * Taking over a margarita host (src/release/takeover.ts): what ops reads of supervisor's files and
 * the checkout, and the scripts it runs — their parts that can run here run with sh (the whole
 * takeover runs on lab hosts in test/hosts/takeover.test.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pillarSchema } from '../../src/pillar/schema.js';
import { finalizeScript, handBackScript, parseTakeover, takeOverLines, type Takeover } from '../../src/release/takeover.js';
import { RESTART_IF_NEEDED } from '../../src/roles/db.js';
import { factBatch } from '../../src/states/facts.js';
import { KINDS } from '../../src/states/kinds/index.js';

const C = 'a'.repeat(40);
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
    expect(parseTakeover(margarita)).toEqual({
      programs: [
        { name: 'demo-server', kind: 'web', file: '/etc/supervisor/conf.d/demo-gunicorn.conf' },
        { name: 'demo-celery-default', kind: 'worker', file: '/etc/supervisor/conf.d/demo-celery-default.conf' },
      ],
      commit: C,
      salt: true,
    });
    expect(parseTakeover('')).toBeUndefined();
    expect(parseTakeover(`commit ${C}`)).toBeUndefined(); // a checkout alone is nothing to take over
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
    );
    expect(t).toEqual({ programs: [{ name: 'sidecar', kind: 'other', file: '/etc/supervisor/conf.d/y.conf' }], commit: undefined, salt: false });
  });
});

describe("the takeover's scripts", () => {
  const pillar = pillarSchema.parse({ project: 'demo', app: { port: 8000 } });
  const t = parseTakeover(margarita) as Takeover;

  it('are shell text sh accepts (switch, hand back, finish; PostgreSQL reload-or-restart)', () => {
    const lines = takeOverLines(pillar, t, { web: true, worker: true }, 'systemctl restart demo-web.service');
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
