/**
 * On hosts booted converged from the run's `demo` snapshot (master lab-1; db,queue,cache on lab-2;
 * web,worker on lab-3; balancer on lab-4), each minion receives only what its roles need: the TLS key and basic-auth users only on
 * balancers, the app's secrets only in the web/worker env file, the deploy key nowhere but
 * the master. Also: basic auth works, and env values of any shape reach the app unchanged.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convergedLab, DEMO } from '../support/converged.js';
import { labDown, requireRoot, type LabHostRow } from '../support/lab.js';
import { ops, tempRepo } from '../support/ops.js';

let repo: string;
let hosts: LabHostRow[];
const addr = (n: string) => hosts.find((h) => h.name === n)?.address ?? '';
const run = (host: string, line: string) => ops(['run', 'lab', '--host', host, '--', line], { cwd: repo });
const awkward = `q'uo"te $HOME \\back\nnew line ünï 🙂`;
const authPassword = `pa:ss'word-${Date.now()}`;
let tlsKey: string;

async function encrypt(name: string, value: string): Promise<string> {
  const r = await ops(['encrypt', 'lab', name], { cwd: repo, input: value });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.replace(/^"[^"]+": /, '');
}

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  hosts = await convergedLab(repo, DEMO);
  // A certificate of the pillar's own (made here with openssl, encrypted into the pillar).
  const dir = mkdtempSync(join(tmpdir(), 'ops-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=demo.lab.invalid', '-addext', 'subjectAltName=DNS:demo.lab.invalid', '-keyout', join(dir, 'k'), '-out', join(dir, 'c')], { stdio: 'ignore' });
  tlsKey = readFileSync(join(dir, 'k'), 'utf8');
  for (const [name, file] of [['ssl_cert', 'c'], ['ssl_key', 'k']] as const) {
    expect((await ops(['encrypt', 'lab', name, '--file', join(dir, file), '--write'], { cwd: repo })).code).toBe(0);
  }
  expect((await ops(['encrypt', 'lab', 'AWKWARD', '--write'], { cwd: repo, input: awkward })).code).toBe(0);
  expect((await ops(['deploy-key', 'lab', '--write'], { cwd: repo })).code).toBe(0);
  const auth = await encrypt('x', authPassword);
  const overlay = join(repo, '.ops/pillar/lab.yml');
  writeFileSync(overlay, `${readFileSync(overlay, 'utf8')}http_auth:\n  reviewer: ${auth.replace(/\n/g, '\n  ')}\n`);
  const d = await ops(['deploy', 'lab'], { cwd: repo });
  expect(d.code, d.stdout + d.stderr).toBe(0);
});

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('data minimisation', () => {
  const keyLine = () => tlsKey.split('\n')[5] ?? 'unreachable';

  it('the web host has the app env file (0640 root:demo) and no TLS key, basic-auth file or deploy key', async () => {
    const stat = await run('lab-3', 'stat -c "%a %U %G" /var/www/demo/shared/env');
    expect(stat.stdout.trim()).toBe('640 root demo');
    const env = (await run('lab-3', 'cat /var/www/demo/shared/env')).stdout;
    expect(env).toMatch(/^export SECRET_KEY=/m);
    expect(env).not.toMatch(/ssl_key|ssl_cert|deploy_key|reviewer|OPENSSH|PRIVATE KEY/);
    const grep = await run('lab-3', `grep -rlF -- ${JSON.stringify(keyLine())} /etc /var/www /root /home 2>/dev/null; true`);
    expect(grep.stdout).toBe('');
    const dirs = await run('lab-3', 'for d in /etc/ssl/ops /etc/nginx; do test -e "$d" && echo "$d"; done; true');
    expect(dirs.stdout).toBe('');
  });

  it('the balancer has the TLS key and the basic-auth users, and no app env file or app secret', async () => {
    const files = await run('lab-4', 'stat -c "%n %a %U %G" /etc/ssl/ops/demo.lab.invalid.key /etc/nginx/demo.htpasswd; cut -d: -f1,2 /etc/nginx/demo.htpasswd | cut -c1-15; test -e /var/www/demo/shared/env && echo has-env || echo no-env');
    // nginx reads the key as root; its workers (www-data) read the basic-auth file on each request
    expect(files.stdout).toBe('/etc/ssl/ops/demo.lab.invalid.key 600 root root\n/etc/nginx/demo.htpasswd 640 root www-data\nreviewer:$apr1$\nno-env\n');
    expect((await run('lab-4', 'grep -c . /etc/ssl/ops/demo.lab.invalid.key')).stdout.trim()).toBe(String(tlsKey.trim().split('\n').length));
  });

  it('basic auth guards the site: 401 without the password, through with it', async () => {
    const url = 'https://demo.lab.invalid/';
    const resolve = `demo.lab.invalid:443:${addr('lab-4')}`;
    const none = execFileSync('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', '--resolve', resolve, url]).toString();
    expect(none).toBe('401');
    const netrc = join(mkdtempSync(join(tmpdir(), 'ops-netrc-')), 'n');
    writeFileSync(netrc, `machine demo.lab.invalid login reviewer password ${authPassword.replace(/'/g, "'")}\n`, { mode: 0o600 });
    const ok = execFileSync('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', '--netrc-file', netrc, '--resolve', resolve, url]).toString();
    expect(ok).not.toBe('401');
  });

  it('the certificate served is the pillar one', async () => {
    const served = execFileSync('sh', ['-c', `openssl s_client -connect ${addr('lab-4')}:443 -servername demo.lab.invalid </dev/null 2>/dev/null | openssl x509 -noout -pubkey`]).toString();
    const fromKey = execFileSync('openssl', ['pkey', '-pubout'], { input: tlsKey }).toString();
    expect(served).toBe(fromKey);
  });

  it('an env value with quotes, $, backslashes, newlines and unicode reaches the app unchanged', async () => {
    const r = await run('lab-3', `/usr/local/lib/ops/with-env /var/www/demo/shared/env python3 -c 'import os,sys; sys.stdout.write(os.environ["AWKWARD"])'`);
    expect(r.stdout).toBe(awkward);
  });
});
