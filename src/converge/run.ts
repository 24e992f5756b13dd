/**
 * `ops __converge` — runs on the master, as root. Reads the repo snapshot the operator sent on
 * stdin, decrypts the pillar with the key only this host holds (failing closed), renders each
 * minion's states from its roles and converges the minions over SSH in waves (data services,
 * then the app, then balancers). Reports as NDJSON events on stdout.
 */
import { stateEvent } from '../states/types.js';
import { join } from 'node:path';
import { errorMessage, OpsError, UsageError } from '../errors.js';
import type { LoadedPillar } from '../pillar/load.js';
import { knownHostsFiles, repoAt } from '../repo.js';
import type { Host, HostFacts } from '../roles/context.js';
import { supportedRelease } from '../platform/releases.js';
import { renderHost } from '../roles/index.js';
import { projectRoles } from '../roles/project.js';
import { templates } from '../roles/templates.js';
import { decryptPillar } from '../secrets/vault.js';
import { loadCredentials } from '../ssh/identities.js';
import { KnownHosts } from '../ssh/knownhosts.js';
import { mapLimit, SshSession } from '../ssh/session.js';
import { convergeHost } from '../states/executor.js';
import type { Output } from '../ui/output.js';
import { readHostFacts } from './hostfacts.js';
import { MASTER_SSH_KEY, MASTER_WORK } from './paths.js';
import { acquireLock } from '../release/lock.js';
import { watchInterrupts } from '../release/interrupts.js';
import { planRelease, releaseApp } from '../release/pipeline.js';
import { appPaths } from '../roles/app.js';
import { hasRole, inventoryHosts } from '../roles/context.js';
import { masterKeys, withSnapshot } from './master-secrets.js';
import { inWaves } from './waves.js';
import { readFramed, type OperatorChannel } from './operator-channel.js';
import { runHooks } from '../release/hooks.js';
import { existsSync, readFileSync } from 'node:fs';
import type { Repo } from '../repo.js';
import { ensureCertificate, keepConfig, type AcmeConfig } from '../tls/acme.js';
import { certificateNames } from '../tls/paths.js';
import type { HookPoint, Pillar } from '../pillar/schema.js';

export interface ConvergeRequest {
  env: string;
  dryRun: boolean;
  only?: string;
  /** Who deploys (for the lock and the release history). */
  by?: string;
  branch?: string;
  /** Skip the app release (converge only). */
  noRelease?: boolean;
  waitLock?: number;
  forceUnlock?: boolean;
  /** Maintenance mode around the release's migrations (the page's message). */
  maintenance?: string;
  /** The operator keeps stdin open after a framed snapshot, to run the task hooks (see operator-channel.ts). */
  operatorChannel?: boolean;
}

export async function convergeFromSnapshot(out: Output, req: ConvergeRequest): Promise<number> {
  if (!req.operatorChannel) return withSnapshot(req.env, (dir, loaded) => convergeRepo(out, dir, loaded, req, undefined));
  try {
    const { archive, channel } = await readFramed(process.stdin, (type, data) => out.relay({ type, time: new Date().toISOString(), ...data }));
    return await withSnapshot(req.env, (dir, loaded) => convergeRepo(out, dir, loaded, req, channel), archive);
  } finally {
    process.stdin.destroy();
  }
}

async function convergeRepo(out: Output, dir: string, loaded: LoadedPillar, req: ConvergeRequest, channel: OperatorChannel | undefined): Promise<number> {
  if (req.dryRun) return convergeLocked(out, dir, loaded, req, { signal: new AbortController().signal, probe: async () => undefined }, channel);
  const watch = watchInterrupts();
  const lock = await acquireLock({ env: req.env, user: req.by ?? 'unknown', what: req.only ? `deploy --only ${req.only}` : 'deploy', waitSeconds: req.waitLock, forceUnlock: req.forceUnlock, log: (message) => out.event('lock', { message }) });
  try {
    const code = await convergeLocked(out, dir, loaded, req, watch, channel);
    return watch.signal.aborted ? 130 : code;
  } finally {
    lock.release();
    watch.stop();
  }
}

async function convergeLocked(out: Output, dir: string, loaded: LoadedPillar, req: ConvergeRequest, interrupts: { signal: AbortSignal; probe(): Promise<void> }, channel: OperatorChannel | undefined): Promise<number> {
  const { signal } = interrupts;
  const started = Date.now();
  const repo = repoAt(dir);
  const pillar = await decryptPillar(await masterKeys(req.env), loaded);
  const hosts: Host[] = inventoryHosts(pillar);
  // A server without roles is inventory only (e.g. a lab host not set up yet): nothing to converge.
  let chosen = hosts.filter((h) => h.roles.length > 0);
  if (req.only) {
    chosen = chosen.filter((h) => h.name === req.only || h.roles.includes(req.only as string));
    if (chosen.length === 0) throw new UsageError(`--only ${req.only}: no host of '${req.env}' has that name or role`, `hosts: ${hosts.map((h) => `${h.name} (${h.roles.join(',') || '-'})`).join(', ')}`);
  }
  const tpl = templates(join(dir, 'templates'));
  const session = new SshSession({ knownHosts: KnownHosts.load(knownHostsFiles(repo)), credentials: loadCredentials([MASTER_SSH_KEY]), connectTimeoutMs: 10_000 });
  const totals = { hosts: 0, ok: 0, changed: 0, failed: 0, unreachable: 0 };
  const envFileState = `file:${appPaths(pillar).envFile}`;
  const envChanged = new Set<string>();
  let release: string | undefined;
  let hookFailed = false;
  /** Released, with web hosts a balancer did not take back (exit 1). */
  let leftOut: string | undefined;
  let certificateFailed = false;
  const hookHosts = hosts.map((h) => ({ target: { name: h.name, address: h.privateAddress, port: h.port, user: 'root' }, roles: h.roles }));
  const hook = async (point: HookPoint, dir?: string): Promise<void> => {
    await runHooks(point, {
      pillar,
      hosts: hookHosts,
      session,
      dir,
      event: (type, data) => out.event(type, data),
      task: (name, at) => {
        if (!channel) throw new UsageError(`hook ${at}: task ${name} runs on the operator's machine, and this deploy has no line back to it`, 'deploy with ops deploy from the operator\'s machine');
        return channel.task(name, at, signal);
      },
    });
  };
  /** A hook that fails ends the deploy here: reported, exit 1. */
  const hookStops = async (point: HookPoint): Promise<boolean> => {
    try {
      await hook(point);
      return false;
    } catch (e) {
      out.event('hook_failed', { point, error: errorMessage(e) });
      hookFailed = true;
      return true;
    }
  };
  try {
    if (!req.dryRun && (await hookStops('before_deploy'))) throw new HookStop();
    // Every host's release first, in parallel: one the release table does not know stops the
    // deploy before anything changes on any host (exit 2). A host unreachable now is tried again in
    // its wave (and its release checked there, before its states).
    const factsOf = new Map<string, { conn: unknown; facts: HostFacts }>();
    await mapLimit(chosen, 32, async (host) => {
      try {
        const conn = await session.connect({ name: host.name, address: host.privateAddress, port: host.port, user: 'root' });
        factsOf.set(host.name, { conn, facts: await readHostFacts(conn) });
      } catch {
        // reported in its wave
      }
    });
    for (const host of chosen) {
      const read = factsOf.get(host.name);
      if (read) supportedRelease(host.name, read.facts, hasRole(host, 'master'));
    }
    for (const wave of inWaves(chosen)) {
      await mapLimit(wave, 32, async (host) => {
        const t0 = Date.now();
        out.event('host_start', { host: host.name, roles: host.roles });
        totals.hosts++;
        let conn;
        try {
          // the session opens a new connection when the one of the check above has gone meanwhile
          conn = await session.connect({ name: host.name, address: host.privateAddress, port: host.port, user: 'root' });
        } catch (e) {
          totals.unreachable++;
          out.event('host_done', { host: host.name, status: 'unreachable', error: errorMessage(e), hint: e instanceof OpsError ? (e.hint ?? null) : null, duration_ms: Date.now() - t0 });
          return;
        }
        try {
          // read again only on a new connection (the host rebooted, or was unreachable at the check)
          const read = factsOf.get(host.name);
          const facts = read?.conn === conn ? read.facts : await readHostFacts(conn);
          if (read?.conn !== conn) supportedRelease(host.name, facts, hasRole(host, 'master'));
          const rctx = { env: req.env, project: pillar.project, pillar, host, hosts, facts, tpl };
          const rendered = renderHost(rctx, projectRoles(rctx, dir));
          const report = await convergeHost(conn, rendered.states, rendered.handlers, {
            dryRun: req.dryRun,
            onResult: (r) => {
              if (r.id === envFileState && r.status === 'changed') envChanged.add(host.name);
              out.event('state', stateEvent(host.name, r));
            },
          });
          totals.ok += report.ok;
          totals.changed += report.changed;
          totals.failed += report.failed;
          out.event('host_done', { host: host.name, status: report.failed > 0 ? 'failed' : 'ok', ok: report.ok, changed: report.changed, failed: report.failed, unknown: report.unknown, duration_ms: Date.now() - t0 });
        } catch (e) {
          // Rendering failed (a template, a role) or the host went away mid-way.
          totals.failed++;
          out.event('host_done', { host: host.name, status: conn.alive ? 'failed' : 'unreachable', error: errorMessage(e), hint: e instanceof OpsError ? (e.hint ?? null) : null, duration_ms: Date.now() - t0 });
        }
      });
    }
    const converged = totals.failed === 0 && totals.unreachable === 0;
    if (pillar.tls.acme && !signal.aborted && (!req.only || chosen.some((h) => hasRole(h, 'balancer')))) {
      if (!converged) out.event('tls', { status: 'skipped', domain: pillar.domain ?? null, reason: 'the converge failed on some host' });
      else if (!(await certificateStep(out, req, pillar, hosts, session, repo, totals))) certificateFailed = true;
    }
    if (!req.dryRun && converged && !signal.aborted && (await hookStops('after_converge'))) throw new HookStop();
    if (req.dryRun && !req.noRelease) {
      const app = chosen.filter((h) => hasRole(h, 'web') || hasRole(h, 'worker'));
      try {
        // a mirror of its own: a dry run holds no lock, and must not fetch into a deploy's
        await planRelease({ env: req.env, pillar, hosts, appHosts: app, session, knownHosts: knownHostsFiles(repo), workDir: join(MASTER_WORK, req.env, 'plan'), branch: req.branch, event: (type, data) => out.event(type, data) });
      } catch (e) {
        out.event('release', { status: 'skipped', reason: `the release could not be planned: ${errorMessage(e)}`, dry_run: true });
      }
    }
    if (req.noRelease && envChanged.size > 0 && pillar.app.type === 'procfile') {
      out.event('note', { message: `the app's environment changed on ${[...envChanged].join(', ')}: its web processes take it up on the next ops deploy ${req.env} without --no-release` });
    }
    if (!req.dryRun && !req.noRelease && !signal.aborted) {
      const app = chosen.filter((h) => hasRole(h, 'web') || hasRole(h, 'worker'));
      if (!converged) out.event('release', { status: 'skipped', reason: 'the converge failed on some host' });
      else {
        const outcome = await releaseApp({ env: req.env, pillar, hosts, appHosts: app, session, knownHosts: knownHostsFiles(repo), workDir: join(MASTER_WORK, req.env), by: req.by ?? 'unknown', branch: req.branch, signal, probe: interrupts.probe, event: (type, data) => out.event(type, data), hook, tpl, maintenance: req.maintenance });
        release = outcome.status;
        if (outcome.hookFailed) hookFailed = true;
        if (outcome.leftOut) leftOut = outcome.leftOut;
      }
    }
  } catch (e) {
    if (!(e instanceof HookStop)) throw e;
  } finally {
    await session.closeAll();
  }
  out.event('summary', { ...totals, release: release ?? null, hook_failed: hookFailed, left_out: leftOut ?? null, certificate_failed: certificateFailed, dry_run: req.dryRun, duration_ms: Date.now() - started });
  const releaseFailed = release === 'failed' || release === 'rolled-back' || release === 'interrupted';
  return totals.failed > 0 || totals.unreachable > 0 || releaseFailed || hookFailed || leftOut !== undefined || certificateFailed ? 1 : 0;
}

/** A hook before the release failed: the deploy stops, what served before serves on. */
class HookStop extends Error {}

/**
 * The certificate from the ACME CA, once the balancers are converged: the settings are left for the
 * master's renewal timer, then the certificate is issued or renewed when due and handed to every
 * balancer. False when the deploy must fail for it (nothing from the CA serves, or what serves
 * expires within 7 days); a renewal that fails earlier is reported and retried by the timer.
 */
async function certificateStep(out: Output, req: ConvergeRequest, pillar: Pillar, hosts: Host[], session: SshSession, repo: Repo, totals: { changed: number }): Promise<boolean> {
  const acme = pillar.tls.acme;
  if (!acme) return true;
  const cfg: AcmeConfig = {
    env: req.env,
    names: certificateNames(pillar),
    email: acme.email,
    directory: acme.directory,
    ...(acme.directory_ca ? { directory_ca: acme.directory_ca } : {}),
    ...(acme.renew_before_days !== undefined ? { renew_before_days: acme.renew_before_days } : {}),
    balancers: hosts.filter((h) => hasRole(h, 'balancer')).map((h) => ({ name: h.name, address: h.privateAddress, port: h.port })),
  };
  if (cfg.balancers.length === 0) {
    out.event('tls', { status: 'warning', domain: cfg.names[0] ?? null, error: 'tls.acme is set but the environment has no balancer: no certificate is asked for' });
    return true;
  }
  try {
    if (!req.dryRun) keepConfig(cfg, knownHostsFiles(repo).filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8')).join('\n'));
    const r = await ensureCertificate(cfg, { session, dryRun: req.dryRun, event: (type, data) => out.event(type, data) });
    totals.changed += r.changed;
    out.event('tls', { ...r });
    return !r.fatal;
  } catch (e) {
    out.event('tls', { status: 'failed', domain: cfg.names[0] ?? null, names: cfg.names, error: errorMessage(e), fatal: true });
    return false;
  }
}
