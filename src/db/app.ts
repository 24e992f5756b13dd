/**
 * The target environment's app around a database swap: its web and worker units are stopped
 * (only those that were running are started again), the current release's pending migrations run
 * against the new database, and the health check follows the restart.
 */
import { OperationError } from '../errors.js';
import type { LoadedPillar } from '../pillar/load.js';
import { checkApp, healthWindow, type HealthResult } from '../release/health.js';
import { manageLine } from '../release/manage.js';
import { activeAppUnits, appPaths, webUnitPort } from '../roles/app.js';
import { captureExec, renderCommand } from '../ssh/command.js';
import type { Connection } from '../ssh/connection.js';
import { selectTargets } from '../core/targets.js';
import type { SshSession } from '../ssh/session.js';
import type { Target } from '../ssh/target.js';

export class AppControl {
  /** Units that were running (and were stopped), per host. */
  private stopped = new Map<string, { conn: Connection; units: string[] }>();
  /** The first web host's app ports that were started again (for the health check). */
  private webPorts: number[] = [];

  private constructor(
    private readonly session: SshSession,
    private readonly pillar: LoadedPillar,
    private readonly hosts: Target[],
    private readonly web: Target | undefined,
  ) {}

  /** The app hosts (web, worker) of the environment; none is fine (a db-only environment). */
  static of(session: SshSession, pillar: LoadedPillar, user: string | undefined): AppControl {
    const servers = Object.values(pillar.data.servers);
    const has = (role: string) => servers.some((s) => s.roles.includes(role));
    const web = has('web') ? selectTargets(pillar, { role: 'web', user }) : [];
    const worker = has('worker') ? selectTargets(pillar, { role: 'worker', user }) : [];
    const hosts = [...web, ...worker.filter((w) => !web.some((h) => h.name === w.name))];
    return new AppControl(session, pillar, hosts, web[0]);
  }

  private root(conn: Connection, argv: string[]): string {
    return renderCommand({ argv }, { sudo: true }, { loginUser: conn.user });
  }

  /** Which app units run where, e.g. `staging-3: demo-web.service` (for the confirmation). */
  async running(): Promise<Map<string, string[]>> {
    const found = new Map<string, string[]>();
    for (const t of this.hosts) {
      const conn = await this.session.connect(t);
      const r = await captureExec(conn, renderCommand({ line: activeAppUnits({ project: this.pillar.data.project }) }, {}, { loginUser: conn.user }));
      const active = r.out.toString('utf8').split('\n').filter((u) => /^[A-Za-z0-9_.@-]+\.service$/.test(u));
      if (active.length > 0) found.set(t.name, active);
    }
    return found;
  }

  async stop(): Promise<void> {
    const running = await this.running();
    for (const t of this.hosts) {
      const units = running.get(t.name);
      if (!units) continue;
      const conn = await this.session.connect(t);
      this.stopped.set(t.name, { conn, units });
      const r = await captureExec(conn, this.root(conn, ['systemctl', 'stop', ...units]));
      if (r.code !== 0) throw new OperationError(`${t.name}: cannot stop ${units.join(' ')}: ${r.err.trim()}`);
    }
  }

  /** Starts what `stop` stopped; returns the failures (each host is tried). */
  async start(): Promise<string[]> {
    const failed: string[] = [];
    for (const [name, { conn, units }] of this.stopped) {
      const r = await captureExec(conn, this.root(conn, ['systemctl', 'start', ...units])).catch((e: Error) => ({ code: 1, err: e.message }));
      if (r.code !== 0) failed.push(`${name}: cannot start ${units.join(' ')}: ${r.err.trim()}`);
      else if (name === this.web?.name) this.webPorts = units.map((u) => webUnitPort(this.pillar.data, u)).filter((p): p is number => p !== undefined);
    }
    this.stopped.clear();
    return failed;
  }

  /**
   * Runs the current release's pending migrations on the first web host (Django apps with a
   * release there); returns what ran, or undefined when there is nothing to migrate with.
   */
  async migrate(): Promise<string | undefined> {
    const data = this.pillar.data;
    if (!this.web || data.app.type !== 'django') return undefined;
    const conn = await this.session.connect(this.web);
    const current = appPaths(data).current;
    const has = await captureExec(conn, this.root(conn, ['test', '-d', current]));
    if (has.code !== 0) return undefined;
    const line = manageLine({ project: data.project, manageCommand: data.app.manage_command }, ['migrate', '--noinput']);
    const r = await captureExec(conn, renderCommand({ line }, { sudo: true }, { loginUser: conn.user }));
    if (r.code !== 0) throw new OperationError(`${this.web.name}: migrations failed (exit ${r.code}): ${r.err.trim().split('\n').slice(-2).join(' | ')}`);
    return `${this.web.name}: migrate`;
  }

  /** The health check against the first web host's app servers, when they were started again. */
  async health(): Promise<HealthResult | undefined> {
    const web = this.web;
    if (!web || this.webPorts.length === 0) return undefined;
    const data = this.pillar.data;
    const results = await checkApp(data.healthcheck, data.domain, { balancers: [], webs: [{ name: web.name, conn: () => this.session.connect(web), ports: this.webPorts }] }, { seconds: healthWindow(data.healthcheck) });
    return results.find((r) => !r.ok) ?? results.at(-1);
  }

}
