/** `ops run` and `ops ssh`: ad-hoc commands and interactive shells on the environment's hosts. */
import type { Command } from 'commander';
import { action, examples, lazy } from './command.js';

export const collect = (v: string, prev: string[] = []) => [...prev, v];

export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .option('-u, --user <user>', 'log in as this user (else OPS_USER, the server\'s user, your user name)')
    .option('-i, --identity <file>', 'private key file (repeatable; ssh-agent is used too)', collect)
    .option('--connect-timeout <seconds>', 'give up on a host that does not answer', '10')
    .option('--accept-new', 'pin the host key of hosts not seen before (never a changed one)');
}

export function registerRemoteCommands(program: Command): void {
  examples(
    addConnectionOptions(
      program
        .command('run')
        .summary('run a shell command line on hosts of an environment, in parallel')
        .description(
          "Runs the words after -- through each host's login shell as one command line (as ssh does), on every matching host in parallel. Output lines carry the host name; a summary follows. With one host, ops exits with the remote command's status; with several, 1 if any failed.",
        )
        .argument('[env]', 'environment')
        .argument('[words...]', 'the command line (after --)')
        .option('--role <role>', 'only hosts with this role')
        .option('--host <name|address>', 'only this host')
        .option('--sudo', 'run as root through sudo (a password, if needed, is asked once and sent on stdin)')
        .option('--parallel <n>', 'hosts at once', '32')
        .option('--no-prefix', 'do not prefix output lines with the host name'),
    ).action(action(lazy(() => import('./actions/ssh.js'), 'run'))),
    [
      'ops run lab -- hostname',
      "ops run staging --role web -- 'ls /var/www | wc -l'",
      'ops run production --host prod-web-1 --sudo -- systemctl status nginx',
      'ops run lab --accept-new -- true        # pin new lab hosts',
    ],
  );
  examples(
    addConnectionOptions(
      program
        .command('ssh')
        .summary('open an interactive shell on a host (by name, address or role)')
        .description('Opens a login shell with OpenSSH, using the pinned host keys of the repo (pillar/known_hosts) and jumping through the master when the pillar says so. Extra words after -- run as a command instead.')
        .argument('[env]', 'environment')
        .argument('[target]', 'host name, address or role')
        .argument('[command...]', 'a command instead of a shell (after --)'),
    ).action(action(lazy(() => import('./actions/ssh.js'), 'ssh'))),
    ['ops ssh lab lab-1', 'ops ssh staging web', 'ops ssh production prod-db-1 -- sudo -u postgres psql'],
  );
}
