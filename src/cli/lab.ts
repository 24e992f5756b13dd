/** `ops lab`: real Debian test hosts on this machine (Linux, root). */
import type { Command } from 'commander';
import { action, examples, notImplemented } from './command.js';

export function registerLabCommands(program: Command): void {
  const lab = program
    .command('lab')
    .summary('real Debian test hosts on this machine (up, status, down)')
    .description('Boots Debian 12 hosts with systemd and sshd in network namespaces on this machine, for trying and testing ops. Needs root on Linux.');
  examples(lab.command('up').summary('create or resume lab hosts for an environment').option('--hosts <n>', 'number of hosts', '3').action(action(notImplemented('lab up'))), ['ops lab up', 'ops lab up --env production --hosts 2']);
  examples(lab.command('status').summary('list lab hosts with env, name, address, state and roles').action(action(notImplemented('lab status'))), ['ops lab status']);
  examples(lab.command('down').summary('remove lab hosts (all, or one environment with --env)').action(action(notImplemented('lab down'))), ['ops lab down']);
}
