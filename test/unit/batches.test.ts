import { describe, expect, it } from 'vitest';
import { pillarSchema } from '../../src/pillar/schema.js';
import { webBatches } from '../../src/release/batches.js';
import { upstreamServers } from '../../src/roles/balancer.js';

const webs = ['w1', 'w2', 'w3', 'w4', 'w5'];
const host = (name: string, address: string) => ({ name, address, privateAddress: address, port: 22, roles: ['web'] });

describe('rolling releases: releases.batch', () => {
  it.each([
    [undefined, [['w1', 'w2', 'w3', 'w4', 'w5']]],
    [1, [['w1'], ['w2'], ['w3'], ['w4'], ['w5']]],
    [2, [['w1', 'w2'], ['w3', 'w4'], ['w5']]],
    [5, [webs]],
    [9, [webs]],
    ['20%', [['w1'], ['w2'], ['w3'], ['w4'], ['w5']]],
    // rounded up: 30% of 5 is 1.5 → 2
    ['30%', [['w1', 'w2'], ['w3', 'w4'], ['w5']]],
    ['1%', [['w1'], ['w2'], ['w3'], ['w4'], ['w5']]],
    ['100%', [webs]],
  ] as const)('%j of 5 web hosts', (batch, expected) => {
    expect(webBatches(webs, batch)).toEqual(expected);
  });

  it('one web host, or none: one batch', () => {
    expect(webBatches(['w1'], 1)).toEqual([['w1']]);
    expect(webBatches([], '50%')).toEqual([[]]);
  });

  it.each([0, -1, 1.5, '0%', '101%', '50', '%', '5 %', '50%%', 'half'])('refuses %j', (batch) => {
    const r = pillarSchema.safeParse({ project: 'demo', releases: { batch } });
    expect(r.success).toBe(false);
  });

  it('takes counts and percentages', () => {
    expect(pillarSchema.parse({ project: 'demo', releases: { batch: 2 } }).releases).toEqual({ keep: 5, batch: 2 });
    expect(pillarSchema.parse({ project: 'demo', releases: { batch: '25%' } }).releases.batch).toBe('25%');
    expect(pillarSchema.parse({ project: 'demo' }).releases.batch).toBeUndefined();
  });
});

describe("the balancers' upstream file", () => {
  const hosts = [host('web-1', '10.0.0.1'), host('web-2', '10.0.0.2')];

  it('lists every web host; a drained one is down', () => {
    const p = pillarSchema.parse({ project: 'demo' });
    expect(upstreamServers(p, hosts).split('\n').slice(1)).toEqual(['server 10.0.0.1:8000 max_fails=3 fail_timeout=5s;', 'server 10.0.0.2:8000 max_fails=3 fail_timeout=5s;', '']);
    const drained = upstreamServers(p, hosts, new Set(['web-2']));
    expect(drained).toMatch(/^# .*\(taken out during a release: web-2\)\n/);
    expect(drained.split('\n').slice(1, 3)).toEqual(['server 10.0.0.1:8000 max_fails=3 fail_timeout=5s;', 'server 10.0.0.2:8000 max_fails=3 fail_timeout=5s down;']);
  });

  it('a Procfile app: every port of both sets, never marked failed; a drained host has all of them down', () => {
    const p = pillarSchema.parse({ project: 'demo', app: { type: 'procfile', port: 9000 }, processes: { web: { count: 2 } } });
    const lines = upstreamServers(p, hosts, new Set(['web-1'])).split('\n').filter((l) => l.startsWith('server '));
    expect(lines).toHaveLength(8);
    expect(lines.filter((l) => l.startsWith('server 10.0.0.1:')).every((l) => l.endsWith(' max_fails=0 down;'))).toBe(true);
    expect(lines.filter((l) => l.startsWith('server 10.0.0.2:')).every((l) => l.endsWith(' max_fails=0;'))).toBe(true);
  });

  it('no web host: one server, down (an upstream may not be empty)', () => {
    expect(upstreamServers(pillarSchema.parse({ project: 'demo' }), []).split('\n')[1]).toBe('server 127.0.0.1:8000 down;');
  });
});
