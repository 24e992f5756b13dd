/** When the master's ACME client asks the CA again (src/tls/acme.ts dueReason); the CA itself: test/hosts/acme.test.ts. */
import { describe, expect, it } from 'vitest';
import { dueReason } from '../../src/tls/acme.js';

const DAY = 86_400_000;
const now = Date.parse('2026-12-01T00:00:00Z');
const cfg = { names: ['www.example.org', 'example.org'], directory: 'https://ca.example/dir' };
const held = (daysLeft: number, lifetimeDays: number, over: Partial<{ names: string[]; directory: string }> = {}) => ({
  notAfter: new Date(now + daysLeft * DAY),
  notBefore: new Date(now + daysLeft * DAY - lifetimeDays * DAY),
  names: ['www.example.org', 'example.org'],
  directory: 'https://ca.example/dir',
  ...over,
});

describe('dueReason', () => {
  it('nothing held: due', () => expect(dueReason(cfg, undefined, now)).toBe('no certificate from the CA yet'));
  it('a 90-day certificate: due in its last 30 days, not before', () => {
    expect(dueReason(cfg, held(31, 90), now)).toBeUndefined();
    expect(dueReason(cfg, held(29, 90), now)).toMatch(/^it expires 2026-12-30/);
  });
  it('a short-lived certificate: due in its last third', () => {
    expect(dueReason(cfg, held(2.5, 6), now)).toBeUndefined();
    expect(dueReason(cfg, held(1.5, 6), now)).toMatch(/^it expires/);
  });
  it('renew_before_days overrides the margin', () => {
    expect(dueReason({ ...cfg, renew_before_days: 3650 }, held(1800, 1826), now)).toMatch(/^it expires/);
    expect(dueReason({ ...cfg, renew_before_days: 10 }, held(20, 90), now)).toBeUndefined();
  });
  it('other names or another CA: due at once, whatever the expiry', () => {
    expect(dueReason({ ...cfg, names: ['www.example.org'] }, held(80, 90), now)).toMatch(/names changed/);
    expect(dueReason({ ...cfg, names: [...cfg.names, 'api.example.org'] }, held(80, 90), now)).toMatch(/names changed/);
    expect(dueReason(cfg, held(80, 90, { directory: 'https://other.example/dir' }), now)).toBe('the ACME directory changed');
  });
});
