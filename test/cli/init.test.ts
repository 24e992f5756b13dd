/**
 * `ops init` on this machine: what it finds in an app's repo, what it writes, and what it refuses.
 * (test/hosts/init.test.ts deploys a stock Django project it set up to lab hosts.)
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ops, tempDir } from '../support/ops.js';

function appDir(files: Record<string, string>): string {
  const dir = join(tempDir(), 'shop');
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

const noKeys = { HOME: '/nonexistent-home' };

describe('ops init', () => {
  it('a Heroku-style Django app (Procfile, requirements, settings from the environment, Celery): procfile type, no settings module written', async () => {
    const dir = appDir({
      'manage.py': "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n",
      'shop/settings.py': "import os\nimport dj_database_url\nDATABASES = {'default': dj_database_url.config()}\nWSGI_APPLICATION = 'shop.wsgi.application'\n",
      'shop/celery.py': '',
      'requirements.txt': 'django\n',
      Procfile: 'web: gunicorn shop.wsgi\nworker: celery -A shop worker\nrelease: python manage.py migrate\n',
    });
    const r = await ops(['init', dir], { env: noKeys });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Procfile (web, worker, release)');
    const p = parse(readFileSync(join(dir, 'pillar/project.yml'), 'utf8'));
    expect(p.app).toMatchObject({ type: 'procfile', requirements: 'requirements.txt', manage_command: 'python manage.py' });
    expect(p.env).toEqual({ DJANGO_SETTINGS_MODULE: 'shop.settings' });
    expect(existsSync(join(dir, 'shop/settings_ops.py'))).toBe(false);
    expect(readFileSync(join(dir, 'pillar/devs.yml'), 'utf8')).toMatch(/^users: \{\}$/m);
    expect(r.stderr).toContain('no admin in pillar/devs.yml: no ~/.ssh/id_*.pub found');
  });

  it('an app with neither: the start command is data, kept as it was typed', async () => {
    const dir = appDir({ 'server.js': '' });
    const none = await ops(['init', dir], { env: noKeys });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/has no manage\.py and no Procfile: ops needs the command that starts the app\n  hint: pass --start-command/);
    expect(existsSync(join(dir, 'pillar'))).toBe(false);
    const cmd = `node server.js --title "a: b" # not a comment' {x} [y] & \${PORT}`;
    const r = await ops(['init', dir, '--start-command', cmd, '--name', 'shop_2'], { env: noKeys });
    expect(r.code, r.stderr).toBe(0);
    const p = parse(readFileSync(join(dir, 'pillar/project.yml'), 'utf8'));
    expect(p.app.start_command).toBe(cmd);
    expect(p.project).toBe('shop_2');
    expect((await ops(['pillar', 'validate'], { cwd: dir })).code).toBe(0);
  });

  it('refuses what cannot be a name or a command, before writing anything', async () => {
    const dir = appDir({ 'server.js': '' });
    const cases: [string[], RegExp][] = [
      [['--name', 'Shop; id', '--start-command', 'x'], /--name 'Shop; id': a project name starts with a lower-case letter/],
      [['--name', 'a\nb', '--start-command', 'x'], /^error: --name 'a\\nb': a project name/],
      [['--name', 'root', '--start-command', 'x'], /--name 'root': .*not a system account/],
      [['--start-command', 'a\nb'], /--start-command takes one non-empty line/],
      [['--start-command', ''], /--start-command takes one non-empty line/],
      [['--user', 'www-data', '--start-command', 'x'], /--user 'www-data': a Unix user name that is not a system account/],
    ];
    for (const [flags, message] of cases) {
      const r = await ops(['init', dir, ...flags], { env: noKeys });
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(existsSync(join(dir, 'pillar'))).toBe(false);
    const missing = await ops(['init', join(dir, 'nope')]);
    expect(missing.code).toBe(2);
  });

  it('writes inside DIR only: a linked folder or a dangling link is refused before anything is written', async () => {
    const outside = tempDir();
    const linked = appDir({ 'server.js': '' });
    symlinkSync(outside, join(linked, 'pillar'));
    const r = await ops(['init', linked, '--start-command', 'x'], { env: noKeys });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: pillar in .* is a symbolic link: ops init writes only inside /);
    expect(readdirSync(outside)).toEqual([]);
    const dangling = appDir({ 'server.js': '' });
    mkdirSync(join(dangling, 'pillar'));
    symlinkSync('/nonexistent/lab.yml', join(dangling, 'pillar/lab.yml'));
    const d = await ops(['init', dangling, '--start-command', 'x'], { env: noKeys });
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/^error: pillar\/lab\.yml already exists/);
    expect(readdirSync(join(dangling, 'pillar'))).toEqual(['lab.yml']);
  });

  it('values YAML would read otherwise, a one-part settings module, a Procfile a deploy would refuse', async () => {
    const dashes = appDir({ 'server.js': '' });
    const r = await ops(['init', dashes, '--start-command', '--- x'], { env: noKeys });
    expect(r.code, r.stderr).toBe(0);
    expect(parse(readFileSync(join(dashes, 'pillar/project.yml'), 'utf8')).app.start_command).toBe('--- x');
    const flat = appDir({ 'manage.py': "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings')\n", 'settings.py': 'SECRET_KEY = "x"\n' });
    const f = await ops(['init', flat, '--name', 'flat'], { env: noKeys });
    expect(f.code, f.stderr).toBe(0);
    expect(parse(readFileSync(join(flat, 'pillar/project.yml'), 'utf8')).env.DJANGO_SETTINGS_MODULE).toBe('settings_ops');
    expect(readFileSync(join(flat, 'settings_ops.py'), 'utf8')).toMatch(/^from settings import \*/m);
    const missing = appDir({ 'manage.py': "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'a.b.settings')\n" });
    const m = await ops(['init', missing], { env: noKeys });
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(/manage\.py names the settings module a\.b\.settings, but neither a\/b\/settings\.py nor a\/b\/settings\/__init__\.py is a file here/);
    expect(existsSync(join(missing, 'pillar'))).toBe(false);
    const badProcfile = appDir({ Procfile: 'web: gunicorn app\nweb: again\n' });
    const b = await ops(['init', badProcfile], { env: noKeys });
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/^error: Procfile line 2: web is in the Procfile twice/);
  });

  it('one file already there: nothing is written, and the error names it', async () => {
    const dir = appDir({ 'manage.py': "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n", 'shop/settings.py': '', 'pillar/lab.yml': 'mine: true\n' });
    const r = await ops(['init', dir], { env: noKeys });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: pillar\/lab\.yml already exists in .*: ops init never overwrites a file/);
    expect(existsSync(join(dir, 'pillar/project.yml'))).toBe(false);
    expect(readFileSync(join(dir, 'pillar/lab.yml'), 'utf8')).toBe('mine: true\n');
  });
});
