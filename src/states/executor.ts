/**
 * Converges one host: read every state's facts in one round trip, plan, then apply in order —
 * re-reading the remaining states' facts (again in one round trip) whenever a change may have
 * affected them — run the notified handlers, and report per state. A dry run stops after the
 * plan and shows unified diffs for files (secret content hidden).
 */
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { captureExec, renderCommand, type RemoteCommand } from '../ssh/command.js';
import { shellLine } from '../ssh/quote.js';
import { redactor } from '../ui/redact.js';
import { unifiedDiff } from './diff.js';
import { factBatch } from './facts.js';
import { KINDS } from './kinds/index.js';
import type { Handler, Plan, State, StateResult, Step } from './types.js';

/** What the engine needs from a host connection (an SSH connection, or this machine in tests). */
export interface HostIO {
  readonly user: string;
  /** False once the connection is gone: the host is then reported unreachable, not state by state. */
  readonly alive?: boolean;
  exec(command: string, io: { stdin?: Buffer; onStdout?: (b: Buffer) => void; onStderr?: (b: Buffer) => void }): Promise<{ code: number | null; signal?: string }>;
  putFile(path: string, data: Buffer, mode: number): Promise<void>;
}

export interface ConvergeOptions {
  dryRun: boolean;
  onResult?: (r: StateResult) => void;
}

export interface HostReport {
  results: StateResult[];
  ok: number;
  changed: number;
  failed: number;
  /** Dry run only: states whose outcome depends on changes before them. */
  unknown: number;
  durationMs: number;
}

class StepFailed extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`exit ${exitCode}`);
  }
}

const capture = captureExec;

function render(io: HostIO, run: RemoteCommand, user?: string): string {
  return renderCommand(run, { sudo: user ?? true }, { loginUser: io.user });
}

async function runStep(io: HostIO, step: Step): Promise<void> {
  if ('run' in step) {
    const command = render(io, step.run, step.user);
    const r = await capture(io, command, step.stdin);
    if (r.code !== 0) throw new StepFailed(step.describe ?? (step.run.line ?? shellLine(step.run.argv ?? [])), r.code, redactor.tail(r.err, 2000));
    return;
  }
  const f = step.upload;
  const tmp = `${dirname(f.path)}/.ops-${randomBytes(5).toString('hex')}`;
  const staging = io.user === 'root' ? tmp : `/tmp/.ops-upload-${randomBytes(6).toString('hex')}`;
  await io.putFile(staging, f.content, 0o600);
  const place = shellLine(['sh', '-c', 'set -e; chown "$1" "$2"; chmod "$3" "$2"; mv -f "$2" "$4"', 'ops-place', `${f.owner}:${f.group}`, staging, f.mode.toString(8), f.path]);
  const command = io.user === 'root' ? place : render(io, { line: place });
  const r = await capture(io, command);
  if (r.code !== 0) throw new StepFailed(`install ${f.path}`, r.code, redactor.tail(r.err, 2000));
}

/** Consecutive plain commands (no stdin, same user) run as one command: one round trip instead of many. */
function batchSteps(steps: readonly Step[]): Step[] {
  const out: Step[] = [];
  for (const step of steps) {
    const prev = out[out.length - 1];
    if ('run' in step && prev && 'run' in prev && !step.stdin && !prev.stdin && step.user === prev.user) {
      const line = (s: typeof step) => s.run.line ?? shellLine(s.run.argv ?? []);
      out[out.length - 1] = { run: { line: `${line(prev)} && ${line(step)}` }, user: prev.user, describe: [prev.describe ?? line(prev), step.describe ?? line(step)].join(' && ') };
    } else out.push(step);
  }
  return out;
}

async function readFacts(io: HostIO, states: readonly State[]) {
  const batch = factBatch(states);
  const r = await capture(io, render(io, { argv: ['sh', '-c', batch.script] }));
  return batch.parse(r.out.toString('utf8'));
}

function planOf(state: State, facts: { out: string; code: number } | undefined): Plan {
  const kind = KINDS[state.kind];
  if (!kind) return { status: 'unknown', summary: `unknown state kind '${state.kind}'`, steps: [] };
  try {
    return kind.plan(state.params as never, facts ?? { out: '', code: -1 });
  } catch (e) {
    return { status: 'unknown', summary: (e as Error).message, steps: [] };
  }
}

/** Old contents of the files a dry run would change, in one round trip. */
async function oldContents(io: HostIO, paths: string[]): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  if (paths.length === 0) return result;
  const nonce = randomBytes(6).toString('hex');
  const script = paths.map((p, i) => `printf '@@%s %d@@\\n' ${nonce} ${i}; [ -f ${shellLine([p])} ] && base64 -w0 < ${shellLine([p])}; echo`).join('\n');
  const r = await capture(io, render(io, { argv: ['sh', '-c', script] }));
  const chunks = r.out.toString('utf8').split(new RegExp(`@@${nonce} (\\d+)@@\\n`));
  for (let i = 1; i < chunks.length; i += 2) {
    const path = paths[Number(chunks[i])];
    if (path) result.set(path, Buffer.from((chunks[i + 1] ?? '').trim(), 'base64').toString('utf8'));
  }
  return result;
}

export async function convergeHost(io: HostIO, states: readonly State[], handlers: readonly Handler[], opts: ConvergeOptions): Promise<HostReport> {
  const started = Date.now();
  const results: StateResult[] = [];
  const emit = (r: StateResult) => {
    results.push(r);
    opts.onResult?.(r);
  };
  let facts = await readFacts(io, states);

  if (opts.dryRun) {
    const plans = states.map((s, i) => planOf(s, facts[i]));
    const diffPaths = plans.map((p, i) => (p.status === 'change' && p.diffPath && !states[i]?.secret ? p.diffPath : undefined)).filter((p): p is string => p !== undefined);
    const olds = await oldContents(io, diffPaths);
    plans.forEach((p, i) => {
      const s = states[i] as State;
      let diff: string | undefined;
      if (p.status === 'change' && p.diffPath && p.newContent) {
        diff = s.secret ? `(${p.diffPath} holds secrets: content diff hidden)\n` : redactor.redact(unifiedDiff(olds.get(p.diffPath) ?? '', p.newContent.toString('utf8'), p.diffPath));
      }
      emit({ id: s.id, status: p.status === 'change' ? 'would-change' : p.status, summary: p.summary, durationMs: 0, diff });
    });
    // the handlers the changes would set off, each once, as a real run would
    const changing = states.filter((_, i) => plans[i]?.status === 'change');
    for (const h of handlers) {
      if (changing.some((s) => (s.notify ?? []).includes(h.id))) emit({ id: h.id, status: 'would-run', summary: redactor.redact(h.describe), durationMs: 0 });
    }
    return summarize(results, started);
  }

  const failed = new Set<string>();
  const changedIds = new Set<string>();
  let stale = false;
  // After a narrow change only guarded commands (whose checks may read anything) need fresh facts.
  let staleForGuards = false;
  for (let i = 0; i < states.length; i++) {
    const s = states[i] as State;
    const t0 = Date.now();
    const blocked = (s.requires ?? []).find((r) => failed.has(r));
    if (blocked) {
      failed.add(s.id);
      emit({ id: s.id, status: 'skipped', summary: `not run: ${blocked} failed`, durationMs: 0 });
      continue;
    }
    if (stale || (staleForGuards && s.kind === 'cmd')) {
      // An earlier change may have changed what the rest of the states see: read them again.
      const fresh = await readFacts(io, states.slice(i));
      facts = [...facts.slice(0, i), ...fresh];
      stale = false;
      staleForGuards = false;
    }
    const plan = planOf(s, facts[i]);
    if (plan.status === 'ok') {
      emit({ id: s.id, status: 'ok', summary: plan.summary, durationMs: Date.now() - t0 });
      continue;
    }
    if (plan.status === 'unknown') {
      failed.add(s.id);
      emit({ id: s.id, status: 'failed', summary: plan.summary, durationMs: Date.now() - t0 });
      continue;
    }
    try {
      for (const step of batchSteps(plan.steps)) await runStep(io, step);
      changedIds.add(s.id);
      if (KINDS[s.kind]?.narrow) staleForGuards = true;
      else stale = true;
      emit({ id: s.id, status: 'changed', summary: plan.summary, durationMs: Date.now() - t0 });
    } catch (e) {
      if (io.alive === false) throw e;
      failed.add(s.id);
      if (e instanceof StepFailed) {
        emit({ id: s.id, status: 'failed', summary: plan.summary, durationMs: Date.now() - t0, command: redactor.redact(e.command), exitCode: e.exitCode, stderr: redactor.redact(e.stderr.trim()) });
      } else {
        emit({ id: s.id, status: 'failed', summary: `${plan.summary}: ${(e as Error).message}`, durationMs: Date.now() - t0 });
      }
    }
  }
  for (const h of handlers) {
    const triggered = states.some((s) => changedIds.has(s.id) && (s.notify ?? []).includes(h.id));
    if (!triggered) continue;
    const t0 = Date.now();
    const command = render(io, h.run);
    const r = await capture(io, command);
    if (r.code === 0) emit({ id: h.id, status: 'changed', summary: 'handler ran', durationMs: Date.now() - t0 });
    else emit({ id: h.id, status: 'failed', summary: 'handler failed', durationMs: Date.now() - t0, command: redactor.redact(h.run.line ?? shellLine(h.run.argv ?? [])), exitCode: r.code, stderr: redactor.tail(r.err, 2000).trim() });
  }
  return summarize(results, started);
}

function summarize(results: StateResult[], started: number): HostReport {
  return {
    results,
    ok: results.filter((r) => r.status === 'ok').length,
    changed: results.filter((r) => r.status === 'changed' || r.status === 'would-change').length,
    failed: results.filter((r) => r.status === 'failed' || r.status === 'skipped').length,
    unknown: results.filter((r) => r.status === 'unknown').length,
    durationMs: Date.now() - started,
  };
}
