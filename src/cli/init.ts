/** `ops init`: start an ops repo in an existing app's repo. */
import type { Command } from 'commander';
import { action, examples, lazy } from './command.js';

export function registerInitCommand(program: Command): void {
  examples(
    program
      .command('init')
      .summary("start an ops repo in an existing app's repo (Django, a Procfile, or a start command)")
      .description(
        "Reads the app in DIR (default: here): a Django project (manage.py, its settings module, WSGI module, requirements file, Celery app), a Procfile, or neither — then it asks for the command that starts the app (or takes --start-command). Writes pillar/project.yml, pillar/devs.yml (you, with the SSH public key ssh would offer), pillar/staging.yml and pillar/lab.yml with comments, and .ops/.gitignore; for Django settings that do not read the environment, a settings module beside them that does. Never overwrites a file: if one exists, nothing is written (exit 2 naming it). Prints the next commands.",
      )
      .argument('[dir]', 'the app repo (default: the current folder)')
      .option('--name <project>', 'project name (default: from the Django package or the folder)')
      .option('--start-command <cmd>', 'for an app without manage.py or a Procfile: the command that starts it (listening on $PORT)')
      .option('--user <name>', 'your user name on the servers (default: your local user name)')
      .action(action(lazy(() => import('./actions/init.js'), 'init'))),
    ['ops init', 'ops init ~/src/shop --name shop', "ops init --start-command 'node server.js'"],
  );
}
