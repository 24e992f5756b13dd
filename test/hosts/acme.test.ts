/**
 * Certificates from a real ACME CA on real lab hosts booted converged from the run's `demo`
 * snapshot (lab-1 master, lab-2 db,queue,cache, lab-3 web,worker, lab-4 balancer), lab-3 made a
 * balancer too, so two balancers stand behind one name. The CA is Debian's Pebble on the lab
 * bridge (test/support/pebble.ts), its test DNS server answering both names with both balancers;
 * Let's Encrypt is never contacted (the directory is always set). What the site's clients see is
 * checked with curl and TLS connections verified against Pebble's root alone.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convergedLab, DEMO } from '../support/converged.js';
import { publishDemoApp } from '../support/demo-app.js';
import { inNetns, labDown, netnsOf, requireRoot, type LabHostRow } from '../support/lab.js';
import { ops, tempRepo, type RunResult } from '../support/ops.js';
import { startPebble, type Pebble } from '../support/pebble.js';

const DOMAIN = 'www.acme-lab.test';
const EXTRA = 'acme-lab.test';
let repo: string;
let hosts: LabHostRow[];
let pebble: Pebble | undefined;
let root = '';
const addr = (name: string) => hosts.find((h) => h.name === name)?.address ?? '';
const balancers = () => [addr('lab-3'), addr('lab-4')];
const envFile = () => join(repo, 'pillar/lab.yml');
let basePillar = '';

const events = (r: RunResult) =>
  r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** The environment file with `tls.acme` for Pebble; `over` replaces or adds keys of `tls.acme`. */
function acmePillar(over: Record<string, string> = {}): void {
  const p = pebble as Pebble;
  const ca = ['|', ...p.listenerCa.trim().split('\n').map((l) => `      ${l}`)].join('\n');
  const acme: Record<string, string> = { email: 'ops-test@acme-lab.test', directory: p.directory, domains: `[${EXTRA}]`, directory_ca: ca, ...over };
  const lines = [
    basePillar.replace(/^domain: .*$/m, `domain: ${DOMAIN}`).replace(/^(  DJANGO_DEBUG: .*)$/m, `$1\n  EXTRA_ALLOWED_HOSTS: ${EXTRA}`),
    'tls:',
    '  hsts: true',
    '  acme:',
    ...Object.entries(acme).map(([k, v]) => `    ${k}: ${v}`),
    '',
  ];
  writeFileSync(envFile(), lines.join('\n'));
}

/** The serial of the certificate `address` serves for `name`, verified against Pebble's root alone. */
function servedSerial(address: string, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: address, port: 443, servername: name, ca: root, timeout: 5000 }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.end();
      resolve(serial);
    });
    s.on('timeout', () => s.destroy(new Error('timed out')));
    s.on('error', reject);
  });
}

/** curl, verifying against Pebble's root only, the name resolved to one balancer. */
function curl(address: string, name: string, path = '/'): { code: number; out: string } {
  const ca = join(repo, 'pebble-root.pem');
  writeFileSync(ca, root);
  try {
    const out = execFileSync('curl', ['-sS', '-D', '-', '-o', '/dev/null', '--max-time', '10', '--cacert', ca, '--resolve', `${name}:443:${address}`, `https://${name}${path}`], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    return { code: 0, out };
  } catch (e) {
    const x = e as { status: number; stderr: Buffer };
    return { code: x.status, out: x.stderr.toString() };
  }
}

/** Requests to both balancers, each on a new TLS connection verified against Pebble's root, until stopped. */
function requestLoop(): { stop: () => Promise<{ ok: number; failed: string[] }> } {
  let going = true;
  const failed: string[] = [];
  let ok = 0;
  const one = (address: string) =>
    new Promise<void>((resolve) => {
      const req = get({ host: address, port: 443, path: '/', servername: DOMAIN, headers: { host: DOMAIN }, ca: root, agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) ok++;
          else failed.push(`${address}: HTTP ${res.statusCode}`);
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (e) => {
        failed.push(`${address}: ${e.message}`);
        resolve();
      });
    });
  const loop = (async () => {
    while (going) await Promise.all(balancers().map(one));
  })();
  return {
    stop: async () => {
      going = false;
      await loop;
      return { ok, failed };
    },
  };
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  basePillar = readFileSync(envFile(), 'utf8');
  hosts = await convergedLab(repo, DEMO);
  // the app serves behind both balancers (a release needs the app's repository)
  expect((await ops(['deploy-key', 'lab', '--write'], { cwd: repo })).code).toBe(0);
  await publishDemoApp((args) => ops(args, { cwd: repo }));
  const gateway = addr('lab-1').replace(/\.\d+$/, '.1');
  pebble = await startPebble(gateway);
  root = await pebble.root();
  for (const n of [DOMAIN, EXTRA]) await pebble.setA(n, balancers());
  const added = await ops(['add-role', 'lab', 'balancer', '-H', 'lab-3'], { cwd: repo });
  expect(added.code, added.stderr).toBe(0);
});

afterAll(async () => {
  pebble?.stop();
  if (repo) await labDown(repo);
});

describe('certificates from an ACME CA (Pebble)', () => {
  it('tls.acme with a bad email or directory: exit 2 at validation, before any host is asked', async () => {
    acmePillar({ email: '"not an address"' });
    const bad = await ops(['deploy', 'lab'], { cwd: repo });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/tls\.acme\.email.*must be an email address/);
    acmePillar({ directory: 'http://acme.example/directory' });
    const plain = await ops(['deploy', 'lab'], { cwd: repo });
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/tls\.acme\.directory.*https:\/\/ URL/);
    // the operator's validation stopped both: the master was never asked
    expect(bad.stderr + plain.stderr).not.toMatch(/lab-1/);
  });

  it('the first deploy: both balancers serve one certificate for the domain and the extra name that curl verifies against Pebble\'s root; HTTP redirects except the challenge path; HSTS', async () => {
    acmePillar();
    const r = await ops(['--json', 'deploy', 'lab'], { cwd: repo });
    expect(r.code, r.stderr + r.stdout.slice(-3000)).toBe(0);
    const tls = events(r).filter((e) => e.type === 'tls');
    expect(tls.at(-1)).toMatchObject({ status: 'issued', domain: DOMAIN, names: [DOMAIN, EXTRA], fatal: false });
    const serials = new Set<string>();
    for (const b of balancers()) {
      for (const n of [DOMAIN, EXTRA]) {
        const c = curl(b, n);
        expect(c.code, c.out).toBe(0);
        expect(c.out).toMatch(/^HTTP\/2 200/);
        expect(c.out).toMatch(/strict-transport-security: max-age=31536000/i);
        serials.add(await servedSerial(b, n));
      }
    }
    expect(serials.size, 'one certificate on every balancer, for every name').toBe(1);
    // port 80: a redirect, but the challenge folder answers itself (nothing left in it now)
    for (const b of balancers()) {
      const redirect = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '-H', `Host: ${DOMAIN}`, `http://${b}/some/page`]).toString();
      expect(redirect).toBe(`301 https://${DOMAIN}/some/page`);
      const challenge = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Host: ${DOMAIN}`, `http://${b}/.well-known/acme-challenge/none`]).toString();
      expect(challenge).toBe('404');
    }
    // the keys are root's alone on the balancers, and the account key never left the master
    const keyMode = await ops(['run', 'lab', '--role', 'balancer', '--', `stat -c '%a %U' /etc/ssl/ops/${DOMAIN}.acme.key; [ -e /var/lib/ops/lab/acme ] && echo has-acme-state || echo no-acme-state`], { cwd: repo });
    expect(keyMode.code, keyMode.stderr).toBe(0);
    expect(keyMode.stdout.match(/600 root/g)?.length).toBe(2);
    expect(keyMode.stdout.match(/no-acme-state/g)?.length).toBe(2);
    const master = await ops(['run', 'lab', '--host', 'lab-1', '--', 'stat -c "%a %U %n" /var/lib/ops/lab/acme /var/lib/ops/lab/acme/account.key /var/lib/ops/lab/acme/key.pem'], { cwd: repo });
    expect(master.stdout).toMatch(/700 root \/var\/lib\/ops\/lab\/acme\n/);
    expect(master.stdout).toMatch(/600 root \/var\/lib\/ops\/lab\/acme\/account\.key/);
    expect(master.stdout).toMatch(/600 root \/var\/lib\/ops\/lab\/acme\/key\.pem/);
  });

  it('a deploy with a valid certificate changes nothing', async () => {
    const r = await ops(['--json', 'deploy', 'lab'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r);
    expect(ev.find((e) => e.type === 'tls' && e.status !== 'requesting')).toMatchObject({ status: 'valid', changed: 0 });
    expect(ev.filter((e) => e.type === 'state' && e.status === 'changed').map((e) => `${e.host} ${e.id}`)).toEqual([]);
    expect(ev.find((e) => e.type === 'summary')).toMatchObject({ changed: 0, failed: 0 });
  });

  it('a forced renewal: both balancers serve the new certificate, and no request of a loop fails', async () => {
    const before = await servedSerial(addr('lab-4'), DOMAIN);
    const loop = requestLoop();
    const r = await ops(['tls', 'renew', 'lab', '--force'], { cwd: repo });
    await new Promise((res) => setTimeout(res, 1500));
    const { ok, failed } = await loop.stop();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/certificate for www\.acme-lab\.test, acme-lab\.test: renewed/);
    const after = await Promise.all(balancers().map((b) => servedSerial(b, DOMAIN)));
    expect(new Set(after).size).toBe(1);
    expect(after[0]).not.toBe(before);
    expect(failed).toEqual([]);
    expect(ok).toBeGreaterThan(10);
  });

  it('a challenge that cannot succeed (port 80 closed to the CA): exit 1 naming the domain and the CA\'s reason; the certificate before serves on', async () => {
    const before = await servedSerial(addr('lab-4'), DOMAIN);
    const gateway = addr('lab-1').replace(/\.\d+$/, '.1');
    const rule = (address: string, add: boolean) => {
      const ns = netnsOf(address);
      if (add) {
        inNetns(ns, ['nft', 'add', 'table', 'inet', 'opstest']);
        inNetns(ns, ['nft', 'add', 'chain', 'inet', 'opstest', 'input', '{ type filter hook input priority -5 ; }']);
        inNetns(ns, ['nft', 'add', 'rule', 'inet', 'opstest', 'input', 'ip', 'saddr', gateway, 'tcp', 'dport', '80', 'reject', 'with', 'tcp', 'reset']);
      } else inNetns(ns, ['nft', 'delete', 'table', 'inet', 'opstest']);
    };
    for (const b of balancers()) rule(b, true);
    let r: RunResult;
    try {
      r = await ops(['tls', 'renew', 'lab', '--force'], { cwd: repo });
    } finally {
      for (const b of balancers()) rule(b, false);
    }
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/certificate for www\.acme-lab\.test, acme-lab\.test: FAILED: the CA at https:\/\/[\d.]+:14000\/dir said: .*acme-challenge.*connection refused; the one valid until \S+ serves on\n/);
    for (const b of balancers()) expect(await servedSerial(b, DOMAIN)).toBe(before);
  });

  it('the master\'s timer renews by itself (schedule shortened): both balancers serve what it got', async () => {
    acmePillar({ check_every: '15s', renew_before_days: '3650' });
    const d = await ops(['--json', 'deploy', 'lab', '--no-release'], { cwd: repo });
    expect(d.code, d.stderr).toBe(0);
    // what the deploy left, once both balancers' nginx serve the same one (a reload takes effect a moment later)
    const serials = () => Promise.all(balancers().map((b) => servedSerial(b, DOMAIN)));
    const byDeploy = await until('the deploy\'s certificate on both balancers', 30_000, async () => {
      const a = await serials();
      await new Promise((r) => setTimeout(r, 1000));
      const b = await serials();
      return a[0] === a[1] && a.join() === b.join() ? a[0] : undefined;
    });
    const journal = () => ops(['run', 'lab', '--host', 'lab-1', '--', 'journalctl -u ops-acme-renew-lab.service --no-pager -o cat'], { cwd: repo });
    // the timer's run says so in its journal, and both balancers serve its certificate
    await until('a renewal in the timer\'s journal', 120_000, async () => (/certificate for www\.acme-lab\.test, acme-lab\.test: renewed/.test((await journal()).stdout) ? true : undefined));
    const renewed = await until('the timer\'s certificate on both balancers', 30_000, async () => {
      const s = await serials();
      return s[0] !== byDeploy && s[0] === s[1] ? s[0] : undefined;
    });
    expect(renewed).not.toBe(byDeploy);
  });
});
