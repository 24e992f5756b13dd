/** `ops tls renew` refuses what it cannot do before it connects anywhere; the renewal itself: test/hosts/acme.test.ts. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ops, tempRepo } from '../support/ops.js';

describe('ops tls renew', () => {
  it('an environment without tls.acme: exit 2 saying so, nothing contacted', async () => {
    const repo = tempRepo();
    const r = await ops(['tls', 'renew', 'staging'], { cwd: repo });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: 'staging' has no tls\.acme in its pillar/m);
  });

  it('a tls.acme directory that is not https: exit 2 at validation with the position', async () => {
    const repo = tempRepo();
    const file = join(repo, 'pillar/staging.yml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\ntls:\n  acme:\n    email: ops@example.org\n    directory: http://ca.example/directory\n`);
    const r = await ops(['tls', 'renew', 'staging', '--force'], { cwd: repo });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pillar\/staging\.yml:\d+:\d+: tls\.acme\.directory: must be the https:\/\/ URL of an ACME directory/);
  });

  it('--help shows what it does and examples', async () => {
    const r = await ops(['tls', 'renew', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--force/);
    expect(r.stdout).toMatch(/ops tls renew staging --force/);
  });
});
