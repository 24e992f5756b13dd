/**
 * The one escaping function for each config format a role writes data into (shell words are
 * src/ssh/quote.ts). Templates get them as filters (`sh`, `systemd`, `cron`, `nginx`, `pg_hba`, `py`, `html`), so a
 * project's own templates escape the same way. Each turns any string into exactly one token of its
 * format, or refuses it — a value never adds a line, a directive or a word.
 */
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

function controlEscape(c: string): string {
  const map: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
  return map[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/**
 * One word of a systemd `ExecStart=` command line: double-quoted with C escapes, `%` specifiers and
 * `$` variables made literal (`%%`, `$$`).
 */
export function systemdWord(word: string): string {
  const body = word
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/[\0-\x1f\x7f]/g, controlEscape)
    .replace(/%/g, '%%')
    .replace(/\$/g, '$$$$');
  return `"${body}"`;
}

/** argv → a systemd command line (ExecStart=, ExecReload=, …). */
export function systemdExec(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('systemdExec: empty argv');
  return argv.map(systemdWord).join(' ');
}

/** The command part of a crontab line: `%` (which cron turns into a newline) escaped; a line break refused. */
export function cronCommand(line: string): string {
  if (/[\r\n\0]/.test(line)) throw new UsageError('a cron command must be one line');
  return line.replace(/%/g, '\\%');
}

/** One nginx string: double-quoted, `"` and `\` escaped; control characters refused. */
export function nginxString(v: string): string {
  if (/[\0-\x1f\x7f]/.test(v)) throw new UsageError(`an nginx value may not hold control characters: ${JSON.stringify(v)}`);
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * A pg_hba.conf address field for exactly one host: an address with its /32 or /128, or a host
 * name in double quotes (so that names such as `all` or `samenet` are never taken as keywords).
 */
export function pgHbaAddress(a: string): string {
  if (isIP(a) === 4) return `${a}/32`;
  if (isIP(a) === 6) return `${a}/128`;
  if (!/^[A-Za-z0-9.-]+$/.test(a)) throw new UsageError(`not a host name or address for pg_hba.conf: ${JSON.stringify(a)}`);
  return `"${a}"`;
}

/** One Python string literal (a JSON string is one: quotes, backslashes and control characters escaped). */
export function pythonString(v: string): string {
  return JSON.stringify(v);
}

/** Text in HTML (an element's content or a quoted attribute): & < > " ' as entities. */
export function htmlText(v: string): string {
  return v.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
