/**
 * One SSH connection to one host: host key pinned, credentials offered in order, keepalive,
 * connect timeout. Commands run with `exec`; files move with `putFile`/`getFile` over SFTP.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';
import { OperationError } from '../errors.js';
import type { Credentials } from './identities.js';
import { fingerprint, keyType, verifyHostKey, type HostKeyVerdict, type KnownHosts } from './knownhosts.js';
import type { Target } from './target.js';

export interface ConnectOptions {
  knownHosts: KnownHosts;
  credentials: Credentials;
  connectTimeoutMs: number;
  /** Pin an unknown host key in this file (never a changed one). */
  acceptNewInto?: string;
  /** First contact: the fingerprint the operator verified out of band (`--fingerprint`). */
  expectFingerprint?: string;
  /** Told about a key that was just pinned. */
  onPin?: (fingerprint: string, type: string) => void;
  /** Through this already-open connection (jump host). */
  via?: Connection;
  keepaliveMs?: number;
  /** Lend this agent to every command on the connection (agent forwarding); only for a connection of its own. */
  forwardAgent?: ssh2.BaseAgent;
}

/** Refused before login: unknown, changed or revoked host key. */
export class HostKeyError extends OperationError {
  constructor(
    readonly target: Target,
    readonly verdict: Exclude<HostKeyVerdict, { ok: true }> | { ok: false; reason: 'mismatch'; fingerprint: string; type: string; expected: string },
  ) {
    const where = `${target.name} (${target.address}:${target.port})`;
    if (verdict.reason === 'mismatch') {
      super(`${where}: host key ${verdict.type} ${verdict.fingerprint} is not the expected ${verdict.expected}; refusing to connect`, 'check the address and the fingerprint you were given');
    } else if (verdict.reason === 'unknown') {
      super(`${where}: unknown host key ${verdict.type} ${verdict.fingerprint}; refusing to connect`, 'check the fingerprint out of band, then pin it with --accept-new');
    } else if (verdict.reason === 'changed') {
      const old = verdict.pinned.map((p) => `${p.type} ${fingerprint(p.blob)} (${p.file}:${p.line})`).join(', ');
      super(
        `${where}: HOST KEY CHANGED — presented ${verdict.type} ${verdict.fingerprint}, pinned ${old}; refusing to connect (possible man-in-the-middle)`,
        'if the host was really rebuilt, remove its old line from known_hosts and pin the new key',
      );
    } else {
      super(`${where}: host key ${verdict.fingerprint} is revoked in known_hosts; refusing to connect`);
    }
    this.name = 'HostKeyError';
  }
}

export interface ExecResult {
  code: number | null;
  signal?: string;
}

export interface ExecStreams {
  stdin?: Buffer | string | Readable;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  pty?: { rows: number; cols: number; term: string } | false;
}

/** How long a host may take to open a channel and start a command on it. */
const START_TIMEOUT_MS = 60_000;

export class Connection {
  private closedReason: Error | undefined;

  private constructor(
    readonly target: Target,
    private readonly client: ssh2.Client,
  ) {
    client.on('close', () => {
      this.closedReason ??= new OperationError(`${target.name}: connection closed`);
    });
    client.on('error', (e: Error) => {
      this.closedReason = new OperationError(`${target.name}: ${connectionErrorText(e)}`);
    });
  }

  static open(target: Target, opts: ConnectOptions): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      let refusal: HostKeyError | undefined;
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(refusal ?? (e instanceof OperationError ? e : new OperationError(`${target.name} (${target.address}:${target.port}): ${connectionErrorText(e)}`)));
      };
      const pinnedTypes = opts.knownHosts.lookup(target.address, target.port).map((p) => p.type);
      const config: ConnectConfig = {
        host: target.address,
        port: target.port,
        username: target.user,
        readyTimeout: opts.connectTimeoutMs,
        keepaliveInterval: opts.keepaliveMs ?? 3000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          const verdict = verifyHostKey(opts.knownHosts, target.address, target.port, key);
          if (verdict.ok) return true;
          if (verdict.reason === 'unknown' && opts.acceptNewInto) {
            if (opts.expectFingerprint && opts.expectFingerprint !== verdict.fingerprint) {
              refusal = new HostKeyError(target, { ...verdict, reason: 'mismatch', expected: opts.expectFingerprint });
              return false;
            }
            opts.knownHosts.pin(opts.acceptNewInto, target.address, target.port, key);
            opts.onPin?.(verdict.fingerprint, verdict.type);
            return true;
          }
          refusal = new HostKeyError(target, verdict);
          return false;
        },
        authHandler: authMethods(target.user, opts.credentials) as ssh2.AuthMethod[],
        ...(opts.forwardAgent ? { agent: opts.forwardAgent, agentForward: true } : {}),
      };
      if (pinnedTypes.length > 0) {
        // Ask for the key type we have pinned, so a host with several keys shows the one we know.
        const preferred = [...new Set(pinnedTypes.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t])))];
        config.algorithms = { serverHostKey: { prepend: preferred } as unknown as ssh2.ServerHostKeyAlgorithm[] };
      }
      const onTimeout = setTimeout(() => fail(new Error(`no SSH answer within ${opts.connectTimeoutMs / 1000} s`)), opts.connectTimeoutMs + 2000);
      client.once('ready', () => {
        clearTimeout(onTimeout);
        settled = true;
        resolve(new Connection(target, client));
      });
      // `on`, not `once`: ssh2 may report a second error after the first (say, the socket closing
      // after a timeout), and an error event nobody listens to would end ops
      client.on('error', (e) => {
        clearTimeout(onTimeout);
        fail(e);
      });
      client.once('close', () => {
        clearTimeout(onTimeout);
        fail(new Error('connection closed during login'));
      });
      if (opts.via) {
        opts.via
          .forward(target.address, target.port)
          .then((sock) => client.connect({ ...config, sock }))
          .catch((e: Error) => fail(new OperationError(`${target.name}: cannot reach ${target.address}:${target.port} through ${opts.via?.target.name}: ${e.message}`)));
      } else {
        const sock = tcpConnect({ host: target.address, port: target.port });
        coalesceWrites(sock);
        client.connect({ ...config, sock });
      }
    });
  }

  /** A TCP stream to host:port opened from this host (for jumping through it). */
  forward(host: string, port: number): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (err, ch) => (err ? reject(err) : resolve(ch)));
    });
  }

  /** Runs one command line; resolves with its exit status (null when the connection died). */
  async exec(command: string, io: ExecStreams = {}): Promise<ExecResult> {
    const opts = io.pty ? { pty: { rows: io.pty.rows, cols: io.pty.cols, term: io.pty.term } } : {};
    const { channel, done } = await this.start(command, opts);
    channel.on('data', (b: Buffer) => io.onStdout?.(b));
    channel.stderr.on('data', (b: Buffer) => io.onStderr?.(b));
    if (io.stdin === undefined) channel.end();
    else if (typeof io.stdin === 'string' || Buffer.isBuffer(io.stdin)) channel.end(io.stdin);
    else {
      const stdin = io.stdin;
      stdin.pipe(channel);
      channel.once('close', () => stdin.unpipe(channel));
    }
    return done;
  }

  /**
   * Starts one command line and hands back its channel — the command's stdin (write side) and
   * stdout (read side) as one stream, so pipes keep backpressure end to end — and its exit status
   * (rejected when the connection died under it). Destroying the channel ends the command's I/O.
   */
  start(command: string, opts: { pty?: { rows: number; cols: number; term: string } } = {}): Promise<{ channel: ClientChannel; done: Promise<ExecResult> }> {
    if (this.closedReason) return Promise.reject(this.closedReason);
    return new Promise((resolveStart, rejectStart) => {
      // A host that never answers the request for a channel would hold the caller forever.
      let late = false;
      const stuck = setTimeout(() => {
        late = true;
        rejectStart(new OperationError(`${this.target.name}: the host did not start the command within ${START_TIMEOUT_MS / 1000} s (its sshd is stuck or overloaded)`));
      }, START_TIMEOUT_MS);
      const onStarted = (err: Error | undefined, stream: ClientChannel) => {
        clearTimeout(stuck);
        if (late) {
          stream?.destroy();
          return;
        }
        if (err) return rejectStart(new OperationError(`${this.target.name}: cannot start command: ${err.message}`));
        const done = new Promise<ExecResult>((resolve, reject) => {
          let code: number | null = null;
          let signal: string | undefined;
          stream.on('exit', (c: number | null, s?: string) => {
            code = c;
            signal = s ?? undefined;
          });
          const onGone = () => {
            stream.destroy();
          };
          this.client.once('close', onGone);
          stream.on('close', () => {
            this.client.removeListener('close', onGone);
            if (code === null && signal === undefined && this.closedReason) reject(new OperationError(`${this.closedReason.message} while running the command`));
            else resolve({ code, signal });
          });
        });
        resolveStart({ channel: stream, done });
      };
      try {
        this.client.exec(command, opts, onStarted);
      } catch (e) {
        clearTimeout(stuck);
        rejectStart(new OperationError(`${this.target.name}: cannot start command: ${(e as Error).message}`));
      }
    });
  }

  /** The interactive channel (PTY) for shells. */
  shell(pty: { rows: number; cols: number; term: string }, command?: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      const cb = (err: Error | undefined, ch: ClientChannel) => (err ? reject(err) : resolve(ch));
      if (command) this.client.exec(command, { pty }, cb);
      else this.client.shell(pty, cb);
    });
  }

  sftp(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => this.client.sftp((err, s) => (err ? reject(err) : resolve(s))));
  }

  /** Writes a file over SFTP (content never appears in a command line). */
  async putFile(path: string, data: Buffer | string, mode = 0o600): Promise<void> {
    // Created with the final mode from the start, so the content is never readable by others.
    const sftp = await this.sftp();
    try {
      await new Promise<void>((resolve, reject) => {
        const ws = sftp.createWriteStream(path, { mode });
        ws.on('error', reject);
        ws.on('close', () => resolve());
        ws.end(data);
      });
      await new Promise<void>((resolve, reject) => sftp.chmod(path, mode, (e) => (e ? reject(e) : resolve())));
    } finally {
      sftp.end();
    }
  }

  get user(): string {
    return this.target.user;
  }

  get alive(): boolean {
    return this.closedReason === undefined;
  }

  close(): void {
    this.client.end();
  }
}

/**
 * ssh2 hands every packet to the socket in pieces (length, body, tag): each would be a system
 * call of its own. Corking until the end of the tick sends what one tick wrote as one writev —
 * a third of the system calls on a bulk stream, and far less CPU per MB.
 */
function coalesceWrites(sock: Socket): void {
  const write = sock.write.bind(sock) as (...a: unknown[]) => boolean;
  let corked = false;
  const uncork = () => {
    corked = false;
    sock.uncork();
  };
  (sock as { write: (...a: unknown[]) => boolean }).write = (...args: unknown[]) => {
    if (!corked) {
      corked = true;
      sock.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  };
}

function authMethods(username: string, creds: Credentials): ssh2.AnyAuthMethod[] {
  const methods: ssh2.AnyAuthMethod[] = [];
  if (creds.agent) methods.push({ type: 'agent', username, agent: creds.agent });
  for (const id of creds.identities) methods.push({ type: 'publickey', username, key: id.key });
  return methods;
}

/** ssh2's and the socket's words for a failed connection, as one line naming the likely cause. */
export function connectionErrorText(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code;
  const level = (e as { level?: string }).level;
  const noMatch = /^Handshake failed: no matching (.+)$/.exec(e.message);
  if (code === 'ECONNREFUSED') return 'connection refused (is sshd running?)';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'host unreachable';
  if (code === 'ETIMEDOUT' || /Timed out while waiting for handshake/.test(e.message)) return 'connect timeout (no SSH answer)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve host name (${code})`;
  if (code === 'ECONNRESET') return 'connection reset by the host';
  if (level === 'client-authentication') return 'login refused: none of the offered keys was accepted (check -u/-i, ssh-agent, authorized_keys)';
  if (/keepalive/i.test(e.message)) return 'host stopped answering (keepalive timeout)';
  if (/Connection lost before handshake/.test(e.message)) {
    return "the host closed the connection before SSH began (sshd turned it away: too many connections at once (MaxStartups), a firewall or tcp wrapper, or no SSH server on this port)";
  }
  if (/Invalid identification string/.test(e.message)) return 'the host answered with an SSH version ops does not speak (ops speaks SSH 2 only)';
  if (/Invalid header|Header line too long|Max greeting lines exceeded|Bad packet length/.test(e.message)) return 'the host answered, but not as an SSH server (wrong port?)';
  if (noMatch) return `the host's sshd and ops have no ${noMatch[1]} in common (an SSH server too old or too strictly set up for ops)`;
  if (code === 'EPIPE') return 'the host closed the connection while ops was writing to it';
  return e.message;
}

export { keyType };
