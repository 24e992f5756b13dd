/**
 * The SSH connections of one ops run: one per host, opened on first use, reused by every step,
 * jump hosts opened first; all closed at the end.
 */
import { UsageError } from '../errors.js';
import { Connection, type ConnectOptions } from './connection.js';
import type { Credentials } from './identities.js';
import { KnownHosts } from './knownhosts.js';
import type { Target } from './target.js';

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * SSH handshakes in flight at once (each costs a key exchange on this machine's CPU and a
 * pre-authentication slot of the host's sshd): more hosts than this connect in waves, as the
 * ones before finish their handshake. OPS_SSH_HANDSHAKES overrides it (docs/benchmarks.md).
 */
export const DEFAULT_HANDSHAKES = 16;

function handshakesFromEnv(): number {
  const v = process.env.OPS_SSH_HANDSHAKES;
  if (v === undefined || v === '') return DEFAULT_HANDSHAKES;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 1024) throw new UsageError(`OPS_SSH_HANDSHAKES takes a whole number from 1 to 1024, got '${v}'`);
  return n;
}

export interface SessionOptions {
  knownHosts: KnownHosts;
  credentials: Credentials;
  connectTimeoutMs?: number;
  /** Pin unknown host keys into this file (--accept-new / first contact). */
  acceptNewInto?: string;
  expectFingerprint?: string;
  onPin?: (fingerprint: string, type: string) => void;
  keepaliveMs?: number;
  /** Handshakes in flight at once (default: OPS_SSH_HANDSHAKES, else DEFAULT_HANDSHAKES). */
  handshakes?: number;
}

export class SshSession {
  private readonly conns = new Map<string, Promise<Connection>>();
  private extra = 0;
  private handshaking = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly handshakes: number;

  constructor(private readonly opts: SessionOptions) {
    this.handshakes = opts.handshakes ?? handshakesFromEnv();
  }

  /** Waits for a handshake slot; the function it resolves to frees it. */
  private async slot(): Promise<() => void> {
    if (this.handshaking >= this.handshakes) await new Promise<void>((r) => this.waiting.push(r));
    else this.handshaking++;
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.handshaking--;
    };
  }

  /** The keys ops logs in with (lent to a host by `--direct`) and the pinned host keys. */
  get credentials(): Credentials {
    return this.opts.credentials;
  }

  get knownHosts(): KnownHosts {
    return this.opts.knownHosts;
  }

  private key(t: Target): string {
    return `${t.user}@${t.address}:${t.port}`;
  }

  /** The run's connection to `target`; a new one when the cached one has gone (the host rebooted, the link dropped). */
  async connect(target: Target): Promise<Connection> {
    const k = this.key(target);
    const existing = this.conns.get(k);
    if (existing) {
      const c = await existing.catch(() => undefined);
      if (c?.alive) return c;
      if (this.conns.get(k) === existing) this.conns.delete(k);
      return this.connect(target);
    }
    const p = this.open(target, {});
    this.conns.set(k, p);
    // A failed connection is not cached as a failure forever within a run's retries.
    p.catch(() => this.conns.delete(k));
    return p;
  }

  /**
   * A connection of its own to `target` (not shared with other steps), e.g. to lend it an agent;
   * closed with the others by `closeAll`.
   */
  separate(target: Target, extra: Pick<ConnectOptions, 'forwardAgent'>): Promise<Connection> {
    const p = this.open(target, extra);
    this.conns.set(`${this.key(target)}#${++this.extra}`, p);
    return p;
  }

  private open(target: Target, extra: Pick<ConnectOptions, 'forwardAgent'>): Promise<Connection> {
    return (async () => {
      const via = target.via ? await this.connect(target.via) : undefined;
      const free = await this.slot();
      return Connection.open(target, {
        knownHosts: this.opts.knownHosts,
        credentials: this.opts.credentials,
        connectTimeoutMs: this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        acceptNewInto: this.opts.acceptNewInto,
        expectFingerprint: this.opts.expectFingerprint,
        onPin: this.opts.onPin,
        keepaliveMs: this.opts.keepaliveMs,
        via,
        ...extra,
      }).finally(free);
    })();
  }

  async closeAll(): Promise<void> {
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }
}

/** Runs `fn` over items with at most `limit` at once, keeping input order in the results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      results[i] = await fn(items[i] as T, i);
    }
  });
  await Promise.all(workers);
  return results;
}
