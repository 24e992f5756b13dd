/**
 * The bundled ops (dist/) on a master: /opt/ops/<bundle id>/, /opt/ops/current, and a launcher
 * /usr/local/bin/ops — installed by setup-master and kept current by every deploy.
 */
import { RELEASES } from '../platform/releases.js';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OperationError } from '../errors.js';
import { renderCommand } from '../ssh/command.js';
import type { Connection } from '../ssh/connection.js';
import { pack, type TarEntry } from '../util/tar.js';

export const REMOTE_OPS = '/usr/local/bin/ops';
export const MIN_NODE = [18, 19] as const;

/** dist/ of the running ops (this code runs from dist/chunks/ in the bundle). */
export function distDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const d of [join(here, '..'), join(here, '..', '..', 'dist')]) if (existsSync(join(d, 'ops.mjs'))) return d;
  throw new OperationError('the ops bundle (dist/) was not found', 'run `npm run build` in the ops checkout');
}

export interface LocalBundle {
  id: string;
  archive: Buffer;
}

/** The files of dist/ and the id of that content. */
function distFiles(): { entries: TarEntry[]; id: string } {
  const root = distDir();
  const entries: TarEntry[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else entries.push({ path: relative(root, p), data: readFileSync(p), mode: 0o644 });
    }
  };
  walk(root);
  const hash = createHash('sha256');
  for (const e of entries) hash.update(e.path).update('\0').update(e.data);
  return { entries, id: hash.digest('hex').slice(0, 16) };
}

/** The id of the running ops bundle (what `/opt/ops/<id>` is named after on a master). */
export function bundleId(): string {
  return distFiles().id;
}

export function localBundle(): LocalBundle {
  const { entries, id } = distFiles();
  entries.push({ path: 'BUNDLE_ID', data: Buffer.from(`${id}\n`), mode: 0o644 });
  return { id, archive: pack(entries) };
}

/** Prints the id of the bundle installed on a host (nothing when there is none). */
export const READ_BUNDLE_ID = 'cat /opt/ops/current/BUNDLE_ID 2>/dev/null';

async function run(conn: Connection, line: string, stdin?: Buffer): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  const r = await conn.exec(renderCommand({ line }, { sudo: true }, { loginUser: conn.user }), { stdin, onStdout: (b) => (out += b), onStderr: (b) => (err += b) });
  return { code: r.code, out, err };
}

/** Makes sure Node ≥ 18.19 is there (the distro's package), installing it if needed. */
export async function ensureNode(conn: Connection, log: (l: string) => void): Promise<string> {
  let v = await run(conn, 'node -v 2>/dev/null || nodejs -v 2>/dev/null || true');
  if (!v.out.trim()) {
    log(`${conn.target.name}: installing the distro's Node.js (apt-get install nodejs)`);
    const inst = await run(conn, 'export DEBIAN_FRONTEND=noninteractive; apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends nodejs >/dev/null');
    if (inst.code !== 0) throw new OperationError(`${conn.target.name}: installing nodejs failed: ${inst.err.trim().split('\n').slice(-3).join(' ')}`);
    v = await run(conn, 'node -v 2>/dev/null || nodejs -v');
  }
  const m = /^v(\d+)\.(\d+)/.exec(v.out.trim());
  const [maj, min] = [Number(m?.[1] ?? 0), Number(m?.[2] ?? 0)];
  if (maj < MIN_NODE[0] || (maj === MIN_NODE[0] && min < MIN_NODE[1])) {
    throw new OperationError(
      `${conn.target.name}: the distro's Node.js is ${v.out.trim() || 'missing'}; ops needs ${MIN_NODE.join('.')} or newer`,
      `make the master a host with ${RELEASES.filter((r) => r.master).map((r) => r.name).join(', ')} (their nodejs packages are new enough)`,
    );
  }
  return v.out.trim();
}

/** Installs the local bundle on the host unless that exact bundle is already current. */
export async function ensureBundle(conn: Connection, bundle: LocalBundle = localBundle(), installedId?: string): Promise<'current' | 'installed'> {
  // the id of the bundle there: given when the caller read it already in a round trip of its own
  const cur = installedId ?? (await run(conn, `${READ_BUNDLE_ID}; true`)).out;
  if (cur.trim() === bundle.id) return 'current';
  const d = `/opt/ops/${bundle.id}`;
  const script = [
    'set -e',
    `rm -rf ${d}.tmp && mkdir -p ${d}.tmp`,
    `tar -xf - -C ${d}.tmp`,
    `rm -rf ${d} && mv ${d}.tmp ${d}`,
    `ln -sfn ${d} /opt/ops/current.tmp && mv -Tf /opt/ops/current.tmp /opt/ops/current`,
    `printf '#!/bin/sh\\nexec node --no-warnings /opt/ops/current/ops.mjs "$@"\\n' > ${REMOTE_OPS}.tmp && chmod 755 ${REMOTE_OPS}.tmp && mv -f ${REMOTE_OPS}.tmp ${REMOTE_OPS}`,
    // keep the current bundle and the one before it
    `cd /opt/ops && ls -1dt */ 2>/dev/null | sed 's#/$##' | grep -v '^current$' | tail -n +3 | xargs -r rm -rf`,
    `${REMOTE_OPS} --version >/dev/null`,
  ].join('\n');
  const r = await run(conn, script, bundle.archive);
  if (r.code !== 0) throw new OperationError(`${conn.target.name}: installing the ops bundle failed: ${r.err.trim().split('\n').slice(-3).join(' ')}`);
  return 'installed';
}
