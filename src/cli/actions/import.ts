/** `ops import salt [CONF_DIR] [--to DIR] [--dry-run]`: a Caktus-template conf/ made into an ops repo. */
import { relative, resolve } from 'node:path';
import { importSalt } from '../../import/salt.js';
import { checkLoads, checkWritable, writeAll } from '../../init/write.js';
import type { Handler } from '../command.js';

export const importSaltConf: Handler = async (ctx, args, opts) => {
  const conf = resolve(args[0] ?? 'conf');
  const to = resolve(typeof opts.to === 'string' ? opts.to : '.');
  const r = importSalt(conf);
  const paths = r.files.map(([f]) => f);
  checkWritable(to, paths, 'ops import salt');
  checkLoads(r.files, r.envs);
  const dryRun = opts.dryRun === true;
  if (dryRun) {
    for (const [f, content] of r.files) {
      ctx.out.info(`--- would write ${f}${typeof content === 'string' ? '' : ` (${content.length} bytes, copied as is)`}`);
      if (typeof content === 'string' && !ctx.out.json) ctx.out.info(content.trimEnd());
    }
  } else writeAll(to, r.files);
  for (const l of r.report) ctx.out.info(`  ${l}`);
  const shown = relative(process.cwd(), to) || '.';
  ctx.out.result(
    `${dryRun ? 'would import' : 'imported'} ${r.envs.join(', ')} into ${shown}/pillar (${paths.length} files); next: ops pillar validate (the values stay encrypted to each Salt master's key)`,
    'imported',
    { from: conf, to, envs: r.envs, files: paths, report: r.report, dry_run: dryRun },
  );
};
