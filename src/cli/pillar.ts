/** `ops pillar`: show the merged pillar, validate it, emit its JSON Schema. */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { UsageError } from '../errors.js';
import { listEnvironments } from '../pillar/files.js';
import { action, examples } from './command.js';

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
      .action(
        action(async (ctx, args, opts) => {
          const env = ctx.envOnly(args);
          const { loadPillar } = await import('../pillar/load.js');
          const { maskEncrypted } = await import('../pillar/encrypted.js');
          const p = loadPillar(ctx.repo, env);
          const data = opts.raw ? p.raw : { environment: env, ...p.data };
          if (ctx.opts.json) ctx.out.event('pillar', { env, pillar: maskEncrypted(data) });
          else ctx.out.result(stringify(maskEncrypted(data), { lineWidth: 0 }), null);
        }),
      ),
    ['ops pillar show staging', 'ops pillar show --raw -e production'],
  );
  examples(
    pillar
      .command('validate')
      .summary('check the pillar of one environment, or of all of them')
      .argument('[env]', 'environment (default: all)')
      .action(
        action(async (ctx, args) => {
          const envs = args.length > 0 ? [ctx.envOnly(args)] : listEnvironments(ctx.repo);
          const { loadPillar } = await import('../pillar/load.js');
          if (envs.length === 0) throw new UsageError('pillar/ has no environments (pillar/<env>.yml)');
          for (const env of envs) {
            const p = loadPillar(ctx.repo, env);
            ctx.out.info(`${env}: ok (${p.sources.map((s) => s.display).join(' + ')}; ${Object.keys(p.data.servers).length} server(s))`);
            ctx.out.event('pillar_valid', { env, files: p.sources.map((s) => s.display), servers: Object.keys(p.data.servers).length });
          }
        }),
      ),
    ['ops pillar validate', 'ops pillar validate production'],
  );
  examples(
    pillar
      .command('schema')
      .summary('print the pillar JSON Schema (for editor completion)')
      .action(
        action(async (ctx) => {
          const { pillarJsonSchema } = await import('../pillar/schema.js');
          const schema = pillarJsonSchema();
          if (ctx.opts.json) ctx.out.event('pillar_schema', { schema });
          else ctx.out.result(JSON.stringify(schema, null, 2), null);
        }),
      ),
    ['ops pillar schema > pillar.schema.json', '# VS Code (YAML extension): "yaml.schemas": {"./pillar.schema.json": "pillar/*.yml"}'],
  );
}
