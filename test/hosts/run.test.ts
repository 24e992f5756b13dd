/**
 * `ops run` and `ops ssh` against real lab hosts (Debian 12, systemd, sshd), including the
 * faults the SSH layer must handle: stopped sshd, unreachable host, a host dying mid-command,
 * unknown and changed host keys, bad input.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown, labHosts, labUp, requireRoot, withLinkDown, type LabHostRow } from '../support/lab.js';
import { ops, tempRepo } from '../support/ops.js';

let repo: string;
let hosts: LabHostRow[];
const run = (args: string[], input?: string) => ops(['run', 'lab', ...args], { cwd: repo, input });

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  await labUp(repo, 'lab', 3);
  hosts = await labHosts(repo);
  expect(hosts.map((h) => h.name)).toEqual(['lab-1', 'lab-2', 'lab-3']);
});

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('ops run on lab hosts', () => {
  it('runs on every host in parallel with host-prefixed output and a summary', async () => {
    const r = await run(['--', 'hostname']);
    expect(r.code, r.stderr).toBe(0);
    for (const h of ['lab-1', 'lab-2', 'lab-3']) expect(r.stdout).toMatch(new RegExp(`^${h} \\| ${h}$`, 'm'));
    expect(r.stderr).toMatch(/3 host\(s\): 3 ok/);
  });

  it('runs the words through the login shell as one command line, as ssh does', async () => {
    const r = await run(['--host', 'lab-1', '--', 'ls / | wc -l; echo "$HOME" \'single quoted\''], undefined);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+\n\/root single quoted\n$/);
  });

  it('with one host, stdin goes to the command, as with ssh', async () => {
    const r = await run(['--host', 'lab-1', '--', 'sha256sum | cut -c1-16'], "bytes 'in' $stdin\nüñ\n");
    expect(r.stdout.trim()).toBe(createHash('sha256').update("bytes 'in' $stdin\nüñ\n").digest('hex').slice(0, 16));
  });

  it('with one host, exits with the remote status', async () => {
    expect((await run(['--host', 'lab-2', '--', 'exit 7'])).code).toBe(7);
    expect((await run(['--host', hosts[2]?.address ?? '', '--', 'true'])).code).toBe(0);
  });

  it('with several hosts, exits 1 when any failed and says which', async () => {
    const r = await run(['--', 'test "$(hostname)" != lab-2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lab-2\s+failed exit 1/);
    expect(r.stderr).toMatch(/2 ok, 1 failed/);
  });

  it('emits NDJSON events with --json', async () => {
    const r = await ops(['run', 'lab', '--role', 'web', '--', 'true'], { cwd: repo });
    expect(r.code).toBe(2); // no roles assigned yet: bad input, not a failure
    const j = await ops(['--json', 'run', 'lab', '--', 'echo hi'], { cwd: repo });
    const events = j.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; host?: string; line?: string });
    expect(events.filter((e) => e.type === 'output' && e.line === 'hi').map((e) => e.host).sort()).toEqual(['lab-1', 'lab-2', 'lab-3']);
    expect(events.at(-1)).toMatchObject({ type: 'summary', hosts: 3, ok: 3, failed: 0 });
  });

  it('refuses bad input with one clear line (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [['--role', 'balancer', '--', 'true'], /no host of environment 'lab' has the role 'balancer'/],
      [['--host', 'lab-9', '--', 'true'], /unknown host 'lab-9'/],
      [['--'], /no command given/],
      [['-i', '/nonexistent/key', '--', 'true'], /cannot read key file \/nonexistent\/key/],
    ];
    for (const [args, re] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')[0]).toMatch(re);
    }
  });

  it('ops ssh runs a command through OpenSSH with the pinned keys', async () => {
    const r = await ops(['ssh', 'lab', 'lab-3', '--', 'hostname'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('lab-3');
  });

  it('ops ssh opens an interactive shell with a PTY (driven through tmux)', async () => {
    const session = `ops-ssh-${process.pid}`;
    const ops = join(__dirname, '..', '..', 'bin', 'ops');
    execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '120', '-y', '30', '-c', repo, `${ops} ssh lab lab-1`]);
    try {
      const deadline = Date.now() + 20_000;
      let screen = '';
      execFileSync('tmux', ['send-keys', '-t', session, 'tty; stty size; echo done-$((6*7))', 'Enter']);
      while (Date.now() < deadline && !screen.includes('done-42')) {
        await new Promise((r) => setTimeout(r, 300));
        screen = execFileSync('tmux', ['capture-pane', '-p', '-t', session]).toString();
      }
      expect(screen).toMatch(/\/dev\/pts\/\d+/);
      expect(screen).toMatch(/^30 120$/m);
      execFileSync('tmux', ['send-keys', '-t', session, 'exit', 'Enter']);
    } finally {
      try {
        execFileSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  });
});

describe('host keys', () => {
  const knownHosts = () => join(repo, '.ops', 'known_hosts');

  it('an unknown host is refused with its fingerprint; --accept-new pins it', async () => {
    const lab2 = hosts[1]?.address ?? '';
    const original = readFileSync(knownHosts(), 'utf8');
    writeFileSync(knownHosts(), original.split('\n').filter((l) => !l.startsWith(`${lab2} `)).join('\n'));
    const r = await run(['--', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lab-2.*unknown host key ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}; refusing to connect/);
    expect(r.stderr).toMatch(/--accept-new/);
    expect(r.stderr).toMatch(/2 ok, 1 failed/);
    const pinned = await run(['--accept-new', '--', 'true']);
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(readFileSync(knownHosts(), 'utf8')).toMatch(new RegExp(`^${lab2.replace(/\./g, '\\.')} ssh-ed25519 `, 'm'));
    expect((await run(['--', 'true'])).code).toBe(0);
  });

  it('a changed host key is always refused, naming old and new fingerprints', async () => {
    const r0 = await run(['--host', 'lab-3', '--', 'rm -f /etc/ssh/ssh_host_*key* && ssh-keygen -A >/dev/null && systemctl restart ssh']);
    expect(r0.code, r0.stderr).toBe(0);
    for (const extra of [[], ['--accept-new']]) {
      const r = await run([...extra, '--host', 'lab-3', '--', 'true']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/lab-3.*HOST KEY CHANGED — presented ssh-ed25519 SHA256:\S+, pinned ssh-ed25519 SHA256:\S+ \(.*known_hosts:\d+\)/);
    }
    // Re-pin the rebuilt host for the tests that follow (what an operator does after checking it).
    const lab3 = hosts[2]?.address ?? '';
    writeFileSync(knownHosts(), readFileSync(knownHosts(), 'utf8').split('\n').filter((l) => !l.startsWith(`${lab3} `)).join('\n'));
    expect((await run(['--accept-new', '--host', 'lab-3', '--', 'true'])).code).toBe(0);
  });
});

describe('faults', () => {
  it('a host whose sshd is stopped: the others finish, it is reported with the reason, exit 1', async () => {
    const stop = await run(['--host', 'lab-2', '--', 'systemd-run --on-active=8s --timer-property=AccuracySec=100ms systemctl start ssh.service >/dev/null 2>&1; systemctl stop ssh.service']);
    expect(stop.code, stop.stderr).toBe(0);
    const started = Date.now();
    const r = await run(['--connect-timeout', '5', '--', 'hostname']);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^lab-1 \| lab-1$/m);
    expect(r.stdout).toMatch(/^lab-3 \| lab-3$/m);
    expect(r.stderr).toMatch(/lab-2 .*unreachable:.*connection refused \(is sshd running\?\)/);
    // sshd comes back by itself (systemd-run timer)
    const deadline = Date.now() + 40_000;
    while (Date.now() < deadline && (await run(['--host', 'lab-2', '--', 'true'])).code !== 0) await new Promise((res) => setTimeout(res, 1000));
    expect((await run(['--host', 'lab-2', '--', 'true'])).code).toBe(0);
  });

  it('an unreachable host is reported within the connect timeout', async () => {
    await withLinkDown(hosts[0]?.address ?? '', async (takeDown) => {
      takeDown();
      const started = Date.now();
      const r = await run(['--connect-timeout', '3', '--', 'hostname']);
      expect(Date.now() - started).toBeLessThan(7000);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/lab-1 .*unreachable:/);
      expect(r.stdout).toMatch(/^lab-2 \| lab-2$/m);
    });
  });

  it('a host that dies mid-command is reported, the others finish, nothing hangs', async () => {
    await withLinkDown(hosts[2]?.address ?? '', async (takeDown) => {
      const started = Date.now();
      // the link goes down once the command runs on lab-3 (not while ops still connects to it)
      let down = false;
      const r = await ops(['run', 'lab', '--', 'echo started; sleep 4; echo finished'], {
        cwd: repo,
        onStdout: (soFar) => {
          if (!down && /^lab-3 \| started$/m.test(soFar)) {
            down = true;
            takeDown();
          }
        },
      });
      expect(down).toBe(true);
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^lab-1 \| finished$/m);
      expect(r.stdout).toMatch(/^lab-2 \| finished$/m);
      expect(r.stderr).toMatch(/lab-3 .*unreachable:.*(stopped answering|connection)/);
    });
  });
});
