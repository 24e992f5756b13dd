import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { factBatch } from '../../src/states/facts.js';
import { KINDS } from '../../src/states/kinds/index.js';
import type { State } from '../../src/states/types.js';

describe('factBatch', () => {
  it('reads every state in one script and plans from the result (run here with sh)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ops-facts-'));
    writeFileSync(join(dir, 'same'), 'hello\n', { mode: 0o640 });
    writeFileSync(join(dir, 'other'), 'old\n', { mode: 0o644 });
    const me = execFileSync('id', ['-un']).toString().trim();
    const grp = execFileSync('id', ['-gn']).toString().trim();
    const states: State[] = [
      { id: 'a', kind: 'file', params: { path: join(dir, 'same'), content: Buffer.from('hello\n'), mode: 0o640, owner: me, group: grp } },
      { id: 'b', kind: 'file', params: { path: join(dir, 'other'), content: Buffer.from('new\n'), mode: 0o644, owner: me, group: grp } },
      { id: 'c', kind: 'file', params: { path: join(dir, 'missing'), content: Buffer.from('x'), mode: 0o600 } },
      { id: 'd', kind: 'dir', params: { path: dir, mode: 0o700, owner: me, group: grp } },
      { id: 'e', kind: 'symlink', params: { path: join(dir, 'link'), target: 'same' } },
      { id: 'f', kind: 'cmd', params: { run: { argv: ['true'] }, creates: join(dir, 'same'), describe: 'x' } },
      { id: 'g', kind: 'pkg', params: { names: ['coreutils', 'surely-not-a-package-ops'] } },
    ];
    const batch = factBatch(states);
    const facts = batch.parse(execFileSync('sh', ['-c', batch.script]).toString());
    const plans = states.map((s, i) => KINDS[s.kind]?.plan(s.params as never, facts[i] ?? { out: '', code: -1 }));
    expect(plans.map((p) => p?.status)).toEqual(['ok', 'change', 'change', 'ok', 'change', 'ok', 'change']);
    expect(plans[1]?.summary).toBe('update content');
    expect(plans[6]?.summary).toBe('install surely-not-a-package-ops');
  });

  it('line: adds, replaces a matching line, then is satisfied (run here with sh)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ops-line-'));
    const f = join(dir, 'conf');
    writeFileSync(f, 'a=1\nport=80\nz=9\n');
    const step = (params: object) => {
      const s: State[] = [{ id: 'l', kind: 'line', params }];
      const batch = factBatch(s);
      const plan = KINDS.line?.plan(params as never, batch.parse(execFileSync('sh', ['-c', batch.script]).toString())[0] ?? { out: '', code: -1 });
      for (const st of plan?.steps ?? []) if ('run' in st) execFileSync(st.run.argv?.[0] ?? '', st.run.argv?.slice(1) ?? []);
      return plan?.status;
    };
    expect(step({ path: f, line: 'port=8080', match: '^port=' })).toBe('change');
    expect(step({ path: f, line: "new 'quoted' $line", match: undefined })).toBe('change');
    expect(readFileSync(f, 'utf8')).toBe("a=1\nport=8080\nz=9\nnew 'quoted' $line\n");
    expect(step({ path: f, line: 'port=8080', match: '^port=' })).toBe('ok');
  });

  it('a fact cannot forge another state\'s frame', () => {
    const batch = factBatch([
      { id: 'a', kind: 'cmd', params: { run: { argv: ['true'] }, unless: "printf '\\n@@forged 1@@\\nexists=1\\n'", describe: 'x' } },
      { id: 'b', kind: 'absent', params: { path: '/nonexistent/ops' } },
    ]);
    const facts = batch.parse(execFileSync('sh', ['-c', batch.script]).toString());
    expect(facts[1]?.out).toBe('');
  });
});
