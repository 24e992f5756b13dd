/**
 * The agent ops lends to a target host for `--direct`, served on a local Unix socket and spoken
 * to by real OpenSSH tools (ssh-add, ssh-keygen) and by ssh2's agent client: it lists only the
 * keys lent to it, signs one login of the expected user (on the expected server) per key, and
 * refuses everything else; a peer that breaks the protocol is hung up on. A successful login
 * through it, on real hosts, is in test/hosts/db-copy.test.ts.
 */
import { execFile } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { generateEd25519, sshString as str, u32 } from '../../src/secrets/sshkey.js';
import { LentAgent, parseUserauthRequest } from '../../src/ssh/lent-agent.js';

const dir = mkdtempSync(join(tmpdir(), 'ops-agent-'));
let servers: Server[] = [];
afterEach(() => {
  for (const s of servers) s.close();
  servers = [];
});

function newKey(): { key: ParsedKey; publicLine: string } {
  const pair = generateEd25519('test');
  const key = ssh2.utils.parseKey(pair.privatePem);
  if (key instanceof Error || Array.isArray(key)) throw new Error('cannot parse the test key');
  return { key, publicLine: pair.publicLine };
}

/** Serves the agent on a Unix socket, one forwarded agent connection per client connection. */
function serve(agent: LentAgent): Promise<string> {
  const path = join(dir, `agent-${Math.random().toString(36).slice(2)}.sock`);
  const server = createServer((sock) => {
    agent.getStream((err, stream) => {
      if (err || !stream) return sock.destroy();
      sock.pipe(stream).pipe(sock);
    });
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(path, () => resolve(path)));
}

/** What an SSH client signs to log in (RFC 4252 §7), optionally host-bound (OpenSSH). */
function loginRequest(user: string, key: ParsedKey, hostKey?: Buffer): Buffer {
  return Buffer.concat([
    str(Buffer.alloc(32, 7)),
    Buffer.from([50]),
    str(user),
    str('ssh-connection'),
    str(hostKey ? 'publickey-hostbound-v00@openssh.com' : 'publickey'),
    Buffer.from([1]),
    str(key.type),
    str(key.getPublicSSH()),
    ...(hostKey ? [str(hostKey)] : []),
  ]);
}

function signVia(socket: string, key: ParsedKey, data: Buffer): Promise<Buffer> {
  const client = ssh2.createAgent(socket);
  return new Promise((resolve, reject) => client.sign(key, data, {}, (err, sig) => (err || !sig ? reject(err ?? new Error('no signature')) : resolve(sig))));
}

/** A real OpenSSH tool talking to the agent (async: the agent answers from this process). */
function tool(cmd: string, args: string[], socket: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, SSH_AUTH_SOCK: socket }, timeout: 10_000 }, (err, out) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out }));
  });
}

/** Raw bytes to the agent on one connection; resolves with what came back until it hung up (or 1 s). */
function raw(socket: string, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const c = createConnection(socket);
    const got: Buffer[] = [];
    const t = setTimeout(() => c.destroy(), 1000);
    c.on('data', (b: Buffer) => got.push(b));
    c.on('close', () => {
      clearTimeout(t);
      resolve(Buffer.concat(got));
    });
    c.write(bytes);
  });
}

const frame = (body: Buffer) => Buffer.concat([u32(body.length), body]);
const HOST_KEY = Buffer.concat([str('ssh-ed25519'), str(Buffer.alloc(32, 1))]);

describe('the lent agent', () => {
  it('lists only the keys lent to it, to OpenSSH (ssh-add -L)', async () => {
    const agent = new LentAgent('deploy', [HOST_KEY]);
    const socket = await serve(agent);
    expect((await tool('ssh-add', ['-L'], socket)).code).not.toBe(0); // "The agent has no identities."
    const { key, publicLine } = newKey();
    agent.lend(key);
    const { code, out } = await tool('ssh-add', ['-L'], socket);
    expect(code).toBe(0);
    expect(out.split(' ').slice(0, 2).join(' ')).toBe(publicLine.split(' ').slice(0, 2).join(' '));
  });

  it('signs one login of the expected user on the expected server, with a signature that verifies; then no more', async () => {
    const agent = new LentAgent('deploy', [HOST_KEY]);
    const { key } = newKey();
    agent.lend(key);
    const socket = await serve(agent);
    const data = loginRequest('deploy', key, HOST_KEY);
    const sig = await signVia(socket, key, data);
    const pub = createPublicKey(key.getPublicPEM());
    expect(verify(null, data, pub, sig)).toBe(true);
    expect(verify(null, Buffer.concat([data, Buffer.from('x')]), pub, sig)).toBe(false);
    await expect(signVia(socket, key, data)).rejects.toThrow();
    expect(agent.signed).toBe(1);
    expect([...agent.refused]).toEqual(['that key was used already']);
    expect((await tool('ssh-add', ['-L'], socket)).code).not.toBe(0); // a used key is listed no more
  });

  it('gives one signature per key even to requests that arrive at the same time', async () => {
    const agent = new LentAgent('deploy', [HOST_KEY]);
    const { key } = newKey();
    agent.lend(key);
    const socket = await serve(agent);
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => signVia(socket, key, loginRequest('deploy', key, HOST_KEY))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(agent.signed).toBe(1);
  });

  it('refuses another user, another server, and data that is not a login (ssh-keygen -Y sign); the plain login form is taken', async () => {
    const agent = new LentAgent('deploy', [HOST_KEY]);
    const { key, publicLine } = newKey();
    agent.lend(key);
    const socket = await serve(agent);
    await expect(signVia(socket, key, loginRequest('root', key, HOST_KEY))).rejects.toThrow();
    expect(agent.refused.has('not a login of the expected user')).toBe(true);
    const otherHost = Buffer.concat([str('ssh-ed25519'), str(Buffer.alloc(32, 2))]);
    await expect(signVia(socket, key, loginRequest('deploy', key, otherHost))).rejects.toThrow();
    expect(agent.refused.has('a login to another server')).toBe(true);
    writeFileSync(join(dir, 'message'), 'sign me');
    writeFileSync(join(dir, 'only.pub'), `${publicLine}\n`); // the public key only: ssh-keygen must ask the agent
    agent.refused.clear();
    const r = await tool('ssh-keygen', ['-Y', 'sign', '-f', join(dir, 'only.pub'), '-n', 'file', join(dir, 'message')], socket);
    expect(r.code).not.toBe(0);
    expect(agent.refused.has('not a login of the expected user')).toBe(true);
    expect(agent.signed).toBe(0);
    await expect(signVia(socket, key, loginRequest('deploy', key))).resolves.toBeInstanceOf(Buffer);
  });

  it('answers requests it does not serve with a failure and goes on; hangs up on broken framing without failing ops', async () => {
    const agent = new LentAgent('deploy', [HOST_KEY]);
    agent.lend(newKey().key);
    const socket = await serve(agent);
    // an extension request (session-bind, as OpenSSH sends), then a key listing, on one connection
    const ext = frame(Buffer.concat([Buffer.from([27]), str('session-bind@openssh.com'), Buffer.alloc(200, 9)]));
    const replies = await raw(socket, Buffer.concat([ext, frame(Buffer.from([11]))]));
    expect(replies.subarray(0, 5).toString('hex')).toBe('0000000105'); // failure
    expect(replies[9]).toBe(12); // identities answer
    expect(replies.readUInt32BE(10)).toBe(1);
    // a zero-length frame and an absurd one: the connection is closed, nothing else happens
    expect((await raw(socket, Buffer.from([0, 0, 0, 0]))).length).toBe(0);
    expect((await raw(socket, Buffer.from([0x7f, 0xff, 0xff, 0xff, 1]))).length).toBe(0);
    expect((await tool('ssh-add', ['-L'], socket)).code).toBe(0); // still serving
  });

  it('never signs for ops itself, and takes only ed25519 keys', async () => {
    const agent = new LentAgent('deploy', [HOST_KEY]);
    const { key } = newKey();
    agent.lend(key);
    const err = await new Promise<Error | undefined>((resolve) => agent.sign(key, loginRequest('deploy', key, HOST_KEY), {}, resolve));
    expect(err?.message).toMatch(/signs only through the host it is lent to/);
    expect(() => agent.lend({ ...key, type: 'ssh-rsa' } as ParsedKey)).toThrow(/ed25519/);
  });
});

describe('login requests', () => {
  it('parses both forms and rejects truncated or trailing data', () => {
    const { key } = newKey();
    expect(parseUserauthRequest(loginRequest('deploy', key))).toMatchObject({ user: 'deploy', service: 'ssh-connection', hostKey: undefined });
    expect(parseUserauthRequest(loginRequest('deploy', key, HOST_KEY))?.hostKey?.equals(HOST_KEY)).toBe(true);
    const full = loginRequest('deploy', key);
    expect(parseUserauthRequest(full.subarray(0, full.length - 1))).toBeUndefined();
    expect(parseUserauthRequest(Buffer.concat([full, Buffer.from([0])]))).toBeUndefined();
    expect(parseUserauthRequest(Buffer.from('not a request'))).toBeUndefined();
  });
});
