/**
 * Every server's base: admins from devs.yml with their keys and sudo, sshd hardened only once
 * their keys are in place, and never locking out root's key (the master and later `-u root`
 * first-contact steps use it).
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, provisionLab, requireRoot, type LabHostRow } from '../support/lab.js';
import { ops, tempRepo } from '../support/ops.js';

let repo: string;
let hosts: LabHostRow[];

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  // A role of the project's own with nothing in it: the host gets the base only.
  mkdirSync(join(repo, 'roles'));
  writeFileSync(join(repo, 'roles/plain.yml'), 'states: []\n');
  writeFileSync(join(repo, 'pillar/project.yml'), `${readFileSync(join(repo, 'pillar/project.yml'), 'utf8')}\nroles:\n  plain:\n    states: roles/plain.yml\n`);
  hosts = await provisionLab(repo, { hosts: 2, minions: { 'lab-2': 'plain' } });
  const pub = readFileSync(join(repo, '.ops/lab/id_ed25519.pub'), 'utf8').trim();
  writeFileSync(join(repo, 'pillar/devs.yml'), `users:\n  alice:\n    keys:\n      - ${pub}\n    groups: [adm]\n  bob:\n    keys: []\n    sudo: false\n`);
});

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('base role', () => {
  it('creates the admins with their keys and sudo, and hardens sshd', async () => {
    const d = await ops(['deploy', 'lab'], { cwd: repo });
    expect(d.code, d.stdout + d.stderr).toBe(0);
    const alice = await ops(['run', 'lab', '--host', 'lab-2', '-u', 'alice', '--sudo', '--', 'id -un; id -nG'], { cwd: repo });
    expect(alice.code, alice.stderr).toBe(0);
    expect(alice.stdout).toMatch(/^root\nroot\n$/);
    const groups = await ops(['run', 'lab', '--host', 'lab-2', '-u', 'alice', '--', 'id -nG'], { cwd: repo });
    expect(groups.stdout.trim().split(' ').sort()).toEqual(['adm', 'alice']);
    const sshd = await ops(['run', 'lab', '--host', 'lab-2', '--', 'sshd -T | grep -E "^(passwordauthentication|permitrootlogin|kbdinteractiveauthentication|clientaliveinterval|clientalivecountmax) "'], { cwd: repo });
    expect(sshd.stdout).toBe('clientaliveinterval 10\nclientalivecountmax 3\npermitrootlogin without-password\npasswordauthentication no\nkbdinteractiveauthentication no\n');
    const bob = await ops(['run', 'lab', '--host', 'lab-2', '--', 'getent passwd bob >/dev/null && echo bob; test -e /etc/sudoers.d/ops-admins && grep -c bob /etc/sudoers.d/ops-admins || true'], { cwd: repo });
    expect(bob.stdout).toBe('bob\n0\n');
  });

  it('never locks out root with a key: first-contact steps with -u root still work after hardening', async () => {
    const again = await ops(['setup-minion', 'lab', 'plain', '-H', hosts[1]?.address ?? '', '-u', 'root'], { cwd: repo });
    expect(again.code, again.stderr).toBe(0);
    const d = await ops(['--json', 'deploy', 'lab'], { cwd: repo });
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout.trim().split('\n').pop() ?? '{}')).toMatchObject({ changed: 0, failed: 0 });
  });

  it('the firewall admits ssh and drops what no role asked for', async () => {
    const rules = await ops(['run', 'lab', '--host', 'lab-2', '--', 'nft list chain inet filter input'], { cwd: repo });
    expect(rules.stdout).toMatch(/policy drop;/);
    expect(rules.stdout).toMatch(/tcp dport 22 accept/);
    // Something listens on lab-2:8765, but no role asked for that port: other hosts cannot reach it.
    const listen = await ops(['run', 'lab', '--host', 'lab-2', '--', 'systemd-run --unit ops-test-listener python3 -m http.server 8765 >/dev/null 2>&1; sleep 1'], { cwd: repo });
    expect(listen.code, listen.stderr).toBe(0);
    const probe = (from: string) => ops(['run', 'lab', '--host', from, '--', `timeout 3 bash -c '</dev/tcp/${hosts[1]?.address}/8765' && echo open || echo closed`], { cwd: repo });
    expect((await probe('lab-2')).stdout.trim()).toBe('open');
    expect((await probe('lab-1')).stdout.trim()).toBe('closed');
  });
});
