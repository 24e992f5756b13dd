/**
 * The repo as the master needs it for one deploy: pillar/, templates/, project roles, and the
 * generated lab overlay and pins — never a private key (.ops/keys, .ops/lab stay here).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Repo } from '../repo.js';
import { pack, type TarEntry } from '../util/tar.js';

const NEVER = [/(^|\/)\.ops\/keys(\/|$)/, /(^|\/)\.ops\/lab(\/|$)/, /\.(key|priv)$/, /(^|\/)\.[^/]*\.tmp$/];

function collect(root: string, dir: string, into: TarEntry[]): void {
  if (!existsSync(dir)) return;
  const st = statSync(dir);
  if (st.isFile()) {
    const rel = relative(root, dir);
    if (!NEVER.some((re) => re.test(rel))) into.push({ path: rel, data: readFileSync(dir), mode: 0o600 });
    return;
  }
  for (const name of readdirSync(dir)) collect(root, join(dir, name), into);
}

export function snapshot(repo: Repo): Buffer {
  const entries: TarEntry[] = [];
  for (const part of ['pillar', 'templates', 'roles', '.ops/pillar', '.ops/known_hosts']) collect(repo.root, join(repo.root, part), entries);
  return pack(entries);
}
