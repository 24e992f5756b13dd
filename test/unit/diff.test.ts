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

  const applies = (before: string, after: string, timeoutMs?: number) => {
    const dir = mkdtempSync(join(tmpdir(), 'ops-diff-'));
    writeFileSync(join(dir, 'f'), before);
    writeFileSync(join(dir, 'p'), unifiedDiff(before, after, 'f', 3, timeoutMs));
    const r = spawnSync('patch', ['-s', join(dir, 'f'), join(dir, 'p')]);
    expect(r.status, r.stderr.toString() + r.stdout.toString()).toBe(0);
    expect(readFileSync(join(dir, 'f'), 'utf8')).toBe(after);
  };

  it('diffs files of any size: 20,000 lines with one changed is one small hunk', () => {
    const before = Array.from({ length: 20_000 }, (_, i) => `row ${i}`).join('\n') + '\n';
    const after = before.replace('row 12345\n', 'row 12345 changed\n');
    const d = unifiedDiff(before, after, '/etc/big');
    expect(d.split('\n').filter((l) => l.startsWith('@@'))).toEqual(['@@ -12343,7 +12343,7 @@']);
    expect(d).toContain('-row 12345\n+row 12345 changed\n');
    applies(before, after);
  });

  it('a file made, emptied, or without its last newline: patches that apply', () => {
    applies('', 'new\nfile\n');
    applies('old\nfile\n', '');
    applies('a\nb', 'a\nb\n');
    applies('a\nb\n', 'a\nc');
  });

  it('a diff that takes too long to find: the whole file replaced, a patch that applies', () => {
    const before = Array.from({ length: 3000 }, (_, i) => `old ${i}`).join('\n') + '\n';
    const after = Array.from({ length: 3000 }, (_, i) => `new ${i}`).join('\n');
    expect(unifiedDiff(before, after, 'f', 3, 1).split('\n').filter((l) => l.startsWith('@@'))).toEqual(['@@ -1,3000 +1,3000 @@']);
    applies(before, after, 1);
    applies('', 'x\n', 1);
  });
});
