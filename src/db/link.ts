/**
 * How fast the legs of a relayed stream are, measured just before a copy with `--compress auto`:
 * 32 MB from the source host to ops and 32 MB from ops to the target host, at the same time (as
 * the copy will run them).
 */
import type { Connection } from '../ssh/connection.js';

const PROBE_BYTES = 32 * 1024 * 1024;

const rate = (bytes: number, ms: number) => bytes / 1e6 / Math.max(ms / 1000, 0.001);

/** Source → ops, timed from the first byte (the command's start is not the link's speed). */
async function down(conn: Connection): Promise<number> {
  const { channel, done } = await conn.start(`head -c 1 /dev/zero; head -c ${PROBE_BYTES} /dev/zero`);
  channel.end();
  channel.stderr.resume();
  let first = 0;
  let n = 0;
  channel.on('data', (b: Buffer) => {
    if (first === 0) first = Date.now();
    else n += b.length;
  });
  await done;
  return rate(n, Date.now() - first);
}

/** ops → target, timed from when the command's channel is open. */
async function up(conn: Connection): Promise<number> {
  const { channel, done } = await conn.start('cat > /dev/null');
  channel.resume();
  channel.stderr.resume();
  const t = Date.now();
  channel.end(Buffer.alloc(PROBE_BYTES));
  await done;
  return rate(PROBE_BYTES, Date.now() - t);
}

/** MB/s of the slower leg (a leg that is not there — a local end — does not count). */
export async function measureLink(legs: { from?: Connection; to?: Connection }): Promise<number> {
  const rates = await Promise.all([legs.from ? down(legs.from) : Infinity, legs.to ? up(legs.to) : Infinity]);
  return Math.min(...rates);
}
