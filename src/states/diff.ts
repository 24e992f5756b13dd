/**
 * Unified diffs of text files for dry-run plans, by jsdiff (Myers' algorithm: any size of file;
 * 3 lines of context). A diff that would take longer than a few seconds to find is shown as the
 * whole file replaced — still a patch GNU patch applies.
 */
import { structuredPatch, type StructuredPatch } from 'diff';

const TIMEOUT_MS = 3000;

function whole(oldText: string, newText: string): StructuredPatch['hunks'] {
  const lines = (t: string, mark: string) => (t === '' ? [] : t.replace(/\n$/, '').split('\n').map((l) => mark + l).concat(t.endsWith('\n') ? [] : ['\\ No newline at end of file']));
  const a = lines(oldText, '-');
  const b = lines(newText, '+');
  const count = (x: string[]) => x.filter((l) => !l.startsWith('\\')).length;
  return [{ oldStart: count(a) === 0 ? 0 : 1, oldLines: count(a), newStart: count(b) === 0 ? 0 : 1, newLines: count(b), lines: [...a, ...b] }];
}

export function unifiedDiff(oldText: string, newText: string, path: string, context = 3, timeoutMs = TIMEOUT_MS): string {
  if (oldText === newText) return '';
  const patch = structuredPatch(path, `${path} (new)`, oldText, newText, '', '', { context, timeout: timeoutMs });
  const hunks = patch?.hunks ?? whole(oldText, newText);
  const range = (start: number, n: number) => `${start}${n === 1 ? '' : `,${n}`}`;
  const out = [`--- ${path}`, `+++ ${path} (new)`];
  for (const h of hunks) out.push(`@@ -${range(h.oldStart, h.oldLines)} +${range(h.newStart, h.newLines)} @@`, ...h.lines);
  return `${out.join('\n')}\n`;
}
