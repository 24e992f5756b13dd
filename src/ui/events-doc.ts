/**
 * docs/json.md, made from the event catalogue (events.ts): the prose of the envelope, then every
 * event type with the commands that write it and a table of its fields. test/cli/events.test.ts
 * makes it again and fails when the committed file differs (`npm run docs:json` writes it).
 */
import { z } from 'zod';
import { EVENTS, type EventSpec } from './events.js';

interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  description?: string;
  minimum?: number;
}

/** A field's type as the tables write it: `string`, `integer ≥ 0`, `"ok" · "failed"`, `string[]`, `… or null`. */
function typeText(s: JsonSchema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' · ');
  if (s.anyOf) return s.anyOf.map(typeText).join(' or ');
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  const one = (t: string): string => {
    if (t === 'array') return s.items ? `${typeText(s.items).replace(/ or /g, '|')}[]` : 'array';
    if (t === 'object') return s.properties ? `{${Object.keys(s.properties).join(', ')}}` : 'object';
    if (t === 'integer' && s.minimum === 0) return 'integer ≥ 0';
    return t;
  };
  return types.length > 0 ? types.map(one).join(' or ') : 'any JSON value';
}

function fieldTable(s: JsonSchema): string[] {
  const rows = Object.entries(s.properties ?? {}).map(([name, f]) => {
    const required = (s.required ?? []).includes(name);
    const about = (f.description ?? '').replace(/\|/g, '\\|');
    return `| \`${name}\` | ${typeText(f).replace(/\|/g, '\\|')} | ${required ? 'always' : 'when it applies'} | ${about} |`;
  });
  if (rows.length === 0) return ['No fields besides `type` and `time`.'];
  return ['| field | type | present | |', '|---|---|---|---|', ...rows];
}

function section(type: string, spec: EventSpec): string[] {
  const schema = z.toJSONSchema(spec.fields, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const head = [`### \`${type}\``, '', spec.about, '', `Written by ${spec.commands.map((c) => (c === 'every command' ? c : `\`ops ${c}\``)).join(', ')}.`, ''];
  if (schema.anyOf) return [...head, ...schema.anyOf.flatMap((v) => [`From ${v.description ?? 'one of its commands'}:`, '', ...fieldTable(v), ''])];
  return [...head, ...fieldTable(schema), ''];
}

export function eventsMarkdown(): string {
  const types = Object.keys(EVENTS).sort() as (keyof typeof EVENTS)[];
  return [
    '# `--json` output',
    '',
    '<!-- Made from src/ui/events.ts by `npm run docs:json`; test/cli/events.test.ts fails when it differs. -->',
    '',
    'With `--json` (before or after the command: `ops --json deploy staging`), stdout carries only',
    'NDJSON: one JSON object per line, each with a `type` and an ISO 8601 `time`, and the fields its',
    'type has below — no others. The human lines (progress, hints, the error line, a table) go to',
    'stderr as without `--json`. Every string in an event is redacted as every other output is,',
    'except the `value` field of a `value` event.',
    '',
    '- A command that fails ends with one `error` event and exits with its `exit_code`.',
    '- A fan-out over hosts (`run`, `manage-run`, `deploy`, `status`) ends with its `summary`;',
    '  its exit code is 1 when a host failed.',
    '- `ops decrypt` and `ops generate-secret` put the value only in the `value` field of a `value`',
    '  event, and nowhere else.',
    '- `ops ssh` and `ops manage-shell` are interactive: with `--json` they stop at once with an',
    '  `error` event (exit 2) naming the command that gives events instead.',
    '- A task\'s own events (`t.event(name, data)`) are `task_event`s: the task\'s name for it in',
    '  `name`, its data in `data` — never one of the types below.',
    '- `ops logs -f` streams `log` events as the journal writes them.',
    '',
    'Every event a test run writes is checked against these schemas (test/support/events.ts).',
    '',
    '## Event types',
    '',
    ...types.flatMap((t) => section(t, EVENTS[t])),
  ].join('\n');
}
