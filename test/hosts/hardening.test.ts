/**
 * Every server's base: admins from devs.yml with their keys and sudo, sshd hardened only once
 * their keys are in place, and never locking out root's key (the master and later `-u root`
 * first-contact steps use it). An admin removed from devs.yml loses access at the next converge
 * (accounts ops never made are left alone); first contact with a host is an explicit act.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, provisionLab, requireRoot, type LabHostRow } from '../support/lab.js';
import { OPS, ops, tempRepo } from '../support/ops.js';

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

describe('offboarding: an admin removed from devs.yml loses access at the next converge', () => {
  const keyDir = mkdtempSync(join(tmpdir(), 'ops-carol-'));
  const carolKey = join(keyDir, 'id_ed25519');
  const devs = (carol: string) => {
    const alice = readFileSync(join(repo, '.ops/lab/id_ed25519.pub'), 'utf8').trim();
    writeFileSync(join(repo, 'pillar/devs.yml'), `users:\n  alice:\n    keys:\n      - ${alice}\n    groups: [adm]\n  bob:\n    keys: []\n    sudo: false\n${carol}`);
  };
  const asCarol = () => ops(['run', 'lab', '--host', 'lab-2', '-u', 'carol', '-i', carolKey, '--', 'sudo -n true && echo sudo-ok'], { cwd: repo });
  const onLab2 = (line: string) => ops(['run', 'lab', '--host', 'lab-2', '--', line], { cwd: repo });

  it('carol, added, logs in with her key and has sudo', async () => {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'carol@test', '-f', carolKey]);
    devs(`  carol:\n    keys:\n      - ${readFileSync(`${carolKey}.pub`, 'utf8').trim()}\n`);
    // an account ops never made: never touched
    expect((await onLab2('useradd --create-home zed && echo made')).stdout.trim()).toBe('made');
    const d = await ops(['deploy', 'lab'], { cwd: repo });
    expect(d.code, d.stdout + d.stderr).toBe(0);
    const r = await asCarol();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('sudo-ok');
  });

  it('removed: her key no longer logs in, sudo is refused, her home stays; alice and an account ops never made are unaffected; a second converge changes nothing', async () => {
    devs('');
    const d = await ops(['--json', 'deploy', 'lab'], { cwd: repo });
    expect(d.code, d.stdout).toBe(0);
    expect(d.stdout).toMatch(/"id":"admins".*"summary":"lock carol"/);
    const r = await asCarol();
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toContain('sudo-ok');
    const state = await onLab2('getent shadow carol | cut -d: -f8; test -d /home/carol && echo home; test -e /home/carol/.ssh/authorized_keys && echo keys; grep -c carol /etc/sudoers.d/ops-admins; sudo -l -U carol 2>&1 | tail -1; runuser -u carol -- sudo -n true 2>/dev/null && echo sudo || echo no-sudo; getent shadow zed | cut -d: -f8');
    expect(state.stdout).toBe('1\nhome\n0\nUser carol is not allowed to run sudo on lab-2.\nno-sudo\n\n');
    const alice = await ops(['run', 'lab', '--host', 'lab-2', '-u', 'alice', '--sudo', '--', 'id -un'], { cwd: repo });
    expect(alice.stdout.trim(), alice.stderr).toBe('root');
    const again = await ops(['--json', 'deploy', 'lab'], { cwd: repo });
    expect(JSON.parse(again.stdout.trim().split('\n').pop() ?? '{}')).toMatchObject({ changed: 0, failed: 0 });
  });

  it('absent: true removes her account and home; a user ops never made is not removed by it', async () => {
    devs('  carol: {absent: true}\n  zed: {absent: true}\n');
    const d = await ops(['deploy', 'lab'], { cwd: repo });
    expect(d.code, d.stdout + d.stderr).toBe(0);
    const state = await onLab2('getent passwd carol >/dev/null && echo carol; test -d /home/carol && echo carol-home; getent passwd zed >/dev/null && echo zed; cat /etc/ops/admins');
    expect(state.stdout).toBe('zed\nalice\nbob\n');
  });
});

describe('first contact is an explicit act (an environment ops lab did not make)', () => {
  const knownHosts = () => join(repo, '.ops/known_hosts');
  const addr = (n: string) => hosts.find((h) => h.name === n)?.address ?? '';
  let labPins = '';

  it('with no terminal and no flag: refused naming the fingerprint and --fingerprint; nothing pinned or recorded', async () => {
    // qa: servers of its own, the lab's hosts unknown to it; its master key is the lab master's
    writeFileSync(join(repo, 'pillar/qa.yml'), 'protected: false\nservers:\n  qa-master: {address: 10.9.9.7, roles: [master]}\n  lab-1: {address: 10.9.9.8, roles: [plain]}\n  lab-2: {address: 10.9.9.9, roles: [plain]}\n');
    mkdirSync(join(repo, 'pillar/keys'), { recursive: true });
    writeFileSync(join(repo, 'pillar/keys/qa.master.pub'), readFileSync(join(repo, '.ops/pillar/keys/lab.master.pub')));
    labPins = readFileSync(knownHosts(), 'utf8');
    writeFileSync(knownHosts(), labPins.split('\n').filter((l) => !l.startsWith(`${addr('lab-2')} `)).join('\n'));
    const before = readFileSync(join(repo, 'pillar/qa.yml'), 'utf8');
    const r = await ops(['setup-minion', 'qa', 'plain', '-H', addr('lab-2'), '--name', 'qa-2'], { cwd: repo });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/first contact — host key ssh-ed25519 (SHA256:\S+) is not pinned, and there is no terminal to ask/);
    expect(r.stderr).toMatch(/--fingerprint SHA256:/);
    expect(existsSync(join(repo, 'pillar/known_hosts'))).toBe(false);
    expect(readFileSync(join(repo, 'pillar/qa.yml'), 'utf8')).toBe(before);
    const wrong = await ops(['setup-minion', 'qa', 'plain', '-H', addr('lab-2'), '--name', 'qa-2', '--fingerprint', `SHA256:${'A'.repeat(43)}`], { cwd: repo });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/is not the expected SHA256:A{43}; refusing to connect/);
    expect(existsSync(join(repo, 'pillar/known_hosts'))).toBe(false);
  });

  it('on a terminal: shows the fingerprint and pins it on a yes (driven through tmux)', async () => {
    const session = `ops-first-${process.pid}`;
    const tmux = (...a: string[]) =>
      new Promise<string>((resolve) => {
        const c = spawn('tmux', a);
        let o = '';
        c.stdout.on('data', (b: Buffer) => (o += b.toString('utf8')));
        c.on('close', () => resolve(o));
      });
    const done = join(repo, 'first-contact-exit');
    await tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '30', `cd ${repo} && ${process.execPath} ${OPS} setup-minion qa plain -H ${addr('lab-2')} --name qa-2; echo "exit=$?" > ${done}`);
    let screen = '';
    for (let i = 0; i < 60 && !/Pin it in pillar\/known_hosts \[y\/N\]/.test(screen); i++) {
      await new Promise((res) => setTimeout(res, 500));
      screen = await tmux('capture-pane', '-p', '-t', session);
    }
    expect(screen).toMatch(/Its host key is ssh-ed25519 SHA256:\S+\./);
    const shown = /Its host key is ssh-ed25519 (SHA256:\S+)\./.exec(screen)?.[1] ?? '?';
    await tmux('send-keys', '-t', session, 'y', 'Enter');
    for (let i = 0; i < 60 && !existsSync(done); i++) await new Promise((res) => setTimeout(res, 500));
    await tmux('kill-session', '-t', session);
    expect(readFileSync(done, 'utf8').trim()).toBe('exit=0');
    const pinned = readFileSync(join(repo, 'pillar/known_hosts'), 'utf8');
    expect(pinned).toMatch(new RegExp(`^${addr('lab-2').replace(/\./g, '\\.')} ssh-ed25519 `, 'm'));
    const fp = execFileSync('ssh-keygen', ['-lf', '-'], { input: pinned }).toString();
    expect(fp).toContain(shown);
    expect(readFileSync(join(repo, 'pillar/qa.yml'), 'utf8')).toMatch(/qa-2:/);
  });

  it("a name that is already another record's is refused naming both, given or reported by the host", async () => {
    const given = await ops(['setup-minion', 'qa', 'plain', '-H', addr('lab-2'), '--name', 'lab-2'], { cwd: repo });
    expect(given.code).toBe(2);
    expect(given.stderr).toMatch(new RegExp(`'lab-2' for ${addr('lab-2').replace(/\./g, '\\.')}, but 'lab-2' is already the record of 10\\.9\\.9\\.9 in 'qa'`));
    // lab-1 calls itself lab-1: the name of qa's record at another address
    const reported = await ops(['setup-minion', 'qa', 'plain', '-H', addr('lab-1'), '--accept-new'], { cwd: repo });
    expect(reported.code, reported.stderr).toBe(2);
    expect(reported.stderr).toMatch(new RegExp(`calls itself 'lab-1' for ${addr('lab-1').replace(/\./g, '\\.')}, but 'lab-1' is already the record of 10\\.9\\.9\\.8`));
    expect(readFileSync(join(repo, 'pillar/qa.yml'), 'utf8')).toMatch(/lab-1: \{ ?address: 10\.9\.9\.8/);
  });

  it('the lab environment is as it was (its own minion file back on lab-2)', async () => {
    writeFileSync(knownHosts(), labPins);
    const again = await ops(['setup-minion', 'lab', 'plain', '-H', addr('lab-2')], { cwd: repo });
    expect(again.code, again.stderr).toBe(0);
  });
});
