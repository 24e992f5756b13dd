/** `ops run` and `ops ssh`: ad-hoc commands and interactive shells on the environment's hosts. */
import type { Command } from 'commander';
import { action, examples, notImplemented } from './command.js';

export function registerRemoteCommands(program: Command): void {
  examples(
    program
      .command('run')
      .summary('run a shell command line on hosts of an environment, in parallel')
      .description(
        'Runs the words after -- through each host\'s login shell as one command line (as ssh does), on every matching host in parallel. With one host, ops exits with the remote status.',
      )
      .argument('[env]', 'environment')
      .argument('[words...]', 'the command line (after --)')
      .option('--role <role>', 'only hosts with this role')
      .option('--host <name|address>', 'only this host')
      .option('--sudo', 'run as root through sudo')
      .option('--parallel <n>', 'hosts at once')
      .action(action(notImplemented('run'))),
    ['ops run lab -- hostname', "ops run staging --role web -- 'ls /var/www | wc -l'", 'ops run production --host web1 --sudo -- systemctl status nginx'],
  );
  examples(
    program
      .command('ssh')
      .summary('open an interactive shell on a host (by name, address or role)')
      .argument('[env]', 'environment')
      .argument('[target]', 'host name, address or role')
      .action(action(notImplemented('ssh'))),
    ['ops ssh lab lab-1', 'ops ssh staging web'],
  );
}
