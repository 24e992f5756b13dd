/**
 * Database operations without hosts: the names a copy goes through, the SQL and argv it runs,
 * the compression choice, and the byte relay between real local processes (backpressure, a
 * failing end stopping the other, an abort).
 */
import { execFileSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { mkdtempSync, readFileSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { beforeName, beforeNames, incomingName, incomingNames, stamp, toPrune } from '../../src/db/names.js';
import { levelForLink, parseCompress, pgDumpArgv, pgRestoreArgv, psqlArgv } from '../../src/db/pg.js';
import { createSql, dropSql, ident, literal, swapSql } from '../../src/db/sql.js';
import { fileSink, fileSource, localProc, relay } from '../../src/db/stream.js';
import { humanBytes } from '../../src/ui/progress.js';

describe('names', () => {
  it('stamps sort in time order and make the incoming/before names', () => {
    const a = stamp(new Date('2026-11-22T09:05:07.123Z'));
    expect(a).toBe('20261122t090507');
    expect(stamp(new Date('2026-11-22T10:00:00Z')) > a).toBe(true);
    expect(incomingName('demo_staging', a)).toBe('demo_staging_incoming_20261122t090507');
    expect(beforeName('demo_staging', a)).toBe('demo_staging_before_20261122t090507');
  });

  it('refuses names longer than PostgreSQL keeps (63 bytes), with exit 2', () => {
    const long = `p${'x'.repeat(40)}_staging`;
    expect(() => incomingName(long, stamp())).toThrow(/longer than PostgreSQL's 63 bytes/);
  });

  it('finds the kept copies of exactly this database, newest first, and prunes beyond the newest 3', () => {
    const names = [
      'demo_staging',
      'demo_staging_before_20261101t000000',
      'demo_staging_before_20261120t000000',
      'demo_staging_before_20261110t000000',
      'demo_staging_before_20261121t000000',
      'demo_staging_x_before_20261122t000000',
      'demo_staging_before_junk',
      'demo_staging_incoming_20261122t010101',
      'postgres',
    ];
    expect(beforeNames('demo_staging', names)).toEqual([
      'demo_staging_before_20261121t000000',
      'demo_staging_before_20261120t000000',
      'demo_staging_before_20261110t000000',
      'demo_staging_before_20261101t000000',
    ]);
    expect(toPrune('demo_staging', names)).toEqual(['demo_staging_before_20261101t000000']);
    expect(toPrune('demo_staging', names, 1)).toHaveLength(3);
    expect(incomingNames('demo_staging', names)).toEqual(['demo_staging_incoming_20261122t010101']);
    // a name with regex characters matches only itself
    expect(beforeNames('a.b', ['axb_before_20261101t000000', 'a.b_before_20261101t000000'])).toEqual(['a.b_before_20261101t000000']);
  });

  it('sizes read as people read them', () => {
    expect(humanBytes(0)).toBe('0 B');
    expect(humanBytes(412_000_000)).toBe('412 MB');
    expect(humanBytes(2_010_000_000)).toBe('2.01 GB');
    expect(humanBytes(35_200_000)).toBe('35.2 MB');
  });
});

describe('SQL and argv', () => {
  it('quotes identifiers and literals', () => {
    expect(ident('a"b')).toBe('"a""b"');
    expect(literal("it's")).toBe("'it''s'");
    expect(createSql('x_incoming', { owner: 'demo_staging', encoding: 'UTF8' })).toBe(`CREATE DATABASE "x_incoming" OWNER "demo_staging" TEMPLATE template0 ENCODING 'UTF8';`);
    expect(dropSql('x')).toBe('DROP DATABASE IF EXISTS "x" WITH (FORCE);');
  });

  it('swaps in one transaction, keeping the live database when it exists', () => {
    const sql = swapSql('demo_staging', 'demo_staging_incoming_1', 'demo_staging_before_1');
    const lines = sql.split('\n');
    expect(lines.slice(1)).toEqual([
      'BEGIN;',
      'ALTER DATABASE "demo_staging" RENAME TO "demo_staging_before_1";',
      'ALTER DATABASE "demo_staging_incoming_1" RENAME TO "demo_staging";',
      'COMMIT;',
    ]);
    expect(lines[0]).toMatch(/pg_terminate_backend/);
    expect(swapSql('d', 'd_incoming', undefined)).not.toContain('RENAME TO "d_before');
  });

  it('pg_dump/pg_restore/psql argv: custom format, compression only when chosen, restore stops at the first error', () => {
    expect(pgDumpArgv('demo_production', undefined)).toEqual(['pg_dump', '-Fc', '--no-password', '-d', 'demo_production']);
    expect(pgDumpArgv('demo_production', 0)).toContain('-Z0');
    expect(pgRestoreArgv('n')).toEqual(['pg_restore', '--no-owner', '--no-privileges', '--exit-on-error', '--no-password', '-d', 'n']);
    expect(psqlArgv('n')).toContain('ON_ERROR_STOP=1');
  });

  it('--compress: auto or 0-9; auto picks 0 on a fast link, the default on a slow one', () => {
    expect(parseCompress(undefined)).toBe('auto');
    expect(parseCompress('7')).toBe(7);
    expect(() => parseCompress('fast')).toThrow(/--compress takes auto or a level from 0 to 9/);
    expect(levelForLink(300)).toBe(0);
    expect(levelForLink(30)).toBe(1);
    expect(levelForLink(5)).toBeUndefined();
  });
});

describe('relay between real processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ops-relay-'));

  it('moves every byte, with a reader slower than the writer, and holds little memory', async () => {
    const before = process.memoryUsage().rss;
    const src = localProc(['head', '-c', String(200 * 1024 * 1024), '/dev/urandom'], 'head');
    // a reader that takes 4 MB at a time with a pause in between: the writer must wait for it
    const dst = localProc(['sh', '-c', 'n=0; while :; do s=$(dd bs=4M count=1 iflag=fullblock status=none | wc -c); [ "$s" -eq 0 ] && break; n=$((n+s)); sleep 0.02; done; echo $n'], 'sink');
    let out = '';
    dst.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    const bytes = await relay(src, dst);
    expect(bytes).toBe(200 * 1024 * 1024);
    expect(Number(out.trim())).toBe(200 * 1024 * 1024);
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  });

  it('a source that dies fails the relay and stops the reader', async () => {
    const src = localProc(['sh', '-c', 'head -c 1000000 /dev/zero; exit 3'], 'pg_dump');
    const dst = localProc(['sh', '-c', 'cat >/dev/null; sleep 30'], 'pg_restore');
    const t = Date.now();
    await expect(relay(src, dst)).rejects.toThrow(/pg_dump failed \(exit 3\)/);
    expect(Date.now() - t).toBeLessThan(10_000);
  });

  it('an abort kills both ends', async () => {
    const src = localProc(['sh', '-c', 'cat /dev/zero'], 'src');
    const dst = localProc(['sh', '-c', 'cat >/dev/null'], 'dst');
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 200);
    await expect(relay(src, dst, { signal: abort.signal })).rejects.toThrow(/stopped/);
  });

  it('a sink that exits before the source has ended (tar -x at its end-of-archive blocks): the rest is drained and the relay ends', async () => {
    // the source ends only when its stream is read to the end, as an SSH channel's exit comes after its EOF
    writeFileSync(join(dir, 'm.txt'), 'media');
    const archive = execFileSync('tar', ['-c', '-f', '-', '-C', dir, 'm.txt']);
    const stdout = new PassThrough();
    const ended = new Promise<void>((res) => stdout.once('end', () => res()));
    const src = { what: 'remote tar', stdout, done: ended, kill: () => stdout.destroy() };
    const out = mkdtempSync(join(tmpdir(), 'ops-untar-'));
    const sink = localProc(['tar', '-x', '-f', '-', '-C', out], 'local tar');
    stdout.write(archive);
    // the end of the stream comes only after the sink has exited
    void sink.done.then(() => setTimeout(() => stdout.end(Buffer.alloc(4096)), 100));
    await relay(src, sink);
    expect(readFileSync(join(out, 'm.txt'), 'utf8')).toBe('media');
  }, 10_000);

  it('a file sink is 0600 under a temporary name until committed; discard leaves nothing', async () => {
    const path = join(dir, 'b.dump');
    const sink = fileSink(path);
    await relay(localProc(['head', '-c', '12345', '/dev/zero'], 'src'), sink);
    expect(existsSync(path)).toBe(false);
    expect(statSync(`${path}.partial-${process.pid}`).mode & 0o777).toBe(0o600);
    sink.commit();
    expect(statSync(path).size).toBe(12345);
    const again = join(dir, 'c.dump');
    writeFileSync(join(dir, 'in'), 'abc');
    const s2 = fileSink(again);
    await relay(fileSource(join(dir, 'in')), s2);
    s2.discard();
    expect(existsSync(again) || existsSync(`${again}.partial-${process.pid}`)).toBe(false);
    expect(readFileSync(join(dir, 'in'), 'utf8')).toBe('abc');
  });
});
