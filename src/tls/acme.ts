/**
 * Certificates from an ACME CA, on the master: the master is the ACME client (acme-client,
 * RFC 8555), puts every HTTP-01 token on every balancer before the CA looks (its request may
 * reach any of them), keeps the account key, the certificate and its key in a root-only folder of
 * its own, and hands the same certificate to every balancer (file states, then a graceful nginx
 * reload). Nothing of it passes through the operator's machine. The deploy runs it after the
 * balancers are converged; the master's timer runs it again (`ops __acme-renew`) from the copy of
 * the settings each deploy leaves (config.json), so renewal needs no operator.
 */
import type { EmitEvent } from '../ui/events.js';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { errorMessage, OperationError, UsageError } from '../errors.js';
import { writeFileAtomic, writeFilesAtomic } from '../fsutil.js';
import { printable } from '../pillar/forms.js';
import { NGINX_RELOAD } from '../roles/balancer.js';
import { text } from '../roles/context.js';
import type { Connection } from '../ssh/connection.js';
import type { SshSession } from '../ssh/session.js';
import { convergeHost } from '../states/executor.js';
import { stateEvent, type State, type StateResult } from '../states/types.js';
import { acmeStateDir, CHALLENGE_DIR, servedCertificate } from './paths.js';

const DAY = 86_400_000;

/** What the ACME client needs, kept on the master by each deploy for the timer (config.json). */
export interface AcmeConfig {
  env: string;
  /** the certificate's names, the domain first */
  names: string[];
  email: string;
  directory: string;
  directory_ca?: string;
  renew_before_days?: number;
  balancers: { name: string; address: string; port: number }[];
}

/** What the master remembers of the certificate it holds (state.json). */
interface Held {
  directory?: string;
  last_error?: string;
  last_error_at?: string;
}

export interface CertificateOutcome {
  status: 'valid' | 'issued' | 'renewed' | 'failed' | 'would-issue' | 'would-renew';
  domain: string;
  names: string[];
  not_after: string | null;
  /** files changed on the balancers */
  changed: number;
  error?: string;
  /** why the certificate is (or would be) asked for again */
  reason?: string;
  /** a failure that must fail the command: nothing from the CA serves yet, or it expires within 7 days */
  fatal: boolean;
}

export interface EnsureOptions {
  session: SshSession;
  /** renew even when not due */
  force?: boolean;
  dryRun?: boolean;
  event: EmitEvent;
}

const files = (env: string) => {
  const dir = acmeStateDir(env);
  return { dir, account: join(dir, 'account.key'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), state: join(dir, 'state.json'), config: join(dir, 'config.json'), knownHosts: join(dir, 'known_hosts') };
};

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Leaves the settings (and the balancers' pinned host keys) where the timer's run finds them. */
export function keepConfig(cfg: AcmeConfig, knownHostsText: string): void {
  const f = files(cfg.env);
  mkdirSync(f.dir, { recursive: true, mode: 0o700 });
  writeFilesAtomic([
    { path: f.config, text: `${JSON.stringify(cfg, null, 2)}\n`, mode: 0o600 },
    { path: f.knownHosts, text: knownHostsText, mode: 0o600 },
  ]);
}

/** The settings the last deploy left, and the file of the balancers' host keys. */
export function keptConfig(env: string): { cfg: AcmeConfig; knownHosts: string } {
  const f = files(env);
  const cfg = readJson<AcmeConfig>(f.config);
  if (!cfg) throw new UsageError(`no certificate of '${env}' is kept on this master yet`, `run \`ops deploy ${env}\` with tls.acme in pillar/${env}.yml first`);
  return { cfg, knownHosts: f.knownHosts };
}

interface Current {
  cert: X509Certificate;
  pem: string;
  key: string;
  notAfter: Date;
  names: string[];
}

function current(env: string): Current | undefined {
  const f = files(env);
  if (!existsSync(f.cert) || !existsSync(f.key)) return undefined;
  try {
    const pem = readFileSync(f.cert, 'utf8');
    const cert = new X509Certificate(pem);
    const names = (cert.subjectAltName ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4).toLowerCase());
    const key = readFileSync(f.key, 'utf8');
    // a certificate and key that do not belong together (a write cut between them) are not held
    if (!cert.checkPrivateKey(createPrivateKey(key))) return undefined;
    return { cert, pem, key, notAfter: new Date(cert.validTo), names };
  } catch {
    return undefined;
  }
}

/** Why the held certificate must be replaced now, or undefined when it serves on. */
export function dueReason(cfg: Pick<AcmeConfig, 'names' | 'directory' | 'renew_before_days'>, held: { notAfter: Date; notBefore: Date; names: string[]; directory?: string } | undefined, now = Date.now()): string | undefined {
  if (!held) return 'no certificate from the CA yet';
  if (held.directory !== cfg.directory) return 'the ACME directory changed';
  const missing = cfg.names.filter((n) => !held.names.includes(n));
  if (missing.length > 0 || held.names.length !== cfg.names.length) return `its names changed (${cfg.names.join(', ')})`;
  const left = held.notAfter.getTime() - now;
  // the client's usual margin: 30 days (a third of 90), a third of a shorter lifetime
  const margin = cfg.renew_before_days !== undefined ? cfg.renew_before_days * DAY : Math.min(30 * DAY, (held.notAfter.getTime() - held.notBefore.getTime()) / 3);
  if (left < margin) return `it expires ${held.notAfter.toISOString()}`;
  return undefined;
}

/** Issues (or renews) the certificate when it is due, then makes every balancer serve the one held. */
export async function ensureCertificate(cfg: AcmeConfig, opts: EnsureOptions): Promise<CertificateOutcome> {
  const f = files(cfg.env);
  const domain = cfg.names[0] ?? '';
  const state = readJson<Held>(f.state) ?? {};
  let held = current(cfg.env);
  const why = opts.force ? 'a renewal was asked for' : dueReason(cfg, held && { notAfter: held.notAfter, notBefore: new Date(held.cert.validFrom), names: held.names, directory: state.directory });
  const base = { domain, names: cfg.names };
  if (opts.dryRun) {
    const status = why ? (held ? 'would-renew' : 'would-issue') : 'valid';
    return { ...base, status, not_after: held?.notAfter.toISOString() ?? null, changed: 0, fatal: false, ...(why ? { reason: why } : {}) };
  }
  mkdirSync(f.dir, { recursive: true, mode: 0o700 });
  const { conns, unreachable } = await connectAll(cfg, opts.session);
  let error: string | undefined;
  let issued = false;
  if (why) {
    opts.event('tls', { status: 'requesting', domain, names: cfg.names, reason: why, directory: cfg.directory });
    try {
      // the CA's request may reach any balancer: each one must hold the token
      if (unreachable.length > 0) throw new OperationError(`not asked: every balancer must answer the CA's challenge, and ${unreachable.join(', ')} is unreachable`);
      const got = await issue(cfg, conns, opts);
      writeFilesAtomic([
        { path: f.key, text: got.key, mode: 0o600 },
        { path: f.cert, text: got.cert, mode: 0o600 },
      ]);
      writeFileAtomic(f.state, `${JSON.stringify({ directory: cfg.directory, issued_at: new Date().toISOString() })}\n`, 0o600);
      issued = true;
      held = current(cfg.env);
    } catch (e) {
      error = errorMessage(e);
      writeFileAtomic(f.state, `${JSON.stringify({ ...state, last_error: error, last_error_at: new Date().toISOString() })}\n`, 0o600);
    }
  } else if (unreachable.length > 0) {
    opts.event('tls', { status: 'warning', domain, error: `${unreachable.join(', ')} is unreachable: it gets the certificate at a later deploy or renewal` });
  }
  // What is held serves on every balancer (a new balancer gets it too, also after a failed
  // renewal) — unless it is not for these names or this CA (they changed and the CA refused).
  const covers = held !== undefined && cfg.names.every((n) => held?.cert.checkHost(n) !== undefined) && (issued || state.directory === cfg.directory);
  let changed = 0;
  if (held && covers) changed = await handOver(held, domain, conns, opts);
  const notAfter = held?.notAfter.toISOString() ?? null;
  if (error !== undefined) {
    const fatal = !held || !covers || held.notAfter.getTime() - Date.now() < 7 * DAY || opts.force === true;
    return { ...base, status: 'failed', not_after: covers ? notAfter : null, changed, error, fatal };
  }
  return { ...base, status: issued ? (why === 'no certificate from the CA yet' ? 'issued' : 'renewed') : 'valid', not_after: notAfter, changed, fatal: false };
}

/** A connection to each balancer that answers; the names of those that do not. */
async function connectAll(cfg: AcmeConfig, session: SshSession): Promise<{ conns: Map<string, Connection>; unreachable: string[] }> {
  const conns = new Map<string, Connection>();
  const unreachable: string[] = [];
  await Promise.all(
    cfg.balancers.map(async (b) => {
      try {
        conns.set(b.name, await session.connect({ name: b.name, address: b.address, port: b.port, user: 'root' }));
      } catch (e) {
        unreachable.push(`${b.name} (${errorMessage(e)})`);
      }
    }),
  );
  return { conns, unreachable: unreachable.sort() };
}

/** Runs states on every balancer at once; a failed state is an error naming the host. */
async function onEvery(conns: Map<string, Connection>, states: (name: string) => State[], opts: EnsureOptions, report: boolean): Promise<number> {
  const changed = await Promise.all(
    [...conns].map(async ([name, conn]) => {
      const r = await convergeHost(conn, states(name), report ? [NGINX_RELOAD] : [], { dryRun: false, onResult: (s: StateResult) => report && opts.event('state', stateEvent(name, s)) });
      const bad = r.results.find((s) => s.status === 'failed');
      if (bad) throw new OperationError(`${name}: ${bad.id} failed: ${bad.summary}${bad.stderr ? ` — ${bad.stderr.trim().split('\n').pop()}` : ''}`);
      return r.changed;
    }),
  );
  return changed.reduce((a, b) => a + b, 0);
}

/** The certificate and its key on every balancer, at the path nginx serves; reloaded where changed. */
function handOver(held: Current, domain: string, conns: Map<string, Connection>, opts: EnsureOptions): Promise<number> {
  const { cert, key } = servedCertificate(domain);
  return onEvery(
    conns,
    () => [
      { id: `file:${key}`, kind: 'file', params: { path: key, content: text(held.key), mode: 0o600, owner: 'root', group: 'root' }, secret: true, notify: [NGINX_RELOAD.id] },
      { id: `file:${cert}`, kind: 'file', params: { path: cert, content: text(held.pem), mode: 0o644 }, notify: [NGINX_RELOAD.id] },
    ],
    opts,
    true,
  );
}

/** A challenge token names a file on the balancers: base64url only (RFC 8555 §8.3). */
function checkToken(token: string): string {
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(token)) throw new OperationError(`the CA sent a challenge token that is not base64url: ${JSON.stringify(token.slice(0, 80))}`);
  return token;
}

/** Asks the balancer itself for the token on port 80 (as the CA will), with the identifier as Host. */
function servedToken(address: string, host: string, token: string): Promise<string> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: address, port: 80, path: `/.well-known/acme-challenge/${token}`, headers: { host }, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body : `HTTP ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => resolve(e.message));
    req.end();
  });
}

async function issue(cfg: AcmeConfig, conns: Map<string, Connection>, opts: EnsureOptions): Promise<{ cert: string; key: string }> {
  const acme = (await import('acme-client')).default;
  const f = files(cfg.env);
  if (cfg.directory_ca) acme.axios.defaults.httpsAgent = new Agent({ ca: cfg.directory_ca });
  if (!existsSync(f.account)) writeFileAtomic(f.account, await acme.crypto.createPrivateEcdsaKey(), 0o600);
  const client = new acme.Client({ directoryUrl: cfg.directory, accountKey: readFileSync(f.account) });
  const [key, csr] = await acme.crypto.createCsr({ commonName: cfg.names[0], altNames: cfg.names }, await acme.crypto.createPrivateEcdsaKey());
  const tokenPath = (token: string) => `${CHALLENGE_DIR}/${checkToken(token)}`;
  let cert: string;
  try {
    cert = await client.auto({
      csr,
      email: cfg.email,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // the CA checks; ours below only warns (the CA may see the balancers differently)
      skipChallengeVerification: true,
      challengeCreateFn: async (authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01') throw new OperationError(`the CA offered no HTTP-01 challenge for ${authz.identifier.value}`);
        const path = tokenPath(challenge.token);
        await onEvery(conns, () => [{ id: `file:${path}`, kind: 'file', params: { path, content: text(keyAuthorization), mode: 0o644 } }], opts, false);
        for (const b of cfg.balancers) {
          const got = await servedToken(b.address, authz.identifier.value, challenge.token);
          if (got !== keyAuthorization) opts.event('tls', { status: 'warning', domain: authz.identifier.value, host: b.name, error: `${b.name} does not answer the challenge on port 80 itself: ${printable(got.slice(0, 200))}` });
        }
      },
      challengeRemoveFn: async (_authz, challenge) => {
        const path = tokenPath(challenge.token);
        await onEvery(conns, () => [{ id: `absent:${path}`, kind: 'absent', params: { path } }], opts, false);
      },
    });
  } catch (e) {
    throw new OperationError(caReason(e, cfg.directory));
  }
  // what comes back must be for these names and this key before any balancer gets it
  const x = new X509Certificate(cert);
  if (!x.checkPrivateKey(createPrivateKey(key))) throw new OperationError(`the CA's certificate for ${cfg.names[0]} does not match the key it was asked for`);
  for (const n of cfg.names) if (!x.checkHost(n)) throw new OperationError(`the CA's certificate does not cover ${n}`);
  return { cert: cert.endsWith('\n') ? cert : `${cert}\n`, key: key.toString('utf8') };
}

/** The CA's own words (an RFC 7807 problem, or what acme-client read of one), else why it was not reached. */
function caReason(e: unknown, directory: string): string {
  const data = (e as { response?: { data?: { detail?: string; type?: string } } }).response?.data;
  if (data?.detail) return `the CA at ${directory} said: ${printable(data.detail)}${data.type ? ` (${printable(data.type)})` : ''}`;
  if (e instanceof OperationError) return e.message;
  const m = printable(errorMessage(e));
  // a network or TLS error of the HTTP client (it has a code and no response), or no directory there
  const unreached = (typeof (e as { code?: unknown }).code === 'string' && !(e as { response?: unknown }).response) || /^Attempting to read ACME directory/.test(m);
  return unreached ? `cannot reach the CA at ${directory}: ${m}` : `the CA at ${directory} said: ${m}`;
}
