/**
 * The state engine's vocabulary. A state says what must be true on a host; its kind knows how
 * to read the facts that tell whether it is (a read-only shell snippet, batched with every other
 * state's into one round trip) and how to turn (state, facts) into a plan: no change, a change
 * with the steps that make it, or unknown. Plans are pure, so they are unit-tested without SSH.
 */
import type { RemoteCommand } from '../ssh/command.js';

export interface FileContent {
  path: string;
  content: Buffer;
  mode: number;
  owner: string;
  group: string;
}

/** One step of a plan: a command (its stdin may carry secrets), or a file upload (over SFTP). */
export type Step =
  | { run: RemoteCommand; stdin?: Buffer; user?: string; describe?: string }
  | { upload: FileContent };

export type PlanStatus = 'ok' | 'change' | 'unknown';

export interface Plan {
  status: PlanStatus;
  /** What is wrong now / what will change, in a few words. */
  summary: string;
  steps: Step[];
  /** For files: the path whose old content a dry-run diffs against the new one. */
  diffPath?: string;
  newContent?: Buffer;
}

export interface StateKind<P> {
  /** A read-only sh snippet; its stdout (and exit status) are this state's facts. */
  facts(params: P): string;
  plan(params: P, facts: FactResult): Plan;
  /**
   * A change of this kind touches only its own path, so other states' facts stay valid after it
   * (the executor then need not read them again).
   */
  narrow?: boolean;
}

export interface FactResult {
  out: string;
  code: number;
}

export interface State<P = unknown> {
  /** Unique per host, e.g. `pkg:nginx`, `file:/etc/nginx/sites-available/demo`. */
  id: string;
  kind: string;
  params: P;
  /** Ids of states that must have succeeded first. */
  requires?: string[];
  /** Handlers to run (once, at the end) when this state changed something. */
  notify?: string[];
  /** The content holds secrets: never show it in a diff. */
  secret?: boolean;
}

export interface Handler {
  id: string;
  run: RemoteCommand;
  /** What it does, in a few words: a dry run lists the handlers it would run. */
  describe: string;
}

/** `would-run`: a handler a dry run's changes would set off (not a state: not counted). */
export type StateStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'would-change' | 'would-run' | 'unknown';

/** A state's result as its `state` event gives it (field names as every event has them). */
export function stateEvent(host: string, r: StateResult) {
  return { host, id: r.id, status: r.status, summary: r.summary, duration_ms: Math.round(r.durationMs), diff: r.diff, command: r.command, exit_code: r.exitCode, stderr: r.stderr };
}

export interface StateResult {
  id: string;
  status: StateStatus;
  summary: string;
  durationMs: number;
  diff?: string;
  /** For failures: the command, its exit code and stderr. */
  command?: string;
  exitCode?: number | null;
  stderr?: string;
}
