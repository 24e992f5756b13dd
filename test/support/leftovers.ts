/** What a lab instance leaves on this machine, looked up by its id: namespaces, links, mounts, processes, folders, cgroups. */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

export function sh(cmd: string, args: string[], timeout = 300_000): Promise<Out> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 255) : 0;
      resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
    });
  });
}

/** Live (non-zombie) processes whose command line mentions the instance id. */
export function instanceProcesses(instance: string): string[] {
  const found: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(instance)) found.push(`${p}: ${cmd}`);
    } catch {
      // ended meanwhile
    }
  }
  return found;
}

export async function leftovers(instance: string): Promise<string[]> {
  const left: string[] = [];
  const ns = await sh('ip', ['netns', 'list']);
  left.push(...ns.stdout.split('\n').filter((l) => l.includes(instance)).map((l) => `netns ${l}`));
  const links = await sh('ip', ['-o', 'link', 'show']);
  left.push(...links.stdout.split('\n').filter((l) => l.includes(instance)).map((l) => `link ${l.split(':')[1]?.trim()}`));
  const mounts = readFileSync('/proc/mounts', 'utf8');
  left.push(...mounts.split('\n').filter((l) => l.includes(`/ops-lab/${instance}`)).map((l) => `mount ${l}`));
  left.push(...instanceProcesses(instance).map((p) => `process ${p}`));
  if (existsSync(`/var/lib/ops-lab/${instance}`)) left.push(`folder /var/lib/ops-lab/${instance}`);
  try {
    left.push(...readdirSync('/run/systemd/nspawn/propagate').filter((d) => d.includes(instance)).map((d) => `nspawn ${d}`));
  } catch {
    // no nspawn runtime folder
  }
  for (const h of ['/sys/fs/cgroup/unified/ops-lab', '/sys/fs/cgroup/systemd/ops-lab', '/sys/fs/cgroup/ops-lab']) {
    try {
      left.push(...readdirSync(h).filter((d) => d.includes(instance)).map((d) => `cgroup ${h}/${d}`));
    } catch {
      // hierarchy not there
    }
  }
  return left;
}
