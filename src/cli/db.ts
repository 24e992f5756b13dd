/** Database operations: copies between environments, backups, restores, local resets. */
import type { Command } from 'commander';
import { action, examples, lazy } from './command.js';
import { addConnectionOptions } from './remote.js';

const load = () => import('./actions/db.js');

function replaceOptions(cmd: Command): Command {
  return addConnectionOptions(cmd)
    .option('-y, --yes', 'do not ask (a protected target still needs --confirm NAME)')
    .option('--allow-protected-target', 'allow replacing the database of a protected environment')
    .option('--confirm <name>', 'the name of the protected database being replaced (instead of typing it)')
    .option('--sanitize <sql-file>', 'run this SQL on the new database before it goes live');
}

function copyOptions(cmd: Command): Command {
  return replaceOptions(cmd)
    .option('--compress <level>', 'pg_dump compression: auto (fits the link, measured first) or 0-9', 'auto')
    .option('--keep-dump <path>', 'also write the dump to this file on your machine (mode 0600)')
    .option('--direct', "the target db host pulls the dump from the source itself over OpenSSH (the source's pinned host key; a throw-away key authorized for that one command, lent by ops, removed after): ops leaves the data path")
    .option('--with-media', "also copy the app's media folder (streamed into a new folder on each target web host, swapped with the database)");
}

const COPY_HELP =
  "Streams pg_dump -Fc from the source db host through ops (or, with --direct, straight from the source to the target) into pg_restore on the target db host (no dump file anywhere unless --keep-dump), into a new database <db>_incoming_<time>. Only when that is complete: the target's app units are stopped, the names are swapped in one transaction (the old database is kept as <db>_before_<time>, the newest 3 are kept), everything is given to the target's role, the current release's migrations run, the app starts and its health check runs. A failure or Ctrl-C before the swap drops the new database and leaves the target and its app as they were.";

export function registerDbCommands(program: Command): void {
  examples(
    copyOptions(program.command('prod-db-to-staging').summary('copy the production database into staging, safely').description(`Same as ops db copy production staging. ${COPY_HELP}`)).action(
      action(lazy(load, 'prodDbToStaging')),
    ),
    ['ops prod-db-to-staging', 'ops prod-db-to-staging --with-media --yes --sanitize scrub.sql', 'ops prod-db-to-staging --compress 0 --keep-dump prod.dump'],
  );
  examples(
    addConnectionOptions(
      program
        .command('reset-local-db')
        .summary("replace your local database with an environment's")
        .description(
          "Streams the environment's database into your local PostgreSQL (as postgres when ops runs as root, else as your user; PGHOST/PGPORT apply) into a new database, then swaps names: your old one is kept as <name>_before_<time>.",
        )
        .argument('[env]', 'environment')
        .option('--local-db <name>', 'local database name (default: the project name)')
        .option('--with-media <dir>', "also copy the app's media into this folder (the old one kept as <dir>.before-<time>)")
        .option('--compress <level>', 'pg_dump compression: auto or 0-9', 'auto')
        .option('-y, --yes', 'do not ask'),
    ).action(action(lazy(load, 'resetLocalDb'))),
    ['ops reset-local-db staging', 'ops reset-local-db staging --local-db demo --with-media ./media --yes'],
  );
  const db = examples(
    program
      .command('db')
      .summary('database copy, backup, restore and undo')
      .description("PostgreSQL databases of an environment's db hosts: copy one environment's into another, stream a backup to your disk, restore one, and undo the last copy. A copy or restore goes into a new database and is swapped in only when it is whole; the database it replaces is kept."),
    ['ops db copy production staging', 'ops db backup production', 'ops db restore staging prod.dump', 'ops db undo-copy staging'],
  );
  examples(
    copyOptions(db.command('copy').summary('copy a database between environments').description(COPY_HELP).argument('<from-env>').argument('<to-env>')).action(action(lazy(load, 'copy'))),
    ['ops db copy production staging', 'ops db copy production staging --direct', 'ops db copy staging qa --yes --compress 1', 'ops db copy staging production --allow-protected-target --confirm demo_production'],
  );
  examples(
    addConnectionOptions(
      db
        .command('backup')
        .summary('stream a backup (pg_dump custom format) to your disk')
        .description('Writes <file>.partial-<pid> with mode 0600 and renames it to <file> only when pg_dump finished well.')
        .argument('[env]')
        .option('--to <path>', 'output file (default: <db>-<time>.dump here)')
        .option('--compress <level>', "pg_dump compression 0-9 (auto: pg_dump's default)", 'auto'),
    ).action(action(lazy(load, 'backup'))),
    ['ops db backup production --to prod.dump', 'ops db backup staging'],
  );
  examples(
    replaceOptions(db.command('restore').summary('restore a backup into an environment (new database, then swap)').argument('[env]').argument('[file]')).action(
      action(lazy(load, 'restore')),
    ),
    ['ops db restore staging prod.dump', 'ops db restore staging prod.dump --yes --sanitize scrub.sql'],
  );
  examples(
    addConnectionOptions(
      db
        .command('undo-copy')
        .summary('swap back to the database kept by the last copy')
        .description('The newest <db>_before_<time> becomes <db> again; the replaced database is kept as <db>_before_<now> (so undoing twice goes back).')
        .argument('[env]')
        .option('-y, --yes', 'do not ask')
        .option('--allow-protected-target', 'allow it on a protected environment')
        .option('--confirm <name>', 'the name of the protected database being replaced'),
    ).action(action(lazy(load, 'undoCopy'))),
    ['ops db undo-copy staging'],
  );
}
