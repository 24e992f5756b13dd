/**
 * `ops lab serve-repo`: serves an app's git repository from the lab environment's master over
 * SSH, as a git host would — user `git` with git-shell, the environment's deploy key authorized
 * read-only — and points the lab's `repo.url` at it (in the git-ignored overlay). Re-run it after
 * changing the app to publish a new commit; an unchanged folder gives the same commit.
 */
import { runLocalBytesOk, runLocalOk } from '../../util/proc.js';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { Context } from '../context.js';
import { masterOf } from '../../converge/master-conn.js';
import { UsageError, OperationError } from '../../errors.js';
import { writeFileAtomic } from '../../fsutil.js';
import { loadPillar } from '../../pillar/load.js';
import { captureExec, renderCommand } from '../../ssh/command.js';
import { openSession } from './ssh.js';
import { selectTargets } from '../../core/targets.js';
import { shellLine } from '../../ssh/quote.js';
import { envPillarPath } from '../../lab/inventory.js';

const FIXED_DATE = '2026-01-01T00:00:00Z';

function git(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return runLocalOk('git', args, { cwd, env: { ...process.env, ...env } });
}

/** A bare repository of `dir`: cloned when it is a git work tree, else one commit of its files. */
async function bareRepoOf(dir: string, branch: string, tmp: string): Promise<string> {
  const bare = join(tmp, 'repo.git');
  if (existsSync(join(dir, '.git'))) {
    await git(['clone', '--quiet', '--bare', '--', dir, bare], tmp);
    return bare;
  }
  const work = join(tmp, 'work');
  await runLocalOk('cp', ['-a', '--', `${dir}/.`, work]);
  const who = { GIT_AUTHOR_NAME: 'ops lab', GIT_AUTHOR_EMAIL: 'lab@ops.invalid', GIT_COMMITTER_NAME: 'ops lab', GIT_COMMITTER_EMAIL: 'lab@ops.invalid', GIT_AUTHOR_DATE: FIXED_DATE, GIT_COMMITTER_DATE: FIXED_DATE };
  await git(['init', '--quiet', '-b', branch], work);
  await git(['add', '-A'], work);
  await git(['commit', '--quiet', '--no-gpg-sign', '-m', `${basename(dir)} as served by ops lab`], work, who);
  await git(['clone', '--quiet', '--bare', '--', work, bare], tmp);
  return bare;
}

function deployPublicKey(ctx: Context, env: string): string {
  for (const dir of [join(ctx.repo.overlayDir, 'keys'), join(ctx.repo.pillarDir, 'keys')]) {
    const f = join(dir, `${env}.deploy.pub`);
    if (existsSync(f)) return readFileSync(f, 'utf8').trim();
  }
  throw new UsageError(`environment '${env}' has no deploy key`, `make one with \`ops deploy-key ${env} --write\``);
}

export async function serveRepo(ctx: Context, env: string, dirArg: string, opts: Record<string, unknown>): Promise<void> {
  const dir = resolve(dirArg);
  if (!existsSync(dir)) throw new UsageError(`no folder ${dirArg}`);
  const pillar = loadPillar(ctx.repo, env);
  if (pillar.data.lab !== true) throw new UsageError(`'${env}' is not a lab environment`, 'serve-repo only changes lab environments (ops lab up --env …)');
  const name = String(opts.name ?? basename(dir)).replace(/[^A-Za-z0-9._-]/g, '-');
  const branch = pillar.data.branch ?? pillar.data.repo.branch;
  const pub = deployPublicKey(ctx, env);
  const tmp = mkdtempSync(join(tmpdir(), 'ops-serve-'));
  try {
    const bare = await bareRepoOf(dir, branch, tmp);
    const commit = (await git(['rev-parse', `refs/heads/${branch}`], bare)).trim();
    const archive = await runLocalBytesOk('tar', ['-c', '-C', tmp, 'repo.git'], { maxBytes: 1 << 30 });
    const [target] = selectTargets(pillar, { host: masterOf(pillar), user: opts.user as string | undefined });
    if (!target) throw new UsageError(`no master in '${env}'`);
    const session = openSession(ctx, pillar, opts);
    try {
      const conn = await session.connect(target);
      const repoPath = `/srv/git/${name}.git`;
      const script = [
        'set -e',
        'command -v git >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git >/dev/null; }',
        'id git >/dev/null 2>&1 || useradd --system --home-dir /srv/git --create-home --shell /usr/bin/git-shell git',
        'install -d -o git -g git -m 0700 /srv/git/.ssh',
        `printf '%s\\n' ${shellLine([`restrict ${pub}`])} > /srv/git/.ssh/authorized_keys`,
        'chown git:git /srv/git/.ssh/authorized_keys && chmod 0600 /srv/git/.ssh/authorized_keys',
        `t=$(mktemp -d) && tar -x -C "$t" && rm -rf ${shellLine([repoPath])} && mv "$t/repo.git" ${shellLine([repoPath])} && rmdir "$t"`,
        `chown -R git:git ${shellLine([repoPath])}`,
      ].join('\n');
      const r = await captureExec(conn, renderCommand({ line: script }, { sudo: true }, { loginUser: conn.user }), archive);
      if (r.code !== 0) throw new OperationError(`${target.name}: serving the repository failed: ${r.err.trim().split('\n').slice(-3).join(' ')}`);
      const url = `ssh://git@${target.address}${repoPath}`;
      const path = envPillarPath(ctx.repo, env);
      const doc = parseDocument(readFileSync(path, 'utf8'));
      doc.setIn(['repo', 'url'], url);
      writeFileAtomic(path, doc.toString({ lineWidth: 0 }), 0o600);
      ctx.out.info(`${target.name} serves ${dirArg} at ${url} (branch ${branch}, commit ${commit.slice(0, 12)})`);
      ctx.out.result(url, 'repo_served', { env, host: target.name, url, branch, commit });
    } finally {
      await session.closeAll();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
