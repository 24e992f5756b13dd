/**
 * `ops init` on a stock Django project, as a new user starts: `django-admin startproject` (Debian's
 * Django), a git repo, `ops init`, then real lab hosts from bare (`ops lab up`, a master and one
 * host with web, balancer and db), the two secrets init names, and `ops deploy lab`: the project's
 * own page (Django's admin login, with its static files) is served through nginx.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, provisionLab, requireRoot, type LabHostRow } from '../support/lab.js';
import { ops, tempDir } from '../support/ops.js';

let app: string;
let home: string;
let hosts: LabHostRow[] = [];
const FILES = ['pillar/project.yml', 'pillar/devs.yml', 'pillar/staging.yml', 'pillar/lab.yml', '.ops/.gitignore', 'mysite/settings_ops.py'];
const git = (args: string[]) => execFileSync('git', ['-c', 'user.name=Alice', '-c', 'user.email=alice@example.com', ...args], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

beforeAll(() => {
  requireRoot();
  const parent = tempDir();
  execFileSync('django-admin', ['startproject', 'mysite'], { cwd: parent });
  app = join(parent, 'mysite');
  git(['init', '-q', '-b', 'main']);
  git(['add', '-A']);
  git(['commit', '-q', '-m', 'startproject']);
  home = tempDir();
  mkdirSync(join(home, '.ssh'), { mode: 0o700 });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@laptop', '-f', join(home, '.ssh/id_ed25519')]);
});

afterAll(async () => {
  if (app) await labDown(app);
});

describe('ops init on a stock Django project, then the lab', () => {
  it('writes the pillar from what it finds, and never overwrites a file', async () => {
    const r = await ops(['init', '--user', 'alice'], { cwd: app, env: { HOME: home } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('found a Django project: settings mysite.settings, WSGI mysite.wsgi:application');
    expect(r.stdout).toMatch(/next:\n  ops setup-master staging -H .*\n  ops setup-minion staging .*\n  ops encrypt staging SECRET_KEY .*ops deploy staging\n/);
    const project = readFileSync(join(app, 'pillar/project.yml'), 'utf8');
    expect(project).toMatch(/^project: mysite$/m);
    expect(project).toMatch(/^  wsgi: mysite\.wsgi:application$/m);
    expect(project).toMatch(/^  DJANGO_SETTINGS_MODULE: mysite\.settings_ops$/m);
    const key = readFileSync(join(home, '.ssh/id_ed25519.pub'), 'utf8').trim();
    expect(readFileSync(join(app, 'pillar/devs.yml'), 'utf8')).toContain(`  alice:\n    keys:\n      - ${key}`);
    const validate = await ops(['pillar', 'validate'], { cwd: app });
    expect(validate.code, validate.stderr).toBe(0);
    // again: exit 2 naming the files, and not one byte changed
    const before = FILES.map((f) => [readFileSync(join(app, f), 'utf8'), statSync(join(app, f)).mtimeMs]);
    const again = await ops(['init'], { cwd: app, env: { HOME: home } });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^error: pillar\/project\.yml, .*mysite\/settings_ops\.py already exist in .*: ops init never overwrites a file/);
    expect(FILES.map((f) => [readFileSync(join(app, f), 'utf8'), statSync(join(app, f)).mtimeMs])).toEqual(before);
    git(['add', '-A']);
    git(['commit', '-q', '-m', 'ops init']);
    expect(git(['status', '--porcelain'])).toBe(''); // .ops/ keeps itself out of git
  });

  it('ops lab up, the master, one host, the two secrets, ops deploy lab: the page is served', async () => {
    hosts = await provisionLab(app, { hosts: 2, minions: { 'lab-2': 'web,balancer,db' }, secrets: ['SECRET_KEY', 'DB_PASSWORD'] });
    for (const args of [['deploy-key', 'lab', '--write'], ['lab', 'serve-repo', app]]) {
      const r = await ops(args, { cwd: app });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const deploy = await ops(['deploy', 'lab'], { cwd: app });
    expect(deploy.code, deploy.stdout + deploy.stderr).toBe(0);
    const web = hosts.find((h) => h.name === 'lab-2')?.address ?? '';
    const get = (path: string) =>
      execFileSync('curl', ['-sSk', '--max-time', '20', '-w', '\n%{http_code}', '--resolve', `mysite.lab.invalid:443:${web}`, `https://mysite.lab.invalid${path}`]).toString();
    const page = get('/admin/login/');
    expect(page.endsWith('\n200'), page.slice(-500)).toBe(true);
    expect(page).toContain('Django administration');
    const css = get('/static/admin/css/base.css');
    expect(css.endsWith('\n200'), css.slice(-300)).toBe(true);
    // the admin user init wrote is on the host, with the key
    const alice = await ops(['run', 'lab', '--host', 'lab-2', '--', 'cat ~alice/.ssh/authorized_keys'], { cwd: app });
    expect(alice.stdout).toContain('alice@laptop');
  });
});
