import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { replaceValues, setEntries } from '../../src/pillar/edit.js';

const ARMOR = '-----BEGIN PGP MESSAGE-----\n\nwV4DabcDEF\n=AbCd\n-----END PGP MESSAGE-----';

describe('setEntries', () => {
  const base = `# top comment
domain: x.example   # trailing comment
env:
  A:    "1"
secrets:
  # a comment inside secrets
  OLD: |-
    -----BEGIN PGP MESSAGE-----
    old
    -----END PGP MESSAGE-----
  PLAIN: keep   # keep me
# comment after secrets
other: [1, 2]
`;

  it('appends a new key at the end of secrets, leaving every other line byte-identical', () => {
    const out = setEntries(base, 'secrets', [['NEW_KEY', ARMOR]]);
    expect(parse(out).secrets.NEW_KEY).toBe(ARMOR);
    const untouched = base.split('\n');
    const after = out.split('\n');
    // all original lines are still there, in order
    let i = 0;
    for (const line of after) if (line === untouched[i]) i++;
    expect(i).toBe(untouched.length);
    expect(out).toContain('  NEW_KEY: |-\n    -----BEGIN PGP MESSAGE-----\n\n    wV4DabcDEF');
  });

  it('replaces an existing value in place', () => {
    const out = setEntries(base, 'secrets', [['OLD', ARMOR]]);
    expect(parse(out).secrets.OLD).toBe(ARMOR);
    expect(out).not.toContain('\n    old\n');
    expect(out).toContain('# a comment inside secrets');
    expect(out).toContain('  PLAIN: keep   # keep me');
    expect(out.startsWith('# top comment\ndomain: x.example   # trailing comment\nenv:\n  A:    "1"\n')).toBe(true);
  });

  it('creates secrets: when missing, and fills an empty or flow mapping', () => {
    for (const text of ['domain: a\n', 'domain: a', 'secrets:\ndomain: a\n', 'secrets: {}\ndomain: a\n', '']) {
      const out = setEntries(text, 'secrets', [['K', ARMOR], ['k2', 'plain value']]);
      const data = parse(out);
      expect(data.secrets).toEqual({ K: ARMOR, k2: 'plain value' });
      if (text.includes('domain')) expect(data.domain).toBe('a');
    }
  });

  it('keeps values that need quoting exact', () => {
    const tricky = `it's "q" $HOME \\ # not a comment: {x}`;
    const out = setEntries('', 'secrets', [['K', tricky]]);
    expect(parse(out).secrets.K).toBe(tricky);
  });
});

describe('replaceValues', () => {
  it('replaces values at any depth and keeps the rest', () => {
    const text = `a:\n  b:\n    c: old  # c\n  d: 1\nsecrets:\n  X: |-\n    old\n    block\n# end\n`;
    const out = replaceValues(text, [
      { path: ['a', 'b', 'c'], value: ARMOR },
      { path: ['secrets', 'X'], value: ARMOR },
    ]);
    const data = parse(out);
    expect(data.a.b.c).toBe(ARMOR);
    expect(data.secrets.X).toBe(ARMOR);
    expect(data.a.d).toBe(1);
    expect(out.endsWith('# end\n')).toBe(true);
  });
});
