/** Unified diffs of text files for dry-run plans (line-based LCS, 3 lines of context). */
function lcsTable(a: string[], b: string[]): Uint32Array[] {
  const t = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    const row = t[i] as Uint32Array;
    const next = t[i + 1] as Uint32Array;
    for (let j = b.length - 1; j >= 0; j--) row[j] = a[i] === b[j] ? (next[j + 1] ?? 0) + 1 : Math.max(next[j] ?? 0, row[j + 1] ?? 0);
  }
  return t;
}

type Op = { t: ' ' | '-' | '+'; line: string; ai: number; bi: number };

export function unifiedDiff(oldText: string, newText: string, path: string, context = 3): string {
  if (oldText === newText) return '';
  const a = oldText === '' ? [] : oldText.replace(/\n$/, '').split('\n');
  const b = newText === '' ? [] : newText.replace(/\n$/, '').split('\n');
  if (a.length * b.length > 4_000_000) return `--- ${path}\n+++ ${path}\n@@ file too large to diff (${a.length} → ${b.length} lines) @@\n`;
  const t = lcsTable(a, b);
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ t: ' ', line: a[i] ?? '', ai: i + 1, bi: j + 1 });
      i++;
      j++;
    } else if (i < a.length && (j >= b.length || (t[i + 1]?.[j] ?? 0) >= (t[i]?.[j + 1] ?? 0))) {
      ops.push({ t: '-', line: a[i] ?? '', ai: i + 1, bi: j });
      i++;
    } else {
      ops.push({ t: '+', line: b[j] ?? '', ai: i, bi: j + 1 });
      j++;
    }
  }
  const out = [`--- ${path}`, `+++ ${path} (new)`];
  let k = 0;
  while (k < ops.length) {
    if (ops[k]?.t === ' ') {
      k++;
      continue;
    }
    const start = Math.max(0, k - context);
    let end = k;
    while (end < ops.length) {
      if (ops[end]?.t !== ' ') {
        end++;
        continue;
      }
      let run = 0;
      while (end + run < ops.length && ops[end + run]?.t === ' ') run++;
      if (end + run >= ops.length || run > context * 2) {
        end = Math.min(ops.length, end + context);
        break;
      }
      end += run;
    }
    const hunk = ops.slice(start, end);
    const aStart = hunk.find((o) => o.t !== '+')?.ai ?? 0;
    const bStart = hunk.find((o) => o.t !== '-')?.bi ?? 0;
    const aLen = hunk.filter((o) => o.t !== '+').length;
    const bLen = hunk.filter((o) => o.t !== '-').length;
    out.push(`@@ -${aStart}${aLen === 1 ? '' : `,${aLen}`} +${bStart}${bLen === 1 ? '' : `,${bLen}`} @@`);
    for (const o of hunk) out.push(`${o.t}${o.line}`);
    k = end;
  }
  return `${out.join('\n')}\n`;
}
