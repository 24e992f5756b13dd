/** What `ops tls renew` does on the operator's side: runs `__acme-renew` on the master and shows its events. */
import type { Handler } from '../command.js';
import { execMasterEvents, masterFailure } from '../../converge/master-conn.js';
import { loadPillar } from '../../pillar/load.js';
import { UsageError } from '../../errors.js';
import { tlsLine } from '../../tls/report.js';
import { connectMasterFor } from './ssh.js';

export const renew: Handler = async (ctx, args, opts) => {
  const env = ctx.envOnly(args);
  const pillar = loadPillar(ctx.repo, env);
  if (!pillar.data.tls.acme) throw new UsageError(`'${env}' has no tls.acme in its pillar: its certificate is not from an ACME CA`, `see README, "Certificates from an ACME CA"`);
  const { session, conn } = await connectMasterFor(ctx, pillar, opts);
  try {
    let reported = false;
    const r = await execMasterEvents(conn, ['--json', '__acme-renew', env, ...(opts.force ? ['--force'] : [])], {
      stdin: Buffer.alloc(0),
      onEvent: (e) => {
        if (e.type === 'tls') reported = true;
        if (ctx.opts.json) ctx.out.relay(e);
        else {
          const line = tlsLine(e);
          if (line) (e.type === 'tls' && e.status === 'failed' ? ctx.out.error(line) : ctx.out.info(line));
        }
      },
      onText: (line) => ctx.out.info(`${conn.target.name} | ${line}`),
    });
    // the master's own error (no certificate kept yet, a held lock): one line of ours, its exit code
    if (r.code !== 0 && !reported && r.stderr.trim()) throw masterFailure(conn, r.code, r.stderr);
    for (const l of r.stderr.split('\n').filter((x) => x.trim())) ctx.out.info(`${conn.target.name} | ${l}`);
    return r.code ?? 1;
  } finally {
    await session.closeAll();
  }
};
