/**
 * Task definitions: the checks a definition passes before it runs, its command-line usage, and
 * the `ops` module a task file imports (`defineTask`, `quote`, `$`).
 */
import { UsageError } from '../errors.js';
import { quote } from '../ssh/quote.js';
import type { TaskDefinition } from './types.js';

export const TASK_NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;
const OPTION_NAME_RE = /^[a-z][a-zA-Z0-9-]{0,62}$/;
/** Options every task has (the command layer's): a task may not redefine them. */
export const COMMON_OPTIONS = ['role', 'host', 'parallel', 'yes', 'user', 'identity', 'connect-timeout', 'accept-new', 'help', 'json', 'env', 'root', 'debug', 'color'];

/** Short flags of the options every task has. */
const RESERVED_SHORT = ['y', 'u', 'i', 'h', 'e', 'V'];

export function defineTask(definition: TaskDefinition): TaskDefinition {
  return definition;
}

/** Checks what a task file exported; `where` is `tasks/x.ts` for messages. */
export function checkDefinition(value: unknown, where: string): TaskDefinition {
  const bad = (what: string): never => {
    throw new UsageError(`${where}:1:1: ${what}`, 'export default defineTask({ name, description, run(t) { … } }) — see README, "Tasks and hooks"');
  };
  if (typeof value !== 'object' || value === null) bad('exports no task');
  const d = value as Record<string, unknown>;
  if (typeof d.run !== 'function') bad('the task has no run function');
  if (typeof d.name !== 'string' || !TASK_NAME_RE.test(d.name)) bad(`the task's name must be lower-case letters, digits and dashes, got ${JSON.stringify(d.name)}`);
  if (typeof d.description !== 'string' || d.description.trim() === '' || d.description.includes('\n')) bad('the task needs a one-line description');
  const args = d.args ?? [];
  if (!Array.isArray(args)) bad('args must be a list');
  (args as unknown[]).forEach((a, i) => {
    const arg = a as Record<string, unknown>;
    if (typeof arg?.name !== 'string' || !OPTION_NAME_RE.test(arg.name)) bad(`args[${i}] needs a name (letters, digits, dashes)`);
    if (arg.variadic && i !== (args as unknown[]).length - 1) bad(`args[${i}] (${String(arg.name)}): only the last argument can be variadic`);
  });
  const options = (d.options ?? {}) as Record<string, Record<string, unknown>>;
  if (typeof options !== 'object' || Array.isArray(options)) bad('options must be a map of name → { type, description }');
  for (const [name, o] of Object.entries(options)) {
    if (!OPTION_NAME_RE.test(name)) bad(`option '${name}': names are letters, digits and dashes`);
    if (COMMON_OPTIONS.includes(name)) bad(`option '--${name}' is one every task already has`);
    if (!['string', 'number', 'boolean'].includes(String(o?.type))) bad(`option '${name}': type must be string, number or boolean`);
    if (name.startsWith('no-')) bad(`option '${name}': a name starting with no- reads as the negation of another option`);
    if (o.short !== undefined && !/^[a-zA-Z]$/.test(String(o.short))) bad(`option '${name}': short must be one letter`);
    if (o.short !== undefined && RESERVED_SHORT.includes(String(o.short))) bad(`option '${name}': -${String(o.short)} is one every task already has`);
  }
  const secrets = d.secrets ?? [];
  if (!Array.isArray(secrets) || secrets.some((s) => typeof s !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(s))) bad('secrets must be a list of secret names');
  return d as unknown as TaskDefinition;
}

/** The `ops` module of task files, made available to them by the loader. */
export function taskModule($: unknown): Record<string, unknown> {
  return { defineTask, quote, $ };
}
