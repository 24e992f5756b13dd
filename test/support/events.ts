/**
 * Every `--json` event a test's run writes is held to the catalogue (src/ui/events.ts): a type it
 * knows, an ISO time, and exactly the fields of its schema. `ops()` checks each run with --json.
 */
import { z } from 'zod';
import { EVENTS } from '../../src/ui/events.js';

/** The ways `stdout` (the complete lines of a --json run) breaks the catalogue; empty when none. */
export function eventProblems(stdout: string): string[] {
  const problems: string[] = [];
  const lines = stdout.split('\n');
  lines.pop(); // a last line without its newline is not complete (a run stopped midway)
  for (const line of lines) {
    if (line.trim() === '') continue;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch {
      problems.push(`not JSON: ${line.slice(0, 200)}`);
      continue;
    }
    if (typeof e !== 'object' || e === null || Array.isArray(e)) {
      problems.push(`not an object: ${line.slice(0, 200)}`);
      continue;
    }
    const { type, time, ...fields } = e as Record<string, unknown>;
    const spec = typeof type === 'string' && Object.hasOwn(EVENTS, type) ? EVENTS[type as keyof typeof EVENTS] : undefined;
    if (!spec) {
      problems.push(`type ${JSON.stringify(type)} is not in the catalogue: ${line.slice(0, 200)}`);
      continue;
    }
    if (typeof time !== 'string' || Number.isNaN(Date.parse(time))) problems.push(`${String(type)}: time ${JSON.stringify(time)} is not an ISO time`);
    const r = (spec.fields as z.ZodType).safeParse(fields);
    if (!r.success) problems.push(`${String(type)} does not match its schema: ${z.prettifyError(r.error).replace(/\n/g, '; ')} — ${line.slice(0, 400)}`);
  }
  return problems;
}

/** Whether ops's own options (before a `--`) ask for --json. */
export function asksJson(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).includes('--json');
}
