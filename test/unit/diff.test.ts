import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unifiedDiff } from '../../src/states/diff.js';

describe('unifiedDiff', () => {
  it('is empty for equal texts and marks changed lines with context', () => {
    expect(unifiedDiff('a\nb\n', 'a\nb\n', 'f')).toBe('');
    const d = unifiedDiff('1\n2\n3\n4\n5\n6\n7\n8\n', '1\n2\n3\n4\nfive\n6\n7\n8\n', '/etc/x');
    expect(d).toContain('-5\n+five\n');
    expect(d).toMatch(/^@@ -2,7 \+2,7 @@$/m);
  });

  it('produces a patch that GNU patch applies exactly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ops-diff-'));
    const before = Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const after = before.replace('line 3\n', 'line three\nline 3b\n').replace('line 30\n', '').concat('tail\n');
    writeFileSync(join(dir, 'f'), before);
    writeFileSync(join(dir, 'p'), unifiedDiff(before, after, 'f'));
    const r = spawnSync('patch', [join(dir, 'f'), join(dir, 'p')]);
    expect(r.status, r.stderr.toString() + r.stdout.toString()).toBe(0);
    expect(readFileSync(join(dir, 'f'), 'utf8')).toBe(after);
    void execFileSync;
  });
});
