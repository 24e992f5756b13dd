/**
 * The script `--direct` runs on the target host, run here by bash with a stand-in for `ssh` (a
 * script first in PATH that logs its arguments and the pinned keys it was given, then runs the
 * remote command locally): the real OpenSSH login through a lent agent is tested on lab hosts in
 * test/hosts/db-copy.test.ts. What is checked here: the OpenSSH options, the statuses of each
 * part, that the end of input from ops stops the whole pull (on both ends), and the edits of
 * authorized_keys that authorize and remove a pull key, run with sh and awk on a temporary HOME.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EDIT_AUTHORIZED_KEYS, failedPart, PullStderr, pullLine, pullScript, restrictedKeyLine, stoppedWithInput, type PullSource } from '../../src/db/direct.js';

const dir = mkdtempSync(join(tmpdir(), 'ops-pull-'));
const bin = join(dir, 'bin');
const log = join(dir, 'ssh.log');
const stub = `#!/bin/bash
# stand-in for OpenSSH: log the arguments and the known_hosts file, run the last argument here
printf '%s\\n' "$@" > ${log}
echo "known_hosts=$OPS_PULL_KNOWN_HOSTS" >> ${log}
cat "$OPS_PULL_KNOWN_HOSTS" >> ${log}
exec sh -c "\${@: -1}"
`;
mkdirSync(bin);
writeFileSync(join(bin, 'ssh'), stub);
chmodSync(join(bin, 'ssh'), 0o755);

const source: PullSource = {
  name: 'production-2',
  address: '10.0.0.5',
  port: 2222,
  user: 'deploy',
  hostKeys: [{ type: 'ssh-ed25519', blob: Buffer.from('pinned-key-bytes'), file: 'known_hosts', line: 1 }],
};

function runScript(script: string, opts: { closeStdinAfterMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    // as sshd runs it: the login shell gets the command line
    const child = spawn('sh', ['-c', pullLine(script)], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    if (opts.closeStdinAfterMs !== undefined) setTimeout(() => child.stdin.end(), opts.closeStdinAfterMs);
    child.on('close', (code) => {
      if (opts.closeStdinAfterMs === undefined) child.stdin.end();
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe('the --direct pull script', () => {
  it('gives ssh only the pinned key, under an alias, no config files, no other keys; a clean run reports 0 for every part', async () => {
    const out = join(dir, 'out-1');
    const r = await runScript(pullScript(source, "printf 'dump bytes'", `cat > ${out}`));
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe('dump bytes');
    expect(r.stderr).toMatch(/^ops-pull-status 0 0$/m);
    const args = readFileSync(log, 'utf8').split('\n');
    for (const a of ['-F', '/dev/null', 'BatchMode=yes', 'IdentityFile=none', 'StrictHostKeyChecking=yes', 'UserKnownHostsFile=${OPS_PULL_KNOWN_HOSTS}', 'HostKeyAlias=ops-source', 'GlobalKnownHostsFile=/dev/null', '2222', 'deploy', '10.0.0.5']) {
      expect(args, a).toContain(a);
    }
    expect(args).toContain(`ops-source ssh-ed25519 ${Buffer.from('pinned-key-bytes').toString('base64')}`);
    const file = args.find((l) => l.startsWith('known_hosts='))?.slice('known_hosts='.length) ?? '';
    expect(file).not.toBe('');
    expect(existsSync(file)).toBe(false); // removed at the end
  });

  it('names the part that failed: the remote side (ssh) and the local side each have their status', async () => {
    const remote = await runScript(pullScript(source, 'exit 3', 'cat > /dev/null'));
    expect(remote.code).toBe(1);
    expect(remote.stderr).toMatch(/^ops-pull-status 3 0$/m);
    const local = await runScript(pullScript(source, 'echo data', '{ cat > /dev/null; exit 4; }'));
    expect(local.code).toBe(1);
    expect(local.stderr).toMatch(/^ops-pull-status 0 4$/m);
  });

  it("tells ssh's words apart from the local end's, even when both write at once", async () => {
    // the local end writes one message in two pieces (as pg_restore does) with ssh's failure between them
    const r = await runScript(
      pullScript(source, 'sleep 0.1; echo "Host key verification failed." >&2; exit 255', "{ printf 'pg_restore:' >&2; sleep 0.4; cat > /dev/null; printf ' error: input file is too short\\n' >&2; exit 1; }"),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('pg_restore: error: input file is too short\n');
    const err = new PullStderr();
    const left = r.stderr.split(/[\r\n]/).filter((l) => l !== '' && !err.see(l));
    expect(err.statuses).toEqual([255, 1]);
    expect(err.sshLine).toBe('Host key verification failed.');
    expect(failedPart(err.statuses)).toBe('ssh');
    expect(left).toEqual(['pg_restore: error: input file is too short', 'Host key verification failed.']);
    // and with dd's progress counted, dd's own lines stay out
    const counted: number[] = [];
    const dd = new PullStderr((n) => counted.push(n));
    expect(['0+1 records in', '0+1 records out', '12 bytes copied, 0.001 s, 12 kB/s'].filter((l) => !dd.see(l))).toEqual([]);
    expect(counted).toEqual([12]);
  });

  it('stops the whole pull when its input from ops ends (ops stopped or the connection died)', async () => {
    const pidFile = join(dir, 'remote.pid');
    const r = await runScript(pullScript(source, `echo $$ > ${pidFile}; exec sleep 30`, 'cat > /dev/null'), { closeStdinAfterMs: 500 });
    expect(r.ms).toBeLessThan(5000);
    expect(r.code).not.toBe(0);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });

  it('the remote side stops too when its input ends (what the source runs for a pull)', async () => {
    const pidFile = join(dir, 'source.pid');
    // the source command, with its input from a pipe that ops's end closes
    const child = spawn('sh', ['-c', stoppedWithInput(`sh -c 'echo $$ > ${pidFile}; exec sleep 30'`)], { stdio: ['pipe', 'ignore', 'ignore'] });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await new Promise((r) => setTimeout(r, 400));
    child.stdin.end();
    const started = Date.now();
    await exited;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(() => process.kill(Number(readFileSync(pidFile, 'utf8')), 0)).toThrow(/ESRCH/);
    // and passes the command's status on when it ends by itself
    const ok = spawn('sh', ['-c', stoppedWithInput('exit 5')], { stdio: ['pipe', 'ignore', 'ignore'] });
    expect(await new Promise((resolve) => ok.on('close', resolve))).toBe(5);
  });

  it('refuses to build a pull without a pinned host key', () => {
    expect(() => pullScript({ ...source, hostKeys: [] }, 'true', 'cat')).toThrow(/no pinned host key for production-2/);
  });

  it('names the failing part from the statuses (a local end that fails first leaves a closed pipe behind it)', () => {
    expect(failedPart([255, 0, 1])).toBe('ssh'); // refused, or the connection lost: the restore saw a cut stream
    expect(failedPart([255, 0])).toBe('ssh');
    expect(failedPart([137, 0, 1])).toBe('remote');
    expect(failedPart([255, 141, 1])).toBe('local');
    expect(failedPart([141, 141, 1])).toBe('local');
    expect(failedPart([0, 0, 1])).toBe('local');
    expect(failedPart([0, 0, 0])).toBe('unknown');
    expect(failedPart(undefined)).toBe('unknown');
  });
});

describe('pull keys in authorized_keys', () => {
  const home = () => {
    const h = mkdtempSync(join(dir, 'home-'));
    mkdirSync(join(h, '.ssh'));
    return h;
  };
  const edit = (h: string, drop: string, add: string) => execFileSync('sh', ['-c', EDIT_AUTHORIZED_KEYS, 'sh', drop], { env: { ...process.env, HOME: h }, input: add }).toString();
  const now = Math.floor(Date.now() / 1000);

  it('adds a restricted line, keeps every other line, removes exactly the named pull key and stale ones', () => {
    const h = home();
    const file = join(h, '.ssh/authorized_keys');
    const mine = 'ssh-ed25519 AAAAmine alice@laptop';
    const stale = `restrict,command="x" ssh-ed25519 AAAAold ops-pull-0a0b0c0d0e0f-${now - 7200}`;
    const other = `restrict,command="y" ssh-ed25519 AAAAother ops-pull-111111111111-${now - 60}`;
    writeFileSync(file, `${mine}\n${stale}\n${other}\n`);
    const line = restrictedKeyLine(`bash -c 'echo "hi"'`, `ssh-ed25519 AAAAnew ops-pull-222222222222-${now}`);
    expect(line).toBe(`restrict,command="bash -c 'echo \\"hi\\"'" ssh-ed25519 AAAAnew ops-pull-222222222222-${now}`);
    edit(h, '', `${line}\n`);
    expect(readFileSync(file, 'utf8')).toBe(`${mine}\n${other}\n${line}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    edit(h, `ops-pull-222222222222-${now}`, '');
    expect(readFileSync(file, 'utf8')).toBe(`${mine}\n${other}\n`);
  });

  it('makes ~/.ssh/authorized_keys when there is none, and refuses to edit a symbolic link', () => {
    const h = mkdtempSync(join(dir, 'home-'));
    edit(h, '', 'restrict ssh-ed25519 AAAA ops-pull-333333333333-1\n');
    expect(readFileSync(join(h, '.ssh/authorized_keys'), 'utf8')).toBe('restrict ssh-ed25519 AAAA ops-pull-333333333333-1\n');
    const l = home();
    writeFileSync(join(l, 'real'), 'ssh-ed25519 AAAAkeep\n');
    symlinkSync(join(l, 'real'), join(l, '.ssh/authorized_keys'));
    expect(() => edit(l, '', 'x\n')).toThrow();
    expect(readFileSync(join(l, 'real'), 'utf8')).toBe('ssh-ed25519 AAAAkeep\n');
  });

  it('keeps a forced command on one line', () => {
    expect(() => restrictedKeyLine('a\nb', 'ssh-ed25519 AAAA c')).toThrow(/one line/);
  });
});
