/**
 * The release pipeline, run on the master as the last part of `ops deploy`: fetch the app at the
 * environment's branch, build a release directory on every web and worker host (archive, shared
 * links, virtualenv, collectstatic, preflight checks), run the migrations once on one web host,
 * switch `current` atomically everywhere (or batch by batch on the web hosts, `releases.batch`),
 * reload the app gracefully, then check health through the balancer — and switch back when that
 * fails. Unchanged commit and build inputs: no release.
 */
import { randomBytes } from 'node:crypto';
import type { EmitEvent, EventData } from '../ui/events.js';
import { errorMessage, OperationError } from '../errors.js';
import type { Pillar } from '../pillar/schema.js';
import { appPaths, appUnits, appUser, gracefulReload, webUnitPort } from '../roles/app.js';
import type { Host } from '../roles/context.js';
import { hasRole } from '../roles/context.js';
import type { Connection } from '../ssh/connection.js';
import { captureExec } from '../ssh/command.js';
import { shellLine } from '../ssh/quote.js';
import { mapLimit, type SshSession } from '../ssh/session.js';
import { checkApp, healthWindow, type HealthResult } from './health.js';
import { appendHistory, type ReleaseRecord } from './history.js';
import { manageLine } from './manage.js';
import { buildInputs, fetchSource } from './source.js';
import type { HookPoint } from '../pillar/schema.js';
import type { Templates } from '../roles/templates.js';
import { appShellLine } from './manage.js';
import { maintenanceScript } from '../core/maintenance.js';
import { upstreamControl, webBatches } from './batches.js';
import { applyProcesses, parseProcfile, procfileBuildLines, processSpec, RELEASE_TYPE } from './processes.js';
import { finalizeScript, handBackScript, parseTakeover, stopSupervisedWorkers, takeoverFacts, takeOverWeb, type Takeover } from './takeover.js';

export interface ReleaseContext {
  env: string;
  pillar: Pillar;
  /** Every host of the environment (balancers are found here). */
  hosts: Host[];
  /** The app hosts this deploy covers. */
  appHosts: Host[];
  session: SshSession;
  knownHosts: string[];
  workDir: string;
  by: string;
  branch?: string;
  signal: AbortSignal;
  /** Finds out at once whether the operator is still there (aborting `signal` when not). */
  probe?: () => Promise<void>;
  event: EmitEvent;
  /** Runs the project's hooks of a point (shell lines in `dir`, default the current release); throws when one fails. */
  hook?: (point: HookPoint, dir?: string) => Promise<void>;
  /** The project's templates (with the built-in ones): Procfile apps' units. */
  tpl: Templates;
  /** Maintenance mode from before the migrations until the health check (its page's message). */
  maintenance?: string;
}

/** What reading the app and the hosts' releases needs (a dry run has no more). */
export type Planning = Pick<ReleaseContext, 'env' | 'pillar' | 'hosts' | 'appHosts' | 'session' | 'knownHosts' | 'workDir' | 'branch' | 'event'>;

/** What a switch needs besides the host: how the app runs. */
export interface Switching {
  pillar: Pillar;
  tpl: Templates;
  event: EmitEvent;
}

export interface ReleaseOutcome {
  status: 'skipped' | 'unchanged' | 'released' | 'failed' | 'rolled-back' | 'interrupted';
  id?: string;
  detail?: string;
  /** A hook after the switch (after_release, after_rollback) failed: reported, nothing switched back. */
  hookFailed?: string;
  /** Released, but web hosts could not be put back into a balancer's upstream (exit 1). */
  leftOut?: string;
}

/** Runs a hook of a point after the switch: its failure is reported and returned, never thrown. */
async function hookAfter(ctx: ReleaseContext, point: HookPoint): Promise<string | undefined> {
  try {
    await ctx.hook?.(point);
    return undefined;
  } catch (e) {
    ctx.event('hook_failed', { point, error: errorMessage(e) });
    return errorMessage(e);
  }
}

const q = (s: string) => shellLine([s]);

/** `20261122-101500-1a2b3c4` (UTC): sorts by time, names the commit. */
export function releaseId(commit: string, at = new Date()): string {
  const t = at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${t}-${commit.slice(0, 7)}`;
}

export interface HostState {
  host: Host;
  conn: Connection;
  current?: string;
  complete: string[];
  /** What of a margarita setup the host has (supervisor's programs of the app, salt-minion). */
  takeover?: Takeover;
}

class Interrupted extends Error {}

async function sh(conn: Connection, line: string, stdin?: Buffer): Promise<string> {
  const r = await captureExec(conn, line, stdin);
  if (r.code !== 0) {
    const tail = r.err.trim().split('\n').slice(-8).join('\n') || r.out.toString('utf8').trim().split('\n').slice(-8).join('\n');
    throw new OperationError(`${conn.target.name}: exit ${r.code ?? r.signal ?? 'none'}${tail ? `\n${tail}` : ''}`);
  }
  return r.out.toString('utf8');
}

/** The app's `current` release, the complete ones and what of a margarita setup the host has, read in one round trip. */
export async function readState(conn: Connection, host: Host, pillar: Pick<Pillar, 'project'>): Promise<HostState> {
  const root = appPaths(pillar).root;
  // (a mark no text on the host can know: what the host prints after it cannot pass for ops's part)
  const mark = `--- ops takeover ${randomBytes(8).toString('hex')} ---`;
  const out = await sh(conn, `(cd ${q(root)} 2>/dev/null || exit 0; readlink current || true; echo ---; for d in releases/*/; do [ -f "$d.ops-complete" ] && basename "$d"; done; true)\necho ${q(mark)}\n${takeoverFacts(pillar)}`);
  const at = out.indexOf(`${mark}\n`);
  const [mine, theirs] = at < 0 ? [out, ''] : [out.slice(0, at), out.slice(at + mark.length + 1)];
  const [head = '', list = ''] = mine.split('---\n');
  const link = head.trim();
  return { host, conn, current: link ? link.split('/').pop() : undefined, complete: list.split('\n').filter(Boolean).sort(), takeover: parseTakeover(theirs, pillar) };
}

function requirementsIn(text: string): boolean {
  return text.split('\n').some((l) => l.trim() !== '' && !l.trim().startsWith('#'));
}

export async function releaseApp(ctx: ReleaseContext): Promise<ReleaseOutcome> {
  const { pillar } = ctx;
  const p = appPaths(pillar);
  const app = pillar.app;
  const django = app.type === 'django';
  const procfileApp = app.type === 'procfile';
  const sw: Switching = { pillar, tpl: ctx.tpl, event: ctx.event };
  if (!pillar.repo.url) return skip(ctx, pillar.lab ? 'no repo.url in the pillar (serve an app with `ops lab serve-repo FOLDER`)' : 'no repo.url in the pillar');
  if (ctx.appHosts.length === 0) return skip(ctx, 'no web or worker host in this deploy');
  const branch = ctx.branch ?? pillar.branch ?? pillar.repo.branch;
  const step = (name: EventData<'release_step'>['step'], data: Omit<EventData<'release_step'>, 'step'> = {}) => ctx.event('release_step', { step: name, ...data });
  const check = async () => {
    await ctx.probe?.();
    if (ctx.signal.aborted) throw new Interrupted('interrupted');
  };
  const started = Date.now();

  step('fetch', { url: pillar.repo.url, branch });
  const { source, procfile, venv, inputs, states, live, unchanged } = await prepare(ctx, branch);
  await check();
  if (live && unchanged) {
    // the processes follow the pillar's counts without a new release
    // (the web instances of a host whose environment changed take over with it)
    if (procfileApp) await mapLimit(states, 32, (s) => applyProcesses(s, pillar, ctx.tpl, live, false, sh, ctx.event));
    await finishTakeovers(ctx, states);
    ctx.event('release', { status: 'unchanged', id: live, commit: source.commit, changed: 0, duration_ms: Date.now() - started });
    return { status: 'unchanged', id: live };
  }

  const id = releaseId(source.commit);
  const dir = `${p.releases}/${id}`;
  const webs = states.filter((s) => hasRole(s.host, 'web'));
  const meta = { id, commit: source.commit, branch, inputs, by: ctx.by, at: new Date().toISOString() };
  const record: ReleaseRecord = { ...meta, status: 'failed', migrations: [], hosts: states.map((s) => s.host.name) };
  let switched: HostState[] = [];
  const maintenance = maintenanceMode(ctx);
  const upstream = upstreamControl(ctx);
  try {
    // Build everywhere, in parallel; nothing serves from it yet.
    step('build', { id, commit: source.commit, hosts: states.length });
    await mapLimit(states, 32, async (s) => {
      const build = buildScript({ dir, id, meta, paths: p, user: appUser(pillar), venv, pipArgs: app.pip_args, requirements: app.requirements, procfile });
      await sh(s.conn, build, source.archive);
      await check();
      if (django) {
        await sh(s.conn, manageLine({ project: pillar.project, manageCommand: app.manage_command }, ['check'], dir));
        if (hasRole(s.host, 'web')) {
          const wsgi = app.wsgi ?? `${pillar.project}.wsgi:application`;
          await sh(s.conn, manageLine({ project: pillar.project, manageCommand: 'python -m gunicorn' }, ['--check-config', '--pythonpath', dir, wsgi], dir));
          if (app.collectstatic) await sh(s.conn, manageLine({ project: pillar.project, manageCommand: app.manage_command }, ['collectstatic', '--noinput'], dir));
        }
      }
      await sh(s.conn, `touch ${q(`${dir}/.ops-complete`)}`);
      step('built', { id, host: s.host.name });
    });
    await check();

    // a rolling release needs every balancer: one it cannot change is found before the migrations
    const batches = webBatches(webs, pillar.releases.batch);
    if (batches.length > 1) await upstream.check();
    await maintenance.on();
    // Migrations: once, on the first web host, before any traffic reaches the new code.
    const first = webs[0] ?? states[0];
    if (django && first) {
      const manage = (args: string[]) => manageLine({ project: pillar.project, manageCommand: app.manage_command }, args, dir);
      const applied = (text: string) => text.split('\n').filter((l) => /^\s*\[X\]/.test(l)).map((l) => l.replace(/^\s*\[X\]\s*/, '').trim());
      const before = new Set(applied(await sh(first.conn, manage(['showmigrations', '--plan']))));
      step('migrate', { id, host: first.host.name });
      try {
        await sh(first.conn, manage(['migrate', '--noinput']));
      } catch (e) {
        throw new OperationError(`the migrations of ${id} failed on ${first.host.name}: ${errorMessage(e)}`);
      }
      record.migrations = applied(await sh(first.conn, manage(['showmigrations', '--plan']))).filter((m) => !before.has(m));
      step('migrated', { id, host: first.host.name, migrations: record.migrations });
    }
    // The Procfile's release phase: once, on the first web host, in the new release
    const releaseCommand = procfile?.get(RELEASE_TYPE);
    if (releaseCommand !== undefined && first) {
      step('release-phase', { id, host: first.host.name });
      try {
        await sh(first.conn, appShellLine(pillar, `export DYNO=${RELEASE_TYPE}.1 PATH="$(pwd -P)/venv/bin:$PATH"\n${releaseCommand}`, dir));
      } catch (e) {
        throw new OperationError(`the release command of ${id} (Procfile \`release:\`) failed on ${first.host.name}: ${errorMessage(e)}`);
      }
      step('release-phase-done', { id, host: first.host.name });
    }
    await check();
    // Last word before traffic moves: a failing hook stops the release here.
    await ctx.hook?.('before_switch', dir);
    await check();

    // Switch: one atomic rename per host, then a graceful reload. With releases.batch the web
    // hosts go batch by batch, each out of the balancers while it switches and is checked.
    step('switch', { id });
    let health: HealthResult = { ok: true, detail: '' };
    let leftOut: string | undefined;
    if (batches.length > 1) {
      for (const [i, batch] of batches.entries()) {
        const names = batch.map((s) => s.host.name);
        step('batch', { id, batch: i + 1, of: batches.length, hosts: names });
        await upstream.takeOut(batch.map((s) => s.host));
        switched = [...switched, ...batch];
        await mapLimit(batch, 32, (s) => switchTo(s, id, sw));
        const r = await healthCheck(ctx, batch, true);
        if (!r.ok) {
          health = { ok: false, detail: `batch ${i + 1} of ${batches.length} (${names.join(', ')}): ${r.detail}` };
          break;
        }
        // the batch comes back with the next one's going out (one nginx reload), the last one here
        if (i === batches.length - 1) leftOut = await upstream.restore();
        await check();
      }
    }
    if (health.ok) {
      // every host not switched yet (all of them without batches; else the worker-only hosts)
      const rest = states.filter((s) => !switched.includes(s));
      switched = states;
      await mapLimit(rest, 32, (s) => switchTo(s, id, sw));
      step('switched', { id });
      health = await healthCheck(ctx, webs);
    }
    if (!health.ok) {
      const { note: back, notBack } = await rollBack(ctx, switched, sw);
      await upstream.restore(notBack);
      await maintenance.off();
      record.status = 'rolled-back';
      record.detail = `health check failed: ${health.detail}`;
      appendHistory(ctx.workDir, record);
      ctx.event('release', { status: 'rolled-back', id, commit: source.commit, error: `${record.detail}${back}`, duration_ms: Date.now() - started });
      return { status: 'rolled-back', id, detail: record.detail, hookFailed: await hookAfter(ctx, 'after_rollback') };
    }
    await maintenance.off();
    await check();
    record.status = 'ok';
    record.health = health.detail;
    appendHistory(ctx.workDir, record);
    await mapLimit(states, 32, (s) => prune(s, p.releases, id, pillar.releases.keep));
    await finishTakeovers(ctx, states);
    ctx.event('release', { status: 'released', id, commit: source.commit, changed: 1, migrations: record.migrations, health: health.detail, duration_ms: Date.now() - started });
    return { status: 'released', id, hookFailed: await hookAfter(ctx, 'after_release'), leftOut };
  } catch (e) {
    const interrupted = e instanceof Interrupted || ctx.signal.aborted;
    let back = '';
    let notBack: Host[] = [];
    if (switched.length > 0) ({ note: back, notBack } = await rollBack(ctx, switched, sw));
    await upstream.restore(notBack);
    await maintenance.off();
    // The half-built release goes; what served before keeps serving.
    await mapLimit(states, 32, (s) => sh(s.conn, `rm -rf ${q(dir)}`).catch(() => undefined));
    record.status = interrupted ? 'interrupted' : 'failed';
    record.detail = interrupted ? 'interrupted' : errorMessage(e);
    appendHistory(ctx.workDir, record);
    ctx.event('release', { status: record.status, id, commit: source.commit, error: `${record.detail}${back}`, duration_ms: Date.now() - started });
    const hookFailed = switched.length > 0 && !interrupted ? await hookAfter(ctx, 'after_rollback') : undefined;
    return { status: interrupted ? 'interrupted' : 'failed', id, detail: record.detail, hookFailed };
  }
}

/**
 * The app at the branch and what the app hosts run: the source, its build inputs, each host's
 * releases, and whether what runs is already that (same commit and inputs everywhere).
 */
async function prepare(ctx: Planning, branch: string) {
  const { pillar } = ctx;
  const app = pillar.app;
  const p = appPaths(pillar);
  const states = await mapLimit(ctx.appHosts, 32, async (h) => readState(await ctx.session.connect({ name: h.name, address: h.privateAddress, port: h.port, user: 'root' }), h, pillar));
  const commit = takeoverCommit(ctx, states, branch);
  const source = await fetchSource({ workDir: ctx.workDir, url: pillar.repo.url ?? '', branch, commit, deployKey: pillar.secrets.deploy_key, knownHosts: ctx.knownHosts, requirementsPath: app.requirements, procfile: app.type === 'procfile' }).catch((e: unknown) => {
    if (commit === undefined) throw e;
    throw new OperationError(`cannot fetch commit ${commit} (the one supervisor's checkout runs) from ${pillar.repo.url}: ${errorMessage(e)} (neither by its id nor in ${branch}'s history)`);
  });
  const procfile = app.type === 'procfile' ? procfileOf(source.procfile, ctx) : undefined;
  const venv = app.requirements !== undefined && requirementsIn(source.requirements);
  const inputs = buildInputs(source, { type: app.type, requirements: app.requirements, pip_args: app.pip_args, wsgi: app.wsgi, start: app.start_command, collectstatic: app.collectstatic });
  const liveIds = new Set(states.map((s) => s.current));
  const [live] = liveIds;
  const liveInputs = liveIds.size === 1 && live ? await readInputs(states[0] as HostState, p.releases, live) : undefined;
  return { source, procfile, venv, inputs, states, live: liveIds.size === 1 ? live : undefined, unchanged: live !== undefined && liveInputs === inputs };
}

/**
 * Once ops's release serves on hosts margarita set up: supervisor's files of the app renamed (its
 * programs gone from supervisor), salt-minion stopped and disabled. A failure is a note (the
 * release serves; the next deploy tries again), never the release's failure.
 */
async function finishTakeovers(ctx: ReleaseContext, states: HostState[]): Promise<void> {
  // (programs ops does not run were named when the release began, and stay)
  await mapLimit(states.filter((s) => s.takeover && (s.takeover.salt || s.takeover.programs.some((p) => p.kind !== 'other'))), 32, async (s) => {
    const { script, disabled, kept } = finalizeScript(s.takeover as Takeover);
    for (const p of kept) ctx.event('note', { host: s.host.name, message: `supervisor's ${p.name} (${p.kind === 'web' ? 'an app server' : 'Celery'}) is stopped, but its file ${p.file} also runs a program ops leaves running, so the file stays: supervisor starts ${p.name} again when it next starts (a reboot) — remove its [program:${p.name}] section from ${p.file}` });
    try {
      await sh(s.conn, script);
    } catch (e) {
      ctx.event('note', { host: s.host.name, message: `ops serves, but supervisor's programs or salt-minion could not be disabled: ${errorMessage(e)}; the next deploy tries again` });
      return;
    }
    const gone = [...disabled.map((p) => p.name), ...(s.takeover?.salt ? ['salt-minion'] : [])];
    if (gone.length > 0) ctx.event('release_step', { step: 'taken-over', host: s.host.name, programs: gone });
  });
}

/** The app programs supervisor runs on a host that ops has not released to yet (its takeover). */
const supervised = (s: HostState) => (s.current ? [] : (s.takeover?.programs ?? []).filter((p) => p.kind !== 'other'));

/**
 * A first deploy to hosts margarita set up is the commit their checkout (source/) is at, not the
 * branch's head: the move to ops's units changes how the app runs, not what runs. Every such
 * host must be at the same commit. Says so (and what happens to supervisor's programs) in notes.
 */
function takeoverCommit(ctx: Planning, states: HostState[], branch: string): string | undefined {
  const root = appPaths(ctx.pillar).root;
  for (const s of states) {
    const other = (s.takeover?.programs ?? []).filter((p) => p.kind === 'other');
    if (other.length > 0) ctx.event('note', { host: s.host.name, message: `supervisor runs ${other.map((p) => `${p.name} (${p.file})`).join(', ')} from ${root}: neither an app server nor Celery, so ops leaves it running and its file as it is` });
  }
  const taking = states.filter((s) => supervised(s).length > 0);
  if (taking.length === 0 || states.some((s) => s.current)) return undefined;
  const commits = new Map(taking.map((s) => [s.host.name, s.takeover?.commit]));
  const distinct = [...new Set([...commits.values()].filter((c): c is string => c !== undefined))];
  if (distinct.length > 1) throw new OperationError(`the hosts supervisor serves the app on are at different commits (${[...commits].map(([h, c]) => `${h}: ${c?.slice(0, 12) ?? 'unknown'}`).join(', ')}): ops's first release on them must be one commit; deploy one commit to all of them the old way first, or take them over in separate deploys (--host)`);
  const commit = distinct[0];
  for (const s of taking) {
    const t = s.takeover as Takeover;
    const what = `supervisor runs ${supervised(s).map((p) => `${p.name} (${p.kind})`).join(', ')} from ${root}/source`;
    const from = commit ? `ops's first release here is that checkout's commit ${commit.slice(0, 12)}, not ${branch}'s head (the next deploy takes the head)` : `its commit cannot be read, so the first release is ${branch}'s head`;
    ctx.event('note', { host: s.host.name, message: `${what}: ${from}; ops's units take over from supervisor at the switch, and supervisor's programs${t.salt ? ' and salt-minion' : ''} are disabled once the release passes its health check` });
  }
  return commit;
}

/**
 * `ops deploy --dry-run`: what the release would do, changing nothing on any host — made or not
 * (the commit, and why), on which hosts, in which batches, migrations and the release phase where.
 */
export async function planRelease(ctx: Planning): Promise<void> {
  const { pillar } = ctx;
  if (!pillar.repo.url) {
    ctx.event('release', { status: 'skipped', reason: 'no repo.url in the pillar', dry_run: true });
    return;
  }
  if (ctx.appHosts.length === 0) {
    ctx.event('release', { status: 'skipped', reason: 'no web or worker host in this deploy', dry_run: true });
    return;
  }
  const branch = ctx.branch ?? pillar.branch ?? pillar.repo.branch;
  const { source, procfile, states, live, unchanged } = await prepare(ctx, branch);
  if (unchanged) {
    ctx.event('release', { status: 'unchanged', id: live, commit: source.commit, dry_run: true, ...(pillar.app.type === 'procfile' ? { processes: 'set to the pillar\'s counts' } : {}) });
    return;
  }
  const webs = states.filter((s) => hasRole(s.host, 'web'));
  const first = webs[0] ?? states[0];
  const steps: string[] = [];
  if (pillar.app.type === 'django' && first) steps.push(`migrations on ${first.host.name}`);
  if (procfile?.has(RELEASE_TYPE) && first) steps.push(`the Procfile's release: on ${first.host.name}`);
  const batches = webBatches(webs, pillar.releases.batch).map((b) => b.map((s) => s.host.name));
  ctx.event('release', {
    status: 'would-release',
    commit: source.commit,
    branch,
    hosts: states.map((s) => s.host.name),
    live: [...new Set(states.map((s) => s.current ?? 'none'))],
    before_switch: steps,
    batches: batches.length > 1 ? batches : undefined,
    health: pillar.healthcheck.path,
    dry_run: true,
  });
}

/**
 * `--maintenance`: every balancer answers with the maintenance page (the health check passes
 * through) from `on` until `off`; `off` is safe to call again, and a balancer it cannot reach is
 * reported, never thrown (the deploy's own outcome comes first).
 */
function maintenanceMode(ctx: ReleaseContext): { on(): Promise<void>; off(): Promise<void> } {
  const balancers = ctx.hosts.filter((h) => hasRole(h, 'balancer'));
  let active = false;
  const set = async (state: boolean) => {
    const page = Buffer.from(ctx.tpl.render('balancer/maintenance.html.njk', { domain: ctx.pillar.domain ?? ctx.env, message: ctx.maintenance, project: ctx.pillar.project }), 'utf8');
    await mapLimit(balancers, 32, async (b) => {
      try {
        const conn = await ctx.session.connect({ name: b.name, address: b.privateAddress, port: b.port, user: 'root' });
        const r = await captureExec(conn, maintenanceScript(ctx.pillar.project, state), state ? page : undefined);
        if (r.code !== 0) throw new OperationError(r.err.trim() || `exit ${r.code}`);
      } catch (e) {
        if (state) throw new OperationError(`${b.name}: maintenance mode could not be turned on: ${errorMessage(e)}`);
        ctx.event('note', { host: b.name, message: `maintenance mode could not be turned off: ${errorMessage(e)}; run ops maintenance off ${ctx.env}` });
      }
    });
    ctx.event('release_step', { step: state ? 'maintenance-on' : 'maintenance-off', balancers: balancers.map((b) => b.name) });
  };
  return {
    async on() {
      if (ctx.maintenance === undefined || balancers.length === 0) return;
      active = true;
      await set(true);
    },
    async off() {
      if (!active) return;
      active = false;
      await set(false);
    },
  };
}

/** The release's Procfile, checked: every type it names can run where the pillar puts it. */
function procfileOf(text: string | undefined, ctx: Planning): Map<string, string> {
  if (text === undefined) throw new OperationError(`app.type is procfile, but the app's ${ctx.branch ?? ctx.pillar.branch ?? ctx.pillar.repo.branch} branch has no Procfile at the top of the repo`);
  const procfile = parseProcfile(text);
  const webHosts = ctx.appHosts.filter((h) => hasRole(h, 'web'));
  if (webHosts.length > 0 && !procfile.has('web')) throw new OperationError('the Procfile has no web process, and the environment has web hosts');
  for (const type of procfile.keys()) {
    if (type === RELEASE_TYPE) continue;
    const spec = processSpec(ctx.pillar, type);
    if (spec.count > 0 && !ctx.hosts.some((h) => hasRole(h, spec.role))) ctx.event('note', { message: `the Procfile's ${type} process runs on ${spec.role} hosts, and '${ctx.env}' has none` });
  }
  for (const type of Object.keys(ctx.pillar.processes)) if (!procfile.has(type)) ctx.event('note', { message: `processes.${type} is in the pillar, but the Procfile has no ${type}` });
  return procfile;
}

function skip(ctx: ReleaseContext, why: string): ReleaseOutcome {
  ctx.event('release', { status: 'skipped', reason: why });
  return { status: 'skipped', detail: why };
}

async function readInputs(s: HostState, releases: string, id: string): Promise<string | undefined> {
  try {
    const meta = JSON.parse(await sh(s.conn, `cat ${q(`${releases}/${id}/.ops-release.json`)}`)) as { inputs?: string };
    return meta.inputs;
  } catch {
    return undefined;
  }
}

/**
 * Points `current` at the release (rename over the old link: never a moment without one), then
 * reloads: gunicorn gets HUP and ops waits until every old worker has finished and been replaced;
 * Celery workers restart (queued tasks wait in the broker). Services not running yet start.
 * Procfile apps: each host's processes of that release, web ones taking over (processes.ts).
 */
export async function switchTo(s: HostState, id: string, sw: Switching): Promise<void> {
  const { pillar } = sw;
  const root = appPaths(pillar).root;
  const units = appUnits(pillar);
  const lines = [
    `set -e`,
    `cd ${q(root)}`,
    // A virtualenv that comes or goes changes the app server's interpreter: that needs a restart.
    `venv_before=$(test -x current/venv/bin/python && echo 1 || true)`,
    `venv_after=$(test -x ${q(`releases/${id}/venv/bin/python`)} && echo 1 || true)`,
    `[ "$venv_before" = "$venv_after" ] && ops_restart=0 || ops_restart=1`,
    `ln -sfn ${q(`releases/${id}`)} .current.new`,
    `mv -T .current.new current`,
  ];
  if (pillar.app.type === 'procfile') {
    await sh(s.conn, lines.join('\n'));
    await applyProcesses(s, pillar, sw.tpl, id, true, sh, sw.event);
    return;
  }
  // supervisor's programs of a margarita host hand over to ops's units here (takeover.ts)
  const taking = supervised(s);
  if (taking.length > 0) sw.event('release_step', { step: 'take-over', id, host: s.host.name, programs: taking.map((p) => p.name) });
  if (hasRole(s.host, 'web')) {
    const reload = gracefulReload(units.web, pillar.app.workers);
    const handover = takeOverWeb(pillar, taking, reload);
    // In a subshell: its exits end the reload, not the switch script.
    lines.push(...(handover.length > 0 ? handover : [`(\n${reload}\n)`]));
  }
  if (hasRole(s.host, 'worker')) {
    lines.push(...stopSupervisedWorkers(taking));
    lines.push(`for u in ${units.worker} ${units.beat}; do if systemctl cat "$u" >/dev/null 2>&1; then systemctl enable --quiet "$u"; systemctl restart "$u"; fi; done`);
  }
  await sh(s.conn, lines.join('\n'));
}

/**
 * The release's health check: through every balancer, or — without one, or `direct` (a batch of
 * a rolling release, out of the balancers) — on the app servers of each of `webs`.
 */
export async function healthCheck(ctx: Pick<ReleaseContext, 'pillar' | 'hosts' | 'event'>, webs: HostState[], direct = false): Promise<HealthResult> {
  const { pillar } = ctx;
  const check = pillar.healthcheck;
  const balancers = direct ? [] : ctx.hosts.filter((h) => hasRole(h, 'balancer'));
  ctx.event('release_step', { step: 'health', via: balancers.length > 0 ? 'balancer' : 'web hosts', ...(direct ? { hosts: webs.map((w) => w.host.name) } : {}) });
  const targets = {
    balancers: balancers.map((b) => ({ name: b.name, address: b.privateAddress })),
    // a Procfile app's web instances each have a port of their own: every running one is checked
    webs: balancers.length > 0 ? [] : await Promise.all(webs.map(async (w) => ({ name: w.host.name, conn: () => Promise.resolve(w.conn), ports: pillar.app.type === 'procfile' ? await webInstancePorts(w, pillar) : [pillar.app.port] }))),
  };
  const results = await checkApp(check, pillar.domain, targets, { seconds: healthWindow(check) });
  const failed = results.find((r) => !r.ok);
  if (failed) return failed;
  const where = balancers.length > 0 ? `through ${balancers.map((b) => b.name).join(', ')}` : `on ${webs.map((w) => w.host.name).join(', ') || 'no web host'}`;
  return { ok: true, detail: `${check.path} → ${check.status} ${where}` };
}

/** The ports of a Procfile app's running web instances on a host. */
async function webInstancePorts(w: HostState, pillar: Pillar): Promise<number[]> {
  const out = await sh(w.conn, `systemctl list-units --plain --no-legend --state=active ${q(`${pillar.project}-web@*.service`)} | awk '{print $1}'`);
  return out.split('\n').map((u) => webUnitPort(pillar, u.trim())).filter((p): p is number => p !== undefined);
}

/**
 * Back to the release each host served before; returns a note for the error message and the
 * hosts that are not back (no release before, or the switch back failed): a rolling release
 * leaves those out of the balancers.
 */
async function rollBack(ctx: ReleaseContext, states: HostState[], sw: Switching): Promise<{ note: string; notBack: Host[] }> {
  ctx.event('release_step', { step: 'rollback' });
  const notes: string[] = [];
  const notBack: Host[] = [];
  await mapLimit(states, 32, async (s) => {
    if (s.takeover && supervised(s).length > 0) {
      // a host supervisor served before ops: its programs serve again
      try {
        await sh(s.conn, handBackScript(ctx.pillar, s.takeover));
        ctx.event('release_step', { step: 'handed-back', host: s.host.name, programs: supervised(s).map((p) => p.name) });
        notes.push(`${s.host.name}: supervisor's programs serve again`);
      } catch (e) {
        notes.push(`${s.host.name}: handing back to supervisor's programs failed: ${errorMessage(e)}`);
        notBack.push(s.host);
      }
      return;
    }
    if (!s.current) {
      notes.push(`${s.host.name} had no release before`);
      notBack.push(s.host);
      return;
    }
    try {
      await switchTo(s, s.current, sw);
    } catch (e) {
      notes.push(`${s.host.name}: switching back failed: ${errorMessage(e)}`);
      notBack.push(s.host);
    }
  });
  const back = [...new Set(states.map((s) => s.current).filter(Boolean))].join(', ');
  return { note: `; switched back to ${back || 'nothing'}${notes.length ? ` (${notes.join('; ')})` : ''}`, notBack };
}

/** Keeps the newest `keep` complete releases (and always the current one); drops unfinished ones. */
async function prune(s: HostState, releases: string, current: string, keep: number): Promise<void> {
  await sh(
    s.conn,
    `cd ${q(releases)} || exit 0
for d in */; do d=\${d%/}; [ -f "$d/.ops-complete" ] || [ "$d" = ${q(current)} ] || rm -rf "$d"; done
ls -1d */ 2>/dev/null | sed 's:/$::' | sort -r | tail -n +${keep + 1} | while read -r d; do [ "$d" = ${q(current)} ] || rm -rf "$d"; done`,
  );
}

/**
 * The shell script that builds a release on an app host from the app's archive on its stdin. The
 * app's files (its archive, its virtualenv, what pip installs and runs) are made by the app user, so
 * nothing in them — a symbolic link in the archive, a package's build script — acts as root; then
 * they become root's and read-only, as the app never writes its own code.
 */
export function buildScript(o: { dir: string; id: string; meta: object; paths: { media: string; envFile: string }; user: string; venv: boolean; pipArgs: readonly string[]; requirements: string | undefined; procfile?: ReadonlyMap<string, string> }): string {
  const asApp = [
    'set -e',
    `cd ${q(o.dir)}`,
    'tar -x --no-same-owner -f -',
    `printf '%s\\n' ${q(o.id)} > RELEASE`,
    `printf '%s\\n' ${q(JSON.stringify(o.meta))} > .ops-release.json`,
    `[ -e media ] || ln -s ${q(o.paths.media)} media`,
    `ln -sfn ${q(o.paths.envFile)} .env`,
    ...(o.procfile ? procfileBuildLines(o.procfile) : []),
  ];
  if (o.venv && o.requirements !== undefined) {
    const pip = ['venv/bin/pip', 'install', '--no-input', '--disable-pip-version-check', '--quiet', ...o.pipArgs, '-r', o.requirements];
    asApp.push('python3 -m venv --system-site-packages venv', `PIP_NO_CACHE_DIR=1 ${shellLine(pip)}`);
  }
  return [
    'set -e',
    `rm -rf ${q(o.dir)}`,
    `install -d -o ${q(o.user)} -g ${q(o.user)} -m 0755 ${q(o.dir)}`,
    `cd / && ${shellLine(['runuser', '-u', o.user, '--', 'sh', '-c', asApp.join('\n')])}`,
    `chown -R -h root:root ${q(o.dir)}`,
    `chmod -R go-w ${q(o.dir)}`,
  ].join('\n');
}
