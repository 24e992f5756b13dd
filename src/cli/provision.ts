/** Servers and converge: setup-master, setup-minion, add-role, deploy. */
import type { Command } from 'commander';
import { action, examples, notImplemented } from './command.js';

export function registerProvisionCommands(program: Command): void {
  examples(
    program
      .command('deploy')
      .summary('converge every server of an environment and ship the app')
      .argument('[env]', 'environment')
      .option('--dry-run', 'show the plan (with file diffs) and change nothing')
      .option('--only <role|host>', 'only this role or host')
      .option('--branch <branch>', 'deploy this branch instead of the pillar one')
      .action(action(notImplemented('deploy'))),
    ['ops deploy staging', 'ops deploy staging --dry-run', 'ops deploy production --only web'],
  );
  examples(
    program
      .command('setup-master')
      .summary("make a host the environment's master (holds its private key)")
      .argument('[env]', 'environment')
      .option('-H, --host <host>', 'address of the new master')
      .option('-u, --user <user>', 'SSH user for first contact', 'root')
      .option('-p, --port <port>', 'SSH port', '22')
      .option('--fingerprint <SHA256:...>', 'expected host key fingerprint (verified out of band)')
      .action(action(notImplemented('setup-master'))),
    ['ops setup-master staging -H 203.0.113.10 -u root', 'ops setup-master lab -H lab-1'],
  );
  examples(
    program
      .command('setup-minion')
      .summary('provision a host with roles (web, worker, balancer, db, queue, cache)')
      .argument('[env]', 'environment')
      .argument('[roles]', 'comma-separated roles')
      .option('-H, --host <host>', 'address of the new minion')
      .option('-u, --user <user>', 'SSH user for first contact', 'root')
      .option('--name <name>', 'inventory name for the host')
      .option('--fingerprint <SHA256:...>', 'expected host key fingerprint (verified out of band)')
      .action(action(notImplemented('setup-minion'))),
    ['ops setup-minion staging web,balancer,db,cache -H 203.0.113.11 -u root', 'ops setup-minion lab db,queue -H lab-2'],
  );
  examples(
    program
      .command('add-role')
      .summary('add a role to a provisioned host')
      .argument('[env]', 'environment')
      .argument('[role]', 'role to add')
      .option('-H, --host <host>', 'host name or address')
      .action(action(notImplemented('add-role'))),
    ['ops add-role staging worker -H 203.0.113.11'],
  );
}
