/**
 * `ops deploy` on the operator's machine: validates the pillar, brings the master's ops bundle
 * up to date, sends it the repo snapshot and has it converge the environment; the master's
 * events stream back and are shown here. The exit code is the master's.
 */
import { errorMessage, OperationError } from '../errors.js';
import type { LoadedPillar } from '../pillar/load.js';
import type { Repo } from '../repo.js';
import type { Connection } from '../ssh/connection.js';
import { DeployPrinter } from '../ui/deploy.js';
import type { Output } from '../ui/output.js';
import { masterCommand } from './master-conn.js';
import { snapshot } from './snapshot.js';

export interface DeployOptions {
  dryRun: boolean;
  only?: string;
  verbose?: boolean;
  branch?: string;
  release?: boolean;
  waitLock?: number;
  forceUnlock?: boolean;
  by?: string;
}

/** The master's `__converge` arguments for these options. */
export function convergeArgs(env: string, o: DeployOptions): string[] {
  const a = ['--json', '__converge', env];
  if (o.dryRun) a.push('--dry-run');
  if (o.only) a.push('--only', o.only);
  if (o.branch) a.push('--branch', o.branch);
  if (o.release === false) a.push('--no-release');
  if (o.waitLock !== undefined) a.push('--wait-lock', String(o.waitLock));
  if (o.forceUnlock) a.push('--force-unlock');
  if (o.by) a.push('--by', o.by);
  return a;
}

export async function deployThroughMaster(out: Output, repo: Repo, pillar: LoadedPillar, master: Connection, opts: DeployOptions): Promise<number> {
  const command = masterCommand(master, convergeArgs(pillar.env, opts));
  const printer = new DeployPrinter(out, opts.verbose);
  let buf = '';
  let err = '';
  const onLine = (line: string) => {
    if (!line.trim()) return;
    try {
      printer.handle(JSON.parse(line) as Record<string, unknown>);
    } catch {
      out.info(`${master.target.name} | ${line}`);
    }
  };
  let result;
  try {
    result = await master.exec(command, {
      stdin: snapshot(repo),
      onStdout: (b) => {
        buf += b.toString('utf8');
        const lines = buf.split('\n');
        buf = lines.pop() ?? '';
        lines.forEach(onLine);
      },
      onStderr: (b) => (err += b.toString('utf8')),
    });
  } catch (e) {
    throw new OperationError(`lost the master during the deploy: ${errorMessage(e)}`, 'run the deploy again; converging is idempotent');
  }
  onLine(buf);
  printer.summary(opts.dryRun);
  // The master's own error (bad pillar, a secret that does not decrypt) is one line on its stderr.
  for (const l of err.split('\n').filter((x) => x.trim())) out.info(`${master.target.name} | ${l}`);
  return result.code ?? 1;
}
