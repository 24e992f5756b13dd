/** Database operations: copies between environments, backups, local resets. */
import type { Command } from 'commander';
import { action, examples, notImplemented } from './command.js';

export function registerDbCommands(program: Command): void {
  examples(
    program
      .command('prod-db-to-staging')
      .summary('copy the production database (and media) into staging, safely')
      .option('-y, --yes', 'do not ask')
      .option('--with-media', 'copy media files too')
      .action(action(notImplemented('prod-db-to-staging'))),
    ['ops prod-db-to-staging', 'ops prod-db-to-staging --with-media --yes'],
  );
  examples(
    program
      .command('reset-local-db')
      .summary("replace your local database with an environment's")
      .argument('[env]', 'environment')
      .option('--local-db <name>', 'local database name')
      .option('--with-media <dir>', 'also copy media into this folder')
      .action(action(notImplemented('reset-local-db'))),
    ['ops reset-local-db staging', 'ops reset-local-db staging --local-db demo --with-media ./media'],
  );
  const db = program.command('db').summary('database copy, backup, restore and undo');
  examples(db.command('copy').summary('copy a database between environments').argument('<from-env>').argument('<to-env>').action(action(notImplemented('db copy'))), ['ops db copy production staging']);
  examples(db.command('backup').summary('stream a backup to your disk').argument('[env]').option('--to <path>', 'output file').action(action(notImplemented('db backup'))), ['ops db backup production --to prod.dump']);
  examples(db.command('restore').summary('restore a backup into an environment').argument('[env]').argument('[file]').action(action(notImplemented('db restore'))), ['ops db restore staging prod.dump']);
  examples(db.command('undo-copy').summary('swap back to the database kept by the last copy').argument('[env]').action(action(notImplemented('db undo-copy'))), ['ops db undo-copy staging']);
}
