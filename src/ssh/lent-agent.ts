/**
 * An SSH agent that lives inside the ops process and is lent, by agent forwarding on a
 * connection of its own, to one host — so that host can log in to another one without any key
 * being written on it. It holds only throw-away keys given to it with `lend` (never the
 * operator's own), each good for one signature, and signs nothing but a public-key login of
 * `user` (when OpenSSH's host-bound form names the server: one of `hostKeys`).
 */
import { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { sshString, u32 } from '../secrets/sshkey.js';

const SSH_MSG_USERAUTH_REQUEST = 50;
const SSH_AGENT_FAILURE = 5;
const SSH_AGENTC_REQUEST_IDENTITIES = 11;
const SSH_AGENT_IDENTITIES_ANSWER = 12;
const SSH_AGENTC_SIGN_REQUEST = 13;
const SSH_AGENT_SIGN_RESPONSE = 14;
/** Far above any request a client sends; a longer message ends the agent connection. */
const MAX_MESSAGE = 64 * 1024;
/** Requests one agent connection may have waiting for an answer. */
const MAX_QUEUED = 16;
const HOSTBOUND = 'publickey-hostbound-v00@openssh.com';

class Reader {
  private p = 0;
  constructor(private readonly b: Buffer) {}
  u32(): number | undefined {
    if (this.p + 4 > this.b.length) return undefined;
    const n = this.b.readUInt32BE(this.p);
    this.p += 4;
    return n;
  }
  string(): Buffer | undefined {
    const n = this.u32();
    if (n === undefined || this.p + n > this.b.length) return undefined;
    const s = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return s;
  }
  byte(): number | undefined {
    return this.p < this.b.length ? this.b[this.p++] : undefined;
  }
  get done(): boolean {
    return this.p === this.b.length;
  }
}

/**
 * The fields of a public-key user-authentication request (RFC 4252 §7; OpenSSH's host-bound
 * form adds the server's host key), or undefined when `data` is not one.
 */
export function parseUserauthRequest(data: Buffer): { user: string; service: string; key: Buffer; hostKey?: Buffer } | undefined {
  const r = new Reader(data);
  if (!r.string() || r.byte() !== SSH_MSG_USERAUTH_REQUEST) return undefined; // session identifier, type
  const user = r.string();
  const service = r.string();
  const method = r.string()?.toString('latin1');
  if (!user || !service || (method !== 'publickey' && method !== HOSTBOUND) || r.byte() !== 1 || !r.string()) return undefined; // has signature, algorithm
  const key = r.string();
  const hostKey = method === HOSTBOUND ? r.string() : undefined;
  if (!key || (method === HOSTBOUND && !hostKey) || !r.done) return undefined;
  return { user: user.toString('utf8'), service: service.toString('latin1'), key, hostKey };
}

/**
 * The agent's side of one forwarded agent connection: framed requests in, one reply each, in
 * order; it never fails the stream (a peer that breaks the framing or floods it is hung up on).
 */
class AgentServer extends Duplex {
  private pending = Buffer.alloc(0);
  private queued = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly answer: (type: number, body: Buffer) => Promise<Buffer>) {
    super();
    this.on('error', () => undefined);
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 4) {
      const len = this.pending.readUInt32BE(0);
      if (len < 1 || len > MAX_MESSAGE || this.queued >= MAX_QUEUED) return this.hangUp(cb);
      if (this.pending.length < 4 + len) break;
      const msg = this.pending.subarray(4, 4 + len);
      this.pending = this.pending.subarray(4 + len);
      this.queued++;
      this.queue = this.queue
        .then(() => this.answer(msg[0] ?? 0, msg.subarray(1)))
        .catch(() => Buffer.from([SSH_AGENT_FAILURE]))
        .then((reply) => {
          this.queued--;
          this.push(Buffer.concat([u32(reply.length), reply]));
        });
    }
    if (this.pending.length > MAX_MESSAGE + 4) return this.hangUp(cb);
    // The next chunk is taken when these are answered: a peer that never reads cannot pile up work.
    void this.queue.then(() => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    void this.queue.then(() => {
      this.push(null);
      cb();
    });
  }

  private hangUp(cb: (err?: Error | null) => void): void {
    this.pending = Buffer.alloc(0);
    this.push(null);
    cb();
  }
}

export class LentAgent extends ssh2.BaseAgent {
  private readonly lent: { key: ParsedKey; blob: Buffer; left: number }[] = [];
  /** How many signatures were given. */
  signed = 0;
  /** Why requests were refused (for the message when a login through this agent failed). */
  readonly refused = new Set<string>();

  constructor(
    private readonly user: string,
    private readonly hostKeys: readonly Buffer[],
  ) {
    super();
  }

  /** Adds a key good for one signature. */
  lend(key: ParsedKey): void {
    if (key.type !== 'ssh-ed25519') throw new Error('a lent key must be ed25519');
    this.lent.push({ key, blob: key.getPublicSSH(), left: 1 });
  }

  private available(): ParsedKey[] {
    return this.lent.filter((k) => k.left > 0).map((k) => k.key);
  }

  getIdentities(cb: (err: Error | undefined, keys?: ParsedKey[]) => void): void {
    cb(undefined, this.available());
  }

  /** Never for ops's own logins: this agent signs only through the host it is lent to. */
  sign(_key: unknown, _data: Buffer, options: unknown, cb?: (err?: Error) => void): void {
    (typeof options === 'function' ? (options as (err?: Error) => void) : cb)?.(new Error('a lent agent signs only through the host it is lent to'));
  }

  private refuse(why: string): Error {
    this.refused.add(why);
    return new Error(`refused: ${why}`);
  }

  private signFor(blob: Buffer, data: Buffer): Buffer {
    const req = parseUserauthRequest(data);
    if (!req || req.user !== this.user || req.service !== 'ssh-connection' || !req.key.equals(blob)) throw this.refuse('not a login of the expected user');
    // The host-bound form (OpenSSH 8.9+) names the server: it must be the one lent for.
    if (req.hostKey && !this.hostKeys.some((k) => k.equals(req.hostKey as Buffer))) throw this.refuse('a login to another server');
    const lent = this.lent.find((k) => k.blob.equals(blob));
    if (!lent) throw this.refuse('not a key this agent holds');
    if (lent.left <= 0) throw this.refuse('that key was used already');
    lent.left--; // taken before signing: two requests at once cannot both use it
    const sig = lent.key.sign(data);
    if (sig instanceof Error) throw sig;
    this.signed++;
    return sig;
  }

  /** The agent protocol (draft-miller-ssh-agent), served to the host the agent is lent to. */
  override getStream(cb: (err?: Error | null, stream?: Duplex) => void): void {
    cb(null, new AgentServer(async (type, body) => this.answer(type, body)));
  }

  /** One request → one reply (type byte + body); anything but listing keys and signing fails. */
  private answer(type: number, body: Buffer): Buffer {
    if (type === SSH_AGENTC_REQUEST_IDENTITIES) {
      const keys = this.available();
      return Buffer.concat([Buffer.from([SSH_AGENT_IDENTITIES_ANSWER]), u32(keys.length), ...keys.flatMap((k) => [sshString(k.getPublicSSH()), sshString('')])]);
    }
    if (type === SSH_AGENTC_SIGN_REQUEST) {
      const r = new Reader(body);
      const blob = r.string();
      const data = r.string();
      if (!blob || !data || r.u32() === undefined) throw new Error('malformed sign request');
      const sig = this.signFor(blob, data);
      return Buffer.concat([Buffer.from([SSH_AGENT_SIGN_RESPONSE]), sshString(Buffer.concat([sshString('ssh-ed25519'), sshString(sig)]))]);
    }
    throw new Error(`unsupported agent request ${type}`);
  }
}
