/** App releases and remote management commands. */
import type { Command } from 'commander';
import { action, examples, notImplemented } from './command.js';

export function registerReleaseCommands(program: Command): void {
  examples(
    program
      .command('releases')
      .summary('list the app releases on the web hosts (commit, time, who)')
      .argument('[env]', 'environment')
      .action(action(notImplemented('releases'))),
    ['ops releases staging'],
  );
  examples(
    program
      .command('rollback')
      .summary('switch back to the previous (or a chosen) release')
      .argument('[env]', 'environment')
      .option('--to <release>', 'release id to switch to')
      .option('-y, --yes', 'do not ask')
      .action(action(notImplemented('rollback'))),
    ['ops rollback staging', 'ops rollback production --to 20261122-101500'],
  );
  examples(
    program
      .command('manage-run')
      .summary("run the app's management command on a web host; exits with its status")
      .argument('[env]', 'environment')
      .argument('[args...]', 'arguments for the management command (after --)')
      .option('--host <host>', 'web host to run on (default: the first)')
      .action(action(notImplemented('manage-run'))),
    ['ops manage-run staging -- migrate', 'ops manage-run production -- migrate --plan'],
  );
  examples(
    program
      .command('manage-shell')
      .summary("interactive management shell (Django: manage.py shell) on a web host")
      .argument('[env]', 'environment')
      .option('--host <host>', 'web host to run on (default: the first)')
      .action(action(notImplemented('manage-shell'))),
    ['ops manage-shell staging'],
  );
}
