/** `ops init [DIR]`: an ops repo for an existing app, written beside its code. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { runLocal } from '../../util/proc.js';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { BRANCH_RE, GIT_URL_RE, ONE_LINE_RE, printable, PROJECT_NAME_RE, RESERVED_ACCOUNTS, SSH_PUBLIC_KEY_RE, UNIX_NAME_RE } from '../../pillar/forms.js';
import { localUser } from '../../core/targets.js';
import { DEFAULT_KEY_NAMES } from '../../ssh/identities.js';
import { detectApp, projectName } from '../../init/detect.js';
import { devsYml, labYml, opsSettingsModule, projectYml, settingsOpsPy, stagingYml, type InitAnswers } from '../../init/files.js';
import { checkLoads, checkWritable, writeAll } from '../../init/write.js';
import { isInteractive, readLine } from '../../ui/prompt.js';
import type { Handler } from '../command.js';

/** The user's SSH public key, found as ssh finds the private one (~/.ssh/id_ed25519, …). */
function ownPublicKey(): { key: string; from: string } | undefined {
  for (const n of DEFAULT_KEY_NAMES) {
    const file = join(homedir(), '.ssh', `${n}.pub`);
    if (!existsSync(file)) continue;
    const key = readFileSync(file, 'utf8').split('\n')[0]?.trim() ?? '';
    if (SSH_PUBLIC_KEY_RE.test(key)) return { key, from: file.replace(homedir(), '~') };
  }
  return undefined;
}

/** origin's URL and the checked-out branch, as git reads them (its config syntax, its comments). */
async function gitFacts(dir: string): Promise<{ url?: string; branch?: string; notes: string[] }> {
  const facts: { url?: string; branch?: string; notes: string[] } = { notes: [] };
  if (!existsSync(join(dir, '.git'))) return facts;
  // reading config and HEAD runs no hook; a stuck repository gives up after 5 s; a failure is no fact
  const git = (args: string[]) =>
    runLocal('git', ['-C', dir, ...args], { timeoutMs: 5000 }).then(
      (r) => (r.code === 0 ? r.stdout.trim() : ''),
      () => '',
    );
  const branch = await git(['symbolic-ref', '--quiet', '--short', 'HEAD']);
  if (branch && BRANCH_RE.test(branch)) facts.branch = branch;
  else if (branch) facts.notes.push(`the checked-out branch '${printable(branch)}' is not one ops deploys by name: repo.branch is main`);
  const url = await git(['config', '--get', 'remote.origin.url']);
  if (url && GIT_URL_RE.test(url)) facts.url = url;
  else if (url) facts.notes.push(`origin's URL '${printable(url)}' is not one the servers can fetch as it is: repo.url is left as a comment`);
  return facts;
}

export const init: Handler = async (ctx, args, opts) => {
  const dir = resolve(args[0] ?? '.');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a folder`);
  const d = detectApp(dir);
  const name = opts.name !== undefined ? String(opts.name) : projectName(d.suggestedName);
  if (!name || !PROJECT_NAME_RE.test(name) || RESERVED_ACCOUNTS.includes(name)) {
    throw new UsageError(
      opts.name !== undefined ? `--name '${printable(String(opts.name))}': a project name starts with a lower-case letter and uses only a-z, 0-9 and _ (at most 31), and is not a system account` : `cannot make a project name from '${printable(d.suggestedName)}'`,
      'pass --name NAME',
    );
  }
  let startCommand = opts.startCommand === undefined ? undefined : String(opts.startCommand);
  if (!d.django && !d.procfile && startCommand === undefined) {
    if (!isInteractive()) throw new UsageError(`${dir} has no manage.py and no Procfile: ops needs the command that starts the app`, 'pass --start-command "CMD" (it must listen on $PORT)');
    startCommand = (await readLine('No Django project or Procfile here. The command that starts the app (it must listen on $PORT): ')).trim();
  }
  if (startCommand !== undefined && (startCommand === '' || !ONE_LINE_RE.test(startCommand))) throw new UsageError('--start-command takes one non-empty line');
  if (startCommand !== undefined && (d.django || d.procfile)) throw new UsageError(`--start-command is for an app without manage.py or a Procfile; this one has ${d.procfile ? 'a Procfile' : 'manage.py'}`);

  const git = await gitFacts(dir);
  const user = opts.user !== undefined ? String(opts.user) : localUser();
  const key = ownPublicKey();
  const adminOk = UNIX_NAME_RE.test(user) && !RESERVED_ACCOUNTS.includes(user);
  if (opts.user !== undefined && !adminOk) throw new UsageError(`--user '${printable(user)}': a Unix user name that is not a system account (root, www-data, …)`);
  const answers: InitAnswers = { project: name, startCommand, repoUrl: git.url, branch: git.branch ?? 'main', admin: key && adminOk ? { user, ...key } : undefined };

  const settingsModule = opsSettingsModule(d);
  const files: [string, string][] = [
    ['pillar/project.yml', projectYml(d, answers)],
    ['pillar/devs.yml', devsYml(answers)],
    ['pillar/staging.yml', stagingYml(answers)],
    ['pillar/lab.yml', labYml(answers)],
    ['.ops/.gitignore', '# ops keeps local state here (lab inventory and keys, pins, kept dumps): never committed\n*\n'],
  ];
  if (settingsModule) files.push([`${settingsModule.split('.').join('/')}.py`, settingsOpsPy(d)]);
  checkWritable(dir, files.map(([f]) => f), 'ops init');
  checkLoads(files, ['staging', 'lab']);
  writeAll(dir, files);
  for (const n of git.notes) ctx.out.info(`  note: ${n}`);

  const shown = relative(process.cwd(), dir) || '.';
  const what = d.django
    ? `a Django project: settings ${d.django.settings}, WSGI ${d.django.wsgi}${d.requirements ? `, ${d.requirements}` : ''}${d.django.celery ? `, Celery app ${d.django.celery}` : ''}${d.procfile ? `, Procfile (${d.procfile.join(', ')})` : ''}`
    : d.procfile
      ? `a Procfile (${d.procfile.join(', ')})`
      : `an app started by: ${printable(startCommand ?? '')}`;
  ctx.out.info(`found ${what}`);
  for (const [f] of files) ctx.out.info(`  wrote ${join(shown, f)}`);
  if (settingsModule) ctx.out.info(`  ${d.django?.settingsFile} does not read the environment: ${settingsModule} takes it from ops's environment file (commit it with the app)`);
  if (!answers.admin) ctx.out.info(`  no admin in pillar/devs.yml: ${key ? `'${user}' cannot be one (a system account): pass --user NAME` : 'no ~/.ssh/id_*.pub found'}`);
  if (!git.url) ctx.out.info('  repo.url is a comment in pillar/project.yml: set it to where the servers fetch the app');
  const next = [
    `ops setup-master staging -H MASTER_ADDRESS`,
    `ops setup-minion staging web,balancer,db -H SERVER_ADDRESS`,
    `ops encrypt staging SECRET_KEY --generate 64 --write && ops encrypt staging DB_PASSWORD --generate 40 --write && ops deploy staging`,
  ];
  ctx.out.result(['', 'next:', ...next.map((n) => `  ${n}`), '(or try it first on lab hosts on this machine: ops lab up — see README, "The lab")'].join('\n'), 'init', {
    dir,
    kind: d.django ? 'django' : d.procfile ? 'procfile' : 'command',
    files: files.map(([f]) => f),
    next,
  });
};

