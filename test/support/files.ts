import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoAt, type Repo } from '../../src/repo.js';

/** A throw-away ops repo holding `files` (paths relative to its root). */
export function repoWith(files: Record<string, string>): Repo {
  const root = mkdtempSync(join(tmpdir(), 'ops-repo-'));
  for (const [name, text] of Object.entries(files)) {
    const p = join(root, name);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, text);
  }
  return repoAt(root);
}

/** Every regular file under `dir` whose bytes contain `needle`. */
export function filesContaining(dir: string, needle: string | Buffer): string[] {
  const n = typeof needle === 'string' ? Buffer.from(needle, 'utf8') : needle;
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && readFileSync(p).includes(n)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}
