/**
 * Output of work on many hosts: each line prefixed with its host (colour on a terminal), a
 * summary per host, or NDJSON events with --json. Lines are never interleaved mid-line.
 */
import { StringDecoder } from 'node:string_decoder';
import type { ChalkInstance } from 'chalk';
import type { Output } from './output.js';
import { redactor } from './redact.js';

export type HostStatus = 'ok' | 'changed' | 'failed' | 'unreachable';

export interface HostResult {
  host: string;
  status: HostStatus;
  exitCode?: number | null;
  signal?: string;
  durationMs: number;
  error?: string;
  hint?: string;
}

const PALETTE = ['cyan', 'magenta', 'yellow', 'blue', 'green', 'redBright', 'cyanBright', 'magentaBright'] as const;

/** A byte stream as lines (without their ends); a line or character cut between chunks is kept whole. */
export class LineSplitter {
  private rest = '';
  /** A character cut between two chunks is decoded whole. */
  private readonly decoder = new StringDecoder('utf8');
  constructor(private readonly emit: (line: string) => void) {}
  push(chunk: Buffer): void {
    const text = this.rest + this.decoder.write(chunk);
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    for (const l of lines) this.emit(l.replace(/\r$/, ''));
  }
  end(): void {
    this.rest += this.decoder.end();
    if (this.rest !== '') this.emit(this.rest);
    this.rest = '';
  }
}

export class HostPrinter {
  private readonly width: number;
  private readonly colors = new Map<string, ChalkInstance>();
  private readonly splitters = new Map<string, LineSplitter>();

  constructor(
    private readonly out: Output,
    hosts: readonly string[],
    private readonly prefix: boolean,
  ) {
    this.width = Math.max(...hosts.map((h) => h.length), 1);
    hosts.forEach((h, i) => this.colors.set(h, this.out.c[PALETTE[i % PALETTE.length] ?? 'cyan']));
  }

  /** One line a host printed (no newline), prefixed, redacted; an `output` event with --json. */
  line(host: string, stream: 'stdout' | 'stderr', text: string): void {
    if (this.out.json) {
      this.out.event('output', { host, stream, line: text });
      return;
    }
    const body = redactor.redact(text);
    const color = this.colors.get(host) ?? this.out.c.cyan;
    const line = this.prefix ? `${color(host.padEnd(this.width))} ${this.out.c.dim('|')} ${body}\n` : `${body}\n`;
    (stream === 'stdout' ? process.stdout : process.stderr).write(line);
  }

  /** A sink for a host's stdout or stderr bytes. */
  sink(host: string, stream: 'stdout' | 'stderr'): (chunk: Buffer) => void {
    if (!this.prefix && !this.out.json) {
      // One host, no prefix: the bytes pass through as they come (redacted), like ssh's output.
      const target = stream === 'stdout' ? process.stdout : process.stderr;
      return (chunk) => {
        target.write(redactor.size > 0 ? redactor.redact(chunk.toString('utf8')) : chunk);
      };
    }
    const key = `${host}\0${stream}`;
    const splitter = new LineSplitter((l) => this.line(host, stream, l));
    this.splitters.set(key, splitter);
    return (chunk) => splitter.push(chunk);
  }

  /** A raw sink (single host, no prefix): bytes pass through untouched but redacted. */
  flush(host: string): void {
    for (const [key, s] of this.splitters) if (key.startsWith(`${host}\0`)) s.end();
  }

  start(host: string): void {
    this.out.event('host_start', { host });
  }

  done(r: HostResult): void {
    this.flush(r.host);
    this.out.event('host_done', { host: r.host, status: r.status, exit_code: r.exitCode ?? null, signal: r.signal ?? null, duration_ms: Math.round(r.durationMs), error: r.error ?? null });
    if (r.error && !this.out.json) {
      const color = this.colors.get(r.host) ?? this.out.c.cyan;
      const where = this.prefix ? `${color(r.host.padEnd(this.width))} ${this.out.c.dim('|')} ` : '';
      process.stderr.write(redactor.redact(`${where}${this.out.c.red(r.status === 'unreachable' ? 'unreachable:' : 'error:')} ${r.error}\n`));
      if (r.hint) process.stderr.write(redactor.redact(`${where}  hint: ${r.hint}\n`));
    }
  }

  summary(results: readonly HostResult[], totalMs: number): void {
    const count = (s: HostStatus) => results.filter((r) => r.status === s).length;
    const ok = count('ok') + count('changed');
    const failed = count('failed') + count('unreachable');
    this.out.event('summary', { hosts: results.length, ok, failed, unreachable: count('unreachable'), duration_ms: Math.round(totalMs) });
    if (this.out.json) return;
    const c = this.out.c;
    const lines = results.map((r) => {
      const status =
        r.status === 'ok' ? c.green('ok') : r.status === 'changed' ? c.yellow('changed') : r.status === 'unreachable' ? c.red('unreachable') : c.red('failed');
      const code = r.exitCode !== undefined && r.exitCode !== null ? ` exit ${r.exitCode}` : r.signal ? ` signal ${r.signal}` : '';
      return `  ${r.host.padEnd(this.width)}  ${status}${code}  ${(r.durationMs / 1000).toFixed(2)} s`;
    });
    const head = `${results.length} host(s): ${c.green(`${ok} ok`)}${failed ? `, ${c.red(`${failed} failed`)}` : ''} in ${(totalMs / 1000).toFixed(2)} s`;
    process.stderr.write(`${lines.join('\n')}\n${head}\n`);
  }
}
