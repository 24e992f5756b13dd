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
  const imports = program
    .command('import')
    .summary('bring an existing project over to ops (salt: the Caktus template\'s conf/)')
    .description('Converts what another tool kept into the files of an ops repo. `ops import salt` reads the Caktus Django template\'s conf/ folder (its Salt pillar, the environments\' public keys, the project\'s own states).');
  examples(imports, ['ops import salt conf --to .', 'ops import salt --dry-run']);
  examples(
    imports
      .command('salt')
      .summary("write an ops repo's pillar from a Caktus-template conf/ folder (its Salt pillar and keys)")
      .description(
        "Reads CONF_DIR (default: conf): pillar/project.sls (project_name, requirements_file), devs.sls (users' public keys → the admins), top.sls (the environments it names are checked against the files) and each <env>.sls (domain, repo, branch, env, secrets, http_auth, github_deploy_key → secrets.deploy_key, ssl_key/ssl_cert with their {% if 'balancer' in grains['roles'] %} blocks), and <env>.pub.gpg. Writes pillar/project.yml, pillar/devs.yml, pillar/<env>.yml and pillar/keys/<env>.pub.gpg in DIR: every ciphertext as it was, byte for byte, and the comments before each value. Every key it does not carry over is listed with what ops does instead, and the project's own Salt states by name. Never overwrites a file (exit 2 naming it); what it writes is loaded as a pillar first.",
      )
      .argument('[conf_dir]', "the template's conf/ folder (default: conf)")
      .option('--to <dir>', 'the ops repo to write (default: the current folder)')
      .option('--dry-run', 'print what it would write, and the report; write nothing')
      .action(action(lazy(() => import('./actions/import.js'), 'importSaltConf'))),
    ['ops import salt', 'ops import salt ../old-project/conf --to . --dry-run'],
  );
}
