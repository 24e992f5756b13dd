/**
 * `ops __acme-renew ENV [--force]` on the master, as root: what its timer runs (and `ops tls renew`
 * through SSH). Reads the settings the last deploy left, takes the environment's deploy lock (a
 * deploy in progress renews itself; this waits for it), renews when due and hands the
 * certificate to every balancer. Exit 1 when the renewal failed: systemd marks the unit failed and
 * journald keeps the reason; the certificate that served before serves on.
 */
import { errorMessage } from '../errors.js';
import { MASTER_SSH_KEY } from '../converge/paths.js';
import { watchInterrupts } from '../release/interrupts.js';
import { acquireLock } from '../release/lock.js';
import { loadCredentials } from '../ssh/identities.js';
import { KnownHosts } from '../ssh/knownhosts.js';
import { SshSession } from '../ssh/session.js';
import type { EmitEvent } from '../ui/events.js';
import type { Output } from '../ui/output.js';
import { ensureCertificate, keptConfig } from './acme.js';
import { tlsLine } from './report.js';

export async function renewOnMaster(out: Output, env: string, force: boolean): Promise<number> {
  const { cfg, knownHosts } = keptConfig(env);
  const say: EmitEvent = (type, data) => {
    out.event(type, data);
    if (!out.json) {
      const line = tlsLine({ type, ...data });
      if (line) out.info(line);
    }
  };
  // An interrupt (Ctrl-C of `ops tls renew`, the operator's connection gone, `systemctl stop`)
  // lets the renewal finish its step and release the lock: a lock left behind would stop every
  // later deploy and renewal.
  const watch = watchInterrupts({ heartbeat: false });
  try {
    const lock = await acquireLock({ env, user: 'acme-renew', what: 'certificate renewal', waitSeconds: 900, log: (message) => say('lock', { message }) });
    let session: SshSession | undefined;
    try {
      session = new SshSession({ knownHosts: KnownHosts.load([knownHosts]), credentials: loadCredentials([MASTER_SSH_KEY]), connectTimeoutMs: 10_000 });
      const r = await ensureCertificate(cfg, { session, force, event: say });
      say('tls', { ...r });
      if (watch.signal.aborted) return 130;
      return r.status === 'failed' ? 1 : 0;
    } catch (e) {
      say('tls', { status: 'failed', domain: cfg.names[0] ?? null, names: cfg.names, error: errorMessage(e), fatal: true });
      return 1;
    } finally {
      await session?.closeAll();
      lock.release();
    }
  } finally {
    watch.stop();
  }
}
