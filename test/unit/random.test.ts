import { describe, expect, it } from 'vitest';
import { ALPHABETS, generateSecret } from '../../src/secrets/random.js';

describe('generateSecret', () => {
  it('has the requested length and alphabet', () => {
    expect(generateSecret()).toMatch(/^[A-Za-z0-9]{50}$/);
    expect(generateSecret(7, ALPHABETS.hex)).toMatch(/^[0-9a-f]{7}$/);
  });
  it('uses the whole alphabet roughly evenly (no modulo bias toward the first characters)', () => {
    const s = generateSecret(62_000);
    const counts = new Map<string, number>();
    for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(62);
    for (const n of counts.values()) expect(n).toBeGreaterThan(800); // expected 1000 each
  });
  it('never repeats', () => {
    expect(generateSecret()).not.toBe(generateSecret());
  });
});
