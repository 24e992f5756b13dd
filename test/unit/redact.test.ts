import { describe, expect, it } from 'vitest';
import { Redactor } from '../../src/ui/redact.js';

describe('Redactor', () => {
  it('replaces every occurrence of a registered secret', () => {
    const r = new Redactor();
    r.add('hunter2-secret');
    expect(r.redact('pw=hunter2-secret and again hunter2-secret')).toBe('pw=<redacted> and again <redacted>');
  });
  it('redacts each line of a multi-line secret, and the longest match first', () => {
    const r = new Redactor();
    r.add('abcd');
    r.add('line-one-xyz\nline-two-xyz');
    expect(r.redact('got line-two-xyz')).toBe('got <redacted>');
    expect(r.redact('abcdef')).toBe('<redacted>ef');
  });
  it('ignores values too short to be meaningful and leaves other text alone', () => {
    const r = new Redactor();
    r.add('ab');
    expect(r.size).toBe(0);
    expect(r.redact('ab cd')).toBe('ab cd');
  });
});
