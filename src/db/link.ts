/**
 * How fast the legs of a relayed stream are, measured just before a copy with `--compress auto`:
 * 32 MB from the source host to ops and 32 MB from ops to the target host, at the same time (as
 * the copy will run them).
 */
import type { Connection } from '../ssh/connection.js';

const PROBE_BYTES = 32 * 1024 * 1024;

async function down(conn: Connection): Promise<number> {
  const t = Date.now();
  let n = 0;
  await conn.exec(`head -c ${PROBE_BYTES} /dev/zero`, { onStdout: (b) => (n += b.length) });
  return n / 1e6 / Math.max((Date.now() - t) / 1000, 0.001);
}

async function up(conn: Connection): Promise<number> {
  const t = Date.now();
  await conn.exec('cat > /dev/null', { stdin: Buffer.alloc(PROBE_BYTES) });
  return PROBE_BYTES / 1e6 / Math.max((Date.now() - t) / 1000, 0.001);
}

/** MB/s of the slower leg (a leg that is not there — a local end — does not count). */
export async function measureLink(legs: { from?: Connection; to?: Connection }): Promise<number> {
  const rates = await Promise.all([legs.from ? down(legs.from) : Infinity, legs.to ? up(legs.to) : Infinity]);
  return Math.min(...rates);
}
