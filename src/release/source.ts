/**
 * The app's source, fetched once per deploy on the master (which holds the decrypted deploy key
 * in memory; it is written 0600, root only, for the one git call and removed) into a bare mirror,
 * then shipped to the app hosts as an archive — so app hosts never hold the deploy key or need to
 * reach the git host.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runLocalBytesOk } from '../util/proc.js';
import { quote } from '../ssh/quote.js';
import { PROCFILE } from './processes.js';

export interface AppSource {
  commit: string;
  archive: Buffer;
  /** The requirements file's content at that commit ('' when there is none). */
  requirements: string;
  /** The Procfile at that commit, when asked for (undefined when the commit has none). */
  procfile?: string;
}

/** git on the master: a fetch over a slow link may take long (30 minutes at most); an archive may be large. */
function git(args: string[], env: NodeJS.ProcessEnv): Promise<Buffer> {
  return runLocalBytesOk('git', args, { env, timeoutMs: 30 * 60_000, maxBytes: 512 * 1024 * 1024 });
}

export async function fetchSource(opts: {
  workDir: string;
  url: string;
  branch: string;
  deployKey?: string;
  knownHosts: string[];
  requirementsPath?: string;
  procfile?: boolean;
  /** This commit (40 hex digits) instead of the branch's head: fetched by its id. */
  commit?: string;
}): Promise<AppSource> {
  if (opts.commit !== undefined && !/^[0-9a-f]{40}$/.test(opts.commit)) throw new Error(`not a commit id: ${opts.commit}`);
  const mirror = join(opts.workDir, 'app.git');
  mkdirSync(opts.workDir, { recursive: true, mode: 0o700 });
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: opts.workDir, GIT_TERMINAL_PROMPT: '0' };
  if (!existsSync(mirror)) await git(['init', '--bare', '-q', mirror], env);
  const keyFile = join(opts.workDir, `.deploy-key-${randomBytes(6).toString('hex')}`);
  const ssh = ['ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${opts.knownHosts.filter(existsSync).join(' ') || '/dev/null'}`, '-o', 'GlobalKnownHostsFile=/dev/null'];
  if (opts.deployKey) {
    writeFileSync(keyFile, opts.deployKey.endsWith('\n') ? opts.deployKey : `${opts.deployKey}\n`, { mode: 0o600 });
    ssh.push('-o', 'IdentitiesOnly=yes', '-i', keyFile);
  }
  env.GIT_SSH_COMMAND = ssh.map(quote).join(' ');
  try {
    if (opts.commit === undefined) await git(fetchArgv(mirror, opts.url, opts.branch), env);
    else {
      // by its id where the git host serves one (GitHub's, GitLab's); else in the branch's whole history
      await git(fetchArgv(mirror, opts.url, opts.branch, { commit: opts.commit }), env).catch(() =>
        git(fetchArgv(mirror, opts.url, opts.branch, { history: existsSync(join(mirror, 'shallow')) ? 'unshallow' : 'whole' }), env),
      );
    }
  } finally {
    rmSync(keyFile, { force: true });
  }
  const commit = (await git(['--git-dir', mirror, 'rev-parse', `${opts.commit ?? `refs/heads/${opts.branch}`}^{commit}`], env)).toString().trim();
  const archive = await git(['--git-dir', mirror, 'archive', '--format=tar', commit], env);
  let requirements = '';
  if (opts.requirementsPath) {
    try {
      requirements = (await git(['--git-dir', mirror, 'show', `${commit}:${opts.requirementsPath}`], env)).toString('utf8');
    } catch {
      requirements = '';
    }
  }
  let procfile: string | undefined;
  if (opts.procfile) procfile = (await git(['--git-dir', mirror, 'show', `${commit}:${PROCFILE}`], env).catch(() => undefined))?.toString('utf8');
  return { commit, archive, requirements, procfile };
}

/** What a release is built from: a new release is made only when this changes. */
export function buildInputs(source: AppSource, settings: unknown): string {
  return createHash('sha256').update(source.commit).update('\0').update(source.requirements).update('\0').update(JSON.stringify(settings)).digest('hex').slice(0, 16);
}

/**
 * `git fetch` into the mirror: the branch's head, one commit by its id, or (`history`) the
 * branch's whole history — `unshallow` when the mirror holds a shallow one. The URL (data) after
 * `--`, never an option.
 */
export function fetchArgv(mirror: string, url: string, branch: string, what: { commit?: string; history?: 'whole' | 'unshallow' } = {}): string[] {
  const depth = what.history === undefined ? ['--depth', '1'] : what.history === 'unshallow' ? ['--unshallow'] : [];
  return ['--git-dir', mirror, 'fetch', '-q', ...depth, '--no-tags', '--', url, what.commit ?? `+refs/heads/${branch}:refs/heads/${branch}`];
}
