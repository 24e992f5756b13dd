import { describe, expect, it } from 'vitest';
import { journalArgv, parseEntry, sinceArg } from '../../src/core/logs.js';
import { parseStatus, statusScript } from '../../src/core/status.js';
import { roleUnits, unitsNamed } from '../../src/core/units.js';
import { pillarSchema } from '../../src/pillar/schema.js';
import { webUnitPort } from '../../src/roles/app.js';
import { maintenanceScript } from '../../src/core/maintenance.js';
import { htmlText } from '../../src/roles/escape.js';
import { templates } from '../../src/roles/templates.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const django = pillarSchema.parse({ project: 'demo', domain: 'demo.example.org' });
const procfile = pillarSchema.parse({ project: 'shop', app: { type: 'procfile', port: 9000 }, cache: { backend: 'redis' } });

describe('ops logs: which units', () => {
  it('names the app processes by app type, and services by their usual names', () => {
    expect(unitsNamed(django, 'staging', 'web')).toEqual(['demo-web.service']);
    expect(unitsNamed(django, 'staging', 'beat')).toEqual(['demo-beat.service']);
    expect(unitsNamed(procfile, 'staging', 'web')).toEqual(['shop-web@*.service']);
    expect(unitsNamed(procfile, 'staging', 'clock')).toEqual(['shop-clock@*.service']);
    expect(unitsNamed(procfile, 'staging', 'cache')).toEqual(['redis-server.service']);
    expect(unitsNamed(django, 'staging', 'postgres')).toEqual(['postgresql@*.service']);
    expect(unitsNamed(django, 'staging', 'acme')).toEqual(['ops-acme-renew-staging.service']);
    expect(unitsNamed(django, 'staging', 'foo-bar.service')).toEqual(['foo-bar.service']);
    expect(() => unitsNamed(django, 'staging', 'clock')).toThrow(/no unit 'clock'/);
    expect(() => unitsNamed(procfile, 'staging', 'x;id')).toThrow(/no unit/);
  });

  it("by default, the units of a host's roles", () => {
    expect(roleUnits(django, 'lab', ['web', 'worker', 'balancer'])).toEqual(['demo-web.service', 'demo-worker.service', 'demo-beat.service', 'nginx.service']);
    expect(roleUnits(procfile, 'lab', ['db', 'queue', 'cache'])).toEqual(['postgresql@*.service', 'rabbitmq-server.service', 'redis-server.service']);
    expect(roleUnits(procfile, 'lab', ['web'])).toEqual(['shop-*@*.service']);
    expect(roleUnits(django, 'lab', [])).toEqual([]);
  });
});

describe('ops logs: journalctl', () => {
  it('puts every value after its option, one word each', () => {
    expect(journalArgv(['demo-web.service'], { follow: false, since: '-1h', grep: 'a b|--c', lines: 20 })).toEqual([
      'journalctl', '--no-pager', '--quiet', '--output=json', '--output-fields=MESSAGE,_SYSTEMD_UNIT,UNIT,SYSLOG_IDENTIFIER,PRIORITY',
      '--unit=demo-web.service', '--since=-1h', '--lines=20', '--grep=a b|--c',
    ]);
    // after a reconnect: from the cursor on, nothing shown twice
    expect(journalArgv([], { follow: true, lines: 5 }, 's=abc;i=1')).toEqual(['journalctl', '--no-pager', '--quiet', '--output=json', '--output-fields=MESSAGE,_SYSTEMD_UNIT,UNIT,SYSLOG_IDENTIFIER,PRIORITY', '--after-cursor=s=abc;i=1', '--follow']);
  });

  it.each([
    ['30min', '-30min'],
    ['2h', '-2h'],
    ['1w', '-1w'],
    ['2026-12-01', '2026-12-01'],
    ['2026-12-01T14:00', '2026-12-01 14:00'],
    ['yesterday', 'yesterday'],
  ])('--since %s', (v, arg) => expect(sinceArg(v)).toBe(arg));

  it.each(['1 hour', '-1h', '0h', 'now; id', '--until=x'])('--since %j is refused', (v) => expect(() => sinceArg(v)).toThrow(/--since takes/));

  it('reads an entry, a binary MESSAGE too', () => {
    const line = JSON.stringify({ __CURSOR: 'c1', __REALTIME_TIMESTAMP: '1764745513123456', _SYSTEMD_UNIT: 'shop-worker@2.service', MESSAGE: [104, 105, 10, 195, 188], PRIORITY: '3' });
    expect(parseEntry('web-1', line)).toEqual({ cursor: 'c1', entry: { host: 'web-1', unit: 'shop-worker@2.service', micros: 1764745513123456, message: 'hi\nü', priority: 3 } });
    expect(parseEntry('web-1', JSON.stringify({ __REALTIME_TIMESTAMP: '1', _SYSTEMD_UNIT: 'init.scope', UNIT: 'nginx.service', MESSAGE: 'Started nginx.service' }))?.entry.unit).toBe('nginx.service');
    expect(parseEntry('web-1', 'not json')).toBeUndefined();
    expect(parseEntry('web-1', '{"MESSAGE":"x"}')).toBeUndefined();
  });
});

describe('ops status', () => {
  it('counts an enabled unit that does not run as down, not an earlier web set', () => {
    const out = [
      'os Debian GNU/Linux 13 (trixie)',
      'disk 41',
      'mem 23',
      'unit shop-web@1.service inactive disabled',
      'unit shop-web@2.service active enabled',
      'unit shop-worker@1.service inactive enabled',
      'unit shop-worker@2.service failed disabled',
      'unit postgresql@17-main.service inactive enabled-runtime',
      'release 20261203-072513-1a2b3c4',
      'meta {"id":"20261203-072513-1a2b3c4","commit":"1a2b3c4d","by":"ada","at":"2026-12-03T07:25:13.000Z"}',
      'cert Mar  3 07:00:00 2027 GMT',
    ].join('\n');
    const s = parseStatus('web-1', ['web', 'worker'], out);
    expect(s.down).toEqual(['shop-worker@1.service', 'shop-worker@2.service', 'postgresql@17-main.service']);
    expect(s.release).toEqual({ id: '20261203-072513-1a2b3c4', commit: '1a2b3c4d', by: 'ada', at: '2026-12-03T07:25:13.000Z' });
    expect([s.os, s.disk_used_pct, s.memory_used_pct, s.certificate_expires]).toEqual(['Debian GNU/Linux 13 (trixie)', 41, 23, '2027-03-03T07:00:00.000Z']);
    expect(webUnitPort(procfile, 'shop-web@2.service')).toBe(9001);
    expect(webUnitPort(procfile, 'other-web@2.service')).toBeUndefined();
    expect(webUnitPort(django, 'demo-web.service')).toBe(8000);
  });

  it("reads a balancer's served certificate, and the app's release only on app hosts", () => {
    expect(statusScript(django, 'staging', ['balancer'])).toContain("openssl x509 -noout -enddate -in /etc/ssl/ops/demo.example.org.self-signed.crt");
    expect(statusScript(django, 'staging', ['balancer'])).not.toContain('readlink');
    expect(statusScript(django, 'staging', ['web'])).toContain('readlink /var/www/demo/current');
  });
});

describe('ops maintenance', () => {
  it('writes the page from stdin, then the flag; off removes only the flag', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ops-maint-'));
    const at = (script: string) => script.replaceAll('/var/lib/ops-maintenance/demo', dir);
    const page = templates(undefined).render('balancer/maintenance.html.njk', { domain: 'demo.example.org', message: `<script>alert('x')</script> & "back"`, project: 'demo' });
    execFileSync('/bin/sh', ['-c', at(maintenanceScript('demo', true))], { input: page });
    expect(readFileSync(join(dir, 'index.html'), 'utf8')).toContain('&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;back&quot;');
    expect(existsSync(join(dir, 'on'))).toBe(true);
    execFileSync('/bin/sh', ['-c', at(maintenanceScript('demo', false))]);
    expect(existsSync(join(dir, 'on'))).toBe(false);
    expect(existsSync(join(dir, 'index.html'))).toBe(true);
    expect(htmlText('a<b>&"\'')).toBe('a&lt;b&gt;&amp;&quot;&#39;');
  });
});
