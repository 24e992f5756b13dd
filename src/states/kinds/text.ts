/** A block of lines managed by ops inside a file that others also edit (between marker comments). */
import type { Plan, StateKind } from '../types.js';
import { q, sha256 } from '../facts-format.js';

export interface BlockParams {
  path: string;
  /** Name of the block, in its marker comments. */
  marker: string;
  content: string;
  comment?: string;
}

function markers(p: BlockParams): [string, string] {
  const c = p.comment ?? '#';
  return [`${c} BEGIN ops ${p.marker}`, `${c} END ops ${p.marker}`];
}

export function renderBlock(p: BlockParams): string {
  const [begin, end] = markers(p);
  return `${begin}\n${p.content.replace(/\n?$/, '\n')}${end}\n`;
}

export const block: StateKind<BlockParams> = {
  narrow: true,
  facts(p) {
    const [begin, end] = markers(p);
    // The current block (markers included), hashed; "missing" when the file is absent.
    return `if [ -f ${q(p.path)} ]; then awk -v b=${q(begin)} -v e=${q(end)} '$0==b{f=1} f{print} $0==e{f=0}' ${q(p.path)} | sha256sum | cut -c1-64; else echo missing; fi`;
  },
  plan(p, f): Plan {
    const want = renderBlock(p);
    if (f.out.trim() === sha256(want)) return { status: 'ok', summary: 'block present', steps: [] };
    if (f.out.trim() === 'missing') return { status: 'unknown', summary: `${p.path} does not exist`, steps: [] };
    const [begin, end] = markers(p);
    // Drop the old block, append the new one (read from stdin), replace the file atomically.
    const script = `set -e; t=$(mktemp ${q(`${p.path}.ops-XXXXXX`)}); awk -v b=${q(begin)} -v e=${q(end)} '$0==b{f=1} !f{print} $0==e{f=0}' ${q(p.path)} > "$t"; cat >> "$t"; chmod --reference=${q(p.path)} "$t"; chown --reference=${q(p.path)} "$t"; mv -f "$t" ${q(p.path)}`;
    return { status: 'change', summary: 'update managed block', steps: [{ run: { argv: ['sh', '-c', script] }, stdin: Buffer.from(want), describe: `update block ${p.marker} in ${p.path}` }] };
  },
};

export interface LineParams {
  path: string;
  line: string;
  /** A line matching this (extended regex) is replaced by `line`; otherwise `line` is appended. */
  match?: string;
}

/** One line present in a file (replacing the line that matches `match`, if any). */
export const line: StateKind<LineParams> = {
  narrow: true,
  facts: (p) =>
    `if [ -f ${q(p.path)} ]; then grep -qxF -- ${q(p.line)} ${q(p.path)} && echo present || { ${p.match ? `grep -qE -- ${q(p.match)} ${q(p.path)} && echo matched || ` : ''}echo absent; }; else echo missing; fi`,
  plan(p, f): Plan {
    if (/[\r\n\0]/.test(p.line)) throw new Error(`line state for ${p.path}: the line holds a line break`);
    const state = f.out.trim();
    if (state === 'present') return { status: 'ok', summary: 'line present', steps: [] };
    if (state === 'missing') return { status: 'unknown', summary: `${p.path} does not exist`, steps: [] };
    // The values reach awk through its environment (ENVIRON), never `-v`, which would read escapes in them.
    const awk = p.match
      ? `awk 'BEGIN{done=0; re=ENVIRON["MATCH"]; line=ENVIRON["LINE"]} $0 ~ re && !done {print line; done=1; next} {print} END{if(!done) print line}'`
      : `awk 'BEGIN{line=ENVIRON["LINE"]} {print} END{print line}'`;
    const script = `set -e; t=$(mktemp "$FILE.ops-XXXXXX"); ${awk} "$FILE" > "$t"; chmod --reference="$FILE" "$t"; chown --reference="$FILE" "$t"; mv -f "$t" "$FILE"`;
    return {
      status: 'change',
      summary: state === 'matched' ? 'replace line' : 'add line',
      steps: [{ run: { argv: ['env', `FILE=${p.path}`, `LINE=${p.line}`, `MATCH=${p.match ?? ''}`, 'sh', '-c', script] }, describe: `${state === 'matched' ? 'replace' : 'add'} a line in ${p.path}` }],
    };
  },
};
