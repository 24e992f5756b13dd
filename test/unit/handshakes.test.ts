/**
 * A session opens its connections at a bounded rate: at most `handshakes` SSH handshakes in
 * flight, the next starting as one finishes (connected or failed). Real sockets on loopback: a
 * peer that accepts and never speaks, so every handshake lasts until its timeout and the peer
 * sees when each starts: a fourth starts only once one of the first three has timed out.
 */
import { createServer, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { KnownHosts } from '../../src/ssh/knownhosts.js';
import { SshSession } from '../../src/ssh/session.js';

const sockets = new Set<Socket>();
const started: number[] = [];
const server = createServer((s) => {
  started.push(Date.now());
  sockets.add(s);
  s.resume();
  s.on('error', () => undefined);
});
afterAll(() => {
  for (const s of sockets) s.destroy();
  server.close();
});

describe('handshakes in flight', () => {
  it('never more than the limit at once; every host is tried, in waves', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const session = new SshSession({ knownHosts: KnownHosts.load([]), credentials: { identities: [] }, connectTimeoutMs: 600, handshakes: 3 });
    // (one user each: the session keeps one connection per user@address:port)
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => session.connect({ name: `web-${i}`, address: '127.0.0.1', port, user: `u${i}` })));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(started).toHaveLength(8);
    // each handshake lasts its 600 ms timeout: the (i+3)th cannot start before the ith has ended
    const gaps = started.slice(3).map((t, i) => t - (started[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(550);
    await session.closeAll();
  });

  it('OPS_SSH_HANDSHAKES sets it; anything but a whole number from 1 to 1024 is refused by name', () => {
    const make = (v: string) => {
      process.env.OPS_SSH_HANDSHAKES = v;
      try {
        return new SshSession({ knownHosts: KnownHosts.load([]), credentials: { identities: [] } });
      } finally {
        delete process.env.OPS_SSH_HANDSHAKES;
      }
    };
    expect(() => make('8')).not.toThrow();
    expect(() => make('')).not.toThrow();
    for (const v of ['abc', '0', '-1', '1.5', '2000', '8; id']) expect(() => make(v), v).toThrow(`OPS_SSH_HANDSHAKES takes a whole number from 1 to 1024, got '${v}'`);
  });
});
