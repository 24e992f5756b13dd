/**
 * The app's health check (pillar `healthcheck`): an HTTP GET of `path` that must answer `status`
 * (and contain `contains`) within `timeout` seconds. Through the balancer when the environment
 * has one (HTTPS, SNI and Host = the domain, self-signed certificates accepted), else on each web
 * host against the app server itself, run by the host's python3.
 */
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { Pillar } from '../pillar/schema.js';
import { redactor } from '../ui/redact.js';
import type { Connection } from '../ssh/connection.js';
import { shellLine } from '../ssh/quote.js';

export interface HealthResult {
  ok: boolean;
  /** What was asked and what came back, e.g. `GET https://demo.lab.invalid/healthz via 10.0.0.3 → 500`. */
  detail: string;
}

type Check = Pillar['healthcheck'];

function judge(what: string, status: number | undefined, body: string, error: string | undefined, check: Check): HealthResult {
  if (error) return { ok: false, detail: `${what} → ${error}` };
  if (status !== check.status) return { ok: false, detail: `${what} → ${status} (expected ${check.status})${body ? `: ${redactor.head(body, 160).replace(/\s+/g, ' ').trim()}` : ''}` };
  if (check.contains && !body.includes(check.contains)) return { ok: false, detail: `${what} → ${status}, but the answer does not contain '${check.contains}'` };
  return { ok: true, detail: `${what} → ${status}` };
}

/** One GET from this process (used on the master, against a balancer). */
export function probeHttp(opts: { scheme: 'http' | 'https'; address: string; port?: number; domain?: string; check: Check }): Promise<HealthResult> {
  const host = opts.domain ?? opts.address;
  const what = `GET ${opts.scheme}://${host}${opts.check.path}${opts.domain ? ` via ${opts.address}` : ''}`;
  return new Promise((resolve) => {
    const req = (opts.scheme === 'https' ? httpsRequest : httpRequest)(
      {
        host: opts.address,
        port: opts.port ?? (opts.scheme === 'https' ? 443 : 80),
        path: opts.check.path,
        method: 'GET',
        headers: { Host: host, 'User-Agent': 'ops-healthcheck', 'X-Forwarded-Proto': opts.scheme },
        servername: opts.domain,
        rejectUnauthorized: false,
        timeout: opts.check.timeout * 1000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (body.length < 65536) body += c;
        });
        res.on('end', () => resolve(judge(what, res.statusCode, body, undefined, opts.check)));
        res.on('error', (e) => resolve(judge(what, undefined, '', e.message, opts.check)));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${opts.check.timeout} s`)));
    req.on('error', (e) => resolve(judge(what, undefined, '', e.message, opts.check)));
    req.end();
  });
}

const PY_PROBE = `
import sys, urllib.request, urllib.error
url, host, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
req = urllib.request.Request(url, headers={"Host": host, "User-Agent": "ops-healthcheck", "X-Forwarded-Proto": "https"})
try:
    r = urllib.request.urlopen(req, timeout=timeout)
    code, body = r.status, r.read(65536)
except urllib.error.HTTPError as e:
    code, body = e.code, e.read(65536)
except Exception as e:
    print("ERR", str(e) or type(e).__name__); sys.exit(0)
print(code); sys.stdout.write(body.decode("utf-8", "replace"))
`;

/** A GET run on a web host against its own app server (no balancer in the environment). */
export async function probeOnHost(conn: Connection, opts: { port: number; domain?: string; check: Check }): Promise<HealthResult> {
  const url = `http://127.0.0.1:${opts.port}${opts.check.path}`;
  const what = `GET ${url} on ${conn.target.name}`;
  const line = shellLine(['python3', '-c', PY_PROBE, url, opts.domain ?? 'localhost', String(opts.check.timeout)]);
  let out = '';
  const r = await conn.exec(line, { onStdout: (b) => (out += b.toString('utf8')) });
  if (r.code !== 0) return { ok: false, detail: `${what} → the probe failed (exit ${r.code})` };
  const [first = '', ...rest] = out.split('\n');
  if (first.startsWith('ERR')) return judge(what, undefined, '', first.slice(4), opts.check);
  return judge(what, Number(first), rest.join('\n'), undefined, opts.check);
}

/**
 * How long a health check may take to pass after the app (re)started — a release switch or a
 * database swap: the pillar's `healthcheck.timeout`, at least 15 s.
 */
export function healthWindow(check: Check): number {
  return Math.max(check.timeout, 15);
}

/** Where the health check is asked: balancers (HTTPS to their address), else web hosts' app servers on their ports. */
export interface HealthTargets {
  balancers: readonly { name: string; address: string }[];
  webs: readonly { name: string; conn: () => Promise<Connection>; ports: readonly number[] }[];
}

/**
 * The app's health check, the one way ops asks it: through every balancer when there is one,
 * else on every port of every web host's app servers. Each target is retried for `seconds`
 * (0: asked once); stops at the first failure unless `all`. Every result, with where it was asked.
 */
export async function checkApp(check: Check, domain: string | undefined, targets: HealthTargets, o: { seconds: number; all?: boolean }): Promise<(HealthResult & { via: string })[]> {
  const results: (HealthResult & { via: string })[] = [];
  const ask = async (via: string, probe: () => Promise<HealthResult>): Promise<boolean> => {
    const r = o.seconds > 0 ? await untilHealthy(probe, o.seconds) : await probe();
    results.push({ via, ...r });
    return r.ok || o.all === true;
  };
  if (targets.balancers.length > 0) {
    for (const b of targets.balancers) if (!(await ask(b.name, () => probeHttp({ scheme: 'https', address: b.address, domain, check })))) break;
    return results;
  }
  outer: for (const w of targets.webs) {
    if (w.ports.length === 0) {
      results.push({ via: w.name, ok: false, detail: `no web process runs on ${w.name}` });
      if (!o.all) break;
      continue;
    }
    const conn = await w.conn();
    for (const port of w.ports) if (!(await ask(w.name, () => probeOnHost(conn, { port, domain, check })))) break outer;
  }
  return results;
}

/** Retries `probe` until it passes or `seconds` have gone by; the last result is returned. */
export async function untilHealthy(probe: () => Promise<HealthResult>, seconds: number): Promise<HealthResult> {
  const deadline = Date.now() + seconds * 1000;
  let last = await probe();
  while (!last.ok && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    last = await probe();
  }
  return last;
}
