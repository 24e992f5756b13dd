/** What `ops logs` and `ops status` do (loaded only when one of them runs). */
import { intOption, type Handler } from '../command.js';
import { errorMessage, UsageError } from '../../errors.js';
import { loadPillar } from '../../pillar/load.js';
import { hostsWithRoles, selectTargets } from '../../core/targets.js';
import { readStatus } from '../../core/status.js';
import { DEFAULT_MESSAGE, setMaintenance } from '../../core/maintenance.js';
import { templates } from '../../roles/templates.js';
import { join } from 'node:path';
import { webUnitPort } from '../../roles/app.js';
import { checkApp } from '../../release/health.js';
import { readLogs, sinceArg, type LogEntry } from '../../core/logs.js';
import { roleUnits, unitsNamed } from '../../core/units.js';
import { HostPrinter } from '../../ui/hosts.js';
import { connectMasterFor, openSession } from './ssh.js';
import { driftThroughMaster, type Drift } from '../../converge/deploy.js';

/** `2026-12-03 07:25:13.123` (UTC) of a journal timestamp in microseconds. */
function when(micros: number): string {
  return new Date(Math.floor(micros / 1000)).toISOString().replace('T', ' ').replace('Z', '');
}

export const logs: Handler = async (ctx, args, opts) => {
  const env = ctx.envOnly(args);
  if (opts.role !== undefined && opts.host !== undefined) throw new UsageError('give --role or --host, not both');
  const lines = intOption(opts.lines, '--lines', 1, 100_000) ?? 50;
  const since = opts.since === undefined ? undefined : sinceArg(String(opts.since));
  const grep = opts.grep === undefined ? undefined : String(opts.grep);
  if (grep !== undefined && /[\0\n]/.test(grep)) throw new UsageError('--grep takes one line');
  const pillar = loadPillar(ctx.repo, env);
  const wanted = (opts.unit as string[] | undefined) ?? [];
  const named = wanted.flatMap((u) => unitsNamed(pillar.data, env, u));
  const targets = selectTargets(pillar, { role: opts.role as string | undefined, host: opts.host as string | undefined, user: opts.user as string | undefined });
  const hosts = targets
    .map((target) => ({ target, units: named.length > 0 ? named : roleUnits(pillar.data, env, pillar.data.servers[target.name]?.roles ?? []) }))
    // a host whose roles run nothing ops knows shows its whole journal only when asked for by name
    .filter((h) => h.units.length > 0 || opts.host !== undefined);
  if (hosts.length === 0) throw new UsageError(`no host of '${env}' runs ${wanted.length > 0 ? wanted.join(', ') : 'a unit ops knows'}`, 'name a host with --host to see its whole journal');
  const session = openSession(ctx, pillar, opts);
  const printer = new HostPrinter(ctx.out, hosts.map((h) => h.target.name), hosts.length > 1);
  const ac = new AbortController();
  const follow = opts.follow === true;
  const stop = () => {
    ac.abort();
    void session.closeAll();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const emit = (e: LogEntry) => {
    if (ctx.out.json) {
      ctx.out.event('log', { host: e.host, unit: e.unit, time: new Date(Math.floor(e.micros / 1000)).toISOString(), priority: e.priority ?? null, message: e.message });
      return;
    }
    const head = `${ctx.out.c.dim(when(e.micros))} ${e.unit}:`;
    const body = e.priority !== undefined && e.priority <= 3 ? ctx.out.c.red(e.message) : e.message;
    for (const l of body.split('\n')) printer.line(e.host, 'stdout', `${head} ${l}`);
  };
  try {
    const r = await readLogs(session, { hosts, follow, since, grep, lines }, emit, ac.signal, (host, message) => {
      if (ctx.out.json) ctx.out.event('note', { host, message });
      else ctx.out.info(`${host}: ${message}`);
    });
    for (const f of r.failed) {
      if (ctx.out.json) ctx.out.event('host_done', { host: f.host, status: 'failed', error: f.error });
      else ctx.out.error(`${f.host}: ${f.error}`);
    }
    return r.failed.length > 0 ? 1 : 0;
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    await session.closeAll();
  }
};

/** `3 d`, `5 h`, `40 min` until a time (or `expired`). */
function until(iso: string): string {
  const s = (new Date(iso).getTime() - Date.now()) / 1000;
  if (s <= 0) return 'expired';
  if (s >= 2 * 86_400) return `${Math.floor(s / 86_400)} d`;
  if (s >= 7200) return `${Math.floor(s / 3600)} h`;
  return `${Math.max(1, Math.floor(s / 60))} min`;
}

/** `--drift`: what a converge would change now, through the master (read-only, as --dry-run is). */
async function readDrift(ctx: Parameters<Handler>[0], pillar: ReturnType<typeof loadPillar>, opts: Parameters<Handler>[2]): Promise<Drift> {
  let master;
  try {
    master = await connectMasterFor(ctx, pillar, opts);
    return await driftThroughMaster(ctx.repo, pillar.env, master.conn);
  } catch (e) {
    // the rest of the table stands: every host's drift is unknown, with the reason
    const why = `through the master: ${errorMessage(e)}`;
    return new Map(Object.keys(pillar.data.servers).map((h) => [h, { changes: [], error: why }]));
  } finally {
    await master?.session.closeAll();
  }
}

function driftCell(d: { changes: string[]; error?: string } | undefined, c: { red(s: string): string; yellow(s: string): string; green(s: string): string }): string {
  if (!d) return '-';
  if (d.error) return c.red('unknown');
  return d.changes.length > 0 ? c.yellow(`${d.changes.length} to change`) : c.green('none');
}

export const status: Handler = async (ctx, args, opts) => {
  const env = ctx.envOnly(args);
  const pillar = loadPillar(ctx.repo, env);
  const data = pillar.data;
  const hosts = hostsWithRoles(pillar, { user: opts.user as string | undefined });
  if (hosts.length === 0) throw new UsageError(`'${env}' has no servers`, `add them: ops setup-minion ${env} ROLES -H ADDRESS`);
  const session = openSession(ctx, pillar, opts);
  try {
    const rows = await readStatus(session, data, env, hosts);
    const drift = opts.drift === true ? await readDrift(ctx, pillar, opts) : undefined;
    // the live release's health check: through every balancer, else on each web host's app server
    const balancers = hosts.filter((h) => h.roles.includes('balancer'));
    const reachable = (name: string) => rows.find((r) => r.host === name);
    const health = await checkApp(data.healthcheck, data.domain, {
      // every balancer (one SSH cannot reach may still serve, or not: its check says which)
      balancers: data.domain ? balancers.map((b) => ({ name: b.target.name, address: b.target.address })) : [],
      webs: hosts.flatMap((w) => {
        const row = reachable(w.target.name);
        if (!w.roles.includes('web') || !row?.reachable || !row.release) return [];
        const ports = row.units.filter((u) => u.active === 'active').map((u) => webUnitPort(data, u.unit)).filter((p): p is number => p !== undefined);
        return [{ name: w.target.name, conn: () => session.connect(w.target), ports: ports.length > 0 ? ports : [data.app.port] }];
      }),
    }, { seconds: 0, all: true });
    const bad = rows.filter((r) => !r.reachable || r.error || r.down.length > 0).length + health.filter((h) => !h.ok).length;
    if (ctx.out.json) {
      for (const r of rows) ctx.out.event('host_status', { ...r, ...(drift ? { drift: drift.get(r.host)?.changes ?? null, drift_error: drift.get(r.host)?.error ?? null } : {}) });
      for (const h of health) ctx.out.event('health', { ...h });
      ctx.out.event('summary', { hosts: rows.length, unreachable: rows.filter((r) => !r.reachable).length, down: rows.reduce((n, r) => n + r.down.length, 0), health_ok: health.every((h) => h.ok), ok: bad === 0 });
      return bad === 0 ? 0 : 1;
    }
    const c = ctx.out.c;
    const table = rows.map((r) => [
      r.host,
      r.reachable ? (r.error ? c.red('error') : r.maintenance ? c.yellow('maintenance') : c.green('up')) : c.red('unreachable'),
      r.os ?? '-',
      r.roles.join(',') || '-',
      r.release ? `${r.release.id}${r.release.by ? ` by ${r.release.by}` : ''}` : '-',
      r.reachable ? (r.down.length > 0 ? c.red(`${r.down.length} down`) : `${r.units.filter((u) => u.active === 'active').length} active`) : '-',
      r.disk_used_pct !== undefined ? `${r.disk_used_pct}%` : '-',
      r.memory_used_pct !== undefined ? `${r.memory_used_pct}%` : '-',
      r.certificate_expires ? until(r.certificate_expires) : '-',
      ...(drift ? [driftCell(drift.get(r.host), c)] : []),
    ]);
    const head = ['HOST', 'STATE', 'OS', 'ROLES', 'RELEASE', 'UNITS', 'DISK', 'MEM', 'CERT', ...(drift ? ['DRIFT'] : [])];
    const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');
    const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => plain(row[i] ?? '').length)));
    const fmt = (row: string[]) => row.map((v, i) => (i === row.length - 1 ? v : v + ' '.repeat((widths[i] ?? 0) - plain(v).length))).join('  ');
    const out = [c.bold(fmt(head)), ...table.map(fmt)];
    for (const r of rows) {
      if (r.error) out.push(`${r.host}: ${c.red(r.error)}`);
      for (const u of r.down) out.push(`${r.host}: ${c.red(`${u} is ${r.units.find((x) => x.unit === u)?.active ?? 'down'}`)} (ops logs ${env} --host ${r.host} --unit ${u})`);
    }
    for (const h of health) out.push(`health via ${h.via}: ${h.ok ? c.green(h.detail) : c.red(h.detail)}`);
    for (const [host, d] of drift ?? []) {
      if (d.error) out.push(`${host}: ${c.red(`drift unknown: ${d.error}`)}`);
      else if (d.changes.length > 0) out.push(`${host}: a converge would change ${d.changes.join(', ')} (ops deploy ${env} --dry-run shows how)`);
    }
    ctx.out.result(out.join('\n'), null); // with --json, the events above
    return bad === 0 ? 0 : 1;
  } finally {
    await session.closeAll();
  }
};

export const maintenance: Handler = async (ctx, args, opts) => {
  const [state, ...rest] = args;
  if (state !== 'on' && state !== 'off') throw new UsageError(`say on or off, not '${state ?? ''}'`, 'e.g. ops maintenance on staging --message "Back at 14:00 UTC"');
  const env = ctx.envOnly(rest);
  const message = opts.message === undefined ? DEFAULT_MESSAGE : String(opts.message);
  if (state === 'off' && opts.message !== undefined) throw new UsageError('--message goes with on');
  if (message.length > 2000) throw new UsageError('--message takes at most 2000 characters');
  const pillar = loadPillar(ctx.repo, env);
  const balancers = hostsWithRoles(pillar, { user: opts.user as string | undefined }).filter((h) => h.roles.includes('balancer')).map((h) => h.target);
  if (balancers.length === 0) throw new UsageError(`'${env}' has no balancer: maintenance mode is the balancers' page`);
  const page = templates(join(ctx.repo.root, 'templates')).render('balancer/maintenance.html.njk', { domain: pillar.data.domain ?? env, message, project: pillar.data.project });
  const session = openSession(ctx, pillar, opts);
  try {
    const results = await setMaintenance(session, pillar.data.project, balancers, state === 'on', page);
    for (const r of results) {
      const said = { host: r.host, state: state as 'on' | 'off', ok: r.ok, error: r.error ?? null };
      if (r.ok) ctx.out.result(`${r.host}: maintenance ${state}`, 'maintenance', said);
      else {
        ctx.out.error(`${r.host}: ${r.error}`);
        ctx.out.event('maintenance', said);
      }
    }
    return results.every((r) => r.ok) ? 0 : 1;
  } finally {
    await session.closeAll();
  }
};
