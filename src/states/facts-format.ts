/** Helpers shared by state kinds: building read-only fact snippets and reading their output. */
import { createHash } from 'node:crypto';
import { quote } from '../ssh/quote.js';

export const q = quote;

/** `key=value` lines → record (the last one wins). */
export function kv(out: string): Record<string, string> {
  const r: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) r[line.slice(0, i)] = line.slice(i + 1);
  }
  return r;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Prints `exists=0|1`, and for existing paths `type=… mode=… owner=… group=…` (and `sha256=` for files). */
export function statSnippet(path: string, withHash: boolean): string {
  const p = q(path);
  const hash = withHash ? `; [ -f ${p} ] && printf 'sha256=%s\\n' "$(sha256sum < ${p} | cut -c1-64)"` : '';
  return `if [ -e ${p} ] || [ -L ${p} ]; then echo exists=1; stat --printf 'type=%F\\nmode=%a\\nowner=%U\\ngroup=%G\\n' ${p}${hash}; else echo exists=0; fi`;
}

export function octal(mode: number): string {
  return mode.toString(8);
}
