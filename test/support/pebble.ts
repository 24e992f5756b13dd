/**
 * A real ACME CA for tests: Debian's `pebble` (made by Let's Encrypt for testing ACME clients) on
 * the lab bridge's address, with its deliberate nonce rejections, validation sleeps and
 * authorization reuse turned off, and Debian's `pebble-challtestsrv` beside it as the DNS server
 * Pebble asks, answering the test's names with the balancers' addresses (this machine's
 * /etc/hosts is never touched). Pebble's HTTPS listener gets a certificate from a CA made here for
 * the test; its issuing root (new at each start) is read from its management port.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pebble {
  directory: string;
  /** the PEM of the CA that signs the directory's HTTPS certificate (tls.acme.directory_ca) */
  listenerCa: string;
  /** Pebble's issuing root, as PEM: what a client of the site verifies against */
  root(): Promise<string>;
  /** name → addresses, in the test DNS server */
  setA(name: string, addresses: string[]): Promise<void>;
  stop(): void;
}

function get(url: string, ca: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: body === undefined ? 'GET' : 'POST', ca, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

function post(url: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Starts Pebble and its DNS server on `gateway` (the lab bridge's address of this machine). */
export async function startPebble(gateway: string): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'ops-pebble-'));
  const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=ops test directory CA', '-keyout', 'ca.key', '-out', 'ca.pem']);
  ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${gateway}`, '-keyout', 'key.pem', '-out', 'listener.csr']);
  writeFileSync(join(dir, 'san.ext'), `subjectAltName=IP:${gateway}\nextendedKeyUsage=serverAuth\n`);
  ssl(['x509', '-req', '-in', 'listener.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'cert.pem']);
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `${gateway}:14000`,
        managementListenAddress: `${gateway}:15000`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort: 80,
        tlsPort: 443,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const listenerCa = execFileSync('cat', [join(dir, 'ca.pem')]).toString();
  const procs: ChildProcess[] = [];
  const log: string[] = [];
  const start = (cmd: string, args: string[], env: Record<string, string>) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (b: Buffer) => {
      log.push(...b.toString().split('\n').filter(Boolean).map((l) => `${cmd}: ${l}`));
      if (log.length > 400) log.splice(0, log.length - 400);
    };
    p.stdout?.on('data', keep);
    p.stderr?.on('data', keep);
    procs.push(p);
  };
  start('pebble-challtestsrv', ['-dns01', `${gateway}:8053`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `${gateway}:8055`, '-defaultIPv4', '', '-defaultIPv6', ''], {});
  start('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `${gateway}:8053`], { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' });
  const directory = `https://${gateway}:14000/dir`;
  const stop = () => {
    for (const p of procs) p.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const up = await get(directory, listenerCa).then((r) => r.status === 200, () => false);
    const dns = await post(`http://${gateway}:8055/set-default-ipv4`, JSON.stringify({ ip: '' })).then((s) => s === 200, () => false);
    if (up && dns) break;
    if (Date.now() > deadline || procs.some((p) => p.exitCode !== null)) {
      stop();
      throw new Error(`pebble did not start on ${gateway}:\n${log.slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    directory,
    listenerCa,
    root: async () => {
      const r = await get(`https://${gateway}:15000/roots/0`, listenerCa);
      if (r.status !== 200) throw new Error(`pebble's root: HTTP ${r.status}`);
      return r.text;
    },
    setA: async (name, addresses) => {
      const s = await post(`http://${gateway}:8055/add-a`, JSON.stringify({ host: `${name}.`, addresses }));
      if (s !== 200) throw new Error(`challtestsrv add-a ${name}: HTTP ${s}`);
    },
    stop,
  };
}
