/** `ops pillar show|validate|schema`: the merged pillar, its check, its JSON Schema. */
import { stringify } from 'yaml';
import { UsageError } from '../../errors.js';
import { maskEncrypted } from '../../pillar/encrypted.js';
import { listEnvironments } from '../../pillar/files.js';
import { loadPillar } from '../../pillar/load.js';
import { pillarJsonSchema } from '../../pillar/schema.js';
import type { Handler } from '../command.js';

export const pillarShow: Handler = async (ctx, args, opts) => {
  const env = ctx.envOnly(args);
  const p = loadPillar(ctx.repo, env);
  const data = maskEncrypted(opts.raw ? p.raw : { environment: env, ...p.data });
  if (ctx.opts.json) ctx.out.event('pillar', { env, pillar: data });
  else ctx.out.result(stringify(data, { lineWidth: 0 }), null);
};

export const pillarValidate: Handler = async (ctx, args) => {
  const envs = args.length > 0 ? [ctx.envOnly(args)] : listEnvironments(ctx.repo);
  if (envs.length === 0) throw new UsageError('pillar/ has no environments (pillar/<env>.yml)');
  for (const env of envs) {
    const p = loadPillar(ctx.repo, env);
    ctx.out.info(`${env}: ok (${p.sources.map((s) => s.display).join(' + ')}; ${Object.keys(p.data.servers).length} server(s))`);
    ctx.out.event('pillar_valid', { env, files: p.sources.map((s) => s.display), servers: Object.keys(p.data.servers).length });
  }
};

export const pillarSchema: Handler = async (ctx) => {
  const schema = pillarJsonSchema();
  if (ctx.opts.json) ctx.out.event('pillar_schema', { schema });
  else ctx.out.result(JSON.stringify(schema, null, 2), null);
};
