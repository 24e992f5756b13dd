/**
 * Renders the converge event stream for people: changed and failed states as they happen (with
 * the failing command, exit code and stderr; with diffs in a dry run), then a summary per host.
 */
import type { EventData } from './events.js';
import type { Output } from './output.js';
import { redactor } from './redact.js';
import { tlsLine } from '../tls/report.js';

type StateEvent = EventData<'state'>;
type HostDone = EventData<'host_done'>;

export class DeployPrinter {
  private readonly done: HostDone[] = [];
  private release?: Record<string, unknown>;
  private width = 8;

  constructor(private readonly out: Output, private readonly verbose = false) {}

  private line(host: string, text: string): void {
    this.width = Math.max(this.width, host.length);
    process.stdout.write(redactor.redact(`${this.out.c.cyan(host.padEnd(this.width))} ${this.out.c.dim('|')} ${text}\n`));
  }

  /** One NDJSON event from the master. */
  handle(e: Record<string, unknown>): void {
    if (this.out.json) {
      this.out.relay(e);
      if (e.type === 'host_done') this.done.push(e as unknown as HostDone);
      if (e.type === 'release') this.release = e;
      return;
    }
    const c = this.out.c;
    if (e.type === 'lock') this.line('deploy', c.dim(String(e.message)));
    else if (e.type === 'hook') this.hook(e);
    else if (e.type === 'hook_failed') this.line('hook', `${c.red('failed')} ${e.error}${e.point === 'after_release' || e.point === 'after_rollback' ? ' (nothing is switched back for it)' : ''}`);
    else if (e.type === 'release_step') this.releaseStep(e);
    else if (e.type === 'note') this.line(String(e.host ?? 'note'), c.yellow(String(e.message)));
    else if (e.type === 'process') this.line(String(e.host), c.dim(`${e.process} processes: ${e.status} (${e.count})`));
    else if (e.type === 'tls') {
      const l = tlsLine(e);
      if (l) this.line('tls', e.status === 'failed' ? c.red(l) : e.status === 'warning' ? c.yellow(l) : l);
    }
    else if (e.type === 'release') {
      this.release = e;
      const s = String(e.status);
      if (s === 'released') this.line('release', `${c.green('released')} ${e.id} (${String(e.commit).slice(0, 12)}) — ${e.health}`);
      else if (s === 'unchanged') this.line('release', `${c.green('unchanged')} ${e.id} is live (commit ${String(e.commit).slice(0, 12)}); ${e.dry_run ? 'would release nothing' : 'nothing to release'}${e.processes ? `; processes ${e.processes}` : ''}`);
      else if (s === 'would-release') {
        const batches = e.batches as string[][] | undefined;
        this.line('release', `${c.yellow('would release')} commit ${String(e.commit).slice(0, 12)} (${e.branch}) on ${(e.hosts as string[]).join(', ')}, live now: ${(e.live as string[]).join(', ')}`);
        const before = e.before_switch as string[];
        if (before.length > 0) this.line('release', `    before the switch: ${before.join('; ')}`);
        this.line('release', `    switch: ${batches ? batches.map((b, i) => `batch ${i + 1}: ${b.join(', ')}`).join(' → ') : 'every host at once'}, graceful reload, then the health check (GET ${e.health})`);
      }
      else if (s === 'skipped') this.line('release', c.dim(`no release: ${e.reason}`));
      else this.line('release', `${c.red(s)} ${e.id ?? ''}: ${e.error}`);
    }
    if (e.type === 'host_start') this.line(String(e.host), c.dim(`converging (${(e.roles as string[] | undefined)?.join(', ') || 'no roles'})`));
    else if (e.type === 'state') {
      const s = e as unknown as StateEvent;
      const time = s.duration_ms >= 100 ? c.dim(` ${(s.duration_ms / 1000).toFixed(1)} s`) : '';
      if (s.status === 'changed') this.line(s.host, `${c.yellow('changed')}  ${s.id} — ${s.summary}${time}`);
      else if (s.status === 'would-change') this.line(s.host, `${c.yellow('would change')}  ${s.id} — ${s.summary}`);
      else if (s.status === 'would-run') this.line(s.host, `${c.yellow('would run')}  ${s.id} — ${s.summary}`);
      else if (s.status === 'unknown') this.line(s.host, `${c.magenta('unknown')}  ${s.id} — ${s.summary}`);
      else if (s.status === 'failed' || s.status === 'skipped') {
        this.line(s.host, `${c.red(s.status)}  ${s.id} — ${s.summary}${time}`);
        if (s.command) this.line(s.host, `    command: ${s.command} (exit ${s.exit_code ?? 'none'})`);
        for (const l of (s.stderr ?? '').split('\n').filter(Boolean).slice(-12)) this.line(s.host, `    ${c.dim(l)}`);
      } else if (this.verbose) this.line(s.host, `${c.green('ok')}  ${s.id} — ${s.summary}`);
      if (s.diff) for (const l of s.diff.replace(/\n$/, '').split('\n')) this.line(s.host, `    ${l.startsWith('+') ? c.green(l) : l.startsWith('-') ? c.red(l) : l}`);
    } else if (e.type === 'host_done') {
      const d = e as unknown as HostDone;
      this.done.push(d);
      if (d.error) {
        this.line(d.host, `${c.red(d.status === 'unreachable' ? 'unreachable:' : 'failed:')} ${d.error}`);
        if (d.hint) this.line(d.host, `  hint: ${d.hint}`);
      }
    }
  }

  private hook(e: Record<string, unknown>): void {
    const c = this.out.c;
    const where = e.host ? ` on ${e.host}` : '';
    const head = `${e.point}: ${e.hook}${where}`;
    if (e.status === 'start') this.line('hook', c.dim(`running ${e.point}: ${e.hook}`));
    else if (e.status === 'ok') {
      this.line('hook', `${c.green('ok')} ${head}`);
      if (this.verbose) for (const l of String(e.output ?? '').split('\n').filter(Boolean)) this.line('hook', `    ${c.dim(l)}`);
    } else if (e.status === 'skipped') this.line('hook', c.dim(`skipped ${head}: ${e.reason}`));
    else if (e.status === 'failed') {
      this.line('hook', `${c.red('failed')} ${head}${e.exit_code !== undefined ? ` (exit ${e.exit_code})` : ''}`);
      for (const l of String(e.output ?? e.error ?? '').split('\n').filter(Boolean).slice(-12)) this.line('hook', `    ${c.dim(l)}`);
    }
  }

  private releaseStep(e: Record<string, unknown>): void {
    const c = this.out.c;
    const step = String(e.step);
    const text: Record<string, () => string> = {
      fetch: () => `fetching ${e.url} (${e.branch})`,
      build: () => `building ${e.id} on ${e.hosts} host(s)`,
      built: () => `built ${e.id} on ${e.host}`,
      migrate: () => `migrating on ${e.host}`,
      migrated: () => `migrations applied: ${(e.migrations as string[]).join(', ') || 'none'}`,
      switch: () => `switching current to ${e.id}`,
      switched: () => 'switched; app servers reloaded',
      batch: () => `batch ${e.batch} of ${e.of}: ${(e.hosts as string[]).join(', ')}`,
      'out-of-upstream': () => `${(e.hosts as string[]).join(', ')} out of the balancers' upstream`,
      'into-upstream': () => `${(e.hosts as string[]).join(', ')} back into the balancers' upstream`,
      health: () => `health check (${e.hosts ? `on ${(e.hosts as string[]).join(', ')}` : e.via})`,
      rollback: () => c.yellow('switching back to the previous release'),
      'take-over': () => `${e.host}: ops's units take over from supervisor's ${(e.programs as string[]).join(', ')}`,
      'taken-over': () => `${e.host}: ops serves; disabled ${(e.programs as string[]).join(', ')} (supervisor's files kept as *.taken-over-by-ops)`,
      'handed-back': () => c.yellow(`${e.host}: supervisor's ${(e.programs as string[]).join(', ')} serve again`),
    };
    this.line('release', c.dim(text[step]?.() ?? step));
  }

  /** The release outcome of this deploy (the `release` event), if there was one. */
  releaseOutcome(): Record<string, unknown> | undefined {
    return this.release;
  }

  summary(dryRun: boolean): void {
    if (this.out.json) return;
    const c = this.out.c;
    const rows = this.done.map((d) => {
      const t = `${((d.duration_ms ?? 0) / 1000).toFixed(1)} s`;
      if (d.error) return `  ${d.host.padEnd(this.width)}  ${c.red(d.status)}  ${t}`;
      const succeeded = (d.ok ?? 0) + (d.changed ?? 0);
      const changed = dryRun ? `would change ${d.changed ?? 0}` : `changed ${d.changed ?? 0}`;
      const failed = d.failed ? c.red(`failed ${d.failed}`) : 'failed 0';
      const unknown = d.unknown ? `, unknown ${d.unknown}` : '';
      return `  ${d.host.padEnd(this.width)}  succeeded ${succeeded} (${changed}), ${failed}${unknown}  ${t}`;
    });
    process.stderr.write(`${rows.join('\n')}\n`);
  }
}
