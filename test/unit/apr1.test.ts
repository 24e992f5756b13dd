import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { apr1, apr1Matches } from '../../src/states/apr1.js';

describe('apr1', () => {
  it('matches openssl passwd -apr1 for the same salt', () => {
    for (const [pw, salt] of [['secret', 'abcdefgh'], ["it's ünï $x", 'Zz09./Qr'], ['a'.repeat(40), 'xy']]) {
      const expected = execFileSync('openssl', ['passwd', '-apr1', '-salt', salt ?? '', '-stdin'], { input: `${pw}\n` }).toString().trim();
      expect(apr1(pw ?? '', salt)).toBe(expected);
    }
  });
  it('verifies its own hashes and rejects wrong passwords', () => {
    const h = apr1('right');
    expect(h).toMatch(/^\$apr1\$[./0-9A-Za-z]{8}\$[./0-9A-Za-z]{22}$/);
    expect(apr1Matches(h, 'right')).toBe(true);
    expect(apr1Matches(h, 'wrong')).toBe(false);
  });
});
