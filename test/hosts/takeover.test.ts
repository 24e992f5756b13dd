/**
 * Taking over a server that margarita (the Caktus template's Salt states) set up, on real lab
 * hosts (Debian 13, bare): lab-1 becomes ops's master; lab-2 is prepared as margarita left a
 * web + balancer + db host — supervisor from Debian's registry running the demo app with gunicorn
 * from a git checkout in /var/www/demo/source (a virtualenv in env/, logs in log/, static and
 * media files in public/), a margarita-style nginx site file in sites-enabled, PostgreSQL
 * listening on every address with the app's database — and `salt-minion` running. Salt is not in
 * Debian's registry: a stand-in unit (`sleep infinity`) plays salt-minion. Then, with a request
 * loop on the site throughout, `ops setup-minion` and the first `ops deploy` move the app to
 * ops's units and release layout.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { curlDemo, requestLoop, servedDemoRelease } from '../support/demo-app.js';
import { labDown, labHosts, labUp, requireRoot } from '../support/lab.js';
import { ops, ROOT, tempRepo } from '../support/ops.js';

let repo: string;
let app: string;
let address = '';
let first = '';
const password = randomBytes(18).toString('hex');
const media = `uploaded before ops ${Date.now()}`;
let postmaster = '';
type Loop = Awaited<ReturnType<ReturnType<typeof requestLoop>['stop']>>;

const git = (args: string[]) => execFileSync('git', ['-c', 'user.name=Alice', '-c', 'user.email=alice@example.com', ...args], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();

/** ops in the repo; fails the test unless it exits 0. Its stdout and stderr. */
async function must(args: string[], input?: string): Promise<{ stdout: string; all: string }> {
  const r = await ops(args, { cwd: repo, ...(input === undefined ? {} : { input }) });
  expect(r.code, `ops ${args.join(' ')}:\n${r.stdout}\n${r.stderr}`).toBe(0);
  return { stdout: r.stdout, all: r.stdout + r.stderr };
}

/** A shell script on lab-2 as root (its text on stdin): its stdout. */
const onWeb = async (script: string) => (await must(['run', 'lab', '--host', 'lab-2', '--', 'bash -s'], script)).stdout;

/** `fn` with a request loop on the site throughout: what the loop saw. */
async function underLoad(fn: () => Promise<void>): Promise<Loop> {
  const loop = requestLoop(address, { http1: true });
  const result = fn().then(
    () => undefined,
    (e: unknown) => e,
  );
  const error = await result;
  const seen = await loop.stop();
  if (error) throw error;
  return seen;
}

/** The PostgreSQL server's process id: the same one means no restart. */
const postmasterPid = async () => (await onWeb('head -n 1 /var/lib/postgresql/*/main/postmaster.pid')).trim();

/** lab-2's state of the takeover, one fact per line. */
const hostFacts = () =>
  onWeb(`cd /var/www/demo
echo "current=$(readlink current || true)"
echo "web=$(systemctl is-active demo-web.service || true)"
echo "program=$(supervisorctl status demo-server 2>&1 | awk '{print $2}')"
echo "confs=$(ls /etc/supervisor/conf.d/ | tr '\\n' ' ')"
echo "salt=$(systemctl is-enabled salt-minion.service || true)/$(systemctl is-active salt-minion.service || true)"
`).then((out) => Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).trim()])));

/** lab-2 as margarita's states and the fabfile's deploy left it (the app at `commit`, from a git bundle). */
function margaritaScript(bundle: string): string {
  return `set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q supervisor git python3-venv python3-django gunicorn python3-psycopg2 python3-celery python3-pymemcache postgresql nginx openssl >/dev/null
useradd --create-home --shell /bin/bash --groups www-data demo
for d in /var/www/demo /var/www/demo/log /var/www/demo/public /var/www/demo/public/static /var/www/demo/public/media /var/www/demo/ssl /var/www/demo/services; do install -d -o demo -g demo -m 775 "$d"; done
base64 -d > /tmp/app.bundle <<'BUNDLE'
${bundle}
BUNDLE
chmod 644 /tmp/app.bundle
runuser -u demo -- git clone -q -b main /tmp/app.bundle /var/www/demo/source
runuser -u demo -- python3 -m venv --system-site-packages /var/www/demo/env
cat > /var/www/demo/source/.env <<'ENV'
DOMAIN=demo.lab.invalid
SECRET_KEY=margarita-era-secret
DB_HOST=127.0.0.1
DB_NAME=demo_lab
DB_USER=demo_lab
DB_PASSWORD=${password}
STATIC_ROOT=/var/www/demo/public/static
MEDIA_ROOT=/var/www/demo/public/media
ENV
printf '#!/bin/bash\\nset -a\\n. /var/www/demo/source/.env\\nset +a\\nexec "$@"\\n' > /var/www/demo/source/dotenv.sh
chmod 755 /var/www/demo/source/dotenv.sh; chown demo:demo /var/www/demo/source/.env /var/www/demo/source/dotenv.sh; chmod 640 /var/www/demo/source/.env
echo ${JSON.stringify(media)} > /var/www/demo/public/media/upload-1.txt; chown demo:demo /var/www/demo/public/media/upload-1.txt
# PostgreSQL as margarita's db state left it: listening everywhere, the app's role and database
conf=$(ls -d /etc/postgresql/*/main | head -n 1)
echo "listen_addresses = '*'" >> "$conf/postgresql.conf"
systemctl restart postgresql
runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE ROLE demo_lab LOGIN PASSWORD '${password}';
CREATE DATABASE demo_lab OWNER demo_lab;
SQL
cd /var/www/demo/source
runuser -u demo -- ./dotenv.sh /var/www/demo/env/bin/python manage.py migrate --noinput >/dev/null
runuser -u demo -- ./dotenv.sh /var/www/demo/env/bin/python manage.py collectstatic --noinput >/dev/null
cat > /etc/supervisor/conf.d/demo-gunicorn.conf <<'CONF'
[program:demo-server]
command=/var/www/demo/source/dotenv.sh /var/www/demo/env/bin/python -m gunicorn demo.wsgi:application --bind=0.0.0.0:8000 --workers=2
user=demo
directory=/var/www/demo/source
autostart=true
autorestart=true
stopwaitsecs=60
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=/var/www/demo/log/gunicorn.log
CONF
supervisorctl reread >/dev/null; supervisorctl update >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=demo.lab.invalid -keyout /var/www/demo/ssl/demo.key -out /var/www/demo/ssl/demo.crt 2>/dev/null
cat > /etc/nginx/sites-enabled/demo.conf <<'SITE'
upstream demo { server 127.0.0.1:8000; }
server { listen 80; server_name demo.lab.invalid; return 301 https://$host$request_uri; }
server {
    listen 443 ssl;
    server_name demo.lab.invalid;
    ssl_certificate /var/www/demo/ssl/demo.crt;
    ssl_certificate_key /var/www/demo/ssl/demo.key;
    location /static/ { alias /var/www/demo/public/static/; }
    location /media/ { alias /var/www/demo/public/media/; }
    location / { proxy_pass http://demo; proxy_set_header Host $host; proxy_set_header X-Forwarded-Proto https; }
}
SITE
rm -f /etc/nginx/sites-enabled/default
systemctl reload nginx
# Salt is not in Debian's registry: this unit stands in for salt-minion
printf '[Unit]\\nDescription=stand-in for salt-minion (Salt is not in Debian)\\n[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/salt-minion.service
systemctl daemon-reload; systemctl enable --now --quiet salt-minion.service
for i in $(seq 1 60); do python3 -c 'import urllib.request as u; u.urlopen(u.Request("http://127.0.0.1:8000/healthz", headers={"Host": "demo.lab.invalid"}), timeout=5)' 2>/dev/null && break; sleep 0.5; done
`;
}

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  app = join(mkdtempSync(join(tmpdir(), 'ops-app-')), 'demo-app');
  cpSync(join(ROOT, 'examples/demo-app'), app, { recursive: true });
  git(['init', '-q', '-b', 'main']);
  git(['add', '-A']);
  git(['commit', '-q', '-m', 'the app as margarita deployed it']);
  first = git(['rev-parse', 'HEAD']);
  const bundle = join(app, '..', 'app.bundle');
  git(['bundle', 'create', '-q', bundle, 'main']);
  await labUp(repo, 'lab', 2);
  const hosts = await labHosts(repo);
  address = hosts.find((h) => h.name === 'lab-2')?.address ?? '';
  const master = hosts.find((h) => h.name === 'lab-1')?.address ?? '';
  await must(['setup-master', 'lab', '-H', master]);
  await must(['encrypt', 'lab', 'DB_PASSWORD', '--write'], password);
  await must(['encrypt', 'lab', 'SECRET_KEY', '--generate', '32', '--write']);
  await must(['deploy-key', 'lab', '--write']);
  // the branch moved on since that deploy: ops's first release must still be the deployed commit
  appendFileSync(join(app, 'hits/views.py'), '\n# a commit after the last margarita deploy\n');
  git(['commit', '-q', '-am', 'after the last deploy']);
  await must(['lab', 'serve-repo', app]);
  await onWeb(margaritaScript(execFileSync('base64', ['-w', '76', bundle]).toString().trim()));
  const page = await curlDemo(address, '/');
  expect(page.code, page.body).toBe('200');
  expect(page.body).toContain('release: dev'); // margarita's checkout has no RELEASE file
  postmaster = await postmasterPid();
}, 900_000);

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('a server margarita set up', () => {
  it('setup-minion converges it beside margarita, a dry run names the takeover, and a first release that fails hands back to supervisor', async () => {
    let out = '';
    const overlay = join(repo, '.ops/pillar/lab.yml');
    const r = await underLoad(async () => {
      out += (await must(['setup-minion', 'lab', 'web,balancer,db', '-H', address])).all;
      const before = readFileSync(overlay, 'utf8'); // with lab-2's roles
      const dry = (await must(['deploy', 'lab', '--dry-run'])).all;
      expect(dry).toContain(`ops's first release here is that checkout's commit ${first.slice(0, 12)}, not main's head`);
      expect(dry).toContain(`would release commit ${first.slice(0, 12)}`);
      // a health check that cannot pass: the release is built and switched to, then fails
      writeFileSync(overlay, stringify({ ...(parse(before) as object), healthcheck: { path: '/no-such-page' } }));
      const failing = await ops(['deploy', 'lab'], { cwd: repo });
      writeFileSync(overlay, before);
      out += failing.stdout + failing.stderr;
      expect(failing.code, out).toBe(1);
    });
    expect(out).toContain("lab-2: ops's units take over from supervisor's demo-server");
    expect(out).toContain("lab-2: supervisor's demo-server serve again");
    console.info(`setup-minion, dry run and a failed first release under a request loop: ${r.ok} answered, ${r.failed.length} failed`);
    expect(r.failed.length, `failed requests:\n${r.failed.join('\n')}\n${out}`).toBeLessThanOrEqual(1);
    expect(r.ok).toBeGreaterThan(20);
    // PostgreSQL, listening on every address already, was reloaded: the same server runs
    expect(await postmasterPid()).toBe(postmaster);
    const facts = await hostFacts();
    expect(facts).toEqual({ current: '', web: 'inactive', program: 'RUNNING', confs: 'demo-gunicorn.conf', salt: 'enabled/active' });
    expect(await servedDemoRelease(address)).toBe('dev');
  });

  it('is taken over by the first deploy, the site serving throughout', async () => {
    let out = '';
    const r = await underLoad(async () => {
      out += (await must(['deploy', 'lab'])).all;
    });
    expect(r.failed.length, `failed requests:\n${r.failed.join('\n')}\n${out}`).toBeLessThanOrEqual(1);
    expect(r.ok).toBeGreaterThan(20);
    console.info(`takeover under a request loop: ${r.ok} answered, ${r.failed.length} failed`);
    // margarita's page, then ops's release of the same commit
    expect(r.releases.has('dev'), [...r.releases].join(', ')).toBe(true);
    expect([...r.releases].some((id) => id.endsWith(`-${first.slice(0, 7)}`)), [...r.releases].join(', ')).toBe(true);
    expect(out).toContain(`ops's first release here is that checkout's commit ${first.slice(0, 12)}, not main's head`);
    expect(out).toContain("lab-2: ops's units take over from supervisor's demo-server");
    expect(out).toMatch(/lab-2: ops serves; disabled demo-server, salt-minion/);
    // the first release is the commit margarita deployed, not the branch's head
    const id = await servedDemoRelease(address);
    expect(id.endsWith(`-${first.slice(0, 7)}`), id).toBe(true);
    const facts = await onWeb(`cd /var/www/demo
readlink current; python3 -c 'import json; print(json.load(open("current/.ops-release.json"))["commit"])'
systemctl is-active demo-web.service || true
supervisorctl status 2>&1 | grep -c demo-server || true
ls /etc/supervisor/conf.d/
systemctl is-enabled salt-minion.service || true; systemctl is-active salt-minion.service || true
cat public/media/upload-1.txt
test -L /etc/nginx/sites-enabled/demo.conf && echo site-linked; test -f /etc/nginx/demo.conf.before-ops && echo margarita-site-kept
test -d source/.git && echo source-kept
`);
    const lines = facts.trim().split('\n');
    expect(lines[0]).toBe(`releases/${id}`);
    expect(lines[1]).toBe(first);
    expect(lines[2]).toBe('active');
    expect(lines[3]).toBe('0'); // supervisor no longer knows the program
    expect(lines).toContain('demo-gunicorn.conf.taken-over-by-ops');
    expect(lines).not.toContain('demo-gunicorn.conf');
    expect(lines).toContain('disabled');
    expect(lines).toContain('inactive');
    expect(lines).toContain(media);
    for (const l of ['site-linked', 'margarita-site-kept', 'source-kept']) expect(lines).toContain(l);
    const file = await curlDemo(address, '/media/upload-1.txt');
    expect(file.code).toBe('200');
    expect(file.body.trim()).toBe(media);
  });

  it('the next deploy takes the branch head, with nothing of the takeover left to do', async () => {
    let out = '';
    const r = await underLoad(async () => {
      out = (await must(['deploy', 'lab'])).all;
    });
    expect(r.failed, r.failed.join('\n')).toEqual([]);
    const head = git(['rev-parse', 'HEAD']);
    expect(out).not.toContain('supervisor');
    const id = await servedDemoRelease(address);
    expect(id.endsWith(`-${head.slice(0, 7)}`), id).toBe(true);
  });
});
