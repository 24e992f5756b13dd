/** Booting a host with real systemd (systemd-nspawn), waiting for its sshd, and shutting it down. */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { OperationError } from '../errors.js';
import { createMachineCgroups, killMachineCgroup, machineProcesses, removeMachineCgroups } from './cgroups.js';
import { toolEnv } from './exec.js';
import { argValue, cmdline, findProcesses, isAlive, signal, sleep, waitGone } from './processes.js';

export interface MachineSpec {
  machine: string;
  root: string;
  netns: string;
  log: string;
}

export function nspawnArgs(m: MachineSpec): string[] {
  return [
    '-D',
    m.root,
    '-b',
    '--register=no',
    '--keep-unit',
    '--console=passive',
    '--link-journal=no',
    '--resolv-conf=off',
    '--timezone=off',
    `--network-namespace-path=/run/netns/${m.netns}`,
    // The host owns its network namespace, as a real server does: let it manage its firewall.
    '--capability=CAP_NET_ADMIN',
    '-M',
    m.machine,
  ];
}

function isNspawn(argv: readonly string[]): boolean {
  const a0 = argv[0] ?? '';
  return a0 === 'systemd-nspawn' || a0.endsWith('/systemd-nspawn');
}

/** nspawn processes of a machine. */
export function nspawnPids(machine: string): number[] {
  return findProcesses((argv) => isNspawn(argv) && argValue(argv, '-M', '--machine') === machine).map((p) => p.pid);
}

/** Whether `pid` is the nspawn process of `machine` (guards against a recycled pid). */
export function isMachinePid(pid: number | undefined, machine: string): boolean {
  if (pid === undefined || !isAlive(pid)) return false;
  const argv = cmdline(pid);
  return isNspawn(argv) && argValue(argv, '-M', '--machine') === machine;
}

// Joins the cgroups given first (count, then cgroup.procs files), then becomes the command that follows.
// Values travel as arguments, never inside the script text.
const JOIN_CGROUPS_AND_EXEC =
  'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 97; shift; n=$((n-1)); done; exec "$@"';

/** Starts the machine detached (own session, output to its log file); returns the nspawn pid. */
export async function startMachine(m: MachineSpec): Promise<number> {
  const procsFiles = createMachineCgroups(m.machine);
  const out = openSync(m.log, 'a');
  try {
    const child = spawn(
      '/bin/sh',
      ['-c', JOIN_CGROUPS_AND_EXEC, 'sh', String(procsFiles.length), ...procsFiles, 'systemd-nspawn', ...nspawnArgs(m)],
      { detached: true, cwd: '/', stdio: ['ignore', out, out], env: toolEnv() },
    );
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (e) => reject(new OperationError(`cannot start systemd-nspawn for ${m.machine}: ${e.message}`)));
      child.once('spawn', () => resolve(child.pid ?? -1));
    });
    child.unref();
    // the wrapper shell becomes nspawn once it has joined the cgroups
    const deadline = Date.now() + 10_000;
    while (!isMachinePid(pid, m.machine)) {
      if (!isAlive(pid) || Date.now() > deadline) {
        const tail = logTail(m.log);
        throw new OperationError(`systemd-nspawn for ${m.machine} did not start (log: ${m.log})${tail ? `\n${tail}` : ''}`);
      }
      await sleep(20);
    }
    return pid;
  } finally {
    closeSync(out);
  }
}

/** Reads the first bytes sshd sends; true when they are an SSH-2.0 banner. */
export function sshBanner(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let buf = '';
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve(ok);
    };
    const sock = connect({ host: address, port });
    sock.setTimeout(timeoutMs, () => finish(false));
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (buf.includes('SSH-2.0') || buf.includes('SSH-1.99')) finish(true);
      else if (buf.length > 1024 || buf.includes('\n')) finish(false);
    });
    sock.on('error', () => finish(false));
    sock.on('close', () => finish(false));
  });
}

export function logTail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Waits for sshd's banner on address:22 while the nspawn process lives. */
export async function waitForSsh(name: string, address: string, pid: number, machine: string, log: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await sshBanner(address, 22, 1500)) return;
    if (!isMachinePid(pid, machine)) {
      const tail = logTail(log);
      throw new OperationError(`lab host ${name} stopped while booting (log: ${log})${tail ? `\n${tail}` : ''}`);
    }
    if (Date.now() > deadline) {
      throw new OperationError(
        `lab host ${name} (${address}) did not answer on ssh port 22 within ${Math.round(timeoutMs / 1000)} s (log: ${log})`,
      );
    }
    await sleep(200);
  }
}

/**
 * Stops a machine: SIGTERM to nspawn (it asks the container's systemd for an orderly shutdown), then kills
 * whatever is left of the machine's processes after `graceMs`. Also ends orphans whose nspawn is gone.
 */
export async function stopMachine(machine: string, recordedPid: number | undefined, graceMs = 20_000): Promise<void> {
  const nspawn = new Set(nspawnPids(machine));
  if (recordedPid !== undefined && isMachinePid(recordedPid, machine)) nspawn.add(recordedPid);
  for (const pid of nspawn) signal(pid, 'SIGTERM');
  const all = (): number[] => [...new Set([...nspawn, ...machineProcesses(machine)])];
  let left = nspawn.size > 0 ? await waitGone(all(), graceMs) : all();
  if (left.length > 0) {
    killMachineCgroup(machine);
    for (const pid of nspawn) signal(pid, 'SIGKILL');
    left = await waitGone(all(), 10_000);
  }
  if (left.length > 0) {
    throw new OperationError(`processes of lab machine ${machine} do not end: ${left.join(', ')}`);
  }
  removeMachineCgroups(machine);
}
