/**
 * Procfile apps (`app.type: procfile`): the Procfile in the release is the list of processes, as on
 * Heroku. The master reads and checks it when it builds a release and writes each command to
 * `.ops-procfile/<type>` in the release; a systemd template unit per type (`<project>-<type>@.service`)
 * runs `sh -c` on that file's line in the live release, so a switch or a rollback changes the
 * commands with `current`, and no Procfile text ever reaches a unit file. `web` runs on web hosts,
 * instance N on port `app.port + N - 1`; every other type on worker hosts unless
 * `processes.<type>.role` says otherwise. `release` is not a process: it runs once per release.
 */
import type { EmitEvent } from '../ui/events.js';
import { OperationError } from '../errors.js';
import { PROCESS_TYPE_RE, printable } from '../pillar/forms.js';
import type { Pillar } from '../pillar/schema.js';
import { appPaths, appUser, WITH_ENV } from '../roles/app.js';
import { hasRole, type Host } from '../roles/context.js';
import { systemdExec } from '../roles/escape.js';
import type { Templates } from '../roles/templates.js';
import type { Connection } from '../ssh/connection.js';
import { quote, shellLine } from '../ssh/quote.js';
import { healthWindow, probeOnHost, untilHealthy } from './health.js';

export const PROCFILE = 'Procfile';
/** In each release: one file per process type holding its Procfile command. */
export const PROCESS_DIR = '.ops-procfile';
/** The release phase's type: run once per release before the switch, never kept running. */
export const RELEASE_TYPE = 'release';

/** `type: command` lines; blank lines and `#` comments skipped; a line that is neither is refused. */
export function parseProcfile(text: string): Map<string, string> {
  const types = new Map<string, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const where = `Procfile line ${i + 1}`;
    const m = /^([^:\s]+):(.*)$/.exec(line);
    if (!m) throw new OperationError(`${where} is not \`type: command\`: ${printable(line)}`);
    const type = m[1] ?? '';
    const command = (m[2] ?? '').trim();
    if (!PROCESS_TYPE_RE.test(type)) throw new OperationError(`${where}: '${printable(type)}' is not a process type (letters, digits, _ and -, at most 30)`);
    if (command === '') throw new OperationError(`${where}: ${type} has no command`);
    if (command.includes('\0')) throw new OperationError(`${where}: ${type}'s command holds a NUL byte`);
    if (types.has(type)) throw new OperationError(`${where}: ${type} is in the Procfile twice`);
    types.set(type, command);
  });
  if (types.size === 0) throw new OperationError('the Procfile names no process');
  return types;
}

export interface ProcessSpec {
  type: string;
  count: number;
  role: 'web' | 'worker';
}

export function processSpec(pillar: Pillar, type: string): ProcessSpec {
  const p = pillar.processes[type];
  return { type, count: p?.count ?? 1, role: p?.role ?? (type === 'web' ? 'web' : 'worker') };
}

export const processTemplate = (project: string, type: string) => `${project}-${type}@.service`;
export const processInstance = (project: string, type: string, n: number) => `${project}-${type}@${n}.service`;

/** Web instances alternate between two interleaved sets of numbers (a new set starts before the old stops): their ports. */
export function webPortRange(pillar: Pillar): { first: number; last: number } {
  const count = Math.max(1, processSpec(pillar, 'web').count);
  return { first: pillar.app.port, last: pillar.app.port + 2 * count - 1 };
}

/** Most web instances a host may run (processes.web.count ≤ 32, two sets). */
export const WEB_PORTS = 64;

/**
 * The ports the web hosts' firewall admits from balancers: the same window whatever the count,
 * so a converge that changes the count never closes a port the balancers still use (web hosts
 * converge before balancers); a port nothing listens on refuses at once.
 */
export function webFirewallRange(pillar: Pillar): { first: number; last: number } {
  return { first: pillar.app.port, last: pillar.app.port + WEB_PORTS - 1 };
}

/**
 * The template unit of one process type. Its command line is ops's own shell text (paths, the
 * type, numbers); the instance number comes from systemd (`%i`) as the script's $1.
 */
export function processUnit(pillar: Pillar, tpl: Templates, type: string): string {
  const p = appPaths(pillar);
  const spec = processSpec(pillar, type);
  const file = `${PROCESS_DIR}/${type}`;
  const vars = [
    ...(type === 'web' ? [`PORT=$((${pillar.app.port} + n - 1))`, `${quote(`DYNO=${type}.`)}$(( (n + 1) / 2 ))`] : [`${quote(`DYNO=${type}.`)}$n`]),
    `WEB_CONCURRENCY=${pillar.app.workers}`,
    // the release's virtualenv first, when it has one (as a buildpack's bin on Heroku)
    '"PATH=$(pwd -P)/venv/bin:$PATH"',
  ];
  const script = [
    'n=$1',
    `cd ${quote(p.current)} || exit 1`,
    `[ -f ${quote(file)} ] || { echo ${quote(`the live release's Procfile has no ${type} process`)} >&2; exit 1; }`,
    `exec ${shellLine([WITH_ENV, p.envFile, 'env'])} ${vars.join(' ')} /bin/sh -c "$(cat ${quote(file)})"`,
  ].join('\n');
  return tpl.render('web/process.service.njk', {
    project: pillar.project,
    type,
    paths: p,
    user: appUser(pillar),
    exec_start: `${systemdExec(['/bin/sh', '-c', script, type])} %i`,
  });
}

/** The build's lines (run as the app user in the release) that keep each Procfile command in the release. */
export function procfileBuildLines(procfile: ReadonlyMap<string, string>): string[] {
  return [`rm -rf ${PROCESS_DIR}`, `mkdir ${PROCESS_DIR}`, ...[...procfile].map(([type, command]) => `printf '%s\\n' ${quote(command)} > ${quote(`${PROCESS_DIR}/${type}`)}`)];
}

interface HostLink {
  host: Host;
  conn: Connection;
}

type Sh = (conn: Connection, line: string) => Promise<string>;

/** What a host has: the process types of a release, the templates ops manages there, their instances. */
async function readProcesses(s: HostLink, pillar: Pillar, id: string, sh: Sh) {
  const p = appPaths(pillar);
  const out = await sh(
    s.conn,
    [
      `cd ${quote(p.root)}`,
      `[ -d ${quote(`releases/${id}/${PROCESS_DIR}`)} ] && echo has-dir`,
      `ls -1 ${quote(`releases/${id}/${PROCESS_DIR}`)} 2>/dev/null | sed 's/^/type /'`,
      `sed 's/^/managed /' ${quote(p.processes)} 2>/dev/null`,
      `systemctl list-units --all --plain --no-legend ${quote(`${pillar.project}-*@*.service`)} | awk '{print "unit", $1, $3}'`,
      `ls -1 /etc/systemd/system/multi-user.target.wants/ | grep -E -- ${quote(`^${pillar.project}-[A-Za-z0-9_-]+@[0-9]+\\.service$`)} | sed 's/^/unit /; s/$/ enabled/'`,
      `[ -e ${quote(envPendingFile(pillar))} ] && echo env-pending`,
      'true',
    ].join('\n'),
  );
  const types: string[] = [];
  const managed = new Set<string>();
  const instances = new Map<string, Map<number, boolean>>();
  for (const line of out.split('\n')) {
    const [what, name, state] = line.split(' ');
    if (what === 'type' && name && PROCESS_TYPE_RE.test(name) && name !== RELEASE_TYPE) types.push(name);
    if (what === 'managed' && name) managed.add(name);
    const m = what === 'unit' && name ? /^(.+)@([0-9]+)\.service$/.exec(name) : null;
    if (m) {
      const template = `${m[1]}@.service`;
      const map = instances.get(template) ?? new Map<number, boolean>();
      const n = Number(m[2]);
      map.set(n, (map.get(n) ?? false) || state === 'active' || state === 'activating' || state === 'reloading');
      instances.set(template, map);
    }
  }
  const lines = out.split('\n');
  return { types, managed, instances, hasDir: lines.includes('has-dir'), envPending: lines.includes('env-pending') };
}

/**
 * Makes a host run the processes of release `id`: the template units of its types (written when
 * they differ, those of types gone from the Procfile stopped and removed), `count` instances of
 * each — restarted when `restart` (a switch) or when their unit changed, else only started or
 * stopped to the count. Web instances take over: a new set starts, each passes the health check on
 * its own port, then the old set stops; a failing one is stopped and the old set keeps serving.
 */
export async function applyProcesses(s: HostLink, pillar: Pillar, tpl: Templates, id: string, restart: boolean, sh: Sh, event: EmitEvent): Promise<void> {
  const project = pillar.project;
  const p = appPaths(pillar);
  const have = await readProcesses(s, pillar, id, sh);
  // a release made for another app type has no processes: nothing is stopped or removed for it
  if (!have.hasDir) throw new OperationError(`${s.host.name}: release ${id} has no Procfile processes (it was made for another app type): nothing was changed`);
  const mine = have.types.map((t) => processSpec(pillar, t)).filter((spec) => hasRole(s.host, spec.role));
  const wanted = new Set(mine.map((spec) => processTemplate(project, spec.type)));
  const lines = ['set -e', 'cd /etc/systemd/system', 'reload=0'];
  mine.forEach((spec, i) => {
    const name = processTemplate(project, spec.type);
    lines.push(
      `printf '%s' ${quote(processUnit(pillar, tpl, spec.type))} > ${quote(`.${name}.new`)}`,
      `if cmp -s ${quote(`.${name}.new`)} ${quote(name)}; then rm -f ${quote(`.${name}.new`)}; ch${i}=0; else mv -f ${quote(`.${name}.new`)} ${quote(name)}; ch${i}=1; reload=1; fi`,
    );
  });
  for (const name of have.managed) {
    if (wanted.has(name) || !/^[A-Za-z0-9_.@-]+$/.test(name)) continue;
    const gone = [...(have.instances.get(name)?.keys() ?? [])].map((n) => name.replace('@.service', `@${n}.service`));
    for (const u of gone) lines.push(`systemctl disable --now --quiet ${quote(u)} || true`);
    lines.push(`rm -f ${quote(name)}`, 'reload=1');
    event('process', { host: s.host.name, process: name.slice(project.length + 1, -'@.service'.length), status: 'removed', count: 0 });
  }
  lines.push('[ $reload = 0 ] || systemctl daemon-reload', `printf '%s\\n' ${[...wanted].map(quote).join(' ') || "''"} | grep -v '^$' > ${quote(p.processes)} || true`);
  // every type but web: to the count, restarted on a switch (a stop lets running work finish: SIGTERM, 30 s)
  mine.forEach((spec, i) => {
    if (spec.type === 'web') return;
    const existing = have.instances.get(processTemplate(project, spec.type)) ?? new Map<number, boolean>();
    for (let n = 1; n <= spec.count; n++) {
      const u = quote(processInstance(project, spec.type, n));
      lines.push(restart ? `systemctl enable --quiet ${u}; systemctl restart ${u}` : `systemctl enable --quiet ${u}; if [ $ch${i} = 1 ]; then systemctl restart ${u}; else systemctl start ${u}; fi`);
    }
    for (const n of existing.keys()) if (n > spec.count) lines.push(`systemctl disable --now --quiet ${quote(processInstance(project, spec.type, n))} || true`);
  });
  const web = mine.findIndex((spec) => spec.type === 'web');
  lines.push(web >= 0 ? `echo web-changed=$ch${web}` : 'true');
  const out = await sh(s.conn, lines.join('\n'));
  // a process that exits at once (a crash on import, a missing module) fails the switch, as a failing health check does
  const started = mine.filter((spec) => spec.type !== 'web').flatMap((spec) => Array.from({ length: spec.count }, (_, i) => processInstance(project, spec.type, i + 1)));
  if (started.length > 0) {
    const down = await sh(s.conn, `sleep 3; for u in ${started.map(quote).join(' ')}; do systemctl is-active --quiet "$u" || { echo "down $u"; journalctl -u "$u" -n 5 --no-pager -o cat 2>/dev/null | sed 's/^/  /'; }; done; true`);
    if (down.includes('down ')) throw new OperationError(`${s.host.name}: ${down.trim().split('\n').filter((l) => l.startsWith('down ')).map((l) => l.slice(5)).join(', ')} stopped right after starting:\n${down.trim()}`);
  }
  for (const spec of mine) if (spec.type !== 'web') event('process', { host: s.host.name, process: spec.type, status: restart ? 'restarted' : 'running', count: spec.count });
  const webSpec = mine[web];
  if (webSpec) await takeOver(s, pillar, webSpec, have.instances.get(processTemplate(project, 'web')) ?? new Map(), restart || have.envPending || out.includes('web-changed=1'), sh, event);
  // the web processes (if any here) run with the environment of now
  if (have.envPending) await sh(s.conn, `rm -f ${quote(envPendingFile(pillar))}`);
}

/**
 * Left by the env file's handler on a Procfile app's host: its web processes have not taken the
 * new environment up yet. The next applyProcesses (a release, or an unchanged deploy) does, and
 * removes it — also when that is a later deploy than the one that changed the file.
 */
export function envPendingFile(pillar: Pick<Pillar, 'project'>): string {
  return `${appPaths(pillar).shared}/.ops-env-pending`;
}

/**
 * The numbers of a set of `count` web instances: the odd ones (1, 3, 5, …) or the even ones
 * (2, 4, 6, …). Interleaved, the first instances of either set stay inside the balancers' ports
 * (app.port … app.port + 2·count − 1) when the count goes down, so a converge that narrows the
 * range before the take-over still leaves the running set serving.
 */
export function webSet(parity: 1 | 2, count: number): number[] {
  return Array.from({ length: count }, (_, i) => 2 * i + parity);
}

/** A new set of web instances starts and passes the health check on its ports before the old set stops. */
async function takeOver(s: HostLink, pillar: Pillar, spec: ProcessSpec, existing: Map<number, boolean>, renew: boolean, sh: Sh, event: EmitEvent): Promise<void> {
  const project = pillar.project;
  const unit = (n: number) => quote(processInstance(project, 'web', n));
  const running = [...existing].filter(([, active]) => active).map(([n]) => n).sort((a, b) => a - b);
  const inactive = [...existing].filter(([, active]) => !active).map(([n]) => n);
  // the set that runs now (by the parity most of its instances have), and the other one
  const odd = running.filter((n) => n % 2 === 1).length;
  const liveParity: 1 | 2 = odd >= running.length - odd ? 1 : 2;
  const live = webSet(liveParity, spec.count);
  if (!renew && running.length === spec.count && running.every((n) => live.includes(n))) {
    event('process', { host: s.host.name, process: 'web', status: 'running', count: spec.count });
    return;
  }
  const fresh = webSet(running.length === 0 ? 1 : liveParity === 1 ? 2 : 1, spec.count);
  const keep = running.filter((n) => !fresh.includes(n));
  const stop = (ns: number[]) => ns.map((n) => `systemctl disable --now --quiet ${unit(n)} || true`);
  await sh(s.conn, ['set -e', ...stop(inactive.filter((n) => !fresh.includes(n))), ...fresh.map((n) => `systemctl enable --quiet ${unit(n)}; systemctl restart ${unit(n)}`), 'true'].join('\n'));
  for (const n of fresh) {
    const r = await untilHealthy(() => probeOnHost(s.conn, { port: pillar.app.port + n - 1, domain: pillar.domain, check: pillar.healthcheck }), healthWindow(pillar.healthcheck));
    if (!r.ok) {
      await sh(s.conn, [...stop(fresh), 'true'].join('\n')).catch(() => undefined);
      throw new OperationError(`${s.host.name}: the new web process ${processInstance(project, 'web', n)} failed its health check (${r.detail}); ${keep.length > 0 ? 'the running ones serve on' : 'nothing ran before'}`);
    }
  }
  // only now the old set stops (also its instances the balancers no longer reach)
  await sh(s.conn, [...stop(keep), 'true'].join('\n'));
  event('process', { host: s.host.name, process: 'web', status: 'took-over', count: spec.count, instances: fresh });
}
