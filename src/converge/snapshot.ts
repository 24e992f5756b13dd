/**
 * The repo as the master needs it for one deploy: pillar/, templates/, project roles, and the
 * generated lab overlay and pins — never a private key (.ops/keys, .ops/lab stay here).
 */
import { lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { UsageError } from '../errors.js';
import type { Repo } from '../repo.js';
import { pack, type TarEntry } from '../util/tar.js';

const NEVER = [/(^|\/)\.ops\/keys(\/|$)/, /(^|\/)\.ops\/lab(\/|$)/, /\.(key|priv)$/, /(^|\/)\.[^/]*\.tmp$/];

/**
 * Files under `dir`. A symbolic link is followed only when it stays inside the repo (a link out of it
 * is refused, naming it: the master gets nothing of the operator's disk beyond the repo).
 */
function collect(root: string, top: string, dir: string, into: TarEntry[]): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return;
  }
  const rel = relative(root, dir);
  if (st.isSymbolicLink()) {
    let real: string;
    try {
      real = realpathSync(dir);
    } catch {
      throw new UsageError(`${rel} is a symbolic link to nothing`, 'remove it, or point it at a file of the repo');
    }
    if (real !== top && !real.startsWith(`${top}/`)) throw new UsageError(`${rel} is a symbolic link out of the repo (to ${real}); nothing of it is sent to the master`, 'copy what it points to into the repo, or remove it');
    st = statSync(dir);
  }
  if (st.isFile()) {
    if (st.size > MAX_FILE_BYTES) throw new UsageError(`${rel} is ${Math.round(st.size / 1048576)} MiB: too big to send to the master (at most 16 MiB a file)`);
    if (!NEVER.some((re) => re.test(rel))) into.push({ path: rel, data: readFileSync(dir), mode: 0o600 });
    return;
  }
  if (!st.isDirectory()) return;
  for (const name of readdirSync(dir)) collect(root, top, join(dir, name), into);
}

const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** The repo snapshot, with `extra` entries (e.g. a task's module) after the repo's files. */
export function snapshot(repo: Repo, extra: readonly TarEntry[] = []): Buffer {
  const entries: TarEntry[] = [];
  const top = realpathSync(repo.root);
  for (const part of ['pillar', 'templates', 'roles', '.ops/pillar', '.ops/known_hosts']) collect(repo.root, top, join(repo.root, part), entries);
  return pack([...entries, ...extra]);
}
