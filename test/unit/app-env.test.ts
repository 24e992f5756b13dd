import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pillarSchema } from '../../src/pillar/schema.js';
import { appEnvironment, renderEnvFile, WITH_ENV_SCRIPT } from '../../src/roles/app.js';
import { inventoryHosts, type Host, type RoleContext } from '../../src/roles/context.js';
import { templates } from '../../src/roles/templates.js';
import { Redactor } from '../../src/ui/redact.js';

describe('the app environment file', () => {
  it('carries any value byte for byte through with-env (quotes, $, \\, newlines, unicode)', () => {
    const vars: Record<string, string> = {
      SINGLE: "it's",
      DOUBLE: 'say "hi"',
      DOLLAR: '$HOME ${PATH} $(id) `id`',
      BACKSLASH: 'a\\b\\\\c\\n',
      NEWLINES: 'line1\nline2\n\nline4\n',
      UNICODE: 'ünïcödé ✓ 日本語 🙂',
      EMPTY: '',
      SPACES: '  padded  ',
    };
    const dir = mkdtempSync(join(tmpdir(), 'ops-env-'));
    writeFileSync(join(dir, 'env'), renderEnvFile(vars));
    writeFileSync(join(dir, 'with-env'), WITH_ENV_SCRIPT, { mode: 0o755 });
    const script = "import json, os, sys; json.dump({k: os.environ.get(k) for k in sys.argv[1:]}, sys.stdout)";
    for (const sh of ['/bin/sh', '/bin/bash']) {
      const out = execFileSync(sh, [join(dir, 'with-env'), join(dir, 'env'), '/usr/bin/python3', '-c', script, ...Object.keys(vars)]).toString();
      expect(JSON.parse(out)).toEqual(vars);
    }
  });
});

describe('service URLs in the app environment (DATABASE_URL, AMQP_URL, REDIS_URL, env_aliases)', () => {
  const hostile = "p@ss:/w?rd#%'\" $x";
  const envOf = (over: Record<string, unknown>, host = 'app') => {
    const data = pillarSchema.parse({
      project: 'demo',
      domain: 'demo.example',
      secrets: { DB_PASSWORD: hostile, BROKER_PASSWORD: 'mq/pass+1', SECRET_KEY: 'sk-1' },
      servers: {
        m: { address: '10.0.0.1', roles: ['master'] },
        data: { address: '10.0.0.2', private_address: 'fd00::2', roles: ['db', 'queue', 'cache'] },
        app: { address: '10.0.0.3', roles: ['web', 'worker'] },
      },
      ...over,
    });
    const hosts = inventoryHosts(data);
    const h = hosts.find((x) => x.name === host) as Host;
    return appEnvironment({ env: 'staging', project: 'demo', pillar: data, host: h, hosts, facts: { osId: 'debian', osVersion: '13', postgresClusters: [] }, tpl: templates(undefined) } as RoleContext);
  };

  it('the passwords percent-encoded, an IPv6 address in brackets; the URL parses back to the same password', () => {
    const v = envOf({});
    expect(v.DATABASE_URL).toBe(`postgres://demo_staging:${encodeURIComponent(hostile)}@[fd00::2]:5432/demo_staging`);
    expect(decodeURIComponent(new URL(v.DATABASE_URL ?? '').password)).toBe(hostile);
    expect(v.AMQP_URL).toBe('amqp://demo_staging:mq%2Fpass%2B1@[fd00::2]:5672/demo_staging');
    expect(v.REDIS_URL).toBeUndefined();
    // today's pieces stay
    expect(v).toMatchObject({ DB_HOST: 'fd00::2', DB_NAME: 'demo_staging', DB_USER: 'demo_staging', DB_PASSWORD: hostile });
  });

  it('REDIS_URL with the Redis cache; env: overrides a URL; env_aliases gives one more name without a value in the pillar', () => {
    const v = envOf({ cache: { backend: 'redis' }, env: { AMQP_URL: 'amqp://elsewhere/' }, env_aliases: { CELERY_BROKER_URL: 'AMQP_URL', CLOUDAMQP_URL: 'AMQP_URL', DB_URL: 'DATABASE_URL' } });
    expect(v.REDIS_URL).toBe('redis://[fd00::2]:6379/0');
    expect(v.AMQP_URL).toBe('amqp://elsewhere/');
    expect(v.CELERY_BROKER_URL).toBe('amqp://elsewhere/');
    expect(v.CLOUDAMQP_URL).toBe('amqp://elsewhere/');
    expect(v.DB_URL).toBe(v.DATABASE_URL);
  });

  it('an alias of a name the environment does not have is refused naming it', () => {
    expect(() => envOf({ env_aliases: { X: 'NOPE' } })).toThrow(/env_aliases\.X: the app's environment has no NOPE on app/);
  });

  it('no db host or no DB_PASSWORD: no DATABASE_URL', () => {
    expect(envOf({ secrets: { BROKER_PASSWORD: 'x' } }).DATABASE_URL).toBeUndefined();
  });

  it('the redactor hides a secret in its percent-encoded form too', () => {
    const r = new Redactor();
    r.add(hostile);
    expect(r.redact(`url postgres://u:${encodeURIComponent(hostile)}@h/db and ${hostile}`)).not.toMatch(/p%40ss|p@ss/);
  });
});
