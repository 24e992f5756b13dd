/**
 * A failed connection is reported as one line naming the host and the likely cause, never in
 * ssh2's raw words. Real sockets on loopback, each one behaving as a broken peer does: one that
 * closes at once, one that speaks something else than SSH, one that never answers, one refused.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/ssh/connection.js';
import { KnownHosts } from '../../src/ssh/knownhosts.js';

const servers: Server[] = [];
const sockets: Socket[] = [];
afterAll(() => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
});

async function peer(onConnect: (s: Socket) => void): Promise<number> {
  const server = createServer((s) => {
    sockets.push(s);
    onConnect(s);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function failure(port: number, timeoutMs = 10_000): Promise<string> {
  const target = { name: 'web-9', address: '127.0.0.1', port, user: 'deploy' };
  const opened = Connection.open(target, { knownHosts: KnownHosts.load([]), credentials: { identities: [] }, connectTimeoutMs: timeoutMs });
  const e = await opened.then(
    (c) => {
      c.close();
      throw new Error('connected');
    },
    (err: Error) => err,
  );
  return e.message;
}

describe('transport errors', () => {
  it('a host that closes before SSH begins', async () => {
    const port = await peer((s) => s.destroy());
    const m = await failure(port);
    expect(m).toMatch(/^web-9 \(127\.0\.0\.1:\d+\): the host closed the connection before SSH began/);
    expect(m).toContain('MaxStartups');
    expect(m).not.toMatch(/Connection lost before handshake/);
  });

  it('a web server on the port: it answers the SSH greeting with a 400 and hangs up', async () => {
    const port = await peer((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')));
    expect(await failure(port)).toMatch(/^web-9 \(127\.0\.0\.1:\d+\): the host closed the connection before SSH began .*no SSH server on this port\)$/);
  });

  it('a peer whose first line is not one an SSH server sends', async () => {
    const port = await peer((s) => s.write('220 smtp.example ESMTP\rready'));
    expect(await failure(port)).toMatch(/^web-9 \(127\.0\.0\.1:\d+\): the host answered, but not as an SSH server \(wrong port\?\)$/);
  });

  it('an SSH-1 server', async () => {
    const port = await peer((s) => s.write('SSH-1.5-OldServer\r\n'));
    expect(await failure(port)).toMatch(/^web-9 \(127\.0\.0\.1:\d+\): the host answered with an SSH version ops does not speak \(ops speaks SSH 2 only\)$/);
  });

  it('a host that accepts and never answers', async () => {
    const port = await peer(() => undefined);
    expect(await failure(port, 500)).toMatch(/^web-9 \(127\.0\.0\.1:\d+\): connect timeout \(no SSH answer\)$/);
  });

  it('a port nobody listens on', async () => {
    const port = await peer(() => undefined);
    servers.pop()?.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(await failure(port)).toMatch(/^web-9 \(127\.0\.0\.1:\d+\): connection refused \(is sshd running\?\)$/);
  });
});
