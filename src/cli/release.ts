/** App releases and remote management commands. */
import type { Command } from 'commander';
import { action, examples, lazy } from './command.js';
import { addConnectionOptions } from './remote.js';

const actions = () => import('./actions/release.js');

export function registerReleaseCommands(program: Command): void {
  examples(
    addConnectionOptions(
      program
        .command('releases')
        .summary('list the app releases of an environment (commit, time, who, migrations)')
        .description("Lists the releases the environment's master made, oldest first, with the commit, when and by whom, how each ended and the migrations it applied; the live one is marked. --json prints the history as one JSON document.")
        .argument('[env]', 'environment'),
    ).action(action(lazy(actions, 'releases'))),
    ['ops releases staging', 'ops --json releases production'],
  );
  examples(
    addConnectionOptions(
      program
        .command('rollback')
        .summary('switch back to the previous (or a chosen) release')
        .description(
          'Switches every web and worker host back to the release before the current one (or --to, a release id or its prefix that all of them still hold), reloads gracefully and checks health. When the target predates migrations that later releases applied, they are named and you are asked (or pass --yes); without a terminal it refuses unless --yes.',
        )
        .argument('[env]', 'environment')
        .option('--to <release>', 'release id (or a unique prefix) to switch to')
        .option('-y, --yes', 'do not ask, even when migrations were applied after the target'),
    ).action(action(lazy(actions, 'rollback'))),
    ['ops rollback staging', 'ops rollback production --to 20261122-101500', 'ops rollback staging --yes'],
  );
  examples(
    addConnectionOptions(
      program
        .command('manage-run')
        .summary("run the app's management command on a web host; exits with its status")
        .description(
          "Runs manage_command (Django: python manage.py) with the arguments after -- on the first web host (or --host), as the app user, in the current release, with the environment file the app server reads. Output streams; ops exits with the command's own status. Standard input is passed on when it is not a terminal.",
        )
        .argument('[env]', 'environment')
        .argument('[args...]', 'arguments for the management command (after --)')
        .option('--host <host>', 'web host to run on (default: the first)'),
    ).action(action(lazy(actions, 'manageRun'))),
    ['ops manage-run staging -- migrate', 'ops manage-run production -- migrate --plan', 'ops manage-run staging -- createsuperuser --username ada'],
  );
  examples(
    addConnectionOptions(
      program
        .command('manage-shell')
        .summary('interactive management shell (Django: manage.py shell) on a web host')
        .description('Opens `manage.py shell` (or manage_command alone for other apps) in a terminal on the first web host (or --host), as the app user with the app environment; window size, Ctrl-C and the exit status pass through.')
        .argument('[env]', 'environment')
        .option('--host <host>', 'web host to run on (default: the first)'),
    ).action(action(lazy(actions, 'manageShell'))),
    ['ops manage-shell staging', 'ops manage-shell production --host prod-web-2'],
  );
}
