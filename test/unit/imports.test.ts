/**
 * The shape of the code: the command layer (src/cli/, entered from src/main.ts) is imported by
 * nothing else, and the SSH layer (src/ssh/) takes hosts and pins as data — nothing it loads,
 * directly or through another module, reads pillar files or knows the repo's layout.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of a file (static, `import type`, re-exports and dynamic `import()`), as src-relative paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1] as string);
  return specs.map((s) => relative(SRC, resolve(dirname(file), s)).replace(/\.js$/, '.ts'));
}

const graph = new Map(sources(SRC).map((f) => [relative(SRC, f), importsOf(f)]));

function closure(start: string): Set<string> {
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length) {
    const f = todo.pop() as string;
    for (const d of graph.get(f) ?? []) if (!seen.has(d)) (seen.add(d), todo.push(d));
  }
  return seen;
}

describe('import graph', () => {
  it('reads every module of src/ and resolves its imports', () => {
    expect(graph.size).toBeGreaterThan(100);
    const missing = [...graph].flatMap(([f, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${f} → ${d}`));
    expect(missing).toEqual([]);
  });

  it('nothing outside the command layer imports it', () => {
    const offenders = [...graph].flatMap(([f, deps]) => (f.startsWith('cli/') || f === 'main.ts' ? [] : deps.filter((d) => d.startsWith('cli/')).map((d) => `${f} → ${d}`)));
    expect(offenders).toEqual([]);
  });

  it('the SSH layer loads nothing of the pillar or the repo layout, even indirectly', () => {
    const ssh = [...graph.keys()].filter((f) => f.startsWith('ssh/'));
    expect(ssh.length).toBeGreaterThan(5);
    const offenders = ssh.flatMap((f) => [...closure(f)].filter((d) => d.startsWith('pillar/') || d === 'repo.ts' || d.startsWith('cli/')).map((d) => `${f} ⇒ ${d}`));
    expect(offenders).toEqual([]);
  });

  it('the task API is the core: it imports no command handler', () => {
    const api = [...graph.keys()].filter((f) => f.startsWith('tasks/'));
    expect(api.length).toBeGreaterThan(0);
    const offenders = api.flatMap((f) => [...closure(f)].filter((d) => d.startsWith('cli/')).map((d) => `${f} ⇒ ${d}`));
    expect(offenders).toEqual([]);
  });
});
