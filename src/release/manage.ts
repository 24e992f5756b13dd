/**
 * The app's management command (`manage_command` in pillar; Django: `python manage.py`) as one
 * shell line for a web host: run as the app user, in the current release (or the one given), with
 * the environment file the app server reads. Used by manage-run, manage-shell, releases
 * (migrations, collectstatic) and database operations alike.
 */
import { shellLine } from '../ssh/quote.js';
import { appPaths, appUser, pythonOf, WITH_ENV } from '../roles/app.js';

export interface ManageTarget {
  project: string;
  manageCommand: string;
}

/**
 * `python` at the start of the management command means the release's Python: its virtualenv
 * when it has one, else the system's python3 (Debian has no `python`).
 */
function commandIn(release: string, manageCommand: string): string {
  const m = /^python3?(\s|$)/.exec(manageCommand);
  return m ? `${pythonOf(release)}${manageCommand.slice(m[0].length - m[1]!.length)}` : manageCommand;
}

/**
 * The line to run as root on a web host; `args` are quoted by ops (never a secret). An empty
 * management command (apps other than Django, by default) makes the arguments the command.
 */
export function manageLine(t: ManageTarget, args: readonly string[], release?: string): string {
  const dir = release ?? appPaths(t).current;
  return appShellLine(t, commandIn(dir, [t.manageCommand, args.length > 0 ? shellLine(args) : ''].filter(Boolean).join(' ')), dir);
}

/**
 * A shell line of the project's (a hook, a management command) run as root on an app host: in
 * `dir` (default: the current release), as the app user, with the app's environment, through
 * `sh -c` — the line is one word of that command, whatever it holds.
 */
export function appShellLine(t: { project: string }, line: string, dir?: string): string {
  const p = appPaths(t);
  return `cd ${shellLine([dir ?? p.current])} && exec ${shellLine(['runuser', '-u', appUser(t), '--', WITH_ENV, p.envFile, 'sh', '-c', line])}`;
}
