/** What `ops releases`, `ops rollback`, `ops manage-run` and `ops manage-shell` do on the operator's side. */
import { hostname } from 'node:os';
import type { Handler } from '../command.js';
import { masterCommand, runOnMaster } from '../../converge/master-conn.js';
import { snapshot } from '../../converge/snapshot.js';
import { UsageError } from '../../errors.js';
import { loadPillar, type LoadedPillar } from '../../pillar/load.js';
import { connectMasterFor, interactive, notJson, openSession, splitWords } from './ssh.js';
import { renderCommand } from '../../ssh/command.js';
import { localUser, selectTargets } from '../../core/targets.js';
import type { Target } from '../../ssh/target.js';
import { confirm } from '../../ui/prompt.js';
import { redactor } from '../../ui/redact.js';
import type { History } from '../../release/history.js';
import { manageLine } from '../../release/manage.js';
import { HostPrinter } from '../../ui/hosts.js';
import { liveRelease, type RollbackPlan } from '../../release/rollback.js';

const who = () => `${localUser()}@${hostname()}`;

export const releases: Handler = async (ctx, args, opts) => {
  const env = ctx.envOnly(args);
  const pillar = loadPillar(ctx.repo, env);
  const { session, conn } = await connectMasterFor(ctx, pillar, opts);
  try {
    const history = JSON.parse((await runOnMaster(conn, ['__releases', env])).toString('utf8')) as History;
    if (ctx.opts.json) {
      const live = liveRelease(history);
      for (const r of history.releases) ctx.out.event('release_record', { env, ...r, live: r.id === live });
      for (const rb of history.rollbacks) ctx.out.event('rollback_record', { env, ...rb });
      return 0;
    }
    if (history.releases.length === 0) {
      ctx.out.info(`no releases of '${env}' yet (ops deploy ${env} makes one)`);
      return 0;
    }
    const live = liveRelease(history);
    ctx.out.result(['RELEASE', 'COMMIT', 'DEPLOYED (UTC)', 'BY', 'STATUS', 'MIGRATIONS'].join('\t'), null); // --json: the events above
    for (const r of history.releases) {
      const status = r.id === live ? 'live' : r.status;
      ctx.out.result([r.id, r.commit.slice(0, 12), r.at.replace('T', ' ').slice(0, 19), r.by, status, r.migrations.join(',') || '-'].join('\t'), null);
    }
    for (const rb of history.rollbacks.slice(-5)) ctx.out.info(`rollback ${rb.from ?? '?'} → ${rb.to} by ${rb.by} at ${rb.at.replace('T', ' ').slice(0, 19)}`);
    return 0;
  } finally {
    await session.closeAll();
  }
};

export const rollback: Handler = async (ctx, args, opts) => {
  const env = ctx.envOnly(args);
  const pillar = loadPillar(ctx.repo, env);
  const { session, conn } = await connectMasterFor(ctx, pillar, opts);
  try {
    const base = ['__rollback', env, '--by', who()];
    const plan = JSON.parse((await runOnMaster(conn, [...base, '--check', ...(opts.to ? ['--to', String(opts.to)] : [])], snapshot(ctx.repo))).toString('utf8')) as RollbackPlan;
    ctx.out.info(`rollback of '${env}': ${plan.current ?? '(mixed or none)'} → ${plan.target}`);
    if (plan.migrations.length > 0) {
      ctx.out.warn(`${plan.target} predates migrations that later releases applied (the database keeps them):`);
      for (const m of plan.migrations) ctx.out.warn(`  ${m.migration} (applied by ${m.release})`);
      await confirm(`switch to ${plan.target} anyway?`, { yes: opts.yes === true });
    }
    let err = '';
    const r = await conn.exec(masterCommand(conn, ['--json', ...base, '--to', plan.target]), {
      stdin: snapshot(ctx.repo),
      onStdout: (b) => {
        for (const line of b.toString('utf8').split('\n').filter((l) => l.trim())) {
          try {
            const e = JSON.parse(line) as Record<string, unknown>;
            if (ctx.opts.json) ctx.out.relay(e);
            else if (e.type === 'rollback') ctx.out.result(`rolled back to ${e.to} — ${e.health}`, null);
          } catch {
            // heartbeat or partial line
          }
        }
      },
      onStderr: (b) => (err += b.toString('utf8')),
    });
    if (r.code !== 0) {
      for (const l of err.split('\n').filter((x) => x.trim())) process.stderr.write(`${conn.target.name} | ${redactor.redact(l)}\n`);
    }
    return r.code ?? 1;
  } finally {
    await session.closeAll();
  }
};

/** The web host management commands run on: `--host`, else the first web host. */
function webTarget(pillar: LoadedPillar, opts: Record<string, unknown>): Target {
  const targets = selectTargets(pillar, opts.host ? { host: String(opts.host), user: opts.user as string | undefined } : { role: 'web', user: opts.user as string | undefined });
  const [first] = targets;
  if (!first) throw new UsageError(`'${pillar.env}' has no web host`);
  return first;
}

export const manageRun: Handler = async (ctx, args, opts) => {
  const split = splitWords(args);
  const { env, rest } = ctx.resolveEnv(split.before);
  const words = split.dashed ? split.words : rest;
  if (split.dashed && rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}' before --`, 'usage: ops manage-run [env] -- <arguments>');
  if (words.length === 0) throw new UsageError('no management command given', 'e.g. ops manage-run staging -- migrate --plan');
  const pillar = loadPillar(ctx.repo, env);
  const target = webTarget(pillar, opts);
  const session = openSession(ctx, pillar, opts);
  const onInt = () => void session.closeAll().finally(() => process.exit(130));
  process.once('SIGINT', onInt);
  try {
    const conn = await session.connect(target);
    const line = manageLine({ project: pillar.data.project, manageCommand: pillar.data.app.manage_command }, words);
    ctx.out.info(`${target.name}: ${[pillar.data.app.manage_command, ...words].filter(Boolean).join(' ')}`);
    const forward = !process.stdin.isTTY;
    // one host, no prefix: its bytes as they come (redacted); with --json, output events
    const printer = new HostPrinter(ctx.out, [target.name], false);
    const started = Date.now();
    printer.start(target.name);
    const r = await conn.exec(renderCommand({ line }, { sudo: true }, { loginUser: conn.user }), {
      stdin: forward ? process.stdin : undefined,
      onStdout: printer.sink(target.name, 'stdout'),
      onStderr: printer.sink(target.name, 'stderr'),
    });
    if (forward) process.stdin.destroy();
    const result = { host: target.name, status: r.code === 0 ? ('ok' as const) : ('failed' as const), exitCode: r.code, signal: r.signal ?? undefined, durationMs: Date.now() - started };
    printer.done(result);
    if (ctx.out.json) printer.summary([result], result.durationMs);
    return r.code ?? 1;
  } finally {
    process.removeListener('SIGINT', onInt);
    await session.closeAll();
  }
};

export const manageShell: Handler = async (ctx, args, opts) => {
  notJson(ctx, 'manage-shell', 'for a management command\'s output as events: ops --json manage-run ENV -- COMMAND');
  const env = ctx.envOnly(args);
  const pillar = loadPillar(ctx.repo, env);
  const target = webTarget(pillar, opts);
  // Django's shell; a shell in the app's environment for other apps (unless manage_command says otherwise)
  const shell = pillar.data.app.type === 'django' ? ['shell'] : pillar.data.app.manage_command ? [] : ['sh'];
  const line = manageLine({ project: pillar.data.project, manageCommand: pillar.data.app.manage_command }, shell);
  return interactive(ctx, pillar, target, renderCommand({ line }, { sudo: true }, { loginUser: target.user }), opts);
};
