/**
 * All user-facing output. Human lines go to stderr when --json is on (stdout then carries
 * only NDJSON events); colour follows the terminal and NO_COLOR; everything is redacted.
 */
import { Chalk, type ChalkInstance } from 'chalk';
import type { EventData, EventType } from './events.js';
import { redactor } from './redact.js';

export interface OutputOptions {
  json?: boolean;
  color?: boolean;
  quiet?: boolean;
}

export function colorWanted(stream: NodeJS.WriteStream): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}

export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly c: ChalkInstance;
  private readonly errColor: ChalkInstance;

  constructor(opts: OutputOptions = {}) {
    this.json = opts.json ?? false;
    this.quiet = opts.quiet ?? false;
    const color = opts.color ?? colorWanted(process.stdout);
    this.c = new Chalk({ level: color ? 1 : 0 });
    this.errColor = new Chalk({ level: (opts.color ?? colorWanted(process.stderr)) ? 1 : 0 });
  }

  /**
   * Primary result text (the thing the command prints), to stdout; with --json, the event that
   * says the same goes to stdout and the text to stderr. `null` for a line with nothing of its
   * own to say as data (a table's header).
   */
  result<T extends EventType>(text: string, type: T | null, data?: EventData<T>): void {
    const stream = this.json ? process.stderr : process.stdout;
    stream.write(redactor.redact(text.endsWith('\n') ? text : `${text}\n`));
    if (type !== null) this.event(type, data as EventData<T>);
  }

  /** Progress and informational lines, to stderr so stdout stays pipeable. */
  info(text: string): void {
    if (this.quiet) return;
    process.stderr.write(redactor.redact(`${text}\n`));
  }

  warn(text: string): void {
    process.stderr.write(redactor.redact(`${this.errColor.yellow('warning:')} ${text}\n`));
  }

  error(text: string): void {
    process.stderr.write(redactor.redact(`${this.errColor.red('error:')} ${text}\n`));
  }

  /** One NDJSON event on stdout (only with --json), of a type of the catalogue (events.ts). */
  event<T extends EventType>(type: T, data: EventData<T>): void {
    if (!this.json) return;
    process.stdout.write(`${this.eventLine(type, data as Record<string, unknown>)}\n`);
  }

  /**
   * An event written elsewhere (by the master, or a task on it) passed on as it came, its own
   * time kept, redacted here as well.
   */
  relay(e: Record<string, unknown>): void {
    if (!this.json) return;
    process.stdout.write(`${JSON.stringify(e, redactStrings)}\n`);
  }

  /**
   * A value the operator asked to see (`decrypt`, `generate-secret`): the one output that is not
   * redacted. With --json it is only in the `value` field of a `value` event (every other field
   * redacted as ever); without, it is written to stdout as it is.
   */
  revealed(data: Omit<EventData<'value'>, 'value'>, value: string, plain: () => void): void {
    if (!this.json) return plain();
    const line = this.eventLine('value', data);
    process.stdout.write(`${line.slice(0, -1)},"value":${JSON.stringify(value)}}\n`);
  }

  private eventLine(type: string, data: Record<string, unknown>): string {
    return JSON.stringify({ type, time: new Date().toISOString(), ...data }, redactStrings);
  }
}

const redactStrings = (_k: string, v: unknown): unknown => (typeof v === 'string' ? redactor.redact(v) : v);
