/** `ops pillar`: show the merged pillar, validate it, emit its JSON Schema. */
import type { Command } from 'commander';
import { action, examples, lazy } from './command.js';

export function registerPillarCommands(program: Command): void {
  const pillar = examples(
    program
      .command('pillar')
      .summary('show, validate and describe pillar data')
      .description('The pillar is the YAML data of an environment: pillar/project.yml, pillar/devs.yml and pillar/<env>.yml merged, in that order. These commands read it on this machine; none decrypts a secret (encrypted values show as masked).'),
    ['ops pillar validate', 'ops pillar show staging', 'ops pillar schema > pillar.schema.json'],
  );
  examples(
    pillar
      .command('show')
      .summary('print the merged pillar of an environment (encrypted values masked)')
      .argument('[env]', 'environment')
      .option('--raw', 'only what the files say (no defaults filled in)')
      .action(action(lazy(() => import('./actions/pillar.js'), 'pillarShow'))),
    ['ops pillar show staging', 'ops pillar show --raw -e production'],
  );
  examples(
    pillar
      .command('validate')
      .summary('check the pillar of one environment, or of all of them')
      .argument('[env]', 'environment (default: all)')
      .action(action(lazy(() => import('./actions/pillar.js'), 'pillarValidate'))),
    ['ops pillar validate', 'ops pillar validate production'],
  );
  examples(
    pillar
      .command('schema')
      .summary('print the pillar JSON Schema (for editor completion)')
      .action(action(lazy(() => import('./actions/pillar.js'), 'pillarSchema'))),
    ['ops pillar schema > pillar.schema.json', '# VS Code (YAML extension): "yaml.schemas": {"./pillar.schema.json": "pillar/*.yml"}'],
  );
}
